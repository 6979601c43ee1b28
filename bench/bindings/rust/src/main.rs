//! Rust binding sender of bench/bindings_bench.py (see bench/put_bench.c,
//! the C baseline, for the session): hello, wait for "ready", put COUNT
//! messages of SIZE bytes with at most WINDOW puts outstanding, wait for
//! every put, get "done", print one JSON line.
use std::time::{Duration, Instant};

use netqueue::{Comm, Options, Protocol, Purpose, Put};

fn main() {
    let (mut host, mut port, mut size, mut count, mut window) = ("127.0.0.1".to_string(), 0u16, 64usize, 1000usize, 0usize);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for kv in args.chunks(2) {
        let v = kv.get(1).expect("option without value");
        match kv[0].as_str() {
            "--host" => host = v.clone(),
            "--port" => port = v.parse().unwrap(),
            "--size" => size = v.parse().unwrap(),
            "--count" => count = v.parse().unwrap(),
            "--window" => window = v.parse().unwrap(),
            k => panic!("unknown option {k}"),
        }
    }
    if window == 0 {
        window = count;
    }
    let opts = Options::new().and_then(|o| o.host(&host)).and_then(|o| o.port(port)).expect("options");
    let q = Comm::new(Protocol::Tcp, Purpose::Client, &opts).expect("comm");
    let payload = vec![b'x'; size];
    q.put(format!("hello {count} {size}").as_bytes(), &[]).expect("put hello");
    q.get(&[], Some(Duration::from_secs(30))).expect("get ready");
    let mut puts: Vec<Put> = Vec::with_capacity(count);
    let t0 = Instant::now();
    for i in 0..count {
        if i >= window {
            let _ = puts[i - window].wait();
        }
        puts.push(q.put(&payload, &[]).expect("put"));
    }
    let failed = puts.iter().filter(|p| p.wait().is_err()).count();
    let t_put = t0.elapsed().as_secs_f64();
    q.get(&[], Some(Duration::from_secs(120))).expect("get done");
    let t_all = t0.elapsed().as_secs_f64();
    q.close(Some(Duration::from_secs(10))).expect("close");
    println!(
        "{{\"lang\": \"rust\", \"count\": {count}, \"size\": {size}, \"window\": {window}, \"failed\": {failed}, \
         \"put_s\": {t_put:.6}, \"seconds\": {t_all:.6}, \"msgs_per_s\": {:.1}}}",
        count as f64 / t_all
    );
    std::process::exit(if failed > 0 { 1 } else { 0 });
}

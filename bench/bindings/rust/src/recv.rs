//! Receive rate of the Rust binding at one size, in one process over TCP
//! on loopback, the counterpart of bench/recv_bench.c (same session: a
//! client thread puts COUNT messages as fast as it can, the server takes
//! them; the clock runs from the first put to the last message). Modes,
//! interleaved within each repetition (order rotated):
//!   blocking  Comm::get in a loop;
//!   async     Comm::get_async awaited one at a time (tokio current_thread);
//!   stream    Comm::stream (16 receives queued) under the same runtime.
//! Prints each mode's median and best time and msgs/s, and its time over
//! the blocking one's (median of paired ratios). Run by recv_bench.sh.
use netqueue::{Comm, Options, Protocol, Purpose, Received};
use std::future::poll_fn;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_core::Stream;

const MODES: [&str; 3] = ["blocking", "async", "stream"];
const PATIENCE: Option<Duration> = Some(Duration::from_secs(60));

fn run(mode: usize, size: usize, count: usize) -> f64 {
    let o = Options::new().and_then(|o| o.host("127.0.0.1")).and_then(|o| o.port(0)).expect("options");
    let s = Comm::new(Protocol::Tcp, Purpose::Server, &o).expect("server");
    let o = Options::new().and_then(|o| o.host("127.0.0.1")).and_then(|o| o.port(s.port().unwrap())).unwrap();
    let c = Comm::new(Protocol::Tcp, Purpose::Client, &o).expect("client");
    // handshake first: the clock is for messages only
    c.put(b"hi", &[]).unwrap();
    s.get(&[], PATIENCE).expect("hello");
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let payload = vec![0u8; size];
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..count {
                // no completion wanted, as C's put with a NULL callback: a
                // closure of no captures is not even allocated
                c.put_with(&payload, &[], |_| {}).expect("put");
            }
        });
        match MODES[mode] {
            "blocking" => {
                for _ in 0..count {
                    assert_eq!(s.get(&[], PATIENCE).expect("get").data().len(), size);
                }
            }
            "async" => rt.block_on(async {
                for _ in 0..count {
                    assert_eq!(s.get_async(&[], PATIENCE).await.expect("get_async").data().len(), size);
                }
            }),
            _ => rt.block_on(async {
                let mut st = s.stream(&[]);
                for _ in 0..count {
                    match poll_fn(|cx| Pin::new(&mut st).poll_next(cx)).await {
                        Some(Ok(Received::Data(m))) => assert_eq!(m.data().len(), size),
                        other => panic!("stream: {other:?}"),
                    }
                }
            }),
        }
    });
    let took = t0.elapsed().as_secs_f64();
    c.close(PATIENCE).unwrap();
    s.close(PATIENCE).unwrap();
    took
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn main() {
    let (mut reps, mut size, mut count) = (5usize, 64usize, 200_000usize);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for kv in args.chunks(2) {
        let v = kv.get(1).expect("option without value");
        match kv[0].as_str() {
            "--reps" => reps = v.parse().unwrap(),
            "--size" => size = v.parse().unwrap(),
            "--count" => count = v.parse().unwrap(),
            k => panic!("unknown option {k} (--reps N --size B --count N)"),
        }
    }
    let mut times = vec![Vec::new(); MODES.len()];
    for r in 0..reps {
        for k in 0..MODES.len() {
            let mode = (k + r) % MODES.len();
            times[mode].push(run(mode, size, count));
        }
    }
    let ratios: Vec<f64> = (0..MODES.len())
        .map(|m| median(&mut times[m].iter().zip(&times[0]).map(|(a, b)| a / b).collect::<Vec<_>>()))
        .collect();
    for (m, name) in MODES.iter().enumerate() {
        let ratio = ratios[m];
        let best = times[m].iter().cloned().fold(f64::INFINITY, f64::min);
        let med = median(&mut times[m]);
        println!(
            "rust size {size} B x {count}: {name:<8} median {med:.4} s (best {best:.4})  {:.0} msg/s  time / blocking: median of paired ratios {ratio:.3}",
            count as f64 / med
        );
    }
}

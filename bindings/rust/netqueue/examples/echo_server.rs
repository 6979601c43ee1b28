//! A netqueue server that puts every message back to its sender. Says
//! "listening on HOST:PORT" on stderr once ready; with `--count N` it closes
//! after N messages. Used by the cross-language tests.
use netqueue::{Comm, Options, Protocol, Purpose};

fn main() -> netqueue::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: &str| -> String {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    let host = arg("--host", "127.0.0.1");
    let count: usize = arg("--count", "0").parse().expect("--count N");
    let opts = Options::new()?.host(&host)?.port(arg("--port", "0").parse().expect("--port N"))?;
    let server = Comm::new(Protocol::Tcp, Purpose::Server, &opts)?;
    eprintln!("echo_server: listening on {host}:{}", server.port()?);
    let mut n = 0;
    while count == 0 || n < count {
        let msg = server.get(&[], None)?;
        println!("{} {} {:?}", msg.peer(), msg.data().len(), String::from_utf8_lossy(msg.data()));
        server.put(msg.data(), &[msg.peer()])?.wait()?;
        n += 1;
    }
    server.close(Some(netqueue::DEFAULT_CLOSE_TIMEOUT))
}

//! The Python net-queue README's client, in Rust: puts the str "Hello,
//! Server!" (pickle, the reference's default serializer), prints the
//! reply and closes. Try it against the reference's README server
//! (tests/interop/readme_server.py HOST PORT):
//!
//!     cargo run --example hello -- --port 51966
use netqueue::{Codec, Comm, Options, Protocol, Purpose, Value};
use std::time::Duration;

fn main() -> netqueue::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: &str| -> String {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    let opts = Options::new()?
        .host(&arg("--host", "127.0.0.1"))?
        .port(arg("--port", "51966").parse().expect("--port N"))?
        .codec(Codec::Pickle)?;
    let queue = Comm::new(Protocol::Tcp, Purpose::Client, &opts)?;
    let patience = Some(Duration::from_secs(30));
    queue.put_value(&Value::from("Hello, Server!"), &[])?.wait()?;
    let reply = queue.get(&[], patience)?.value()?;
    queue.close(patience)?;
    println!("{reply:?}");
    Ok(())
}

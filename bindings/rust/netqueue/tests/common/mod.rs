//! Helpers shared by the integration tests: servers on free loopback
//! ports, clients, and C or other-language peers run as child processes.
#![allow(dead_code)]
use netqueue::{Comm, Options, Protocol, Purpose};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Safety net for waits, so that a hang fails a test instead of blocking
/// the run; not a timing assertion.
pub const PATIENCE: Option<std::time::Duration> = Some(std::time::Duration::from_secs(60));

pub fn server(opts: Options) -> (Comm, u16) {
    let opts = opts.host("127.0.0.1").unwrap().port(0).unwrap();
    let s = Comm::new(Protocol::Tcp, Purpose::Server, &opts).expect("server");
    let port = s.port().unwrap();
    (s, port)
}

pub fn client(port: u16, opts: Options) -> Comm {
    let opts = opts.host("127.0.0.1").unwrap().port(port).unwrap();
    Comm::new(Protocol::Tcp, Purpose::Client, &opts).expect("client")
}

/// A child process, killed when dropped.
pub struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start a server program that says "listening on HOST:PORT" on stderr.
pub fn start_peer(prog: &str, args: &[&str]) -> (Peer, u16) {
    let mut child = Command::new(prog)
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let peer = Peer(child);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(at) = line.find("listening on ") {
            let after = line[at..].rsplit(':').next().unwrap();
            let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
            let port = digits.parse().unwrap();
            // Keep draining stderr so the peer never blocks on it.
            std::thread::spawn(move || lines.for_each(|l| eprintln!("peer: {}", l.unwrap_or_default())));
            return (peer, port);
        }
        eprintln!("peer: {line}");
    }
    panic!("{prog} exited without listening");
}

/// The C command-line peer: $NQ_CLI, else the build tree's.
pub fn nq_tool() -> Option<String> {
    let p = std::env::var("NQ_CLI").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../build/src/cli/nq")
    });
    p.exists().then(|| p.to_string_lossy().into_owned())
}

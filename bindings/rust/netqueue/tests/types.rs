//! The integer types of the API agree: the port a server reports is the
//! type a client's options take, and a count too large for the C int is
//! refused, not wrapped into a valid-looking value.
mod common;
use common::*;
use netqueue::{Comm, Options, Protocol, Purpose, Status};

#[test]
fn reported_port_connects_without_conversion() {
    let server = Comm::new(Protocol::Tcp, Purpose::Server,
                           &Options::new().unwrap().host("127.0.0.1").unwrap().port(0).unwrap()).unwrap();
    let port: u16 = server.port().unwrap();
    assert_ne!(port, 0, "a server given port 0 reports the port it bound");
    // Comm::port's u16 goes straight into Options::port.
    let opts = Options::new().unwrap().host("127.0.0.1").unwrap().port(port).unwrap();
    let client = Comm::new(Protocol::Tcp, Purpose::Client, &opts).unwrap();
    client.put(b"ping", &[]).unwrap().wait().unwrap();
    let msg = server.get(&[], PATIENCE).unwrap();
    assert_eq!(msg.data(), b"ping");
    assert_eq!(msg.peer(), client.id().unwrap());
}

#[test]
fn every_u16_is_a_valid_port() {
    for port in [0, 1, 51966, u16::MAX] {
        assert!(Options::new().unwrap().port(port).is_ok(), "port {port}");
    }
}

#[test]
fn workers_range() {
    for n in [1, 64] {
        assert!(Options::new().unwrap().workers(n).is_ok(), "workers {n}");
    }
    // 0 and 65 are the library's refusal; 2^31 and above would wrap to a
    // negative C int, and u32::MAX to -1: the binding refuses them itself.
    for n in [0, 65, 1 << 31, u32::MAX] {
        let e = Options::new().unwrap().workers(n).err().unwrap_or_else(|| panic!("workers {n} accepted"));
        assert_eq!(e.status, Status::Invalid, "workers {n}");
        assert!(e.detail.contains(&n.to_string()), "workers {n}: detail {:?}", e.detail);
    }
}

mod common;
use common::*;
use netqueue::{Codec, Options, Value};

#[test]
fn round_trip_with_c_server() {
    let Some(nq) = nq_tool() else {
        eprintln!("skipped: no nq tool (set NQ_CLI)");
        return;
    };
    let (_peer, port) = start_peer(&nq, &["server", "--host", "127.0.0.1", "--port", "0", "--echo"]);
    let c = client(port, Options::new().unwrap());
    c.put(b"hello from Rust", &[]).unwrap().wait().unwrap();
    let msg = c.get(&[], PATIENCE).unwrap();
    assert_eq!(msg.data(), b"hello from Rust");
    assert_ne!(msg.peer(), netqueue::Id::default());
    c.close(PATIENCE).unwrap();
}

#[test]
fn broadcast_and_targeted() {
    let (s, port) = server(Options::new().unwrap());
    let a = client(port, Options::new().unwrap());
    let b = client(port, Options::new().unwrap());
    a.put(b"a", &[]).unwrap();
    b.put(b"b", &[]).unwrap();
    let mut a_id = None;
    for _ in 0..2 {
        let m = s.get(&[], PATIENCE).unwrap();
        if m.data() == b"a" {
            a_id = Some(m.peer());
        }
    }
    let a_id = a_id.unwrap();
    assert_eq!(a_id, a.id().unwrap());
    s.put(b"to all", &[]).unwrap();
    s.put(b"only a", &[a_id]).unwrap();
    s.put(b"end", &[]).unwrap();
    for (c, want) in [(&a, &[&b"to all"[..], b"only a", b"end"][..]), (&b, &[&b"to all"[..], b"end"][..])] {
        for w in want {
            assert_eq!(c.get(&[], PATIENCE).unwrap().data(), *w);
        }
    }
    a.close(PATIENCE).unwrap();
    b.close(PATIENCE).unwrap();
    s.close(PATIENCE).unwrap();
}

#[test]
fn sixteen_mib_message() {
    let (s, port) = server(Options::new().unwrap());
    let c = client(port, Options::new().unwrap());
    let data: Vec<u8> = (0..16u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    let put = c.put(&data, &[]).unwrap();
    let msg = s.get(&[], PATIENCE).unwrap();
    assert!(msg.data() == &data[..], "16 MiB message differs ({} bytes)", msg.data().len());
    put.wait().unwrap();
    c.close(PATIENCE).unwrap();
    s.close(PATIENCE).unwrap();
}

#[test]
fn ten_thousand_in_order() {
    let (s, port) = server(Options::new().unwrap());
    let c = client(port, Options::new().unwrap());
    const N: u32 = 10_000;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 0..N {
                let m = s.get(&[], PATIENCE).unwrap();
                assert_eq!(m.data(), i.to_be_bytes(), "message {i} out of order");
            }
        });
        let puts: Vec<_> = (0..N).map(|i| c.put(&i.to_be_bytes(), &[]).unwrap()).collect();
        for p in puts {
            p.wait().unwrap();
        }
    });
    c.close(PATIENCE).unwrap();
    s.close(PATIENCE).unwrap();
}

#[test]
fn pickle_values() {
    let (s, port) = server(Options::new().unwrap().codec(Codec::Pickle).unwrap());
    let c = client(port, Options::new().unwrap().codec(Codec::Pickle).unwrap());
    let v = Value::List(vec![
        Value::None,
        Value::Bool(true),
        Value::Int(-7),
        Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0, 1]),
        Value::Float(2.5),
        "héllo".into(),
        Value::Bytes(vec![0, 1]),
        Value::Tuple(vec![Value::Int(1)]),
        Value::Dict(vec![("k".into(), Value::Int(1))]),
    ]);
    c.put_value(&v, &[]).unwrap().wait().unwrap();
    assert_eq!(s.get(&[], PATIENCE).unwrap().value().unwrap(), v);
    c.close(PATIENCE).unwrap();
    s.close(PATIENCE).unwrap();
}

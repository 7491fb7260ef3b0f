#![cfg(not(loom))]
use forge_fabric::{CreateOptions, Segment};

#[test]
fn a_frame_crosses_a_real_segment() {
    let name = format!("/forge_test_smoke_{}", std::process::id());
    let seg = Segment::create(
        &name,
        &CreateOptions {
            slot_count: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let mut p = seg.producer().unwrap();
    let mut c = seg.consumer().unwrap();
    p.write_from(b"hello").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(c.read_into(&mut buf).unwrap(), Some(5));
    assert_eq!(&buf[..5], b"hello");
    let obs = forge_fabric::Observer::open(&name, std::time::Duration::ZERO).unwrap();
    let snap = obs.snapshot().unwrap();
    assert_eq!(snap.head, 1);
    assert_eq!(snap.tail, 1);
    let slot = obs.read_slot(0).unwrap();
    assert_eq!(&slot.bytes, b"hello");
    seg.unlink().unwrap();
}

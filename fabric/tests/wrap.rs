//! Positions wrap at 2^64: a ring whose indices cross it is as sound as any
//! other, and the observer says so (issue 19, case 6).
#![cfg(not(loom))]

use std::sync::atomic::Ordering;
use std::time::Duration;

use forge_fabric::{CreateOptions, Observer, Segment, SlotState};

mod common;

const SLOTS: u32 = 8;

/// A fresh segment whose head and tail both stand at `start`, as a ring
/// that has run for 2^64 - `start` frames leaves them.
fn segment_at(what: &str, start: u64) -> (common::Name, Segment) {
    let name = common::Name::new("wrap", what);
    let opts = CreateOptions {
        slot_count: SLOTS,
        ..CreateOptions::default()
    };
    let seg = Segment::create(&name.0, &opts).unwrap();
    let h = seg.raw_header();
    h.producer.index.store(start, Ordering::Release);
    h.consumer.index.store(start, Ordering::Release);
    (name, seg)
}

#[test]
fn a_ring_whose_tail_is_below_2_64_and_head_past_0_is_sound_to_the_observer() {
    let start = u64::MAX - 2; // tail 2^64 - 3
    let (name, seg) = segment_at("observer", start);
    let mut p = seg.producer().unwrap();
    let mut c = seg.consumer().unwrap();
    // 8 frames: positions 2^64 - 3 ..= 4; the consumer reads one.
    for i in 0..8u8 {
        p.write_from(&[i; 16]).unwrap();
    }
    p.flush_index();
    let frame = c.read_slot().unwrap().unwrap();
    assert_eq!(frame[0], 0);
    frame.release();
    c.flush_index();
    let obs = Observer::open(&name.0, Duration::ZERO).unwrap();
    let snap = obs.snapshot().unwrap();
    assert_eq!((snap.tail, snap.head), (u64::MAX - 1, 5));
    assert!(snap.problems().is_empty(), "{:?}", snap.problems());
    assert_eq!(snap.in_flight(), 7);
    assert_eq!(snap.newest, Some(4));
    // Every slot: its position from the stamp, pending but the one read.
    for index in 0..SLOTS {
        let copy = obs.read_slot(index).unwrap();
        let want = start.wrapping_add(u64::from((index + SLOTS - 5) % SLOTS));
        assert_eq!(copy.position, Some(want), "slot {index}");
        let consumed = want == start;
        assert_eq!(
            copy.state,
            if consumed {
                SlotState::Consumed
            } else {
                SlotState::Pending
            },
            "slot {index}"
        );
        assert_eq!(snap.slot_state(index), (copy.state, copy.position));
        assert_eq!(
            copy.torn, consumed,
            "slot {index}: only the consumed slot may be rewritten"
        );
    }
    drop((p, c));
}

#[test]
fn a_ring_with_no_frame_yet_has_no_newest_frame_wherever_it_starts() {
    let (name, _seg) = segment_at("empty", u64::MAX - 99);
    let snap = Observer::open(&name.0, Duration::ZERO)
        .unwrap()
        .snapshot()
        .unwrap();
    assert_eq!(snap.newest, None);
    assert!(snap.problems().is_empty(), "{:?}", snap.problems());
    assert_eq!(snap.in_flight(), 0);
}

#[test]
fn a_tail_far_ahead_of_head_across_the_wrap_is_still_a_problem() {
    let (name, seg) = segment_at("ahead", 5);
    seg.raw_header()
        .consumer
        .index
        .store(u64::MAX - 2, Ordering::Release);
    seg.raw_header().producer.index.store(5, Ordering::Release);
    // tail 2^64 - 3 is 8 behind head 5: sound as indices go.
    let snap = Observer::open(&name.0, Duration::ZERO)
        .unwrap()
        .snapshot()
        .unwrap();
    assert!(
        !snap
            .problems()
            .iter()
            .any(|p| p.to_string().contains("ahead of head")),
        "{:?}",
        snap.problems()
    );
    // tail 100 is ahead of head 5 by 95: damage.
    seg.raw_header()
        .consumer
        .index
        .store(100, Ordering::Release);
    let snap = Observer::open(&name.0, Duration::ZERO)
        .unwrap()
        .snapshot()
        .unwrap();
    assert!(
        snap.problems()
            .iter()
            .any(|p| p.to_string().contains("ahead of head")),
        "{:?}",
        snap.problems()
    );
}

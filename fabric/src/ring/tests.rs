//! The ring's unit tests: its protocol on heap rings, restarts at any point,
//! and a model it must match.

use crate::{
    heap_ring, heap_ring_sized, heap_ring_starting_at, HeapRing, ReadError, WaitStrategy,
    WriteError, PAYLOAD_CAPACITY,
};
use std::collections::VecDeque;
use std::time::Duration;

fn pop(c: &mut crate::Consumer) -> Option<Vec<u8>> {
    c.read_with(|b| b.to_vec()).unwrap()
}

#[test]
fn frames_come_out_in_order_and_the_ring_reports_full() {
    let (mut p, mut c) = heap_ring(4);
    for i in 0..4u8 {
        p.write_from(&[i; 3]).unwrap();
    }
    assert_eq!(p.write_from(b"x"), Err(WriteError::Full));
    assert_eq!(p.full_count(), 1);
    for i in 0..4u8 {
        assert_eq!(pop(&mut c).unwrap(), vec![i; 3]);
    }
    assert_eq!(pop(&mut c), None);
    p.write_from(b"again").unwrap();
    assert_eq!(pop(&mut c).unwrap(), b"again");
}

#[test]
fn a_frame_longer_than_a_slot_is_an_error_not_a_truncation() {
    let (mut p, mut c) = heap_ring(2);
    let big = vec![1u8; PAYLOAD_CAPACITY + 1];
    assert_eq!(
        p.write_from(&big),
        Err(WriteError::TooLarge {
            len: PAYLOAD_CAPACITY + 1,
            max: PAYLOAD_CAPACITY
        })
    );
    let slot = p.write_slot().unwrap();
    assert!(slot.commit(PAYLOAD_CAPACITY + 1).is_err());
    assert_eq!(pop(&mut c), None);
    p.write_from(&big[..PAYLOAD_CAPACITY]).unwrap();
    assert_eq!(pop(&mut c).unwrap().len(), PAYLOAD_CAPACITY);
}

#[test]
fn small_slots_carry_frames_up_to_their_capacity_and_no_further() {
    for capacity in [8usize, 56, 1016] {
        let (mut p, mut c) = heap_ring_sized(4, capacity);
        assert_eq!(
            (p.payload_capacity(), c.payload_capacity()),
            (capacity, capacity)
        );
        let big = vec![7u8; capacity + 1];
        assert_eq!(
            p.write_from(&big),
            Err(WriteError::TooLarge {
                len: capacity + 1,
                max: capacity
            })
        );
        assert_eq!(p.write_slot().unwrap().payload_mut().len(), capacity);
        // Neighbouring slots share lines: every frame must come back
        // whole, lap after lap, never mixed with its neighbours'.
        for i in 0..40u8 {
            let frame: Vec<u8> = (0..capacity).map(|k| i ^ k as u8).collect();
            p.write_from(&frame).unwrap();
            if i % 3 == 2 {
                while let Some(got) = pop(&mut c) {
                    assert_eq!(got.len(), capacity);
                    assert!(got.iter().enumerate().all(|(k, &b)| b ^ k as u8 == got[0]));
                }
            }
        }
    }
}

#[test]
fn every_frame_length_is_copied_exactly_and_nothing_past_it() {
    // `write` copies short frames with overlapping word moves: each
    // length must land whole, and the bytes after it must keep what the
    // slot held before.
    let (mut p, mut c) = heap_ring_sized(2, 40);
    for len in 0..=40usize {
        let mut slot = p.write_slot().unwrap();
        slot.payload_mut().fill(0xEE);
        let frame: Vec<u8> = (0..len)
            .map(|k| (k as u8).wrapping_mul(37) ^ 0x5A)
            .collect();
        slot.copy_from(&frame);
        let after = slot.payload_mut()[len..].to_vec();
        assert!(after.iter().all(|&b| b == 0xEE), "len {len}: {after:?}");
        slot.commit(len).unwrap();
        assert_eq!(pop(&mut c).unwrap(), frame, "len {len}");
    }
}

#[test]
fn message_counts_follow_the_indices_across_the_wrap() {
    let (mut p, mut c) = heap_ring_starting_at(4, u64::MAX - 2);
    for i in 0..7u8 {
        p.write_from(&[i]).unwrap();
        assert_eq!(pop(&mut c).unwrap(), [i]);
    }
    assert_eq!((p.messages(), c.messages()), (7, 7));
    p.write_from(b"x").unwrap();
    assert_eq!((p.messages(), c.messages()), (8, 7));
}

#[test]
fn lines_ahead_are_asked_for_once_per_line() {
    use super::producer::prefetch_mask;
    // 16-byte slots: four to a line; 24 to 56: one or two; 64 and up: one.
    let masks: Vec<u64> = [16, 24, 32, 40, 56, 64, 72, 4104]
        .into_iter()
        .map(prefetch_mask)
        .collect();
    assert_eq!(masks, [3, 1, 1, 0, 0, 0, 0, 0]);
}

#[test]
fn zero_copy_claim_and_read_in_place() {
    let (mut p, mut c) = heap_ring(2);
    let mut slot = p.write_slot().unwrap();
    assert_eq!(slot.position(), 0);
    slot.payload_mut()[..4].copy_from_slice(b"abcd");
    assert_eq!(slot.commit(4), Ok(0));
    let frame = c.read_slot().unwrap().unwrap();
    assert_eq!(&*frame, b"abcd");
    assert_eq!(frame.position(), 0);
    frame.release();
    assert!(c.read_slot().unwrap().is_none());
}

#[test]
fn an_unreleased_frame_is_read_again() {
    let (mut p, mut c) = heap_ring(2);
    p.write_from(b"once").unwrap();
    {
        let _unreleased = c.read_slot().unwrap().unwrap();
    }
    let again = c.read_slot().unwrap().unwrap();
    assert_eq!(&*again, b"once");
    again.release();
}

#[test]
fn an_uncommitted_claim_publishes_nothing() {
    let (mut p, mut c) = heap_ring(2);
    // The claim ends here without a commit.
    p.write_slot().unwrap().copy_from(b"draft");
    assert_eq!(pop(&mut c), None);
    p.write_from(b"real").unwrap();
    assert_eq!(pop(&mut c).unwrap(), b"real");
}

#[test]
fn indices_wrap_around_u64_max() {
    for cap in [2u32, 4, 8] {
        let start = u64::MAX - 2 * u64::from(cap) - 1;
        let (mut p, mut c) = heap_ring_starting_at(cap, start);
        for i in 0..(6 * u64::from(cap)) {
            let bytes = i.to_le_bytes();
            p.write_from(&bytes).unwrap();
            if i % 3 == 0 {
                p.write_from(&(i + 1000).to_le_bytes()).unwrap();
                assert_eq!(pop(&mut c).unwrap(), bytes);
                assert_eq!(pop(&mut c).unwrap(), (i + 1000).to_le_bytes());
            } else {
                assert_eq!(pop(&mut c).unwrap(), bytes);
            }
        }
        assert!(c.position() < start, "position wrapped past u64::MAX");
    }
}

#[test]
fn too_small_a_buffer_is_an_error_and_keeps_the_frame() {
    let (mut p, mut c) = heap_ring(2);
    p.write_from(b"twelve bytes").unwrap();
    let mut small = [0u8; 4];
    assert_eq!(
        c.read_into(&mut small),
        Err(ReadError::BufferTooSmall { len: 12, buf: 4 })
    );
    let mut buf = [0u8; 16];
    assert_eq!(c.read_into(&mut buf), Ok(Some(12)));
}

#[test]
fn batched_releases_free_slots_only_when_flushed() {
    let (mut p, mut c) = heap_ring(2);
    c.set_index_batch(2);
    p.write_from(b"a").unwrap();
    p.write_from(b"b").unwrap();
    assert_eq!(pop(&mut c).unwrap(), b"a");
    // One release is pending in the consumer: the producer still sees full.
    assert_eq!(p.write_from(b"c"), Err(WriteError::Full));
    c.flush_index();
    p.write_from(b"c").unwrap();
}

#[test]
fn waiting_times_out_on_an_empty_ring_and_a_full_one() {
    for s in [WaitStrategy::Spin, WaitStrategy::Yield, WaitStrategy::Park] {
        let (mut p, mut c) = HeapRing::new(2).wait(s).build();
        assert!(!c.wait_for_frame(Duration::from_millis(5)));
        p.write_from(b"1").unwrap();
        p.write_from(b"2").unwrap();
        assert!(!p.wait_for_space(Duration::from_millis(5)));
        assert!(c.wait_for_frame(Duration::ZERO));
    }
}

fn threaded_transfer(strategy: WaitStrategy, frames: u64, cap: u32) {
    let (mut p, mut c) = HeapRing::new(cap).wait(strategy).build();
    let producer = std::thread::spawn(move || {
        for i in 0..frames {
            let len = (i % 61) as usize + 8;
            let mut buf = [0u8; 72];
            buf[..8].copy_from_slice(&i.to_le_bytes());
            buf[8..len].fill(i as u8);
            while p.write_from(&buf[..len]).is_err() {
                assert!(p.wait_for_space(Duration::from_secs(10)), "no room in 10 s");
            }
        }
    });
    let mut expect = 0u64;
    while expect < frames {
        if !c.wait_for_frame(Duration::from_secs(10)) {
            panic!("no frame within 10 s at {expect}");
        }
        c.read_with(|b| {
            assert_eq!(b.len(), (expect % 61) as usize + 8);
            assert_eq!(u64::from_le_bytes(b[..8].try_into().unwrap()), expect);
            assert!(b[8..].iter().all(|&x| x == expect as u8));
        })
        .unwrap()
        .unwrap();
        expect += 1;
    }
    producer.join().unwrap();
}

#[test]
fn two_threads_move_every_frame_in_order_with_each_wait_strategy() {
    let frames = if cfg!(miri) { 200 } else { 100_000 };
    for s in [WaitStrategy::Yield, WaitStrategy::Park] {
        threaded_transfer(s, frames, 8);
    }
}

#[test]
fn a_restarted_producer_skips_frames_published_but_not_counted_in_head() {
    let (mut p, mut c) = heap_ring(8);
    p.set_index_batch(100);
    for i in 0..5u8 {
        p.write_from(&[i]).unwrap();
    }
    // A crash: a new producer attaches while the old one's five commits
    // are in the slots but not in head. (The old handle is only dropped
    // at the end, standing in for a process that never runs again.)
    let mut p2 = p.crash_and_restart().unwrap();
    assert_eq!(p2.position(), 5);
    p2.write_from(&[5]).unwrap();
    for i in 0..6u8 {
        assert_eq!(pop(&mut c).unwrap(), vec![i]);
    }
}

fn ring_with_raw(cap: u32) -> (crate::Producer, crate::Consumer, super::RingRef) {
    let (p, c) = heap_ring(cap);
    let ring = p.ring.clone();
    (p, c, ring)
}

#[test]
fn a_restarted_side_refuses_a_tail_ahead_of_anything_published() {
    let (mut p, mut c, ring) = ring_with_raw(8);
    for i in 0..6u8 {
        p.write_from(&[i]).unwrap();
    }
    for _ in 0..3 {
        pop(&mut c).unwrap();
    }
    c.flush_index();
    // tail 3, head 6: set tail far ahead, as a damaged header would.
    ring.consumer_line()
        .index
        .store(1_003, crate::sync::Ordering::Relaxed);
    let e = p.crash_and_restart().expect_err("producer must refuse");
    assert!(e.to_string().contains("never published"), "{e}");
    let e = c.crash_and_restart().expect_err("consumer must refuse");
    assert!(matches!(e, crate::Corruption::Indices { .. }), "{e}");
}

#[test]
fn a_restarted_side_refuses_a_head_more_than_a_ring_past_tail() {
    let (mut p, mut c, ring) = ring_with_raw(4);
    for round in 0..5u8 {
        for i in 0..4u8 {
            p.write_from(&[round, i]).unwrap();
        }
        for _ in 0..4 {
            pop(&mut c).unwrap();
        }
    }
    c.flush_index();
    // head 20, tail 20: set tail back by more than the ring.
    ring.consumer_line()
        .index
        .store(10, crate::sync::Ordering::Relaxed);
    for e in [
        p.crash_and_restart().expect_err("producer must refuse"),
        c.crash_and_restart().expect_err("consumer must refuse"),
    ] {
        assert!(e.to_string().contains("more than the ring holds"), "{e}");
    }
}

#[test]
fn a_damaged_stamp_between_tail_and_head_is_found_at_attach_and_while_waiting() {
    let (mut p, mut c, ring) = ring_with_raw(8);
    for i in 0..5u8 {
        p.write_from(&[i]).unwrap();
    }
    // Position 3's slot word cleared: head (5) says it was published.
    ring.word(3).store(0, crate::sync::Ordering::Relaxed);
    for _ in 0..3 {
        pop(&mut c).unwrap();
    }
    assert_eq!(pop(&mut c), None, "the damaged frame is not readable");
    match c.check_stall() {
        Err(crate::Corruption::Stamp {
            position: 3,
            slot: 3,
            expected: 1,
            found: 0,
            head: 5,
        }) => {}
        other => panic!("{other:?}"),
    }
    let c = c.crash_and_restart();
    assert!(
        matches!(c, Err(crate::Corruption::Stamp { position: 3, .. })),
        "{:?}",
        c.err()
    );
    let p = p.crash_and_restart();
    assert!(
        matches!(p, Err(crate::Corruption::Stamp { position: 3, .. })),
        "{:?}",
        p.err()
    );
}

#[test]
fn a_frame_published_after_a_hole_is_not_overwritten_by_a_restarted_producer() {
    let (mut p, mut c, ring) = ring_with_raw(8);
    p.set_index_batch(100);
    for i in 0..5u8 {
        p.write_from(&[i]).unwrap();
    }
    // head is still 0; position 2's word is damaged: 3 and 4 sit after
    // a hole and a restarted producer would write over them.
    ring.word(2).store(0, crate::sync::Ordering::Relaxed);
    let e = p.crash_and_restart().expect_err("producer must refuse");
    assert!(e.to_string().contains("published after a hole"), "{e}");
    // The consumer reads up to the hole and then finds nothing: with
    // head still 0 it cannot tell damage from a frame not yet written.
    assert_eq!(pop(&mut c).unwrap(), vec![0]);
}

#[test]
fn the_producer_refuses_a_tail_that_passes_head_or_goes_back() {
    let (mut p, mut c, ring) = ring_with_raw(8);
    for i in 0..4u8 {
        p.write_from(&[i]).unwrap();
    }
    pop(&mut c).unwrap();
    c.flush_index();
    p.check_tail().unwrap();
    ring.consumer_line()
        .index
        .store(9, crate::sync::Ordering::Relaxed);
    assert!(p
        .check_tail()
        .unwrap_err()
        .to_string()
        .contains("passed head"));
    ring.consumer_line()
        .index
        .store(0, crate::sync::Ordering::Relaxed);
    assert!(p
        .check_tail()
        .unwrap_err()
        .to_string()
        .contains("went back"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 256 },
        ..Default::default()
    })]
    #[test]
    fn restarts_at_any_point_resume_exactly_and_never_look_corrupt(
        cap_log in 1u32..4,
        start in proptest::prelude::prop_oneof![proptest::prelude::Just(0u64), proptest::prelude::Just(u64::MAX - 20)],
        head_batch in 1u64..12,
        tail_batch in 1u64..6,
        ops in proptest::collection::vec(0u8..6, 0..300),
    ) {
        // Sound rings only: every state here is reachable by daemons
        // that run, batch their index stores and get SIGKILLed. No
        // attach may call any of them corrupt, and nothing is lost.
        let cap = 1u32 << cap_log;
        let (mut p, mut c) = heap_ring_starting_at(cap, start);
        p.set_index_batch(head_batch);
        c.set_index_batch(tail_batch);
        let mut sent = 0u64;
        let mut next = 0u64;
        for op in ops {
            match op {
                0 | 1 => {
                    if p.write_from(&sent.to_le_bytes()).is_ok() {
                        sent += 1;
                    }
                }
                2 | 3 => {
                    if let Some(v) = c.read_with(|b| u64::from_le_bytes(b.try_into().unwrap())).unwrap() {
                        // A restarted consumer re-reads up to a batch.
                        proptest::prop_assert!(v <= next && next - v <= tail_batch, "read {v}, expected {next}");
                        next = v + 1;
                    } else {
                        proptest::prop_assert!(c.check_stall().is_ok());
                    }
                }
                4 => {
                    p = p.crash_and_restart().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                    p.set_index_batch(head_batch);
                }
                _ => {
                    c = c.crash_and_restart().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                    c.set_index_batch(tail_batch);
                }
            }
            proptest::prop_assert!(p.check_tail().is_ok());
        }
        while let Some(v) = c.read_with(|b| u64::from_le_bytes(b.try_into().unwrap())).unwrap() {
            proptest::prop_assert!(v <= next && next - v <= tail_batch);
            next = v + 1;
        }
        proptest::prop_assert_eq!(next, sent, "every committed frame was read");
    }

    #[test]
    fn random_operations_match_a_vecdeque_model(
        cap_log in 1u32..4,
        start in proptest::prelude::prop_oneof![proptest::prelude::Just(0u64), proptest::prelude::Just(u64::MAX - 20)],
        ops in proptest::collection::vec((0u8..4, 0usize..40), 0..200),
    ) {
        let cap = 1u32 << cap_log;
        let (mut p, mut c) = heap_ring_starting_at(cap, start);
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut n = 0u8;
        for (op, len) in ops {
            match op {
                0 | 1 => {
                    n = n.wrapping_add(1);
                    let frame = vec![n; len];
                    let r = if op == 0 {
                        p.write_from(&frame)
                    } else {
                        match p.write_slot() {
                            Some(mut s) => { s.payload_mut()[..len].fill(n); s.commit(len) }
                            None => Err(WriteError::Full),
                        }
                    };
                    if model.len() < cap as usize {
                        proptest::prop_assert!(r.is_ok(), "{r:?}");
                        model.push_back(frame);
                    } else {
                        proptest::prop_assert_eq!(r, Err(WriteError::Full));
                    }
                }
                2 => proptest::prop_assert_eq!(pop(&mut c), model.pop_front()),
                _ => {
                    let peeked = c.read_slot().unwrap().map(|f| f.to_vec());
                    proptest::prop_assert_eq!(peeked.as_ref(), model.front());
                }
            }
        }
    }
}

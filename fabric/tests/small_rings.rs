//! The observer on rings with no more slots than the producer's batch
//! (LAYOUT.md, rules 6 and 8; issue 21 (a) and (b)): a 2-slot ring with a
//! batch of 32, and a 32-slot ring with a batch of 32. `head` then lags the
//! newest frame by many laps and `tail` runs ahead of it; the newest frame
//! is still found, and a copy is called whole exactly when the producer
//! cannot be rewriting its slot.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_fabric::{Claim, Consumer, CreateOptions, Observer, Producer, Segment, SlotState};

mod common;

fn ring(what: &str, slots: u32) -> (common::Name, Segment) {
    let name = common::Name::new("small", what);
    let opts = CreateOptions {
        slot_count: slots,
        payload_capacity: 64,
        ..Default::default()
    };
    let segment = Segment::create(&name.0, &opts).unwrap();
    (name, segment)
}

/// A frame that says which position it is, in every byte.
fn frame(position: u64) -> [u8; 16] {
    let mut f = [0u8; 16];
    f[..8].copy_from_slice(&position.to_le_bytes());
    f[8..].copy_from_slice(&(!position).to_le_bytes());
    f
}

fn whole(bytes: &[u8], position: u64) -> bool {
    bytes == frame(position)
}

/// Writes and reads `frames` frames one at a time with the producer's
/// `head` stored every `batch` commits and `tail` at every release: `tail`
/// ends `frames % batch` ahead of `head`. Both sides keep their roles for
/// as long as the caller keeps them.
fn run_lockstep(segment: &Segment, batch: u64, frames: u64) -> (Producer, Consumer) {
    let mut producer = segment.producer().unwrap();
    let mut consumer = segment.consumer().unwrap();
    producer.set_index_batch(batch);
    for p in 0..frames {
        producer.write_from(&frame(p)).unwrap();
        assert!(consumer.read_with(|b| whole(b, p)).unwrap().unwrap());
    }
    (producer, consumer)
}

#[test]
fn on_a_two_slot_ring_with_a_batch_of_32_the_newest_frame_is_found_past_head() {
    let (name, segment) = ring("newest2", 2);
    let _sides = run_lockstep(&segment, 32, 40);
    let observer = Observer::open(&name.0, Duration::ZERO).unwrap();
    let snap = observer.snapshot().unwrap();
    assert_eq!((snap.head, snap.tail), (32, 40), "head lags by 8");
    // Stepping from head would stop at once: slot(32) holds 38.
    assert_eq!(snap.newest, Some(39));
    let newest = observer.read_slot(1).unwrap();
    assert_eq!(
        (newest.position, newest.state),
        (Some(39), SlotState::Consumed)
    );
    let other = observer.read_slot(0).unwrap();
    assert_eq!(
        (other.position, other.state),
        (Some(38), SlotState::Consumed)
    );
    assert!(snap.problems().is_empty(), "{:?}", snap.problems());
}

#[test]
fn the_newest_consumed_frame_of_an_idle_ring_no_larger_than_the_batch_copies_whole() {
    for slots in [2u32, 32] {
        let (name, segment) = ring(&format!("idle{slots}"), slots);
        let _sides = run_lockstep(&segment, 32, 40);
        let observer = Observer::open(&name.0, Duration::ZERO).unwrap();
        // The producer holds its role and is idle: it cannot be rewriting
        // the slot of 39 before it commits 39 + slots - 1.
        let copy = observer.read_slot(39 % slots).unwrap();
        assert_eq!(copy.position, Some(39), "{slots} slots");
        assert!(!copy.torn, "{slots} slots: {copy:?}");
        assert!(whole(&copy.bytes, 39));
    }
}

#[test]
fn a_consumed_slot_is_torn_once_the_producer_committed_the_position_before_its_next_lap() {
    let (name, segment) = ring("due", 2);
    let mut producer = segment.producer().unwrap();
    let mut consumer = segment.consumer().unwrap();
    producer.set_index_batch(32);
    producer.write_from(&frame(0)).unwrap();
    consumer.read_with(|_| ()).unwrap();
    let observer = Observer::open(&name.0, Duration::ZERO).unwrap();
    // 0 is released, 1 not yet written: the producer may write 1, not 2.
    assert!(!observer.read_slot(0).unwrap().torn);
    producer.write_from(&frame(1)).unwrap();
    // 1 is committed: the producer may now be writing 2 into slot 0.
    let copy = observer.read_slot(0).unwrap();
    assert_eq!(copy.position, Some(0));
    assert!(copy.overwritable && copy.torn, "{copy:?}");
    // Slot 1 holds 1, pending: nobody may write it before it is read.
    assert!(!observer.read_slot(1).unwrap().torn);
}

/// Producer and consumer flat out on their own threads while the observer
/// copies slots: every copy it calls whole is the frame its position says.
fn copies_called_whole_are_whole(slots: u32, batch: u64) {
    let (name, segment) = ring(&format!("race{slots}"), slots);
    let segment = Arc::new(segment);
    let stop = Arc::new(AtomicBool::new(false));
    let claim = Claim::new();
    let mut producer = segment.producer_with(&claim).unwrap();
    let mut consumer = segment.consumer_with(&claim).unwrap();
    producer.set_index_batch(batch);
    consumer.set_index_batch(batch);
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut p = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if producer.write_from(&frame(p)).is_ok() {
                    p += 1;
                }
            }
        })
    };
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = consumer.read_with(|_| ());
            }
        })
    };
    let observer = Observer::open(&name.0, Duration::ZERO).unwrap();
    let (mut whole_copies, mut torn) = (0u64, 0u64);
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        for index in 0..slots {
            let copy = observer.read_slot(index).unwrap();
            match copy.position {
                Some(p) if !copy.torn => {
                    assert!(whole(&copy.bytes, p), "slot {index} called whole: {copy:?}");
                    whole_copies += 1;
                }
                Some(_) => torn += 1,
                None => {}
            }
        }
        let snap = observer.snapshot().unwrap();
        assert!(snap.problems().is_empty(), "{:?}", snap.problems());
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    reader.join().unwrap();
    eprintln!("{slots} slots, batch {batch}: {whole_copies} whole copies, {torn} torn");
    assert!(whole_copies > 0);
}

#[test]
fn copies_the_observer_calls_whole_are_whole_on_a_two_slot_ring_with_a_batch_of_32() {
    copies_called_whole_are_whole(2, 32);
}

#[test]
fn copies_the_observer_calls_whole_are_whole_on_a_ring_as_large_as_its_batch() {
    copies_called_whole_are_whole(32, 32);
}

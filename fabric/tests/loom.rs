//! loom model of the ring protocol: every interleaving (up to the preemption
//! bound) of one producer and one consumer thread. loom's UnsafeCell reports
//! a data race if the consumer could read a payload the producer has not
//! finished writing, or the producer could overwrite one still being read.
//!
//! The models also cover role hand-overs (a side killed mid-stream and its
//! successor attaching while the other side runs: the attach checks must
//! never call a sound ring corrupt) and the consumer's stuck-ring check
//! (weakening the Release store of head in `Producer::store_head`, or the
//! Acquire load of head in `Consumer::check_stall`, makes
//! `a_sound_ring_never_looks_stuck_to_a_waiting_consumer` fail).
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test -p forge-fabric --release --test loom`
#![cfg(loom)]

use forge_fabric::{heap_ring, WriteError};
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Pushes `frames` 8-byte frames and pops them on another thread; checks no
/// loss, no duplicate, no reordering, no torn payload.
fn transfer(capacity: u32, frames: u64, release_batch: u64) {
    let (mut p, mut c) = heap_ring(capacity);
    c.set_index_batch(release_batch);
    let producer = thread::spawn(move || {
        for i in 0..frames {
            loop {
                match p.write_from(&(i * 0x0101_0101).to_le_bytes()) {
                    Ok(_) => break,
                    Err(WriteError::Full) => thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
    let mut expect = 0;
    while expect < frames {
        match c
            .read_with(|b| u64::from_le_bytes(b.try_into().unwrap()))
            .unwrap()
        {
            Some(v) => {
                assert_eq!(v, expect * 0x0101_0101, "lost, duplicated or torn frame");
                expect += 1;
            }
            None => {
                c.flush_index();
                thread::yield_now();
            }
        }
    }
    c.flush_index();
    producer.join().unwrap();
}

#[test]
fn capacity_two_moves_three_frames_without_loss_or_overlap() {
    model(|| transfer(2, 3, 1));
}

#[test]
fn capacity_four_moves_six_frames_with_batched_releases() {
    model(|| transfer(4, 6, 2));
}

/// The consumer, finding its slot empty, asks whether the ring is stuck: in
/// no interleaving may a sound ring look stuck (head published with Release
/// after the slot words it covers, loaded with Acquire before the word).
#[test]
fn a_sound_ring_never_looks_stuck_to_a_waiting_consumer() {
    model(|| {
        let (mut p, mut c) = heap_ring(2);
        p.set_index_batch(2);
        let producer = thread::spawn(move || {
            for i in 0..3u64 {
                while p.write_from(&i.to_le_bytes()).is_err() {
                    thread::yield_now();
                }
            }
            p.flush_index();
        });
        let mut expect = 0;
        while expect < 3 {
            match c
                .read_with(|b| u64::from_le_bytes(b.try_into().unwrap()))
                .unwrap()
            {
                Some(v) => {
                    assert_eq!(v, expect);
                    expect += 1;
                }
                None => {
                    c.check_stall().expect("a sound ring looked stuck");
                    c.flush_index();
                    thread::yield_now();
                }
            }
        }
        producer.join().unwrap();
    });
}

/// A producer that dies with frames published but not counted in head, and
/// the one that takes over while the consumer keeps reading: the attach
/// checks race with the consumer's reads and releases, must never call the
/// ring corrupt, and the new producer must neither skip nor repeat a frame.
#[test]
fn a_producer_restarted_mid_stream_resumes_exactly_while_the_consumer_reads() {
    model(|| {
        let (mut p, mut c) = heap_ring(2);
        p.set_index_batch(4);
        let producer = thread::spawn(move || {
            p.write_from(&0u64.to_le_bytes()).unwrap();
            let mut p = p.crash_and_restart().expect("a sound ring looked corrupt");
            for i in 1..3u64 {
                while p.write_from(&i.to_le_bytes()).is_err() {
                    thread::yield_now();
                }
            }
        });
        let mut expect = 0;
        while expect < 3 {
            match c
                .read_with(|b| u64::from_le_bytes(b.try_into().unwrap()))
                .unwrap()
            {
                Some(v) => {
                    assert_eq!(v, expect, "lost or repeated across the restart");
                    expect += 1;
                }
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
    });
}

/// A consumer that dies with releases not yet stored, and the one that
/// takes over while the producer keeps writing: its attach checks race with
/// the producer, must never call the ring corrupt, and it re-reads at most
/// the unstored releases.
#[test]
fn a_consumer_restarted_mid_stream_rereads_at_most_its_batch() {
    model(|| {
        let (mut p, mut c) = heap_ring(2);
        c.set_index_batch(2);
        let producer = thread::spawn(move || {
            for i in 0..3u64 {
                while p.write_from(&i.to_le_bytes()).is_err() {
                    thread::yield_now();
                }
            }
        });
        let mut seen = Vec::new();
        let mut restarted = false;
        while seen.last() != Some(&2) {
            match c
                .read_with(|b| u64::from_le_bytes(b.try_into().unwrap()))
                .unwrap()
            {
                Some(v) => {
                    seen.push(v);
                    if !restarted {
                        restarted = true;
                        c = c.crash_and_restart().expect("a sound ring looked corrupt");
                    }
                }
                None => {
                    c.flush_index();
                    thread::yield_now();
                }
            }
        }
        // Frame 0 was read once before the crash, and once more after it
        // (its release was never stored); then 1 and 2 in order.
        assert_eq!(seen, [0, 0, 1, 2]);
        producer.join().unwrap();
    });
}

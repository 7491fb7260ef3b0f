//! loom model of the ring protocol: every interleaving (up to the preemption
//! bound) of one producer and one consumer thread. loom's UnsafeCell reports
//! a data race if the consumer could read a payload the producer has not
//! finished writing, or the producer could overwrite one still being read.
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test -p forge-fabric --release --test loom`
#![cfg(loom)]

use forge_fabric::{heap_ring, PushError};
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
    c.set_release_batch(release_batch);
    let producer = thread::spawn(move || {
        for i in 0..frames {
            loop {
                match p.try_push(&(i * 0x0101_0101).to_le_bytes()) {
                    Ok(()) => break,
                    Err(PushError::Full) => thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
    let mut expect = 0;
    while expect < frames {
        match c
            .pop_with(|b| u64::from_le_bytes(b.try_into().unwrap()))
            .unwrap()
        {
            Some(v) => {
                assert_eq!(v, expect * 0x0101_0101, "lost, duplicated or torn frame");
                expect += 1;
            }
            None => {
                c.flush();
                thread::yield_now();
            }
        }
    }
    c.flush();
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

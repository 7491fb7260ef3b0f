//! A ring over heap memory: the same protocol without a segment, for
//! threads in one process, Miri and loom. The ring does not care where its
//! memory comes from.

use std::ptr::NonNull;
use std::sync::Arc;

use crate::layout::{SideLine, Slot, MAX_SLOT_COUNT, MIN_SLOT_COUNT};
use crate::ring::{Consumer, Producer, RingRef};
use crate::sync::{AtomicU32, AtomicU64, UnsafeCell};

struct HeapRing {
    producer: Box<SideLine>,
    consumer: Box<SideLine>,
    slots: Box<[Slot]>,
}

impl SideLine {
    fn new(index: u64) -> Self {
        SideLine {
            index: AtomicU64::new(index),
            sleeping: AtomicU32::new(0),
            wait_strategy: AtomicU32::new(0),
            pid: AtomicU32::new(0),
            core: AtomicU32::new(0),
            session: AtomicU64::new(0),
            heartbeat_ns: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            backpressure: AtomicU64::new(0),
            role_state: AtomicU32::new(0),
            batch: AtomicU32::new(1),
            started_mono_ns: AtomicU64::new(0),
            pidns: AtomicU64::new(0),
            start_ticks: AtomicU64::new(0),
            uid: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            program: [AtomicU64::new(0), AtomicU64::new(0)],
            relay_session: AtomicU64::new(0),
        }
    }
}

/// Builds a heap-backed ring of `capacity` slots (a power of two from 2).
///
/// # Panics
/// If `capacity` is not a power of two in range; this is a programming
/// error, not input.
pub fn heap_ring(capacity: u32) -> (Producer, Consumer) {
    heap_ring_starting_at(capacity, 0)
}

/// Like [`heap_ring`], with both indices starting at `start`, to exercise
/// positions near the `u64` wrap.
pub fn heap_ring_starting_at(capacity: u32, start: u64) -> (Producer, Consumer) {
    assert!(
        capacity.is_power_of_two() && (MIN_SLOT_COUNT..=MAX_SLOT_COUNT).contains(&capacity),
        "capacity must be a power of two from {MIN_SLOT_COUNT} to {MAX_SLOT_COUNT}"
    );
    let slots: Box<[Slot]> = (0..capacity)
        .map(|_| Slot {
            word: AtomicU64::new(0),
            payload: UnsafeCell::new([0; crate::PAYLOAD_CAPACITY]),
        })
        .collect();
    let heap = Arc::new(HeapRing {
        producer: Box::new(SideLine::new(start)),
        consumer: Box::new(SideLine::new(start)),
        slots,
    });
    let ring = RingRef {
        producer: NonNull::from(&*heap.producer),
        consumer: NonNull::from(&*heap.consumer),
        // From the whole slice, so the pointer may reach every slot.
        slots: NonNull::new(heap.slots.as_ptr().cast_mut()).expect("boxed slice is non-null"),
        mask: u64::from(capacity) - 1,
        lap_shift: capacity.trailing_zeros(),
        _keep: heap.clone(),
    };
    // Fresh indices over zeroed slots: nothing to find corrupt.
    let producer = Producer::attach(ring.clone()).expect("a fresh heap ring is sound");
    let consumer = Consumer::attach(ring).expect("a fresh heap ring is sound");
    (producer, consumer)
}

impl Producer {
    /// Ends this producer as SIGKILL would, publishing nothing more (frames
    /// committed since the last `head` store stay uncounted), and attaches
    /// a new producer to the same ring, as a restarted daemon does. For
    /// tests and models of the hand-over.
    #[doc(hidden)]
    pub fn crash_and_restart(self) -> Result<Producer, crate::Corruption> {
        let ring = self.abandon();
        Producer::attach(ring)
    }
}

impl Consumer {
    /// Ends this consumer as SIGKILL would (releases not yet stored in
    /// `tail` are lost) and attaches a new consumer to the same ring. For
    /// tests and models of the hand-over.
    #[doc(hidden)]
    pub fn crash_and_restart(self) -> Result<Consumer, crate::Corruption> {
        let ring = self.abandon();
        Consumer::attach(ring)
    }
}

// SAFETY: every field shared between the threads is an atomic or an
// UnsafeCell accessed under the SPSC protocol.
unsafe impl Sync for HeapRing {}
// SAFETY: as above; the boxes own plain memory.
unsafe impl Send for HeapRing {}

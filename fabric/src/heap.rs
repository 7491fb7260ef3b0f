//! A ring over heap memory: the same protocol without a segment, for
//! threads in one process, Miri and loom. The ring does not care where its
//! memory comes from.

use std::ptr::NonNull;
use std::sync::Arc;

use crate::layout::{
    is_payload_capacity, SideLine, MAX_SLOT_COUNT, MIN_PAYLOAD_CAPACITY, MIN_SLOT_COUNT,
    PAYLOAD_CAPACITY,
};
#[cfg(loom)]
use crate::layout::{LoomSlot, LOOM_PAYLOAD};
use crate::ring::{Consumer, Producer, RelayedProducer, RingRef};
use crate::sync::{AtomicU32, AtomicU64};
use crate::wait::WaitStrategy;

struct HeapMemory {
    producer: Box<SideLine>,
    consumer: Box<SideLine>,
    slots: HeapSlots,
}

/// Zeroed slots as a segment lays them out: a word, the payload, the next
/// word, every `slot_size` bytes.
#[cfg(not(loom))]
struct HeapSlots {
    base: NonNull<u8>,
    layout: std::alloc::Layout,
}

#[cfg(not(loom))]
impl HeapSlots {
    /// The slots, their stride and the payload bytes each holds.
    fn new(count: u32, payload_capacity: usize) -> (Self, usize, usize) {
        let stride = crate::layout::slot_size(payload_capacity);
        // Line-aligned, as a segment's slots are (after a one-page header).
        let layout =
            std::alloc::Layout::from_size_align(count as usize * stride, crate::layout::LINE)
                .expect("at most MAX_SLOT_COUNT slots of SLOT_SIZE bytes fit a Layout");
        // SAFETY: the size is non-zero (at least 2 slots of 16 bytes).
        let base = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })
            .unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        (HeapSlots { base, layout }, stride, payload_capacity)
    }

    fn base(&self) -> NonNull<u8> {
        self.base
    }
}

#[cfg(not(loom))]
impl Drop for HeapSlots {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.base.as_ptr(), self.layout) }
    }
}

#[cfg(loom)]
struct HeapSlots(Box<[LoomSlot]>);

#[cfg(loom)]
impl HeapSlots {
    /// The slots, their stride and the payload bytes each holds: a loom
    /// slot's, whatever was asked for.
    fn new(count: u32, _payload_capacity: usize) -> (Self, usize, usize) {
        let slots = (0..count)
            .map(|_| LoomSlot {
                word: AtomicU64::new(0),
                payload: crate::sync::UnsafeCell::new([0; LOOM_PAYLOAD]),
            })
            .collect();
        (
            HeapSlots(slots),
            std::mem::size_of::<LoomSlot>(),
            LOOM_PAYLOAD,
        )
    }

    fn base(&self) -> NonNull<u8> {
        // From the whole slice, so the pointer may reach every slot.
        NonNull::new(self.0.as_ptr().cast_mut().cast::<u8>()).expect("boxed slice is non-null")
    }
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

/// Builds a heap-backed ring of `capacity` slots (a power of two from 2)
/// holding frames of up to [`PAYLOAD_CAPACITY`] bytes, both sides spinning
/// when they wait. [`HeapRing`] chooses the rest.
///
/// # Panics
/// If `capacity` is not a power of two in range; this is a programming
/// error, not input.
///
/// # Examples
///
/// ```
/// let (mut producer, mut consumer) = forge_fabric::heap_ring(8);
/// producer.write_from(b"between two threads")?;
/// let got = std::thread::spawn(move || consumer.read_with(|f| f.to_vec()))
///     .join()
///     .unwrap()?;
/// assert_eq!(got.as_deref(), Some(&b"between two threads"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn heap_ring(capacity: u32) -> (Producer, Consumer) {
    HeapRing::new(capacity).build()
}

/// Like [`heap_ring`], with slots of `payload_capacity` bytes (see
/// [`crate::layout::is_payload_capacity`]), laid out as a segment's are.
///
/// # Panics
/// If either size is out of range.
pub fn heap_ring_sized(capacity: u32, payload_capacity: usize) -> (Producer, Consumer) {
    HeapRing::new(capacity)
        .payload_capacity(payload_capacity)
        .build()
}

/// Like [`heap_ring`], with both indices starting at `start`, to exercise
/// positions near the `u64` wrap.
pub fn heap_ring_starting_at(capacity: u32, start: u64) -> (Producer, Consumer) {
    HeapRing::new(capacity).starting_at(start).build()
}

/// A ring over heap memory, for threads of one process: the same protocol
/// as a segment's ring, with the options of a segment and of a claim.
///
/// # Examples
///
/// ```
/// use forge_fabric::{HeapRing, WaitStrategy};
///
/// let (producer, consumer) = HeapRing::new(64)
///     .payload_capacity(56)
///     .wait(WaitStrategy::Park)
///     .build();
/// assert_eq!(consumer.wait_strategy(), WaitStrategy::Park);
/// assert_eq!(producer.payload_capacity(), 56);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a HeapRing makes nothing until build()"]
pub struct HeapRing {
    capacity: u32,
    payload_capacity: usize,
    start: u64,
    wait: WaitStrategy,
}

impl HeapRing {
    /// `capacity` slots (a power of two from 2) of [`PAYLOAD_CAPACITY`]
    /// bytes, positions from 0, both sides spinning.
    pub fn new(capacity: u32) -> Self {
        HeapRing {
            capacity,
            payload_capacity: PAYLOAD_CAPACITY,
            start: 0,
            wait: WaitStrategy::Spin,
        }
    }

    /// Slots of `bytes` payload bytes (see
    /// [`crate::layout::is_payload_capacity`]).
    pub fn payload_capacity(mut self, bytes: usize) -> Self {
        self.payload_capacity = bytes;
        self
    }

    /// Both indices start at `position`.
    pub fn starting_at(mut self, position: u64) -> Self {
        self.start = position;
        self
    }

    /// How both sides wait (each side wakes the other if it parks).
    pub fn wait(mut self, strategy: WaitStrategy) -> Self {
        self.wait = strategy;
        self
    }

    /// The producer and the consumer.
    ///
    /// # Panics
    /// If the capacity or the payload capacity is out of range: a
    /// programming error, not input.
    pub fn build(self) -> (Producer, Consumer) {
        build(self)
    }

    /// A relayed producer (every frame it commits carries Forge's `RELAYED`
    /// flag, as a segment's [`crate::Segment::relayed_producer`]'s do) and
    /// the consumer: for testing bridges and replays without a segment.
    ///
    /// # Panics
    /// As [`build`](Self::build).
    pub fn build_relayed(self) -> (RelayedProducer, Consumer) {
        let (producer, consumer) = build(self);
        (RelayedProducer::new(producer), consumer)
    }
}

fn build(opts: HeapRing) -> (Producer, Consumer) {
    let HeapRing {
        capacity,
        payload_capacity,
        start,
        wait,
    } = opts;
    // The segment's rules (its checks live in `segment`, which loom builds
    // leave out).
    assert!(
        capacity.is_power_of_two() && (MIN_SLOT_COUNT..=MAX_SLOT_COUNT).contains(&capacity),
        "capacity must be a power of two from {MIN_SLOT_COUNT} to {MAX_SLOT_COUNT}"
    );
    assert!(
        is_payload_capacity(payload_capacity),
        "payload capacity must be a multiple of 8 from {MIN_PAYLOAD_CAPACITY} to {PAYLOAD_CAPACITY}"
    );
    let (slots, stride, payload_capacity) = HeapSlots::new(capacity, payload_capacity);
    let heap = Arc::new(HeapMemory {
        producer: Box::new(SideLine::new(start)),
        consumer: Box::new(SideLine::new(start)),
        slots,
    });
    let ring = RingRef {
        producer: NonNull::from(&*heap.producer),
        consumer: NonNull::from(&*heap.consumer),
        latency: None,
        pace: None,
        slots: heap.slots.base(),
        slot_size: stride,
        payload_capacity,
        mask: u64::from(capacity) - 1,
        lap_shift: capacity.trailing_zeros(),
        _keep: heap.clone(),
    };
    // Fresh indices over zeroed slots: nothing to find corrupt.
    let producer = Producer::attach(ring.clone(), wait).expect("a fresh heap ring is sound");
    let consumer = Consumer::attach(ring, wait).expect("a fresh heap ring is sound");
    (producer, consumer)
}

impl Producer {
    /// Ends this producer as SIGKILL would, publishing nothing more (frames
    /// committed since the last `head` store stay uncounted), and attaches
    /// a new producer to the same ring, as a restarted daemon does. For
    /// tests and models of the hand-over.
    #[doc(hidden)]
    pub fn crash_and_restart(self) -> Result<Producer, crate::Corruption> {
        let wait = self.wait_strategy();
        let ring = self.abandon();
        Producer::attach(ring, wait)
    }
}

impl Consumer {
    /// Ends this consumer as SIGKILL would (releases not yet stored in
    /// `tail` are lost) and attaches a new consumer to the same ring. For
    /// tests and models of the hand-over.
    #[doc(hidden)]
    pub fn crash_and_restart(self) -> Result<Consumer, crate::Corruption> {
        let wait = self.wait_strategy();
        let ring = self.abandon();
        Consumer::attach(ring, wait)
    }
}

// SAFETY: the side lines are atomics. The slots' allocation is owned by
// `HeapSlots` alone until its `Drop`, and its bytes are reached only through
// `RingRef`: the slot words as atomics, the payloads under the SPSC
// hand-off those words publish (a loom ring's payloads are UnsafeCells).
unsafe impl Sync for HeapMemory {}
// SAFETY: as above; nothing in it is tied to the thread that made it.
unsafe impl Send for HeapMemory {}

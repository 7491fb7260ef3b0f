//! The single-producer single-consumer ring.
//!
//! Positions are monotonic `u64` counters; slot `pos & mask` holds position
//! `pos`. The producer publishes a frame by storing the slot word
//! (`len | flags | stamp`) with Release; the consumer polls that word with
//! Acquire and compares the stamp with the one expected for its position, so a
//! small frame costs one cache-line transfer. `head` still advances (possibly
//! batched) for inspectors; `tail` is what frees slots for the producer.
//!
//! ```text
//!   consumer.tail ─┐            ┌─ producer.head
//!                  ▼            ▼
//!   … │ consumed │ pending │ pending │ free │ free │ …
//! ```
//!
//! ```text
//!  ring/
//!    mod        RingRef: the raw view of a ring's shared parts; helpers
//!    producer   Producer, WriteSlot: the write family
//!    consumer   Consumer, ReadSlot: the read family
//!    relay      RelayedProducer: frames that keep their origin's sequence
//!    pace       Pace: the producer's pace line, for inspectors
//!    attach     the checks a side makes before it trusts a ring it joins
//! ```
//!
//! The ring knows nothing of segments: an endpoint of a segment's ring also
//! holds a [`Lease`] (its role, released when the endpoint drops), which is
//! how the segment hands it out without the ring importing the segment.

use std::ptr::NonNull;
use std::sync::Arc;

use crate::error::SessionError;
use crate::layout::{stamp_for, unpack_word, LatencyBlock, PaceLine, SideLine, HOLDER_PARKS};
use crate::sync::{fence, AtomicU64, Ordering};
use crate::wait;

mod attach;
mod consumer;
mod copy;
mod pace;
mod producer;
mod relay;
#[cfg(all(test, not(loom)))]
mod tests;

pub use consumer::Consumer;
#[cfg(not(loom))]
pub use consumer::ReadSlot;
pub use pace::Pace;
pub use producer::{Producer, WriteSlot};
pub use relay::RelayedProducer;

/// What an endpoint of a segment's ring holds besides the ring: its role,
/// released when the lease drops, and the session it joined. Heap rings have
/// none.
pub(crate) trait Lease: Send {
    /// The session the role was taken in.
    fn session(&self) -> u64;
    /// `Ok` while the segment is live in that session.
    fn check_session(&self) -> Result<(), SessionError>;
    /// Stamps the role's heartbeat.
    fn heartbeat(&self);
}

/// Raw view of a ring's shared parts. Whoever builds it keeps the memory alive
/// (the `_keep` handle) for as long as any copy exists.
#[derive(Clone)]
pub(crate) struct RingRef {
    pub(crate) producer: NonNull<SideLine>,
    pub(crate) consumer: NonNull<SideLine>,
    /// The consumer's latency histogram, in a segment's header (none in a
    /// heap ring).
    pub(crate) latency: Option<NonNull<LatencyBlock>>,
    /// The producer's pace line, in a segment's header (none in a heap
    /// ring).
    pub(crate) pace: Option<NonNull<PaceLine>>,
    /// Slot 0's word; slot `i` starts `i * slot_size` bytes later, its
    /// payload 8 bytes after that.
    pub(crate) slots: NonNull<u8>,
    /// Bytes from one slot to the next: a multiple of 8, so every slot word
    /// is aligned. `8 + payload_capacity` in a segment; kept apart because a
    /// loom heap ring's slots are `LoomSlot`s of another size.
    pub(crate) slot_size: usize,
    /// Payload bytes each slot holds.
    pub(crate) payload_capacity: usize,
    pub(crate) mask: u64,
    pub(crate) lap_shift: u32,
    pub(crate) _keep: Arc<dyn Send + Sync>,
}

impl std::fmt::Debug for RingRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingRef")
            .field("capacity", &self.capacity())
            .finish()
    }
}

// SAFETY: the pointers refer to memory owned by `_keep`, which is Send + Sync,
// and every shared field behind them is an atomic or an UnsafeCell accessed
// only under the SPSC protocol.
unsafe impl Send for RingRef {}

impl RingRef {
    #[inline(always)]
    pub(crate) fn capacity(&self) -> u64 {
        self.mask + 1
    }

    #[inline(always)]
    pub(crate) fn producer_line(&self) -> &SideLine {
        // SAFETY: `_keep` owns the line for as long as self exists.
        unsafe { self.producer.as_ref() }
    }

    #[inline(always)]
    pub(crate) fn consumer_line(&self) -> &SideLine {
        // SAFETY: `_keep` owns the line for as long as self exists.
        unsafe { self.consumer.as_ref() }
    }

    /// The consumer's latency histogram, if the ring lives in a segment.
    #[inline(always)]
    pub(crate) fn latency_block(&self) -> Option<&LatencyBlock> {
        // SAFETY: `_keep` owns the segment's header for as long as self
        // exists; every field of the block is an atomic.
        self.latency.map(|p| unsafe { &*p.as_ptr() })
    }

    /// The producer's pace line, if the ring lives in a segment.
    pub(crate) fn pace_line(&self) -> Option<&PaceLine> {
        // SAFETY: as `latency_block`.
        self.pace.map(|p| unsafe { &*p.as_ptr() })
    }

    /// The byte `offset` bytes from slot 0; `offset` lies within the
    /// slots (a [`Self::slot_offset`], or a payload byte after one).
    #[inline(always)]
    pub(crate) fn slot_byte(&self, offset: usize) -> *mut u8 {
        debug_assert!(offset < self.capacity() as usize * self.slot_size);
        // SAFETY: `_keep` owns `capacity` slots of `slot_size` bytes from
        // `slots`, and every caller's `offset` lies within them.
        unsafe { self.slots.as_ptr().add(offset) }
    }

    /// The first byte of position `pos`'s slot.
    #[inline(always)]
    pub(crate) fn slot_start(&self, pos: u64) -> *mut u8 {
        self.slot_byte(self.slot_offset(pos))
    }

    /// Bytes from slot 0 to position `pos`'s slot.
    #[inline(always)]
    pub(crate) fn slot_offset(&self, pos: u64) -> usize {
        (pos & self.mask) as usize * self.slot_size
    }

    /// Position `pos`'s slot word.
    #[inline(always)]
    pub(crate) fn word(&self, pos: u64) -> &AtomicU64 {
        self.word_at(self.slot_offset(pos))
    }

    /// The slot word `offset` bytes from slot 0 ([`Self::slot_offset`]).
    #[inline(always)]
    pub(crate) fn word_at(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: `offset` is a slot's start; every slot starts with its
        // word, 8-byte aligned (the base is, and `slot_size` is a multiple
        // of 8), and `_keep` keeps it alive.
        unsafe { &*self.slot_byte(offset).cast::<AtomicU64>() }
    }

    /// The first payload byte of `pos`'s slot: the payload follows the
    /// 8-byte word.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn payload_start(&self, pos: u64) -> *mut u8 {
        self.slot_byte(Self::payload_offset(self.slot_offset(pos)))
    }

    /// Bytes from slot 0 to the payload of the slot `offset` bytes from
    /// slot 0: the payload follows the 8-byte word.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn payload_offset(offset: usize) -> usize {
        offset + 8
    }

    /// `pos`'s slot as the loom heap ring lays it out.
    #[cfg(loom)]
    fn loom_slot(&self, pos: u64) -> &crate::layout::LoomSlot {
        // SAFETY: a loom heap ring's slots are `LoomSlot`s, `slot_size`
        // apart, kept alive by `_keep`.
        unsafe { &*self.slot_start(pos).cast::<crate::layout::LoomSlot>() }
    }

    /// Runs `f` on a pointer to the payload of `pos`'s slot, to read it.
    ///
    /// # Safety
    /// The caller may read through the pointer only the bytes of a frame
    /// published to it (an Acquire load of the slot word saw its stamp), and
    /// only before it releases the slot.
    #[inline(always)]
    pub(crate) unsafe fn with_payload<R>(&self, pos: u64, f: impl FnOnce(*const u8) -> R) -> R {
        #[cfg(not(loom))]
        {
            f(self.payload_start(pos))
        }
        #[cfg(loom)]
        {
            self.loom_slot(pos).payload.with(|p| f(p.cast::<u8>()))
        }
    }

    /// Runs `f` on a pointer to the payload of `pos`'s slot, to write it.
    ///
    /// # Safety
    /// Only the producer may call it, for a slot it has claimed and not yet
    /// committed, writing at most `payload_capacity` bytes.
    #[inline(always)]
    pub(crate) unsafe fn with_payload_mut<R>(&self, pos: u64, f: impl FnOnce(*mut u8) -> R) -> R {
        #[cfg(not(loom))]
        {
            f(self.payload_start(pos))
        }
        #[cfg(loom)]
        {
            self.loom_slot(pos).payload.with_mut(|p| f(p.cast::<u8>()))
        }
    }

    #[inline(always)]
    pub(crate) fn stamp(&self, pos: u64) -> u32 {
        stamp_for(pos, self.lap_shift)
    }

    /// Is position `pos`, whose stamp is `stamp`, published in its slot? The
    /// hot paths keep the stamp per lap instead of recomputing it per frame.
    #[inline(always)]
    pub(crate) fn published_with(&self, pos: u64, stamp: u32) -> Option<u64> {
        debug_assert_eq!(stamp, self.stamp(pos));
        self.published_at(self.slot_offset(pos), stamp)
    }

    /// [`Self::published_with`] for the slot `offset` bytes from slot 0.
    #[inline(always)]
    pub(crate) fn published_at(&self, offset: usize, stamp: u32) -> Option<u64> {
        // SYNC: pairs with the Release store of the slot word in
        // `WriteSlot::commit_flagged`; the payload written before it is visible.
        let word = self.word_at(offset).load(Ordering::Acquire);
        (unpack_word(word).2 == stamp).then_some(word)
    }

    /// The stamp in position `pos`'s slot word (Acquire: a match makes the
    /// payload visible).
    pub(crate) fn stamp_at(&self, pos: u64) -> u32 {
        // SYNC: pairs with the Release store of the slot word in
        // `WriteSlot::commit_flagged`.
        unpack_word(self.word(pos).load(Ordering::Acquire)).2
    }
}

/// Says in `line` (this side's own) how many frames go between two index
/// stores, `k` at least 1 (as the header's u32 holds it); returns it.
pub(crate) fn announce_batch(line: &SideLine, k: u64) -> u64 {
    let k = k.max(1);
    // SYNC: Relaxed: a figure for inspectors; it orders nothing.
    line.batch
        .store(k.min(u64::from(u32::MAX)) as u32, Ordering::Relaxed);
    k
}

/// Says in `line` (this side's own) which wait strategy its holder uses:
/// `wait_strategy` for people, and the [`HOLDER_PARKS`] flag that the peer
/// reads at each publication to know whether to wake us.
pub(crate) fn announce_wait(line: &SideLine, strategy: wait::WaitStrategy) {
    // SYNC: Relaxed: lone words for people and for the peer's publications
    // (`wake_if_parked`), which load them Relaxed with no fence before: a
    // peer that sees the flag late delays one wake by at most the park
    // slice (`wait::PARK_SLICE`); nothing here orders other data.
    line.wait_strategy.store(strategy.code(), Ordering::Relaxed);
    let flags = line.flags.load(Ordering::Relaxed) & !HOLDER_PARKS;
    let parks = if strategy == wait::WaitStrategy::Park {
        HOLDER_PARKS
    } else {
        0
    };
    line.flags.store(flags | parks, Ordering::Relaxed);
}

/// After a publication: wake the peer whose line is `peer` if it parks and
/// flagged itself asleep. One load of a word its holder writes only when it
/// takes the role (the line's second half, which its hot stores never
/// touch) unless it parks.
#[inline(always)]
pub(crate) fn wake_if_parked(peer: &SideLine) {
    // SYNC: Relaxed: a lone flag the peer's holder stores when it takes the
    // role (`announce_wait`); seeing it late only delays a wake by the
    // peer's park slice.
    if peer.flags.load(Ordering::Relaxed) & HOLDER_PARKS != 0 {
        wake_if_sleeping(peer);
    }
}

/// After a publication: wake the peer if it flagged itself asleep.
#[inline(never)]
#[cold]
fn wake_if_sleeping(peer: &SideLine) {
    // Dekker handshake with `wait::wait_until`: our publication store, then
    // this fence, then the load of the flag; the sleeper stores the flag,
    // fences, then re-checks the publication. One of us sees the other.
    // SYNC: pairs with the SeqCst fence in `wait::wait_until` (Park).
    fence(Ordering::SeqCst);
    if peer.sleeping.load(Ordering::Relaxed) != 0 {
        peer.sleeping.store(0, Ordering::Relaxed);
        wait::wake(&peer.sleeping);
    }
}

/// `a - b` as a signed distance, so that positions compare correctly across
/// the `u64` wrap.
#[inline(always)]
pub(crate) fn ahead(a: u64, b: u64) -> i64 {
    crate::Position::new(a).ahead_of(crate::Position::new(b))
}

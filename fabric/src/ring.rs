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

use std::ptr::NonNull;
use std::sync::Arc;

use crate::error::{Corruption, PopError, PushError};
use crate::layout::{pack_word, stamp_for, unpack_word, SideLine};
use crate::sync::{fence, prefetch_write, AtomicU64, Ordering};
use crate::wait::{self, Deadline, WaitStrategy};

/// Raw view of a ring's shared parts. Whoever builds it keeps the memory alive
/// (the `_keep` handle) for as long as any copy exists.
#[derive(Clone)]
pub(crate) struct RingRef {
    pub(crate) producer: NonNull<SideLine>,
    pub(crate) consumer: NonNull<SideLine>,
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
    fn capacity(&self) -> u64 {
        self.mask + 1
    }

    #[inline(always)]
    fn producer_line(&self) -> &SideLine {
        // SAFETY: `_keep` owns the line for as long as self exists.
        unsafe { self.producer.as_ref() }
    }

    #[inline(always)]
    fn consumer_line(&self) -> &SideLine {
        // SAFETY: `_keep` owns the line for as long as self exists.
        unsafe { self.consumer.as_ref() }
    }

    /// The byte `offset` bytes from slot 0; `offset` lies within the
    /// slots (a [`Self::slot_offset`], or a payload byte after one).
    #[inline(always)]
    fn slot_byte(&self, offset: usize) -> *mut u8 {
        debug_assert!(offset < self.capacity() as usize * self.slot_size);
        // SAFETY: `_keep` owns `capacity` slots of `slot_size` bytes from
        // `slots`, and every caller's `offset` lies within them.
        unsafe { self.slots.as_ptr().add(offset) }
    }

    /// The first byte of position `pos`'s slot.
    #[inline(always)]
    fn slot_start(&self, pos: u64) -> *mut u8 {
        self.slot_byte(self.slot_offset(pos))
    }

    /// Bytes from slot 0 to position `pos`'s slot.
    #[inline(always)]
    fn slot_offset(&self, pos: u64) -> usize {
        (pos & self.mask) as usize * self.slot_size
    }

    /// Position `pos`'s slot word.
    #[inline(always)]
    fn word(&self, pos: u64) -> &AtomicU64 {
        self.word_at(self.slot_offset(pos))
    }

    /// The slot word `offset` bytes from slot 0 ([`Self::slot_offset`]).
    #[inline(always)]
    fn word_at(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: `offset` is a slot's start; every slot starts with its
        // word, 8-byte aligned (the base is, and `slot_size` is a multiple
        // of 8), and `_keep` keeps it alive.
        unsafe { &*self.slot_byte(offset).cast::<AtomicU64>() }
    }

    /// The first payload byte of `pos`'s slot: the payload follows the
    /// 8-byte word.
    #[cfg(not(loom))]
    #[inline(always)]
    fn payload_start(&self, pos: u64) -> *mut u8 {
        self.slot_byte(Self::payload_offset(self.slot_offset(pos)))
    }

    /// Bytes from slot 0 to the payload of the slot `offset` bytes from
    /// slot 0: the payload follows the 8-byte word.
    #[cfg(not(loom))]
    #[inline(always)]
    fn payload_offset(offset: usize) -> usize {
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
    unsafe fn with_payload<R>(&self, pos: u64, f: impl FnOnce(*const u8) -> R) -> R {
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
    unsafe fn with_payload_mut<R>(&self, pos: u64, f: impl FnOnce(*mut u8) -> R) -> R {
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
    fn stamp(&self, pos: u64) -> u32 {
        stamp_for(pos, self.lap_shift)
    }

    /// Is position `pos`, whose stamp is `stamp`, published in its slot? The
    /// hot paths keep the stamp per lap instead of recomputing it per frame.
    #[inline(always)]
    fn published_with(&self, pos: u64, stamp: u32) -> Option<u64> {
        debug_assert_eq!(stamp, self.stamp(pos));
        self.published_at(self.slot_offset(pos), stamp)
    }

    /// [`Self::published_with`] for the slot `offset` bytes from slot 0.
    #[inline(always)]
    fn published_at(&self, offset: usize, stamp: u32) -> Option<u64> {
        // SYNC: pairs with the Release store of the slot word in
        // `SlotWriter::commit`; the payload written before it is visible.
        let word = self.word_at(offset).load(Ordering::Acquire);
        (unpack_word(word).2 == stamp).then_some(word)
    }
}

/// The role-related methods both sides share: session checks and the
/// heartbeat. `$publish` is the side's method that stores its index.
macro_rules! role_methods {
    ($publish:ident) => {
        #[cfg(not(loom))]
        pub(crate) fn set_role(&mut self, role: crate::segment::role::HeldRole) {
            self.role = Some(role);
        }

        /// `Ok` while the segment is live in the session this side attached
        /// to. A cheap load of one read-mostly line; call it off the
        /// per-message path.
        pub fn check_session(&self) -> Result<(), crate::SessionError> {
            #[cfg(not(loom))]
            if let Some(role) = &self.role {
                return role.check_session();
            }
            Ok(())
        }

        /// The session this side attached to (0 for a heap ring).
        pub fn session(&self) -> u64 {
            #[cfg(not(loom))]
            if let Some(role) = &self.role {
                return role.session();
            }
            0
        }

        /// Publishes the index and counters, re-reads the peer's wait
        /// strategy and stamps the heartbeat. Call it off the per-message
        /// path.
        pub fn heartbeat(&mut self) {
            self.$publish();
            self.refresh_peer();
            #[cfg(not(loom))]
            if let Some(role) = &self.role {
                role.heartbeat();
            }
        }
    };
}

/// Cache lines the producer asks for ahead of its writes: one slot 16
/// frames ahead for small frames, fewer and nearer slots for larger ones.
const PREFETCH_LINES: usize = 16;

/// The writing end. Exactly one exists per ring.
pub struct Producer {
    ring: RingRef,
    head: u64,
    /// `stamp_for(head)`, updated once per lap.
    stamp: u32,
    published_head: u64,
    cached_tail: u64,
    publish_batch: u64,
    /// `head` minus the frames counted in `producer.messages`: the count
    /// follows `head` instead of being kept beside it.
    messages_base: u64,
    bytes: u64,
    full_count: u64,
    /// Slots that share a cache line, less one (a power of two less one):
    /// lines ahead are asked for once per line, not once per frame.
    prefetch_mask: u64,
    wake_peer: bool,
    #[cfg(not(loom))]
    role: Option<crate::segment::role::HeldRole>,
}

/// The reading end. Exactly one exists per ring.
pub struct Consumer {
    ring: RingRef,
    tail: u64,
    /// `stamp_for(tail)`, updated once per lap.
    stamp: u32,
    released_tail: u64,
    release_batch: u64,
    /// `tail` minus the frames counted in `consumer.messages`.
    messages_base: u64,
    bytes: u64,
    empty_count: u64,
    wake_peer: bool,
    #[cfg(not(loom))]
    role: Option<crate::segment::role::HeldRole>,
}

impl Producer {
    /// Starts where the committed frames end: at the shared `head`, past any
    /// frames published in their slot but not yet counted in `head` (a
    /// producer that died between the two stores). Refuses indices or
    /// stamps that cannot be true (see [`check_for_producer`]): continuing
    /// from them would overwrite unread frames or reissue sequences.
    pub(crate) fn attach(ring: RingRef) -> Result<Self, Corruption> {
        // SYNC: pairs with the Release store of tail in `Consumer::flush`.
        let tail = ring.consumer_line().index.load(Ordering::Acquire);
        let head = check_for_producer(&ring, tail)?;
        // SYNC: pairs with the Acquire loads of head in observers and in
        // `Consumer::check_stall`: every slot word below it is published.
        ring.producer_line().index.store(head, Ordering::Release);
        let line = ring.producer_line();
        let messages = line.messages.load(Ordering::Relaxed);
        let bytes = line.bytes.load(Ordering::Relaxed);
        let full_count = line.backpressure.load(Ordering::Relaxed);
        let prefetch_mask = prefetch_mask(ring.slot_size);
        let mut producer = Producer {
            stamp: ring.stamp(head),
            ring,
            head,
            published_head: head,
            cached_tail: tail,
            publish_batch: 1,
            messages_base: head.wrapping_sub(messages),
            bytes,
            full_count,
            prefetch_mask,
            wake_peer: false,
            #[cfg(not(loom))]
            role: None,
        };
        producer.refresh_peer();
        Ok(producer)
    }

    /// Ring capacity in frames.
    pub fn capacity(&self) -> u64 {
        self.ring.capacity()
    }

    /// Largest frame, in bytes, this ring's slots hold.
    pub fn payload_capacity(&self) -> usize {
        self.ring.payload_capacity
    }

    /// Position the next frame will be written at (also its sequence number).
    pub fn position(&self) -> u64 {
        self.head
    }

    /// Says that the frames published from now on are relayed from the ring
    /// of session `origin` (0: not said), in this line's `relay_session`
    /// (LAYOUT.md). The value stays after the producer stops, so the next
    /// relaying producer can tell whose sequence the last frame carries.
    pub fn set_relay_session(&mut self, origin: u64) {
        // SYNC: read by the next holder of this role after the kernel's lock
        // hand-over, and by observers for display: a lone value.
        self.ring
            .producer_line()
            .relay_session
            .store(origin, Ordering::Relaxed);
    }

    /// Publish `head` only every `k` commits (at least 1). The frames
    /// themselves are visible to the consumer at each commit regardless.
    pub fn set_publish_batch(&mut self, k: u64) {
        self.publish_batch = k.max(1);
        #[cfg(not(loom))]
        if let Some(role) = &self.role {
            role.set_batch(self.publish_batch);
        }
    }

    /// Free slots as far as this side knows, reloading `tail` when the ring
    /// looks full.
    #[inline(always)]
    fn has_space(&mut self) -> bool {
        if self.head.wrapping_sub(self.cached_tail) < self.ring.capacity() {
            return true;
        }
        // SYNC: pairs with the Release store of tail in `Consumer::flush`: the
        // consumer has finished reading every slot before `tail`.
        self.cached_tail = self.ring.consumer_line().index.load(Ordering::Acquire);
        self.head.wrapping_sub(self.cached_tail) < self.ring.capacity()
    }

    /// Claims the next slot for writing in place, or `None` when the ring is
    /// full.
    #[inline(always)]
    #[must_use = "a claimed slot publishes nothing until commit()"]
    pub fn claim(&mut self) -> Option<SlotWriter<'_>> {
        if !self.has_space() {
            self.full_count = self.full_count.wrapping_add(1);
            self.publish();
            return None;
        }
        // Orders the earlier head publication before the payload stores to
        // come, so an observer that sees new payload bytes also sees a head
        // that marks its copy torn (see `Observer::read_slot`). A compiler
        // barrier only on x86.
        fence(Ordering::Release);
        Some(SlotWriter { producer: self })
    }

    /// Copies `data` into the next slot and commits it.
    #[inline]
    pub fn try_push(&mut self, data: &[u8]) -> Result<(), PushError> {
        if data.len() > self.ring.payload_capacity {
            return Err(PushError::TooLarge {
                len: data.len(),
                max: self.ring.payload_capacity,
            });
        }
        let mut slot = self.claim().ok_or(PushError::Full)?;
        slot.write(data);
        slot.commit(data.len()).map(|_| ())
    }

    /// Pushes `data`, waiting for space with `strategy` up to `timeout`.
    /// Returns `Err(Full)` if the ring stayed full that long.
    pub fn push_wait(
        &mut self,
        data: &[u8],
        strategy: WaitStrategy,
        timeout: std::time::Duration,
    ) -> Result<(), PushError> {
        match self.try_push(data) {
            Err(PushError::Full) if self.wait_for_space(strategy, timeout) => self.try_push(data),
            other => other,
        }
    }

    /// Waits until a slot is free, up to `timeout`. Spins with the pause hint,
    /// yields, or parks on a futex as `strategy` says.
    pub fn wait_for_space(&mut self, strategy: WaitStrategy, timeout: std::time::Duration) -> bool {
        self.publish();
        let deadline = Deadline::after(timeout);
        // A borrow, not a clone: cloning would bump the keep-alive Arc (an
        // atomic read-modify-write) every time the ring is found full.
        let ring = &self.ring;
        let head = self.head;
        let cap = ring.capacity();
        let ready = || {
            // SYNC: pairs with the Release store of tail in `Consumer::flush`.
            let tail = ring.consumer_line().index.load(Ordering::Acquire);
            head.wrapping_sub(tail) < cap
        };
        wait::wait_until(strategy, &ring.producer_line().sleeping, deadline, ready)
    }

    #[inline(always)]
    fn committed(&mut self, len: usize) {
        let head = self.head.wrapping_add(1);
        self.head = head;
        if head & self.ring.mask == 0 {
            self.stamp = self.ring.stamp(head);
        }
        // Counters resume from the header, which anyone with write access
        // can set: they wrap, they never panic.
        self.bytes = self.bytes.wrapping_add(len as u64);
        if self.wake_peer {
            wake_if_sleeping(self.ring.consumer_line());
        }
        if head.wrapping_sub(self.published_head) >= self.publish_batch {
            self.store_head(head);
        }
        self.prefetch_ahead(len);
    }

    /// Takes ownership early of the lines a frame like the one just
    /// committed will need a few slots ahead. Each slot's lines were last
    /// read by the consumer, so every first store to them waits for the
    /// consumer's core to drop its copy; asking for them ahead overlaps those
    /// waits (forge-bench: 64 B and 1 KiB throughput, see the README). Only
    /// slots known to be free are touched, so a line the consumer is still
    /// reading is never pulled away from it.
    #[inline(always)]
    fn prefetch_ahead(&self, len: usize) {
        if self.head & self.prefetch_mask != 0 {
            return;
        }
        let lines = (len + 8).div_ceil(64).min(PREFETCH_LINES);
        let ahead = self.head.wrapping_add((PREFETCH_LINES / lines) as u64);
        if ahead.wrapping_sub(self.cached_tail) >= self.ring.capacity() {
            return;
        }
        let start = self.ring.slot_start(ahead).cast_const();
        for line in 0..lines {
            prefetch_write(start.wrapping_add(line * 64));
        }
    }

    /// Stores `head` and the counters for inspectors.
    #[inline(always)]
    pub fn publish(&mut self) {
        if self.published_head != self.head {
            self.store_head(self.head);
        }
    }

    #[inline(always)]
    fn store_head(&mut self, head: u64) {
        let line = self.ring.producer_line();
        // SYNC: pairs with the Acquire load of head in observers and in
        // `Producer::attach` of a successor producer.
        line.index.store(head, Ordering::Release);
        line.messages
            .store(head.wrapping_sub(self.messages_base), Ordering::Relaxed);
        line.bytes.store(self.bytes, Ordering::Relaxed);
        self.published_head = head;
    }

    /// Checks the consumer's `tail` against what this producer knows: it can
    /// never pass `head` (that would claim frames never written were read)
    /// nor go back (released slots may already be rewritten). Either means
    /// something other than the consumer wrote it. One load; call it off the
    /// per-message path, for example when the ring has stayed full.
    pub fn check_tail(&mut self) -> Result<(), Corruption> {
        // SYNC: pairs with the Release store of tail in `Consumer::flush`.
        let tail = self.ring.consumer_line().index.load(Ordering::Acquire);
        let fault = |what: String| Corruption::Indices {
            head: self.head,
            tail,
            slots: self.ring.capacity(),
            what,
        };
        if ahead(tail, self.head) > 0 {
            return Err(fault(format!(
                "tail passed head {}: the consumer cannot have read frames that were never written",
                self.head
            )));
        }
        if ahead(self.cached_tail, tail) > 0 {
            return Err(fault(format!(
                "tail went back from {} to {tail}: released slots may already hold newer frames",
                self.cached_tail
            )));
        }
        self.cached_tail = tail;
        Ok(())
    }

    /// Publishes counters and re-reads the consumer's wait strategy. Call it
    /// off the per-message path (the daemons do so with the heartbeat).
    pub fn refresh_peer(&mut self) {
        let line = self.ring.producer_line();
        line.backpressure.store(self.full_count, Ordering::Relaxed);
        self.wake_peer = self
            .ring
            .consumer_line()
            .wait_strategy
            .load(Ordering::Relaxed)
            == WaitStrategy::Park.code();
    }

    /// Records which wait strategy this side uses, so the consumer knows
    /// whether to wake it.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        let line = self.ring.producer_line();
        line.wait_strategy.store(strategy.code(), Ordering::Relaxed);
        // The consumer may have to start waking us: make the flag visible
        // before we could go to sleep.
        fence(Ordering::SeqCst);
    }

    role_methods!(publish);

    /// Says, for inspectors, what this producer aims for: `target_rate`
    /// frames per second (0: as fast as the ring allows) and `burst` frames
    /// per SIGUSR1 burst (0: none). No-op on a heap ring.
    pub fn set_pace(&mut self, target_rate: u64, burst: u64) {
        #[cfg(not(loom))]
        if let Some(role) = &self.role {
            role.set_pace(target_rate, burst);
        }
        #[cfg(loom)]
        let _ = (target_rate, burst);
    }

    /// Counts a burst taken, for inspectors. No-op on a heap ring.
    pub fn count_burst(&mut self) {
        #[cfg(not(loom))]
        if let Some(role) = &self.role {
            role.count_burst();
        }
    }

    /// Frames committed so far (also `head`'s advance since the segment began).
    pub fn messages(&self) -> u64 {
        self.head.wrapping_sub(self.messages_base)
    }

    /// Times the producer found the ring full.
    pub fn full_count(&self) -> u64 {
        self.full_count
    }
}

impl Producer {
    /// Drops this producer without publishing anything more, as a killed
    /// process would, and returns its ring.
    pub(crate) fn abandon(mut self) -> RingRef {
        self.published_head = self.head;
        self.ring.clone()
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.publish();
        self.refresh_peer();
    }
}

/// A claimed slot. Write the payload, then [`commit`](Self::commit) it;
/// dropping it without a commit publishes nothing.
#[must_use = "a claimed slot publishes nothing until commit()"]
pub struct SlotWriter<'a> {
    producer: &'a mut Producer,
}

impl SlotWriter<'_> {
    /// The position (sequence number) this frame will have.
    pub fn position(&self) -> u64 {
        self.producer.head
    }

    /// Copies `data` to the start of the payload. Panics if longer than the
    /// ring's slots; check with [`Producer::payload_capacity`] first.
    #[inline(always)]
    pub fn write(&mut self, data: &[u8]) {
        let ring = &self.producer.ring;
        assert!(
            data.len() <= ring.payload_capacity,
            "frame longer than a slot"
        );
        // SAFETY: the producer owns this slot until it commits: the
        // consumer's tail is past its previous frame (checked in claim) and
        // the stamp is not yet published; `data` fits (asserted above).
        unsafe { ring.with_payload_mut(self.producer.head, |p| copy_frame(data, p)) }
    }

    /// The whole payload ([`Producer::payload_capacity`] bytes), to write in
    /// place.
    #[cfg(not(loom))]
    #[inline(always)]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let ring = &self.producer.ring;
        let len = ring.payload_capacity;
        // SAFETY: as in `write`, the slot is ours until commit, and the
        // borrow of `self` ends before commit can run; the slot holds `len`
        // payload bytes.
        unsafe {
            ring.with_payload_mut(self.producer.head, |p| {
                std::slice::from_raw_parts_mut(p, len)
            })
        }
    }

    /// Publishes the first `len` payload bytes as a frame.
    #[inline(always)]
    pub fn commit(self, len: usize) -> Result<u64, PushError> {
        self.commit_with_flags(len, 0)
    }

    /// Publishes with application flags in the slot word.
    #[inline(always)]
    pub fn commit_with_flags(self, len: usize, flags: u16) -> Result<u64, PushError> {
        if len > self.producer.ring.payload_capacity {
            return Err(PushError::TooLarge {
                len,
                max: self.producer.ring.payload_capacity,
            });
        }
        let pos = self.producer.head;
        let ring = &self.producer.ring;
        let word = pack_word(len as u16, flags, self.producer.stamp);
        // SYNC: pairs with the Acquire load of the slot word in
        // `RingRef::published` (consumer and producer resume scan).
        ring.word(pos).store(word, Ordering::Release);
        self.producer.committed(len);
        Ok(pos)
    }
}

impl Consumer {
    /// Starts at the shared `tail`, after checking that `tail` and `head`
    /// can both be true and that the frames between them are published (see
    /// [`check_for_consumer`]).
    pub(crate) fn attach(ring: RingRef) -> Result<Self, Corruption> {
        let line = ring.consumer_line();
        // SYNC: pairs with the Release store of tail in `Consumer::flush` of
        // a previous consumer.
        let tail = line.index.load(Ordering::Acquire);
        check_for_consumer(&ring, tail)?;
        let messages = line.messages.load(Ordering::Relaxed);
        let bytes = line.bytes.load(Ordering::Relaxed);
        let empty_count = line.backpressure.load(Ordering::Relaxed);
        let mut consumer = Consumer {
            stamp: ring.stamp(tail),
            ring,
            tail,
            released_tail: tail,
            release_batch: 1,
            messages_base: tail.wrapping_sub(messages),
            bytes,
            empty_count,
            wake_peer: false,
            #[cfg(not(loom))]
            role: None,
        };
        consumer.refresh_peer();
        Ok(consumer)
    }

    /// Ring capacity in frames.
    pub fn capacity(&self) -> u64 {
        self.ring.capacity()
    }

    /// Largest frame, in bytes, this ring's slots hold.
    pub fn payload_capacity(&self) -> usize {
        self.ring.payload_capacity
    }

    /// Position of the next frame to read.
    pub fn position(&self) -> u64 {
        self.tail
    }

    /// Store `tail` only every `k` releases (at least 1). A consumer killed
    /// between two stores re-reads at most `k` frames when restarted.
    pub fn set_release_batch(&mut self, k: u64) {
        self.release_batch = k.max(1);
        #[cfg(not(loom))]
        if let Some(role) = &self.role {
            role.set_batch(self.release_batch);
        }
    }

    /// Length and flags of the next frame if one is published.
    #[inline(always)]
    fn next_frame(&mut self) -> Result<Option<(usize, u16)>, PopError> {
        self.next_frame_at(self.ring.slot_offset(self.tail))
    }

    /// [`Self::next_frame`] for a slot offset the caller computed once.
    #[inline(always)]
    fn next_frame_at(&mut self, offset: usize) -> Result<Option<(usize, u16)>, PopError> {
        debug_assert_eq!(offset, self.ring.slot_offset(self.tail));
        debug_assert_eq!(self.stamp, self.ring.stamp(self.tail));
        let Some(word) = self.ring.published_at(offset, self.stamp) else {
            self.empty_count = self.empty_count.wrapping_add(1);
            return Ok(None);
        };
        let (len, flags, _) = unpack_word(word);
        let len = len as usize;
        if len > self.ring.payload_capacity {
            return Err(PopError::Corrupt {
                pos: self.tail,
                len,
                max: self.ring.payload_capacity,
            });
        }
        Ok(Some((len, flags)))
    }

    /// Length of the next frame if one is published.
    #[inline(always)]
    fn next_len(&mut self) -> Result<Option<usize>, PopError> {
        Ok(self.next_frame()?.map(|(len, _)| len))
    }

    /// Tells a ring that is empty from one that is stuck. When `head` says
    /// the frame at our position was published but its slot holds another
    /// stamp, nothing will ever make it readable: the slot word was damaged
    /// (or a second producer wrote it). Two loads; call it off the
    /// per-message path, when no frame has come for a while.
    pub fn check_stall(&self) -> Result<(), Corruption> {
        // SYNC: pairs with the Release store of head in `Producer::publish`
        // and `Producer::attach`; the producer stores each slot word before
        // a head that covers it, so the word loaded below is that frame's
        // (or, were the ring sound, a later lap's, which needs our release).
        let head = self.ring.producer_line().index.load(Ordering::Acquire);
        let past = ahead(head, self.tail);
        if past <= 0 {
            return Ok(());
        }
        let slots = self.ring.capacity();
        if past as u64 > slots {
            return Err(Corruption::Indices {
                head,
                tail: self.tail,
                slots,
                what: format!("head is {past} frames past tail, more than the ring holds"),
            });
        }
        // SYNC: pairs with the Release store of the slot word in
        // `SlotWriter::commit` (ordered before head's store above).
        let word = self.ring.word(self.tail).load(Ordering::Acquire);
        let found = unpack_word(word).2;
        if found == self.stamp {
            return Ok(());
        }
        Err(Corruption::Stamp {
            position: self.tail,
            slot: self.tail & self.ring.mask,
            expected: self.stamp,
            found,
            head,
        })
    }

    /// Is a frame ready to read?
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.ring.published_with(self.tail, self.stamp).is_some()
    }

    /// Calls `f` with the oldest frame's bytes in place, then releases it.
    #[inline(always)]
    pub fn pop_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, PopError> {
        let Some(len) = self.next_len()? else {
            return Ok(None);
        };
        // SAFETY: the frame is published (Acquire above), `len` is within
        // the payload (checked in `next_frame`), and the producer cannot
        // reuse the slot before we store a tail past it.
        let out = unsafe {
            self.ring
                .with_payload(self.tail, |p| f(std::slice::from_raw_parts(p, len)))
        };
        self.release_one(len);
        Ok(Some(out))
    }

    /// Copies the oldest frame into `buf` and releases it; returns its length.
    #[inline(always)]
    pub fn try_pop_into(&mut self, buf: &mut [u8]) -> Result<Option<usize>, PopError> {
        match self.next_len()? {
            Some(len) if len > buf.len() => Err(PopError::BufferTooSmall {
                len,
                buf: buf.len(),
            }),
            Some(_) => self.pop_with(|bytes| {
                buf[..bytes.len()].copy_from_slice(bytes);
                bytes.len()
            }),
            None => Ok(None),
        }
    }

    /// The oldest frame, read in place. It borrows the consumer until it is
    /// released (or dropped, which leaves it to be read again).
    #[cfg(not(loom))]
    #[inline(always)]
    #[must_use = "a frame read in place is freed only by release()"]
    pub fn read(&mut self) -> Result<Option<ReadFrame<'_>>, PopError> {
        // Found once, for the slot word and the payload both.
        let offset = self.ring.slot_offset(self.tail);
        let Some((len, flags)) = self.next_frame_at(offset)? else {
            return Ok(None);
        };
        Ok(Some(ReadFrame {
            position: self.tail,
            flags,
            len,
            payload_offset: RingRef::payload_offset(offset),
            consumer: self,
        }))
    }

    #[inline(always)]
    fn release_one(&mut self, len: usize) {
        let tail = self.tail.wrapping_add(1);
        self.tail = tail;
        if tail & self.ring.mask == 0 {
            self.stamp = self.ring.stamp(tail);
        }
        // Counters resume from the header, which anyone with write access
        // can set: they wrap, they never panic.
        self.bytes = self.bytes.wrapping_add(len as u64);
        if tail.wrapping_sub(self.released_tail) >= self.release_batch {
            self.store_tail(tail);
        }
    }

    /// Stores `tail` (freeing slots for the producer) and the counters.
    #[inline(always)]
    pub fn flush(&mut self) {
        if self.released_tail != self.tail {
            self.store_tail(self.tail);
        }
    }

    #[inline(always)]
    fn store_tail(&mut self, tail: u64) {
        let line = self.ring.consumer_line();
        // SYNC: pairs with the Acquire loads of tail in `Producer::has_space`
        // and `Producer::wait_for_space`: every read of the freed slots is done.
        line.index.store(tail, Ordering::Release);
        line.messages
            .store(tail.wrapping_sub(self.messages_base), Ordering::Relaxed);
        line.bytes.store(self.bytes, Ordering::Relaxed);
        self.released_tail = tail;
        if self.wake_peer {
            wake_if_sleeping(self.ring.producer_line());
        }
    }

    /// Waits until a frame is published, up to `timeout`.
    pub fn wait_for_frame(&mut self, strategy: WaitStrategy, timeout: std::time::Duration) -> bool {
        self.flush();
        let deadline = Deadline::after(timeout);
        let ring = &self.ring;
        let (tail, stamp) = (self.tail, self.stamp);
        wait::wait_until(strategy, &ring.consumer_line().sleeping, deadline, || {
            ring.published_with(tail, stamp).is_some()
        })
    }

    /// Publishes counters and re-reads the producer's wait strategy.
    pub fn refresh_peer(&mut self) {
        let line = self.ring.consumer_line();
        line.backpressure.store(self.empty_count, Ordering::Relaxed);
        self.wake_peer = self
            .ring
            .producer_line()
            .wait_strategy
            .load(Ordering::Relaxed)
            == WaitStrategy::Park.code();
    }

    /// Records which wait strategy this side uses, so the producer knows
    /// whether to wake it.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        let line = self.ring.consumer_line();
        line.wait_strategy.store(strategy.code(), Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    role_methods!(flush);

    /// Records a transit-latency sample (ns) in the segment's shared
    /// histogram, for inspectors. No-op on a heap ring.
    #[inline]
    pub fn record_latency(&mut self, ns: u64) {
        #[cfg(not(loom))]
        if let Some(role) = &self.role {
            role.record_latency(ns);
        }
        #[cfg(loom)]
        let _ = ns;
    }

    /// Frames released so far.
    pub fn messages(&self) -> u64 {
        self.tail.wrapping_sub(self.messages_base)
    }

    /// Times the consumer found the ring empty.
    pub fn empty_count(&self) -> u64 {
        self.empty_count
    }
}

impl Consumer {
    /// Drops this consumer without storing pending releases, as a killed
    /// process would, and returns its ring.
    pub(crate) fn abandon(mut self) -> RingRef {
        self.released_tail = self.tail;
        self.ring.clone()
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.flush();
        self.refresh_peer();
    }
}

/// A frame read in place; [`release`](Self::release) frees its slot.
/// Dropping it without a release leaves the frame to be read again.
#[cfg(not(loom))]
#[must_use = "a frame read in place is freed only by release()"]
pub struct ReadFrame<'a> {
    position: u64,
    flags: u16,
    len: usize,
    /// Bytes from slot 0 to its payload, found once in `read`.
    payload_offset: usize,
    consumer: &'a mut Consumer,
}

#[cfg(not(loom))]
impl ReadFrame<'_> {
    /// The frame's ring position (its sequence number).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The flags its producer committed it with (`FRAME_*` bits).
    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// Frees the slot for the producer (possibly batched; see
    /// [`Consumer::set_release_batch`]).
    #[inline(always)]
    pub fn release(self) {
        self.consumer.release_one(self.len);
    }
}

#[cfg(not(loom))]
impl std::ops::Deref for ReadFrame<'_> {
    type Target = [u8];
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        // SAFETY: the frame was published (Acquire in `read`), its length
        // is within the payload, and the producer cannot reuse the slot
        // before the consumer stores a tail past it, which needs `release`,
        // which consumes this guard.
        unsafe {
            std::slice::from_raw_parts(self.consumer.ring.slot_byte(self.payload_offset), self.len)
        }
    }
}

#[cfg(not(loom))]
impl std::fmt::Debug for ReadFrame<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadFrame")
            .field("position", &self.position)
            .field("flags", &self.flags)
            .field("len", &self.len)
            .finish()
    }
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("position", &self.head)
            .field("capacity", &self.ring.capacity())
            .field("publish_batch", &self.publish_batch)
            .field("session", &format_args!("{:#018x}", self.session()))
            .finish()
    }
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("position", &self.tail)
            .field("capacity", &self.ring.capacity())
            .field("release_batch", &self.release_batch)
            .field("session", &format_args!("{:#018x}", self.session()))
            .finish()
    }
}

impl std::fmt::Debug for SlotWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotWriter")
            .field("position", &self.producer.head)
            .finish()
    }
}

/// Copies `src` to `dst`. Frames of up to 16 bytes are copied with two
/// word-sized moves that may overlap, not through a call to `memcpy`: for
/// the smallest frames that call was a large part of the producer's work
/// per frame (forge-bench, 8-byte frames; see the README).
///
/// # Safety
///
/// `dst` must be valid for `src.len()` bytes of writes and must not
/// overlap `src`.
#[inline(always)]
unsafe fn copy_frame(src: &[u8], dst: *mut u8) {
    let n = src.len();
    let s = src.as_ptr();
    // SAFETY: in every arm each read lies within `src` and each write
    // within `dst[..n]`, as the arm's bounds on `n` show (the caller
    // promises `dst` holds `n` bytes); the accesses say they are unaligned.
    unsafe {
        match n {
            8..=16 => {
                let a = s.cast::<u64>().read_unaligned();
                let b = s.add(n - 8).cast::<u64>().read_unaligned();
                dst.cast::<u64>().write_unaligned(a);
                dst.add(n - 8).cast::<u64>().write_unaligned(b);
            }
            4..=7 => {
                let a = s.cast::<u32>().read_unaligned();
                let b = s.add(n - 4).cast::<u32>().read_unaligned();
                dst.cast::<u32>().write_unaligned(a);
                dst.add(n - 4).cast::<u32>().write_unaligned(b);
            }
            _ => std::ptr::copy_nonoverlapping(s, dst, n),
        }
    }
}

/// How many consecutive slots of `slot_size` bytes share a 64-byte line,
/// rounded down to a power of two, less one: the mask of the positions
/// whose slot is not the first of its line.
fn prefetch_mask(slot_size: usize) -> u64 {
    let per_line = (64 / slot_size).max(1) as u64;
    (1 << per_line.ilog2()) - 1
}

/// `a - b` as a signed distance, so that positions compare correctly across
/// the `u64` wrap.
#[inline(always)]
fn ahead(a: u64, b: u64) -> i64 {
    crate::Position::new(a).ahead_of(crate::Position::new(b))
}

/// The stamp in position `pos`'s slot word (Acquire: a match makes the
/// payload visible).
fn stamp_at(ring: &RingRef, pos: u64) -> u32 {
    // SYNC: pairs with the Release store of the slot word in
    // `SlotWriter::commit`.
    unpack_word(ring.word(pos).load(Ordering::Acquire)).2
}

/// What a producer checks before it writes a frame, holding the producer
/// role (so no other producer writes slots meanwhile; the consumer may go on
/// reading). Returns where the committed frames end, which is where it
/// starts. With `n` slots and `tail` as read:
///
/// ```text
///   tail ─▶ published … published │ first unpublished = true head │ … free … │ tail + n
///           stamps = stamp(pos)    │ (head may lag it by a batch)  │ stamp(pos - n) or 0
/// ```
///
/// - the frames from `tail` on are published up to the true head;
/// - `head` does not claim more than that (a published slot would be missing);
/// - a `tail` ahead of `head` (a batched head that lagged) only covers
///   positions that were really published;
/// - no slot after the true head holds a frame of its own lap: that would be
///   a frame published after a hole, which the next commits would overwrite.
fn check_for_producer(ring: &RingRef, tail: u64) -> Result<u64, Corruption> {
    let n = ring.capacity();
    // SYNC: pairs with the Release store of head in `Producer::publish` of a
    // previous producer.
    let head = ring.producer_line().index.load(Ordering::Acquire);
    let fault = |what: String| Corruption::Indices {
        head,
        tail,
        slots: n,
        what,
    };
    let mut true_head = tail;
    while (ahead(true_head, tail) as u64) < n && stamp_at(ring, true_head) == ring.stamp(true_head)
    {
        true_head = true_head.wrapping_add(1);
    }
    let claimed = ahead(head, tail);
    if claimed > n as i64 {
        return Err(fault(format!(
            "head is {claimed} frames past tail, more than the ring holds: frames were overwritten before being read"
        )));
    }
    if claimed > ahead(true_head, tail) {
        return Err(Corruption::Stamp {
            position: true_head,
            slot: true_head & ring.mask,
            expected: ring.stamp(true_head),
            found: stamp_at(ring, true_head),
            head,
        });
    }
    if claimed < 0 {
        check_tail_was_published(ring, head, tail, true_head)?;
    }
    let mut pos = true_head;
    while ahead(tail.wrapping_add(n), pos) > 0 {
        let found = stamp_at(ring, pos);
        if found != 0 && found != ring.stamp(pos.wrapping_sub(n)) {
            return Err(fault(format!(
                "the slot of position {pos}, after the last committed frame {}, holds stamp {found:#x}: \
                 a frame published after a hole (the next commits would overwrite it unread) or a damaged slot word",
                true_head.wrapping_sub(1)
            )));
        }
        pos = pos.wrapping_add(1);
    }
    Ok(true_head)
}

/// What a consumer checks before it reads, holding the consumer role (its
/// `tail` is its own; a live producer may go on publishing, which only
/// moves `head` forward, so none of these checks can fail because of it):
///
/// - `head` is at most a ring ahead of `tail`;
/// - every position between `tail` and `head` is published;
/// - a `tail` ahead of `head` only covers positions that were published.
fn check_for_consumer(ring: &RingRef, tail: u64) -> Result<(), Corruption> {
    let n = ring.capacity();
    // SYNC: pairs with the Release store of head in `Producer::publish`
    // and `Producer::attach`: every slot word below it is visible.
    let head = ring.producer_line().index.load(Ordering::Acquire);
    let claimed = ahead(head, tail);
    if claimed > n as i64 {
        return Err(Corruption::Indices {
            head,
            tail,
            slots: n,
            what: format!(
                "head is {claimed} frames past tail, more than the ring holds: frames were overwritten before being read"
            ),
        });
    }
    let mut pos = tail;
    while ahead(head, pos) > 0 {
        let found = stamp_at(ring, pos);
        if found != ring.stamp(pos) {
            return Err(Corruption::Stamp {
                position: pos,
                slot: pos & ring.mask,
                expected: ring.stamp(pos),
                found,
                head,
            });
        }
        pos = pos.wrapping_add(1);
    }
    if claimed < 0 {
        // A live producer may already have rewritten these slots for the
        // next lap, but not further: that lap is not released.
        check_tail_was_published(ring, head, tail, tail.wrapping_add(n))?;
    }
    Ok(())
}

/// `tail` is ahead of `head`: the consumer read frames that a batched
/// `head` had not counted yet. Each such position must have been published:
/// its slot holds its own stamp, or the next lap's if that one is below
/// `next_lap_below`.
fn check_tail_was_published(
    ring: &RingRef,
    head: u64,
    tail: u64,
    next_lap_below: u64,
) -> Result<(), Corruption> {
    let n = ring.capacity();
    let from = if ahead(tail, head) as u64 > n {
        tail.wrapping_sub(n)
    } else {
        head
    };
    let mut pos = from;
    while ahead(tail, pos) > 0 {
        let found = stamp_at(ring, pos);
        let next = pos.wrapping_add(n);
        let ok = found == ring.stamp(pos)
            || (ahead(next_lap_below, next) > 0 && found == ring.stamp(next));
        if !ok {
            return Err(Corruption::Indices {
                head,
                tail,
                slots: n,
                what: format!(
                    "tail says position {pos} was read, but its slot holds stamp {found:#x}, not {:#x}: it was never published",
                    ring.stamp(pos)
                ),
            });
        }
        pos = pos.wrapping_add(1);
    }
    Ok(())
}

/// After a publication: wake the peer if it flagged itself asleep.
#[inline]
fn wake_if_sleeping(peer: &SideLine) {
    // Dekker handshake with `wait::wait_until`: our publication store, then
    // this fence, then the load of the flag; the sleeper stores the flag,
    // fences, then re-checks the publication. One of us sees the other.
    fence(Ordering::SeqCst);
    if peer.sleeping.load(Ordering::Relaxed) != 0 {
        peer.sleeping.store(0, Ordering::Relaxed);
        wait::wake(&peer.sleeping);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::{
        heap_ring, heap_ring_sized, heap_ring_starting_at, PopError, PushError, WaitStrategy,
        PAYLOAD_CAPACITY,
    };
    use std::collections::VecDeque;
    use std::time::Duration;

    fn pop(c: &mut crate::Consumer) -> Option<Vec<u8>> {
        c.pop_with(|b| b.to_vec()).unwrap()
    }

    #[test]
    fn frames_come_out_in_order_and_the_ring_reports_full() {
        let (mut p, mut c) = heap_ring(4);
        for i in 0..4u8 {
            p.try_push(&[i; 3]).unwrap();
        }
        assert_eq!(p.try_push(b"x"), Err(PushError::Full));
        assert_eq!(p.full_count(), 1);
        for i in 0..4u8 {
            assert_eq!(pop(&mut c).unwrap(), vec![i; 3]);
        }
        assert_eq!(pop(&mut c), None);
        p.try_push(b"again").unwrap();
        assert_eq!(pop(&mut c).unwrap(), b"again");
    }

    #[test]
    fn a_frame_longer_than_a_slot_is_an_error_not_a_truncation() {
        let (mut p, mut c) = heap_ring(2);
        let big = vec![1u8; PAYLOAD_CAPACITY + 1];
        assert_eq!(
            p.try_push(&big),
            Err(PushError::TooLarge {
                len: PAYLOAD_CAPACITY + 1,
                max: PAYLOAD_CAPACITY
            })
        );
        let slot = p.claim().unwrap();
        assert!(slot.commit(PAYLOAD_CAPACITY + 1).is_err());
        assert_eq!(pop(&mut c), None);
        p.try_push(&big[..PAYLOAD_CAPACITY]).unwrap();
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
                p.try_push(&big),
                Err(PushError::TooLarge {
                    len: capacity + 1,
                    max: capacity
                })
            );
            assert_eq!(p.claim().unwrap().payload_mut().len(), capacity);
            // Neighbouring slots share lines: every frame must come back
            // whole, lap after lap, never mixed with its neighbours'.
            for i in 0..40u8 {
                let frame: Vec<u8> = (0..capacity).map(|k| i ^ k as u8).collect();
                p.try_push(&frame).unwrap();
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
            let mut slot = p.claim().unwrap();
            slot.payload_mut().fill(0xEE);
            let frame: Vec<u8> = (0..len)
                .map(|k| (k as u8).wrapping_mul(37) ^ 0x5A)
                .collect();
            slot.write(&frame);
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
            p.try_push(&[i]).unwrap();
            assert_eq!(pop(&mut c).unwrap(), [i]);
        }
        assert_eq!((p.messages(), c.messages()), (7, 7));
        p.try_push(b"x").unwrap();
        assert_eq!((p.messages(), c.messages()), (8, 7));
    }

    #[test]
    fn lines_ahead_are_asked_for_once_per_line() {
        use super::prefetch_mask;
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
        let mut slot = p.claim().unwrap();
        assert_eq!(slot.position(), 0);
        slot.payload_mut()[..4].copy_from_slice(b"abcd");
        assert_eq!(slot.commit(4), Ok(0));
        let frame = c.read().unwrap().unwrap();
        assert_eq!(&*frame, b"abcd");
        assert_eq!(frame.position(), 0);
        frame.release();
        assert!(c.read().unwrap().is_none());
    }

    #[test]
    fn an_unreleased_frame_is_read_again() {
        let (mut p, mut c) = heap_ring(2);
        p.try_push(b"once").unwrap();
        {
            let _unreleased = c.read().unwrap().unwrap();
        }
        let again = c.read().unwrap().unwrap();
        assert_eq!(&*again, b"once");
        again.release();
    }

    #[test]
    fn an_uncommitted_claim_publishes_nothing() {
        let (mut p, mut c) = heap_ring(2);
        // The claim ends here without a commit.
        p.claim().unwrap().write(b"draft");
        assert_eq!(pop(&mut c), None);
        p.try_push(b"real").unwrap();
        assert_eq!(pop(&mut c).unwrap(), b"real");
    }

    #[test]
    fn indices_wrap_around_u64_max() {
        for cap in [2u32, 4, 8] {
            let start = u64::MAX - 2 * u64::from(cap) - 1;
            let (mut p, mut c) = heap_ring_starting_at(cap, start);
            for i in 0..(6 * u64::from(cap)) {
                let bytes = i.to_le_bytes();
                p.try_push(&bytes).unwrap();
                if i % 3 == 0 {
                    p.try_push(&(i + 1000).to_le_bytes()).unwrap();
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
        p.try_push(b"twelve bytes").unwrap();
        let mut small = [0u8; 4];
        assert_eq!(
            c.try_pop_into(&mut small),
            Err(PopError::BufferTooSmall { len: 12, buf: 4 })
        );
        let mut buf = [0u8; 16];
        assert_eq!(c.try_pop_into(&mut buf), Ok(Some(12)));
    }

    #[test]
    fn batched_releases_free_slots_only_when_flushed() {
        let (mut p, mut c) = heap_ring(2);
        c.set_release_batch(2);
        p.try_push(b"a").unwrap();
        p.try_push(b"b").unwrap();
        assert_eq!(pop(&mut c).unwrap(), b"a");
        // One release is pending in the consumer: the producer still sees full.
        assert_eq!(p.try_push(b"c"), Err(PushError::Full));
        c.flush();
        p.try_push(b"c").unwrap();
    }

    #[test]
    fn waiting_times_out_on_an_empty_ring_and_a_full_one() {
        let (mut p, mut c) = heap_ring(2);
        for s in [WaitStrategy::Spin, WaitStrategy::Yield, WaitStrategy::Park] {
            assert!(!c.wait_for_frame(s, Duration::from_millis(5)));
        }
        p.try_push(b"1").unwrap();
        p.try_push(b"2").unwrap();
        for s in [WaitStrategy::Spin, WaitStrategy::Yield, WaitStrategy::Park] {
            assert!(!p.wait_for_space(s, Duration::from_millis(5)));
        }
        assert!(c.wait_for_frame(WaitStrategy::Spin, Duration::ZERO));
    }

    fn threaded_transfer(strategy: WaitStrategy, frames: u64, cap: u32) {
        let (mut p, mut c) = heap_ring(cap);
        p.set_wait_strategy(strategy);
        c.set_wait_strategy(strategy);
        let producer = std::thread::spawn(move || {
            for i in 0..frames {
                let len = (i % 61) as usize + 8;
                let mut buf = [0u8; 72];
                buf[..8].copy_from_slice(&i.to_le_bytes());
                buf[8..len].fill(i as u8);
                while p
                    .push_wait(&buf[..len], strategy, Duration::from_secs(10))
                    .is_err()
                {}
            }
        });
        let mut expect = 0u64;
        while expect < frames {
            if !c.wait_for_frame(strategy, Duration::from_secs(10)) {
                panic!("no frame within 10 s at {expect}");
            }
            c.pop_with(|b| {
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
        p.set_publish_batch(100);
        for i in 0..5u8 {
            p.try_push(&[i]).unwrap();
        }
        // A crash: a new producer attaches while the old one's five commits
        // are in the slots but not in head. (The old handle is only dropped
        // at the end, standing in for a process that never runs again.)
        let mut p2 = p.crash_and_restart().unwrap();
        assert_eq!(p2.position(), 5);
        p2.try_push(&[5]).unwrap();
        for i in 0..6u8 {
            assert_eq!(pop(&mut c).unwrap(), vec![i]);
        }
    }

    fn ring_with_raw(cap: u32) -> (super::Producer, super::Consumer, super::RingRef) {
        let (p, c) = heap_ring(cap);
        let ring = p.ring.clone();
        (p, c, ring)
    }

    #[test]
    fn a_restarted_side_refuses_a_tail_ahead_of_anything_published() {
        let (mut p, mut c, ring) = ring_with_raw(8);
        for i in 0..6u8 {
            p.try_push(&[i]).unwrap();
        }
        for _ in 0..3 {
            pop(&mut c).unwrap();
        }
        c.flush();
        // tail 3, head 6: set tail far ahead, as a damaged header would.
        ring.consumer_line()
            .index
            .store(1_003, super::Ordering::Relaxed);
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
                p.try_push(&[round, i]).unwrap();
            }
            for _ in 0..4 {
                pop(&mut c).unwrap();
            }
        }
        c.flush();
        // head 20, tail 20: set tail back by more than the ring.
        ring.consumer_line()
            .index
            .store(10, super::Ordering::Relaxed);
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
            p.try_push(&[i]).unwrap();
        }
        // Position 3's slot word cleared: head (5) says it was published.
        ring.word(3).store(0, super::Ordering::Relaxed);
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
        p.set_publish_batch(100);
        for i in 0..5u8 {
            p.try_push(&[i]).unwrap();
        }
        // head is still 0; position 2's word is damaged: 3 and 4 sit after
        // a hole and a restarted producer would write over them.
        ring.word(2).store(0, super::Ordering::Relaxed);
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
            p.try_push(&[i]).unwrap();
        }
        pop(&mut c).unwrap();
        c.flush();
        p.check_tail().unwrap();
        ring.consumer_line()
            .index
            .store(9, super::Ordering::Relaxed);
        assert!(p
            .check_tail()
            .unwrap_err()
            .to_string()
            .contains("passed head"));
        ring.consumer_line()
            .index
            .store(0, super::Ordering::Relaxed);
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
            p.set_publish_batch(head_batch);
            c.set_release_batch(tail_batch);
            let mut sent = 0u64;
            let mut next = 0u64;
            for op in ops {
                match op {
                    0 | 1 => {
                        if p.try_push(&sent.to_le_bytes()).is_ok() {
                            sent += 1;
                        }
                    }
                    2 | 3 => {
                        if let Some(v) = c.pop_with(|b| u64::from_le_bytes(b.try_into().unwrap())).unwrap() {
                            // A restarted consumer re-reads up to a batch.
                            proptest::prop_assert!(v <= next && next - v <= tail_batch, "read {v}, expected {next}");
                            next = v + 1;
                        } else {
                            proptest::prop_assert!(c.check_stall().is_ok());
                        }
                    }
                    4 => {
                        p = p.crash_and_restart().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                        p.set_publish_batch(head_batch);
                    }
                    _ => {
                        c = c.crash_and_restart().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                        c.set_release_batch(tail_batch);
                    }
                }
                proptest::prop_assert!(p.check_tail().is_ok());
            }
            while let Some(v) = c.pop_with(|b| u64::from_le_bytes(b.try_into().unwrap())).unwrap() {
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
                            p.try_push(&frame)
                        } else {
                            match p.claim() {
                                Some(mut s) => { s.payload_mut()[..len].fill(n); s.commit(len).map(|_| ()) }
                                None => Err(PushError::Full),
                            }
                        };
                        if model.len() < cap as usize {
                            proptest::prop_assert_eq!(r, Ok(()));
                            model.push_back(frame);
                        } else {
                            proptest::prop_assert_eq!(r, Err(PushError::Full));
                        }
                    }
                    2 => proptest::prop_assert_eq!(pop(&mut c), model.pop_front()),
                    _ => {
                        let peeked = c.read().unwrap().map(|f| f.to_vec());
                        proptest::prop_assert_eq!(peeked.as_ref(), model.front());
                    }
                }
            }
        }
    }
}

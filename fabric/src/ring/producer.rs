//! The writing end: [`Producer`] and the slot it lends out ([`WriteSlot`]).
//!
//! The write family, from the most to the least control:
//!
//! | call | what it does |
//! |---|---|
//! | [`Producer::write_slot`] | lends the next slot to write in place; [`WriteSlot::commit`] publishes it |
//! | [`Producer::write_with`] | lends the slot's payload to a closure that fills it and returns the length, then commits |
//! | [`Producer::write_from`] | copies a byte slice into the next slot and commits |
//!
//! Each returns at once when the ring is full; [`Producer::wait_for_space`]
//! waits with the strategy the producer was claimed with.

use std::time::Duration;

use super::copy::copy_frame;
use super::{ahead, announce_batch, announce_wait, wake_if_parked, Lease, Pace, RingRef};
use crate::error::{Corruption, SessionError, WriteError};
use crate::layout::{pack_word, FRAME_RELAYED};
use crate::sync::{fence, prefetch_write, Ordering};
use crate::vocab::AppFlags;
use crate::wait::{self, Deadline, WaitStrategy};

/// Cache lines the producer asks for ahead of its writes: one slot 16
/// frames ahead for small frames, fewer and nearer slots for larger ones.
const PREFETCH_LINES: usize = 16;
/// `PREFETCH_LINES / lines` for a frame of `lines` cache lines (1 to
/// [`PREFETCH_LINES`]): how many slots ahead the producer prefetches, looked
/// up rather than divided on every frame.
const SLOTS_AHEAD: [u8; PREFETCH_LINES + 1] = {
    let mut table = [0u8; PREFETCH_LINES + 1];
    let mut lines = 1;
    while lines <= PREFETCH_LINES {
        table[lines] = (PREFETCH_LINES / lines) as u8;
        lines += 1;
    }
    table
};

/// The writing end of a ring. Exactly one exists per ring: a segment hands
/// it out to the process that holds its producer role
/// ([`crate::Segment::producer`]), and dropping it releases the role.
///
/// # Examples
///
/// What it says about itself and its ring:
///
/// ```
/// use forge_fabric::{HeapRing, WaitStrategy};
///
/// let (mut producer, _consumer) = HeapRing::new(4).payload_capacity(64).build();
/// assert_eq!((producer.capacity(), producer.payload_capacity()), (4, 64));
/// assert_eq!(producer.wait_strategy(), WaitStrategy::Spin);
/// for i in 0..5u8 {
///     let _ = producer.write_from(&[i]); // the fifth finds the ring full
/// }
/// assert_eq!((producer.position(), producer.messages()), (4, 4));
/// assert_eq!(producer.full_count(), 1);
/// assert_eq!(producer.session(), 0); // a heap ring has no session
/// producer.set_index_batch(16);
/// assert_eq!(producer.index_batch(), 16);
/// ```
#[must_use = "dropping the producer releases the producer role"]
pub struct Producer {
    pub(super) ring: RingRef,
    head: u64,
    /// The slot word of a frame at `head` but for its length and the
    /// application's flags: `stamp_for(head) << 32 | forge_flags << 16`,
    /// updated once per lap, so that a commit only ORs in the rest.
    word_base: u64,
    published_head: u64,
    cached_tail: u64,
    index_batch: u64,
    /// `head` minus the frames counted in `producer.messages`: the count
    /// follows `head` instead of being kept beside it.
    messages_base: u64,
    bytes: u64,
    full_count: u64,
    /// Slots that share a cache line, less one (a power of two less one):
    /// lines ahead are asked for once per line, not once per frame.
    prefetch_mask: u64,
    wait: wait::Waiter,
    /// Forge's own flag bits set on every frame: `FRAME_RELAYED` for a
    /// relayed producer, else none (set with [`Self::set_forge_flags`]).
    forge_flags: u16,
    lease: Option<Box<dyn Lease>>,
}

impl Producer {
    /// Starts where the committed frames end: at the shared `head`, past any
    /// frames published in their slot but not yet counted in `head` (a
    /// producer that died between the two stores). Refuses indices or
    /// stamps that cannot be true (see `attach::check_for_producer`):
    /// continuing from them would overwrite unread frames or reissue
    /// sequences.
    pub(crate) fn attach(ring: RingRef, wait: WaitStrategy) -> Result<Self, Corruption> {
        // SYNC: pairs with the Release store of tail in `Consumer::store_tail`.
        let tail = ring.consumer_line().index.load(Ordering::Acquire);
        let head = super::attach::check_for_producer(&ring, tail)?;
        let line = ring.producer_line();
        // SYNC: pairs with the Acquire loads of head in observers and in
        // `Consumer::check_stall`: every slot word below it is published.
        line.index.store(head, Ordering::Release);
        let messages = line.messages.load(Ordering::Relaxed);
        let bytes = line.bytes.load(Ordering::Relaxed);
        let full_count = line.backpressure.load(Ordering::Relaxed);
        let index_batch = announce_batch(line, 1);
        announce_wait(line, wait);
        let prefetch_mask = prefetch_mask(ring.slot_size);
        Ok(Producer {
            word_base: pack_word(0, 0, ring.stamp(head)),
            ring,
            head,
            published_head: head,
            cached_tail: tail,
            index_batch,
            messages_base: head.wrapping_sub(messages),
            bytes,
            full_count,
            prefetch_mask,
            wait: wait::Waiter::new(wait),
            forge_flags: 0,
            lease: None,
        })
    }

    /// Sets Forge's own flag bits on every frame from now on (a relayed
    /// producer's `FRAME_RELAYED`).
    pub(super) fn set_forge_flags(&mut self, flags: u16) {
        self.forge_flags = flags;
        let stamp = self.ring.stamp(self.head);
        self.word_base = pack_word(0, flags, stamp);
    }

    /// Hands the producer its role in a segment.
    #[cfg(not(loom))]
    pub(crate) fn with_lease(mut self, lease: Box<dyn Lease>) -> Self {
        self.lease = Some(lease);
        self
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

    /// How [`wait_for_space`](Self::wait_for_space) waits: chosen when the
    /// producer was claimed ([`crate::Claim::wait`]) and said in the header,
    /// so a consumer wakes a parked producer without being told.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait.strategy
    }

    /// Store `head` only every `k` commits (at least 1). Frames are visible
    /// to the consumer at each commit regardless: `head` is for inspectors
    /// and for a producer that takes over after this one.
    pub fn set_index_batch(&mut self, k: u64) {
        self.index_batch = announce_batch(self.ring.producer_line(), k);
    }

    /// Commits per store of `head` ([`set_index_batch`](Self::set_index_batch)).
    pub fn index_batch(&self) -> u64 {
        self.index_batch
    }

    /// Free slots as far as this side knows, reloading `tail` when the ring
    /// looks full.
    #[inline(always)]
    fn has_space(&mut self) -> bool {
        if self.head.wrapping_sub(self.cached_tail) < self.ring.capacity() {
            return true;
        }
        // SYNC: pairs with the Release store of tail in
        // `Consumer::store_tail`: the consumer has finished reading every
        // slot before `tail`.
        self.cached_tail = self.ring.consumer_line().index.load(Ordering::Acquire);
        self.head.wrapping_sub(self.cached_tail) < self.ring.capacity()
    }

    /// Lends the next slot to be written in place, or `None` when the ring
    /// is full. Nothing is published until [`WriteSlot::commit`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
    /// let mut slot = producer.write_slot().expect("an empty ring has room");
    /// slot.payload_mut()[..5].copy_from_slice(b"hello");
    /// assert_eq!(slot.commit(5)?, 0); // its ring position
    /// assert_eq!(consumer.read_with(|frame| frame.to_vec())?, Some(b"hello".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    #[must_use = "a slot publishes nothing until its commit"]
    pub fn write_slot(&mut self) -> Option<WriteSlot<'_>> {
        if !self.has_space() {
            self.full_count = self.full_count.wrapping_add(1);
            self.flush_index();
            return None;
        }
        // Orders the earlier head publication before the payload stores to
        // come, so an observer that sees new payload bytes also sees a head
        // that marks its copy torn (see `Observer::read_slot`). A compiler
        // barrier only on x86.
        // SYNC: pairs with the Acquire fence in `Observer::copy_slot`.
        fence(Ordering::Release);
        Some(WriteSlot { producer: self })
    }

    /// Copies `data` into the next slot and commits it; returns its ring
    /// position. [`WriteError::Full`] when the ring is full (nothing is
    /// written), [`WriteError::TooLarge`] when `data` is longer than a slot.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::WriteError;
    ///
    /// let (mut producer, _consumer) = forge_fabric::heap_ring(2);
    /// assert_eq!(producer.write_from(b"one")?, 0);
    /// assert_eq!(producer.write_from(b"two")?, 1);
    /// assert_eq!(producer.write_from(b"three"), Err(WriteError::Full));
    /// # Ok::<(), WriteError>(())
    /// ```
    #[inline]
    pub fn write_from(&mut self, data: &[u8]) -> Result<u64, WriteError> {
        if data.len() > self.ring.payload_capacity {
            return Err(WriteError::TooLarge {
                len: data.len(),
                max: self.ring.payload_capacity,
            });
        }
        let mut slot = self.write_slot().ok_or(WriteError::Full)?;
        slot.copy_from(data);
        slot.commit(data.len())
    }

    /// Lends the next slot's whole payload to `fill`, which writes the frame
    /// from its start and returns its length; then commits it and returns
    /// its ring position. [`WriteError::Full`] without calling `fill` when
    /// the ring is full; [`WriteError::TooLarge`] (nothing published) when
    /// `fill` returns more than the payload holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
    /// let sequence = producer.position();
    /// producer.write_with(|payload| {
    ///     payload[..8].copy_from_slice(&sequence.to_le_bytes());
    ///     8
    /// })?;
    /// let got = consumer.read_with(|frame| u64::from_le_bytes(frame.try_into().unwrap()))?;
    /// assert_eq!(got, Some(sequence));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn write_with(&mut self, fill: impl FnOnce(&mut [u8]) -> usize) -> Result<u64, WriteError> {
        let mut slot = self.write_slot().ok_or(WriteError::Full)?;
        let len = slot.with_payload(fill);
        slot.commit(len)
    }

    /// Waits until a slot is free, up to `timeout`, with the strategy the
    /// producer was claimed with: spinning with the pause hint, yielding, or
    /// parking on a futex that the consumer wakes. `true` when there is room.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
    /// producer.write_from(b"a")?;
    /// producer.write_from(b"b")?;
    /// assert!(!producer.wait_for_space(Duration::from_millis(1)), "full");
    /// consumer.read_with(|_| ())?;
    /// assert!(producer.wait_for_space(Duration::ZERO));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "the ring may still be full when the wait ends"]
    pub fn wait_for_space(&mut self, timeout: Duration) -> bool {
        self.flush_index();
        let deadline = Deadline::after(timeout);
        // A borrow, not a clone: cloning would bump the keep-alive Arc (an
        // atomic read-modify-write) every time the ring is found full.
        let ring = &self.ring;
        let head = self.head;
        let cap = ring.capacity();
        let ready = || {
            // SYNC: pairs with the Release store of tail in
            // `Consumer::store_tail`.
            let tail = ring.consumer_line().index.load(Ordering::Acquire);
            head.wrapping_sub(tail) < cap
        };
        self.wait
            .wait(&ring.producer_line().sleeping, deadline, ready)
    }

    #[inline(always)]
    fn committed(&mut self, len: usize) {
        let head = self.head.wrapping_add(1);
        self.head = head;
        if head & self.ring.mask == 0 {
            self.word_base = pack_word(0, self.forge_flags, self.ring.stamp(head));
        }
        // Counters resume from the header, which anyone with write access
        // can set: they wrap, they never panic.
        self.bytes = self.bytes.wrapping_add(len as u64);
        wake_if_parked(self.ring.consumer_line());
        if head.wrapping_sub(self.published_head) >= self.index_batch {
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
        let ahead = self.head.wrapping_add(u64::from(SLOTS_AHEAD[lines]));
        if ahead.wrapping_sub(self.cached_tail) >= self.ring.capacity() {
            return;
        }
        let start = self.ring.slot_start(ahead).cast_const();
        for line in 0..lines {
            prefetch_write(start.wrapping_add(line * 64));
        }
    }

    /// Stores `head` and the frame counters in the header now, instead of
    /// at the next [`index_batch`](Self::index_batch) boundary. Frames are
    /// visible to the consumer from their commit; this makes them visible to
    /// inspectors and to a producer that takes over. The consumer's
    /// counterpart is [`crate::Consumer::flush_index`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, _consumer) = forge_fabric::heap_ring(4);
    /// producer.set_index_batch(32);
    /// producer.write_from(b"x")?;
    /// producer.flush_index();
    /// # Ok::<(), forge_fabric::WriteError>(())
    /// ```
    #[inline(always)]
    pub fn flush_index(&mut self) {
        if self.published_head != self.head {
            self.store_head(self.head);
        }
    }

    #[inline(always)]
    fn store_head(&mut self, head: u64) {
        let line = self.ring.producer_line();
        // SYNC: pairs with the Acquire load of head in observers, in
        // `Consumer::check_stall` and in `Producer::attach` of a successor.
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
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = forge_fabric::heap_ring(4);
    /// producer.write_from(b"x")?;
    /// consumer.read_with(|_| ())?;
    /// producer.check_tail()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_tail(&mut self) -> Result<(), Corruption> {
        // SYNC: pairs with the Release store of tail in `Consumer::store_tail`.
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

    /// `Ok` while the segment is live in the session this producer joined.
    /// A cheap load of one read-mostly line; call it off the per-message
    /// path. Always `Ok` on a heap ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let (producer, _consumer) = forge_fabric::heap_ring(2);
    /// assert!(producer.check_session().is_ok());
    /// ```
    pub fn check_session(&self) -> Result<(), SessionError> {
        self.lease.as_ref().map_or(Ok(()), |l| l.check_session())
    }

    /// The session this producer joined (0 for a heap ring).
    pub fn session(&self) -> u64 {
        self.lease.as_ref().map_or(0, |l| l.session())
    }

    /// Stores the index and counters and stamps the heartbeat: what says to
    /// inspectors that the producer is still looking around. Call it off
    /// the per-message path (`forge-holder` does, every few milliseconds).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, _consumer) = forge_fabric::heap_ring(2);
    /// producer.heartbeat();
    /// ```
    pub fn heartbeat(&mut self) {
        self.flush_index();
        self.publish_counters();
        if let Some(lease) = &self.lease {
            lease.heartbeat();
        }
    }

    fn publish_counters(&self) {
        self.ring
            .producer_line()
            .backpressure
            .store(self.full_count, Ordering::Relaxed);
    }

    /// The pace line, where the producer says for inspectors what rate it
    /// aims for and counts its bursts (`forge-holder`'s pacer writes it).
    /// Its stores do nothing on a heap ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, _consumer) = forge_fabric::heap_ring(2);
    /// producer.pace().announce(100_000, 0);
    /// ```
    pub fn pace(&mut self) -> Pace<'_> {
        Pace::new(self)
    }

    /// Frames committed so far (also `head`'s advance since the segment began).
    pub fn messages(&self) -> u64 {
        self.head.wrapping_sub(self.messages_base)
    }

    /// Times the producer found the ring full.
    pub fn full_count(&self) -> u64 {
        self.full_count
    }

    /// Drops this producer without storing anything more, as a killed
    /// process would, and returns its ring.
    pub(crate) fn abandon(mut self) -> RingRef {
        self.published_head = self.head;
        self.full_count = self
            .ring
            .producer_line()
            .backpressure
            .load(Ordering::Relaxed);
        self.ring.clone()
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.flush_index();
        self.publish_counters();
    }
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("position", &self.head)
            .field("capacity", &self.ring.capacity())
            .field("index_batch", &self.index_batch)
            .field("wait", &self.wait.strategy)
            .field("relayed", &(self.forge_flags & FRAME_RELAYED != 0))
            .field("session", &format_args!("{:#018x}", self.session()))
            .finish()
    }
}

/// A slot lent by [`Producer::write_slot`]. Write the payload, then
/// [`commit`](Self::commit) it; dropping it without a commit publishes
/// nothing (the next slot lent is this one again).
///
/// # Examples
///
/// ```
/// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
/// let mut slot = producer.write_slot().expect("room");
/// assert_eq!(slot.position(), 0);
/// slot.copy_from(b"head");
/// slot.payload_mut()[4..8].copy_from_slice(b"tail");
/// slot.commit(8)?;
/// // Dropped without a commit: nothing is published, the slot is lent again.
/// producer.write_slot().expect("room").copy_from(b"draft");
/// assert_eq!(producer.write_slot().expect("room").position(), 1);
/// assert_eq!(consumer.read_with(|f| f.to_vec())?, Some(b"headtail".to_vec()));
/// assert_eq!(consumer.read_with(|f| f.to_vec())?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// It borrows the producer, so nothing else can be written while it lives:
///
/// ```compile_fail,E0499
/// let (mut producer, _consumer) = forge_fabric::heap_ring(2);
/// let slot = producer.write_slot().expect("room");
/// producer.write_from(b"meanwhile")?; // error: `producer` is borrowed
/// slot.commit(0)?;
/// # Ok::<(), forge_fabric::WriteError>(())
/// ```
#[must_use = "a slot publishes nothing until its commit"]
pub struct WriteSlot<'a> {
    producer: &'a mut Producer,
}

impl WriteSlot<'_> {
    /// The position (sequence number) this frame will have.
    pub fn position(&self) -> u64 {
        self.producer.head
    }

    /// Copies `data` to the start of the payload.
    ///
    /// # Panics
    ///
    /// When `data` is longer than the payload; check with
    /// [`Producer::payload_capacity`] first (as
    /// [`Producer::write_from`] does).
    #[inline(always)]
    pub fn copy_from(&mut self, data: &[u8]) {
        let ring = &self.producer.ring;
        assert!(
            data.len() <= ring.payload_capacity,
            "frame longer than a slot"
        );
        // SAFETY: the producer owns this slot until it commits: the
        // consumer's tail is past its previous frame (checked in
        // `write_slot`) and the stamp is not yet published; `data` fits
        // (asserted above).
        unsafe { ring.with_payload_mut(self.producer.head, |p| copy_frame(data, p)) }
    }

    /// Runs `f` on the whole payload, to write in place (also under loom,
    /// where the payload is a tracked cell).
    #[inline(always)]
    fn with_payload<R>(&mut self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let ring = &self.producer.ring;
        let len = ring.payload_capacity;
        // SAFETY: as in `copy_from`, the slot is ours until commit; the
        // slice lives only for the call, inside the borrow of `self`, and
        // covers the slot's `len` payload bytes.
        unsafe {
            ring.with_payload_mut(self.producer.head, |p| {
                f(std::slice::from_raw_parts_mut(p, len))
            })
        }
    }

    /// The whole payload ([`Producer::payload_capacity`] bytes), to write in
    /// place.
    #[cfg(not(loom))]
    #[inline(always)]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let ring = &self.producer.ring;
        let len = ring.payload_capacity;
        // SAFETY: as in `copy_from`, the slot is ours until commit, and the
        // borrow of `self` ends before commit can run; the slot holds `len`
        // payload bytes.
        unsafe {
            ring.with_payload_mut(self.producer.head, |p| {
                std::slice::from_raw_parts_mut(p, len)
            })
        }
    }

    /// Publishes the first `len` payload bytes as a frame; returns its ring
    /// position. [`WriteError::TooLarge`] (nothing published, the slot stays
    /// free) when `len` is more than the payload holds.
    #[inline(always)]
    pub fn commit(self, len: usize) -> Result<u64, WriteError> {
        self.commit_flagged(len, AppFlags::NONE)
    }

    /// Publishes like [`commit`](Self::commit), with the application's
    /// `flags` in the slot word (readers get them back from
    /// [`crate::ReadSlot::flags`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::AppFlags;
    ///
    /// const KEYFRAME: AppFlags = AppFlags::bit(1);
    /// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
    /// let mut slot = producer.write_slot().expect("room");
    /// slot.copy_from(b"I");
    /// slot.commit_flagged(1, KEYFRAME)?;
    /// let frame = consumer.read_slot()?.expect("a frame");
    /// assert!(frame.flags().contains(KEYFRAME));
    /// assert!(!frame.relayed());
    /// frame.release();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn commit_flagged(self, len: usize, flags: AppFlags) -> Result<u64, WriteError> {
        if len > self.producer.ring.payload_capacity {
            return Err(WriteError::TooLarge {
                len,
                max: self.producer.ring.payload_capacity,
            });
        }
        let pos = self.producer.head;
        let ring = &self.producer.ring;
        debug_assert_eq!(
            self.producer.word_base,
            pack_word(0, self.producer.forge_flags, self.producer.ring.stamp(pos))
        );
        let word = self.producer.word_base | pack_word(len as u16, flags.bits(), 0);
        // SYNC: pairs with the Acquire load of the slot word in
        // `RingRef::published_at` (consumer) and `RingRef::stamp_at`
        // (attach checks).
        ring.word(pos).store(word, Ordering::Release);
        self.producer.committed(len);
        Ok(pos)
    }
}

impl std::fmt::Debug for WriteSlot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteSlot")
            .field("position", &self.producer.head)
            .finish()
    }
}

/// How many consecutive slots of `slot_size` bytes share a 64-byte line,
/// rounded down to a power of two, less one: the mask of the positions
/// whose slot is not the first of its line.
pub(super) fn prefetch_mask(slot_size: usize) -> u64 {
    let per_line = (64 / slot_size).max(1) as u64;
    (1 << per_line.ilog2()) - 1
}

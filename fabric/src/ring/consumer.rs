//! The reading end: [`Consumer`] and the frame it lends out ([`ReadSlot`]).
//!
//! The read family, from the most to the least control:
//!
//! | call | what it does |
//! |---|---|
//! | [`Consumer::read_slot`] | lends the oldest frame in place; [`ReadSlot::release`] frees its slot |
//! | [`Consumer::read_with`] | lends the oldest frame's bytes to a closure, then frees its slot |
//! | [`Consumer::read_into`] | copies the oldest frame into a buffer, then frees its slot |
//!
//! Each returns `Ok(None)` at once when no frame is there;
//! [`Consumer::wait_for_frame`] waits with the strategy the consumer was
//! claimed with.

use std::time::Duration;

use super::{ahead, announce_batch, announce_wait, wake_if_parked, Lease, RingRef};
use crate::error::{Corruption, ReadError, SessionError};
#[cfg(not(loom))]
use crate::layout::FRAME_RELAYED;
use crate::layout::{bucket_of, unpack_word};
use crate::sync::{AtomicU64, Ordering};
#[cfg(not(loom))]
use crate::vocab::AppFlags;
use crate::wait::{self, Deadline, WaitStrategy};

/// The reading end of a ring. Exactly one exists per ring: a segment hands
/// it out to the process that holds its consumer role
/// ([`crate::Segment::consumer`]), and dropping it releases the role.
///
/// # Examples
///
/// What it says about itself and its ring:
///
/// ```
/// use forge_fabric::{HeapRing, WaitStrategy};
///
/// let (mut producer, mut consumer) = HeapRing::new(4).wait(WaitStrategy::Yield).build();
/// assert_eq!((consumer.capacity(), consumer.wait_strategy()), (4, WaitStrategy::Yield));
/// assert!(!consumer.is_ready());
/// producer.write_from(b"x")?;
/// assert!(consumer.is_ready());
/// consumer.read_with(|_| ())?;
/// assert_eq!((consumer.position(), consumer.messages()), (1, 1));
/// consumer.read_with(|_| ())?; // empty: counted
/// assert_eq!(consumer.empty_count(), 1);
/// consumer.set_index_batch(8);
/// assert_eq!((consumer.index_batch(), consumer.session()), (8, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the consumer releases the consumer role"]
pub struct Consumer {
    ring: RingRef,
    tail: u64,
    /// `stamp_for(tail)`, updated once per lap.
    stamp: u32,
    released_tail: u64,
    index_batch: u64,
    /// `tail` minus the frames counted in `consumer.messages`.
    messages_base: u64,
    bytes: u64,
    empty_count: u64,
    wait: wait::Waiter,
    lease: Option<Box<dyn Lease>>,
}

impl Consumer {
    /// Starts at the shared `tail`, after checking that `tail` and `head`
    /// can both be true and that the frames between them are published (see
    /// `attach::check_for_consumer`).
    pub(crate) fn attach(ring: RingRef, wait: WaitStrategy) -> Result<Self, Corruption> {
        let line = ring.consumer_line();
        // SYNC: pairs with the Release store of tail in `Consumer::store_tail`
        // of a previous consumer.
        let tail = line.index.load(Ordering::Acquire);
        super::attach::check_for_consumer(&ring, tail)?;
        let messages = line.messages.load(Ordering::Relaxed);
        let bytes = line.bytes.load(Ordering::Relaxed);
        let empty_count = line.backpressure.load(Ordering::Relaxed);
        let index_batch = announce_batch(line, 1);
        announce_wait(line, wait);
        Ok(Consumer {
            stamp: ring.stamp(tail),
            ring,
            tail,
            released_tail: tail,
            index_batch,
            messages_base: tail.wrapping_sub(messages),
            bytes,
            empty_count,
            wait: wait::Waiter::new(wait),
            lease: None,
        })
    }

    /// Hands the consumer its role in a segment.
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

    /// Position of the next frame to read.
    pub fn position(&self) -> u64 {
        self.tail
    }

    /// How [`wait_for_frame`](Self::wait_for_frame) waits: chosen when the
    /// consumer was claimed ([`crate::Claim::wait`]) and said in the header,
    /// so a producer wakes a parked consumer without being told.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait.strategy
    }

    /// Store `tail` only every `k` releases (at least 1): fewer stores, but
    /// released slots come back to the producer only at the store (or at
    /// [`flush_index`](Self::flush_index), or while waiting), and a consumer
    /// killed between two stores re-reads at most `k` frames when restarted.
    pub fn set_index_batch(&mut self, k: u64) {
        self.index_batch = announce_batch(self.ring.consumer_line(), k);
    }

    /// Releases per store of `tail` ([`set_index_batch`](Self::set_index_batch)).
    pub fn index_batch(&self) -> u64 {
        self.index_batch
    }

    /// Length and flags of the next frame if one is published.
    #[inline(always)]
    fn next_frame(&mut self) -> Result<Option<(usize, u16)>, ReadError> {
        self.next_frame_at(self.ring.slot_offset(self.tail))
    }

    /// [`Self::next_frame`] for a slot offset the caller computed once.
    #[inline(always)]
    fn next_frame_at(&mut self, offset: usize) -> Result<Option<(usize, u16)>, ReadError> {
        debug_assert_eq!(offset, self.ring.slot_offset(self.tail));
        debug_assert_eq!(self.stamp, self.ring.stamp(self.tail));
        let Some(word) = self.ring.published_at(offset, self.stamp) else {
            self.empty_count = self.empty_count.wrapping_add(1);
            return Ok(None);
        };
        let (len, flags, _) = unpack_word(word);
        let len = len as usize;
        if len > self.ring.payload_capacity {
            return Err(ReadError::Corrupt {
                pos: self.tail,
                len,
                max: self.ring.payload_capacity,
            });
        }
        Ok(Some((len, flags)))
    }

    /// Tells a ring that is empty from one that is stuck. When `head` says
    /// the frame at our position was published but its slot holds another
    /// stamp, nothing will ever make it readable: the slot word was damaged
    /// (or a second producer wrote it). Two loads; call it off the
    /// per-message path, when no frame has come for a while.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_producer, consumer) = forge_fabric::heap_ring(2);
    /// consumer.check_stall()?; // empty, not stuck
    /// # Ok::<(), forge_fabric::Corruption>(())
    /// ```
    pub fn check_stall(&self) -> Result<(), Corruption> {
        // SYNC: pairs with the Release store of head in
        // `Producer::store_head` and `Producer::attach`; the producer stores
        // each slot word before a head that covers it, so the word loaded
        // below is that frame's (or, were the ring sound, a later lap's,
        // which needs our release).
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
        let found = self.ring.stamp_at(self.tail);
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

    /// Lends the oldest frame's bytes, in place, to `f`, then frees its slot
    /// and returns what `f` returned; `Ok(None)` when no frame is there.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
    /// producer.write_from(b"abc")?;
    /// assert_eq!(consumer.read_with(|frame| frame.len())?, Some(3));
    /// assert_eq!(consumer.read_with(|frame| frame.len())?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn read_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, ReadError> {
        let Some((len, _)) = self.next_frame()? else {
            return Ok(None);
        };
        Ok(Some(self.take(len, f)))
    }

    /// Runs `f` on the frame at `tail`, found published with `len` bytes by
    /// [`next_frame`](Self::next_frame), then frees its slot.
    #[inline(always)]
    fn take<R>(&mut self, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: the frame is published (Acquire in `next_frame`), `len` is
        // within the payload (checked there), and the producer cannot reuse
        // the slot before we store a tail past it.
        let out = unsafe {
            self.ring
                .with_payload(self.tail, |p| f(std::slice::from_raw_parts(p, len)))
        };
        self.release_one(len);
        out
    }

    /// Copies the oldest frame into the start of `buf`, then frees its slot;
    /// returns its length, or `Ok(None)` when no frame is there.
    /// [`ReadError::BufferTooSmall`] leaves the frame to be read again.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
    /// producer.write_from(b"abc")?;
    /// let mut buf = [0u8; 64];
    /// let len = consumer.read_into(&mut buf)?.expect("a frame");
    /// assert_eq!(&buf[..len], b"abc");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn read_into(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
        match self.next_frame()? {
            Some((len, _)) if len > buf.len() => Err(ReadError::BufferTooSmall {
                len,
                buf: buf.len(),
            }),
            // The slot word was loaded once, by `next_frame` above.
            Some((len, _)) => Ok(Some(self.take(len, |bytes| {
                buf[..len].copy_from_slice(bytes);
                len
            }))),
            None => Ok(None),
        }
    }

    /// Lends the oldest frame in place, or `Ok(None)` when no frame is there.
    /// The frame borrows the consumer until [`ReadSlot::release`] frees its
    /// slot; dropping it without a release leaves it to be read again.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
    /// producer.write_from(b"telemetry")?;
    /// let frame = consumer.read_slot()?.expect("one frame was written");
    /// assert_eq!((&*frame, frame.position()), (&b"telemetry"[..], 0));
    /// frame.release();
    /// assert!(consumer.read_slot()?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    #[inline(always)]
    pub fn read_slot(&mut self) -> Result<Option<ReadSlot<'_>>, ReadError> {
        // Found once, for the slot word and the payload both.
        let offset = self.ring.slot_offset(self.tail);
        let Some((len, flags)) = self.next_frame_at(offset)? else {
            return Ok(None);
        };
        Ok(Some(ReadSlot {
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
        if tail.wrapping_sub(self.released_tail) >= self.index_batch {
            self.store_tail(tail);
        }
    }

    /// Stores `tail` and the frame counters in the header now, instead of at
    /// the next [`index_batch`](Self::index_batch) boundary: the slots
    /// released so far go back to the producer. The producer's counterpart
    /// is [`crate::Producer::flush_index`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
    /// consumer.set_index_batch(32);
    /// producer.write_from(b"a")?;
    /// producer.write_from(b"b")?;
    /// consumer.read_with(|_| ())?;
    /// assert!(producer.write_from(b"c").is_err(), "the release is not stored yet");
    /// consumer.flush_index();
    /// producer.write_from(b"c")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn flush_index(&mut self) {
        if self.released_tail != self.tail {
            self.store_tail(self.tail);
        }
    }

    #[inline(always)]
    fn store_tail(&mut self, tail: u64) {
        let line = self.ring.consumer_line();
        // SYNC: pairs with the Acquire loads of tail in
        // `Producer::has_space` and `Producer::wait_for_space`: every read
        // of the freed slots is done.
        line.index.store(tail, Ordering::Release);
        line.messages
            .store(tail.wrapping_sub(self.messages_base), Ordering::Relaxed);
        line.bytes.store(self.bytes, Ordering::Relaxed);
        self.released_tail = tail;
        wake_if_parked(self.ring.producer_line());
    }

    /// Waits until a frame is published, up to `timeout`, with the strategy
    /// the consumer was claimed with: spinning with the pause hint,
    /// yielding, or parking on a futex that the producer wakes at its next
    /// commit. Stores `tail` first, so the producer is never kept waiting on
    /// releases that a waiting consumer holds back. `true` when a frame is
    /// there.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
    /// assert!(!consumer.wait_for_frame(Duration::from_millis(1)));
    /// producer.write_from(b"x")?;
    /// assert!(consumer.wait_for_frame(Duration::ZERO));
    /// # Ok::<(), forge_fabric::WriteError>(())
    /// ```
    #[must_use = "the ring may still be empty when the wait ends"]
    pub fn wait_for_frame(&mut self, timeout: Duration) -> bool {
        self.flush_index();
        let deadline = Deadline::after(timeout);
        let ring = &self.ring;
        let (tail, stamp) = (self.tail, self.stamp);
        self.wait
            .wait(&ring.consumer_line().sleeping, deadline, || {
                ring.published_with(tail, stamp).is_some()
            })
    }

    /// `Ok` while the segment is live in the session this consumer joined.
    /// A cheap load of one read-mostly line; call it off the per-message
    /// path. Always `Ok` on a heap ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_producer, consumer) = forge_fabric::heap_ring(2);
    /// assert!(consumer.check_session().is_ok());
    /// ```
    pub fn check_session(&self) -> Result<(), SessionError> {
        self.lease.as_ref().map_or(Ok(()), |l| l.check_session())
    }

    /// The session this consumer joined (0 for a heap ring).
    pub fn session(&self) -> u64 {
        self.lease.as_ref().map_or(0, |l| l.session())
    }

    /// Stores the index and counters and stamps the heartbeat: what says to
    /// inspectors that the consumer is still looking around. Call it off
    /// the per-message path (`forge-holder` does, every few milliseconds).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_producer, mut consumer) = forge_fabric::heap_ring(2);
    /// consumer.heartbeat();
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
            .consumer_line()
            .backpressure
            .store(self.empty_count, Ordering::Relaxed);
    }

    /// Adds a transit-latency sample (ns) to the segment's shared histogram,
    /// which inspectors read (LAYOUT.md, "Latency buckets"). Does nothing on
    /// a heap ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_producer, mut consumer) = forge_fabric::heap_ring(2);
    /// consumer.record_latency(350);
    /// ```
    #[inline]
    pub fn record_latency(&mut self, ns: u64) {
        let Some(lat) = self.ring.latency_block() else {
            return;
        };
        // Single writer: a load and a store, no read-modify-write; each a
        // lone counter for display.
        let bump = |a: &AtomicU64, by: u64| {
            a.store(
                a.load(Ordering::Relaxed).wrapping_add(by),
                Ordering::Relaxed,
            )
        };
        match bucket_of(ns) {
            Some(i) => bump(&lat.buckets[i], 1),
            None => bump(&lat.overflow, 1),
        }
        bump(&lat.sum_ns, ns);
        if ns > lat.max_ns.load(Ordering::Relaxed) {
            lat.max_ns.store(ns, Ordering::Relaxed);
        }
        bump(&lat.count, 1);
    }

    /// Frames released so far.
    pub fn messages(&self) -> u64 {
        self.tail.wrapping_sub(self.messages_base)
    }

    /// Times the consumer found the ring empty.
    pub fn empty_count(&self) -> u64 {
        self.empty_count
    }

    /// Drops this consumer without storing pending releases, as a killed
    /// process would, and returns its ring.
    pub(crate) fn abandon(mut self) -> RingRef {
        self.released_tail = self.tail;
        self.empty_count = self
            .ring
            .consumer_line()
            .backpressure
            .load(Ordering::Relaxed);
        self.ring.clone()
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.flush_index();
        self.publish_counters();
    }
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("position", &self.tail)
            .field("capacity", &self.ring.capacity())
            .field("index_batch", &self.index_batch)
            .field("wait", &self.wait.strategy)
            .field("session", &format_args!("{:#018x}", self.session()))
            .finish()
    }
}

/// A frame lent in place by [`Consumer::read_slot`]: its bytes (it
/// dereferences to `[u8]`), position and flags. [`release`](Self::release)
/// frees its slot for the producer; dropping it without a release leaves
/// the frame to be read again. It borrows the consumer, so no other read
/// can happen while it lives, and releasing needs no `unsafe`.
///
/// # Examples
///
/// ```
/// use forge_fabric::AppFlags;
///
/// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
/// let mut slot = producer.write_slot().expect("room");
/// slot.copy_from(b"urgent");
/// slot.commit_flagged(6, AppFlags::bit(3))?;
/// {
///     let frame = consumer.read_slot()?.expect("a frame");
///     assert_eq!((frame.position(), frame.len()), (0, 6));
///     assert_eq!((frame.flags(), frame.slot_flags(), frame.relayed()), (AppFlags::bit(3), 8, false));
///     // Dropped unreleased: it is read again.
/// }
/// let frame = consumer.read_slot()?.expect("the same frame");
/// assert_eq!(&*frame, b"urgent");
/// frame.release();
/// assert!(consumer.read_slot()?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// It borrows the consumer: a second read while it lives does not build.
///
/// ```compile_fail,E0499
/// let (_producer, mut consumer) = forge_fabric::heap_ring(2);
/// let first = consumer.read_slot()?;
/// let second = consumer.read_slot()?; // error: `consumer` is borrowed
/// drop((first, second));
/// # Ok::<(), forge_fabric::ReadError>(())
/// ```
#[cfg(not(loom))]
#[must_use = "the frame's slot is freed only by release()"]
pub struct ReadSlot<'a> {
    flags: u16,
    len: usize,
    /// Bytes from slot 0 to its payload, found once in `read_slot`.
    payload_offset: usize,
    consumer: &'a mut Consumer,
}

#[cfg(not(loom))]
impl ReadSlot<'_> {
    /// The frame's ring position (its sequence number, unless
    /// [`relayed`](Self::relayed)).
    pub fn position(&self) -> u64 {
        // The slot borrows the consumer: its tail cannot move meanwhile.
        self.consumer.tail
    }

    /// The application's flags its producer committed it with
    /// ([`crate::WriteSlot::commit_flagged`]).
    pub fn flags(&self) -> AppFlags {
        AppFlags::from_bits_truncate(self.flags)
    }

    /// All 16 flag bits of its slot word, Forge's `RELAYED` bit included,
    /// as a recorder keeps them and a verifier checks them (LAYOUT.md,
    /// "Slots"). Writers take [`AppFlags`] only.
    pub fn slot_flags(&self) -> u16 {
        self.flags
    }

    /// Was it written by a relayed producer (a bridge, a replay)? Then it
    /// keeps the sequence number of the ring it came from, and continuity
    /// is checked on that, not on its position.
    pub fn relayed(&self) -> bool {
        self.flags & FRAME_RELAYED != 0
    }

    /// Frees the slot for the producer (at the next store of `tail`: see
    /// [`Consumer::set_index_batch`]).
    #[inline(always)]
    pub fn release(self) {
        self.consumer.release_one(self.len);
    }
}

#[cfg(not(loom))]
impl std::ops::Deref for ReadSlot<'_> {
    type Target = [u8];
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        // SAFETY: the frame was published (Acquire in `read_slot`), its
        // length is within the payload, and the producer cannot reuse the
        // slot before the consumer stores a tail past it, which needs
        // `release`, which consumes this guard.
        unsafe {
            std::slice::from_raw_parts(self.consumer.ring.slot_byte(self.payload_offset), self.len)
        }
    }
}

#[cfg(not(loom))]
impl std::fmt::Debug for ReadSlot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadSlot")
            .field("position", &self.position())
            .field("flags", &self.flags)
            .field("len", &self.len)
            .finish()
    }
}

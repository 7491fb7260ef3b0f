//! Copying a slot out of a live ring without trusting it: atomic word loads,
//! then a check of whether the producer may have rewritten it meanwhile.

use super::{ObserveError, Observer};
use crate::layout::*;
use crate::position::Position;
use crate::sync::{fence, Ordering};
use crate::vocab::{RoleState, SlotState};

/// A slot copied out of the ring.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlotCopy {
    /// Slot index, `0..slot_count`.
    pub index: u32,
    /// The ring position the frame was published at, if the stamp says.
    pub position: Option<u64>,
    /// Pending, consumed or free.
    pub state: SlotState,
    /// Payload length from the slot word.
    pub len: u16,
    /// Flags from the slot word.
    pub flags: u16,
    /// Stamp from the slot word.
    pub stamp: u32,
    /// The payload bytes (`len` of them, at most a slot).
    pub bytes: Vec<u8>,
    /// The slot word changed between the two loads around the copy: the
    /// producer rewrote the slot while we read it.
    pub changed: bool,
    /// The producer holds its role (active), the consumer has released this
    /// frame, and the producer's head is close enough that it may be
    /// rewriting the slot for the next lap right now.
    pub overwritable: bool,
    /// `changed || overwritable`: `bytes` must not be trusted.
    pub torn: bool,
}

impl Observer {
    /// Copies slot `index` out with atomic word loads, then checks whether
    /// the producer may have overwritten it meanwhile (then `torn` is set).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use forge_fabric::{CreateOptions, Observer, Segment, SlotState};
    ///
    /// let name = format!("/forge_doc_observe_{}", std::process::id());
    /// let segment = Segment::create(&name, &CreateOptions::default())?;
    /// let mut producer = segment.producer()?;
    /// producer.write_from(b"seen, never touched")?;
    /// producer.flush_index();
    ///
    /// // Read-only: O_RDONLY, PROT_READ. It cannot write, and takes no role.
    /// let observer = Observer::open(&name, Duration::ZERO)?;
    /// let snap = observer.snapshot()?;
    /// assert_eq!((snap.head, snap.tail), (1, 0));
    /// let slot = observer.read_slot(0)?;
    /// assert_eq!(slot.state, SlotState::Pending);
    /// assert_eq!(slot.bytes, b"seen, never touched");
    /// assert!(!slot.torn);
    /// # drop(producer);
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_slot(&self, index: u32) -> Result<SlotCopy, ObserveError> {
        self.read_slot_prefix(index, self.geometry.payload_capacity)
    }

    /// Like [`read_slot`](Self::read_slot), copying at most `max_bytes` of
    /// the payload (for example just the 32-byte frame header for a list).
    pub fn read_slot_prefix(&self, index: u32, max_bytes: usize) -> Result<SlotCopy, ObserveError> {
        self.check_size()?;
        let copy = self.copy_slot(index, max_bytes);
        // A truncation during the copy makes it read zeros.
        self.check_size()?;
        Ok(copy)
    }

    /// Slots `range` (indices, clamped to the ring), each copied as
    /// [`read_slot_prefix`](Self::read_slot_prefix) does, with one size
    /// check before and one after the lot instead of two per slot: for a
    /// list of rows or the whole ring. A truncation anywhere during the
    /// copies fails the lot.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use forge_fabric::{CreateOptions, Observer, Segment, SlotState};
    ///
    /// let name = format!("/forge_doc_read_slots_{}", std::process::id());
    /// let opts = CreateOptions { slot_count: 4, ..CreateOptions::default() };
    /// let segment = Segment::create(&name, &opts)?;
    /// let mut producer = segment.producer()?;
    /// producer.write_from(b"0123456789")?;
    /// let observer = Observer::open(&name, Duration::ZERO)?;
    /// // The first 4 payload bytes of every slot, one size check around all.
    /// let rows = observer.read_slots(0..4, 4)?;
    /// assert_eq!(rows.len(), 4);
    /// assert_eq!((rows[0].state, rows[0].bytes.as_slice()), (SlotState::Pending, &b"0123"[..]));
    /// assert!(rows[1..].iter().all(|r| r.state == SlotState::Free));
    /// assert_eq!(observer.read_slot_prefix(0, 2)?.bytes, b"01");
    /// # drop(producer);
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_slots(
        &self,
        range: std::ops::Range<u32>,
        max_bytes: usize,
    ) -> Result<Vec<SlotCopy>, ObserveError> {
        self.check_size()?;
        let end = range.end.min(self.geometry.slot_count);
        let copies = (range.start.min(end)..end)
            .map(|i| self.copy_slot(i, max_bytes))
            .collect();
        self.check_size()?;
        Ok(copies)
    }

    /// One slot, copied and judged; the caller checks the size around it.
    fn copy_slot(&self, index: u32, max_bytes: usize) -> SlotCopy {
        let index = index % self.geometry.slot_count.max(1);
        let h = self.header();
        let base = slot_offset(index, self.geometry.payload_capacity);
        // SYNC: pairs with the Release store of the slot word in
        // `WriteSlot::commit_flagged`: the payload written before it is visible.
        let w1 = self.word(base).load(Ordering::Acquire);
        let (len, flags, stamp) = unpack_word(w1);
        let copy_len = usize::from(len)
            .min(self.geometry.payload_capacity)
            .min(max_bytes);
        let mut bytes = Vec::with_capacity(copy_len.next_multiple_of(8));
        for k in 0..copy_len.div_ceil(8) {
            bytes.extend_from_slice(
                &self
                    .word(base + 8 + 8 * k)
                    .load(Ordering::Relaxed)
                    .to_le_bytes(),
            );
        }
        bytes.truncate(copy_len);
        // Orders the payload loads above before the re-checks below: if any
        // of them read a byte the producer wrote for a later lap, its
        // release fence before those stores (`Producer::write_slot`) makes
        // the commit of the position before that lap visible below.
        // SYNC: pairs with the Release fence in `Producer::write_slot`.
        fence(Ordering::Acquire);
        // SYNC: pairs with the Release store of the slot word in
        // `WriteSlot::commit_flagged`: a word rewritten for a later lap makes the
        // producer's earlier commit of the slot before it visible below.
        let w2 = self.word(base).load(Ordering::Acquire);
        let tail = h.consumer.index.load(Ordering::Relaxed);
        let head = h.producer.index.load(Ordering::Relaxed);
        let batch = u64::from(h.producer.batch.load(Ordering::Relaxed).max(1));
        // A producer that stopped cleanly writes nothing more.
        let producing = h.producer.role_state.load(Ordering::Relaxed) == RoleState::Active.code();

        let slots = self.geometry.slot_count;
        let n = u64::from(slots);
        let shift = slots.trailing_zeros();
        let (head, tail) = (Position::new(head), Position::new(tail));
        // Which position the slot holds (LAYOUT.md, rule 6): the last one
        // below head in it, or one of the laps after that which the producer
        // can have published before its next head store (head lags by up to
        // the batch less one: on a 2-slot ring with a batch of 32, that is
        // 16 laps). The stamp decides, so a slot never written (stamp 0) is
        // free wherever head stands, and positions across the wrap are found.
        let below = head.last_in_slot_before(index, slots);
        let laps_ahead = batch.min(u64::from(MAX_SLOT_COUNT)).div_ceil(n);
        let position = (0..=laps_ahead)
            .map(|k| below.plus(k * n))
            .find(|&p| stamp != 0 && stamp_for(p.get(), shift) == stamp);
        let state = match position {
            None => SlotState::Free,
            Some(p) if p.is_before(tail) => SlotState::Consumed,
            Some(_) => SlotState::Pending,
        };
        // The producer may be writing this slot for position p + n only
        // while it holds the role, once the consumer released p (tail past
        // p: the producer frees slots by the stored tail alone), and once it
        // committed p + n - 1, the position before it. That commit is the
        // word of slot p - 1, loaded after the fence: while it still holds
        // p - 1 (or nothing), the producer had not reached p + n when the
        // copy was made. (A producer that died holding the role is told by
        // its lock, which the caller has: see `Snapshot::producer`.)
        let overwritable = producing
            && position.is_some_and(|p| {
                let before_next = p.plus(n).minus(1);
                // SYNC: ordered after the Acquire fence and the Acquire load
                // of w2 above; pairs with the Release store of the slot word
                // in `WriteSlot::commit_flagged` of position p + n - 1.
                let word = self
                    .slot_word(before_next.slot(slots))
                    .load(Ordering::Relaxed);
                let found = unpack_word(word).2;
                let still_before = found == 0 || found == stamp_for(p.minus(1).get(), shift);
                tail.is_after(p) && !still_before
            });
        SlotCopy {
            index,
            position: position.map(Position::get),
            state,
            len,
            flags,
            stamp,
            bytes,
            changed: w1 != w2,
            overwritable,
            torn: w1 != w2 || overwritable,
        }
    }
}

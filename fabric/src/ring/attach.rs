//! The checks a side makes before it trusts a ring it joins: a ring left
//! by holders that were killed at any point is sound, and continuing from
//! one whose indices or stamps cannot be true would lose, repeat or invent
//! frames.

use super::{ahead, RingRef};
use crate::error::Corruption;
use crate::sync::Ordering;

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
pub(super) fn check_for_producer(ring: &RingRef, tail: u64) -> Result<u64, Corruption> {
    let n = ring.capacity();
    // SYNC: pairs with the Release store of head in `Producer::store_head` of a
    // previous producer.
    let head = ring.producer_line().index.load(Ordering::Acquire);
    let fault = |what: String| Corruption::Indices {
        head,
        tail,
        slots: n,
        what,
    };
    let mut true_head = tail;
    while (ahead(true_head, tail) as u64) < n && ring.stamp_at(true_head) == ring.stamp(true_head) {
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
            found: ring.stamp_at(true_head),
            head,
        });
    }
    if claimed < 0 {
        check_tail_was_published(ring, head, tail, true_head)?;
    }
    let mut pos = true_head;
    while ahead(tail.wrapping_add(n), pos) > 0 {
        let found = ring.stamp_at(pos);
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
pub(super) fn check_for_consumer(ring: &RingRef, tail: u64) -> Result<(), Corruption> {
    let n = ring.capacity();
    // SYNC: pairs with the Release store of head in `Producer::store_head`
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
        let found = ring.stamp_at(pos);
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
        let found = ring.stamp_at(pos);
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

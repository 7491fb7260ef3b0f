//! Ring positions, which wrap.
//!
//! A position counts every frame ever published on a ring: `head` and
//! `tail` are positions, and so is the sequence number of a demo frame. It
//! is a `u64` that starts wherever the ring's indices say (not always 0)
//! and wraps at 2^64, so two positions are never compared with `<` nor
//! added with `+`: they are ordered by their signed distance, which is right
//! across the wrap as long as they are less than 2^63 apart (a ring holds at
//! most 2^20 frames, so every pair Forge compares is far closer than that).
//!
//! ```text
//!          2^64 - 2   2^64 - 1   0          1
//!   ─────────┼──────────┼────────┼──────────┼──────▶   one lap after another
//!          tail                            head       head - tail = 3 in flight
//! ```
//!
//! Everything in Forge that orders positions or measures between them goes
//! through [`Position`].

/// A ring position: a `u64` that wraps, ordered by signed distance.
///
/// # Examples
///
/// ```
/// use forge_fabric::Position;
///
/// let tail = Position::new(u64::MAX - 1);
/// let head = tail.plus(3); // past the wrap: 1
/// assert_eq!(head.get(), 1);
/// assert!(tail.is_before(head));
/// assert_eq!(head.since(tail), 3);
/// assert_eq!(tail.since(head), 0); // tail is not ahead of head
/// assert!(Position::new(0).within(tail, 3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[repr(transparent)]
pub struct Position(u64);

impl Position {
    /// The position whose raw value is `raw`.
    #[inline]
    pub const fn new(raw: u64) -> Position {
        Position(raw)
    }

    /// The raw value, for storing and printing.
    #[inline]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// `n` positions later.
    #[inline]
    pub const fn plus(self, n: u64) -> Position {
        Position(self.0.wrapping_add(n))
    }

    /// `n` positions earlier.
    #[inline]
    pub const fn minus(self, n: u64) -> Position {
        Position(self.0.wrapping_sub(n))
    }

    /// How far `self` is past `other`: positive when later, negative when
    /// earlier, 0 when equal.
    #[inline]
    pub const fn ahead_of(self, other: Position) -> i64 {
        self.0.wrapping_sub(other.0) as i64
    }

    /// Positions from `from` up to (not including) `self`: 0 when `self` is
    /// not past `from`.
    #[inline]
    pub const fn since(self, from: Position) -> u64 {
        let d = self.ahead_of(from);
        if d > 0 {
            d as u64
        } else {
            0
        }
    }

    /// Is `self` earlier than `other`?
    #[inline]
    pub const fn is_before(self, other: Position) -> bool {
        self.ahead_of(other) < 0
    }

    /// Is `self` later than `other`?
    #[inline]
    pub const fn is_after(self, other: Position) -> bool {
        self.ahead_of(other) > 0
    }

    /// The later of the two.
    #[inline]
    pub const fn max(self, other: Position) -> Position {
        if self.is_before(other) {
            other
        } else {
            self
        }
    }

    /// The earlier of the two.
    #[inline]
    pub const fn min(self, other: Position) -> Position {
        if self.is_before(other) {
            self
        } else {
            other
        }
    }

    /// Is `self` one of the `len` positions from `start` on?
    #[inline]
    pub const fn within(self, start: Position, len: u64) -> bool {
        self.0.wrapping_sub(start.0) < len
    }

    /// The slot of a ring of `slot_count` slots (a power of two) that
    /// holds this position.
    #[inline]
    pub const fn slot(self, slot_count: u32) -> u32 {
        debug_assert!(slot_count.is_power_of_two());
        (self.0 & (slot_count as u64 - 1)) as u32
    }

    /// The last position before `self` that lands in slot `index` of a ring
    /// of `slot_count` slots (a power of two): one of the `slot_count`
    /// positions before `self`.
    #[inline]
    pub const fn last_in_slot_before(self, index: u32, slot_count: u32) -> Position {
        debug_assert!(slot_count.is_power_of_two() && index < slot_count);
        let last = self.0.wrapping_sub(1);
        let back = last.wrapping_sub(index as u64) & (slot_count as u64 - 1);
        Position(last.wrapping_sub(back))
    }

    /// Does going from `self` forward to `later` pass the wrap (2^64 - 1 to
    /// 0)? A ring that was made at position 0 has no positions before the
    /// wrap that were ever published, so a reader without stamps to tell
    /// uses this to know a position from before the ring's start.
    #[inline]
    pub const fn wraps_before(self, later: Position) -> bool {
        later.0 < self.0
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u64> for Position {
    #[inline]
    fn from(raw: u64) -> Position {
        Position(raw)
    }
}

impl From<Position> for u64 {
    #[inline]
    fn from(p: Position) -> u64 {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NEAR_END: u64 = u64::MAX - 99;

    #[test]
    fn order_and_distance_hold_across_the_wrap() {
        let tail = Position::new(NEAR_END);
        let head = tail.plus(1_000);
        assert_eq!(head.get(), 900);
        assert!(tail.is_before(head) && head.is_after(tail));
        assert_eq!(head.since(tail), 1_000);
        assert_eq!(head.ahead_of(tail), 1_000);
        assert_eq!(tail.ahead_of(head), -1_000);
        assert_eq!(tail.since(head), 0);
        assert_eq!(head.max(tail), head);
        assert_eq!(head.min(tail), tail);
        assert!(Position::new(0).within(tail, 1_000));
        assert!(!head.within(tail, 1_000));
        assert_eq!(head.minus(1_000), tail);
    }

    #[test]
    fn the_last_position_in_a_slot_steps_back_across_the_wrap() {
        // head just past 0 on a ring of 8: slot 7 last held 2^64 - 1.
        let head = Position::new(5);
        assert_eq!(head.last_in_slot_before(7, 8).get(), u64::MAX);
        assert_eq!(head.last_in_slot_before(4, 8).get(), 4);
        assert_eq!(head.last_in_slot_before(5, 8).get(), u64::MAX - 2);
        assert!(head.last_in_slot_before(7, 8).wraps_before(head));
        assert!(!head.last_in_slot_before(4, 8).wraps_before(head));
        assert_eq!(Position::new(u64::MAX).slot(8), 7);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 256 }, ..Default::default() })]
        #[test]
        fn a_position_n_later_is_n_ahead_wherever_it_starts(start: u64, n in 1u64..(1 << 40)) {
            let a = Position::new(start);
            let b = a.plus(n);
            prop_assert!(a.is_before(b));
            prop_assert_eq!(b.since(a), n);
            prop_assert_eq!(a.since(b), 0);
            prop_assert!(a.within(a, n) && !b.within(a, n));
        }

        #[test]
        fn the_last_position_in_a_slot_is_in_that_slot_and_less_than_a_lap_back(
            head: u64, shift in 1u32..21, index: u32
        ) {
            let n = 1u32 << shift;
            let index = index % n;
            let p = Position::new(head).last_in_slot_before(index, n);
            prop_assert_eq!(p.slot(n), index);
            prop_assert!(p.is_before(Position::new(head)));
            prop_assert!(Position::new(head).since(p) <= u64::from(n));
        }
    }
}

//! The words every Forge crate shares: which end of the ring, what state a
//! segment, a role or a slot is in. Each has one spelling (`Display` and
//! `FromStr`, lower-case) and, where the header stores it as a number, one
//! code (`code()` and `TryFrom<u32>`).
//!
//! A number read from shared memory may be anything, so snapshots keep it as
//! a [`Coded`]: the value when this build knows the code, the number as found
//! when it does not.

/// A code that names no value of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown code {0}")]
pub struct UnknownCode(pub u32);

/// An enum whose discriminants are the codes the header stores: its one
/// spelling (lower-case `Display`, `FromStr`, `name()`), its `code()` and
/// `TryFrom<u32>`, and (with the `serde` feature) the same spelling in JSON.
macro_rules! header_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $code:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            strum::Display,
            strum::EnumString,
            strum::IntoStaticStr,
            strum::FromRepr,
        )]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
        #[strum(serialize_all = "lowercase")]
        #[repr(u32)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $code,)+
        }

        impl $name {
            /// The number the header stores.
            pub const fn code(self) -> u32 {
                self as u32
            }

            /// Lower-case name, as command lines and screens spell it.
            pub fn name(self) -> &'static str {
                self.into()
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.code()
            }
        }

        impl TryFrom<u32> for $name {
            type Error = $crate::vocab::UnknownCode;
            fn try_from(code: u32) -> Result<Self, $crate::vocab::UnknownCode> {
                Self::from_repr(code).ok_or($crate::vocab::UnknownCode(code))
            }
        }
    };
}
pub(crate) use header_enum;

header_enum! {
    /// Which end of the ring: the one role of each kind a segment has.
    pub enum Role {
        /// The writer (forge-stream, a bridge's `in` side, a replay).
        Producer = 0,
        /// The reader (forge-core, a bridge's `out` side, a recorder).
        Consumer = 1,
    }
}

impl Role {
    /// Both roles, producer first.
    pub const ALL: [Role; 2] = [Role::Producer, Role::Consumer];

    /// Byte of the segment file whose OFD lock the holder keeps (the first
    /// byte of its line).
    pub const fn lock_offset(self) -> u64 {
        match self {
            Role::Producer => crate::layout::PRODUCER_LOCK_OFFSET,
            Role::Consumer => crate::layout::CONSUMER_LOCK_OFFSET,
        }
    }

    /// `0` for the producer, `1` for the consumer: an index into pairs.
    pub const fn index(self) -> usize {
        self as usize
    }
}

header_enum! {
    /// What a role's `role_state` word says.
    #[derive(Default)]
    pub enum RoleState {
        /// Nobody has taken the role since the segment was made.
        #[default]
        Vacant = 0,
        /// Taken; the holder heart-beats (whether it still lives is the role
        /// lock's answer, not this word's).
        Active = 1,
        /// The holder stopped cleanly and released the role.
        Stopped = 2,
    }
}

header_enum! {
    /// The lifecycle state in the identity line.
    #[derive(Default)]
    pub enum SegmentState {
        /// forge-init is still writing it.
        #[default]
        Initializing = 0,
        /// Ready: daemons may attach.
        Live = 1,
        /// Replaced; `successor_session` names the new session.
        Retired = 2,
    }
}

/// A slot's place in the ring, as an observer tells it from the slot's stamp
/// and the indices.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[strum(serialize_all = "lowercase")]
pub enum SlotState {
    /// Published and not yet released by the consumer.
    Pending,
    /// Released: holds an old frame the producer may overwrite.
    Consumed,
    /// Never written in this session.
    #[default]
    Free,
}

impl SlotState {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// The application's flag bits of a frame, carried in its slot word next
/// to its length (LAYOUT.md, "Slots").
///
/// The slot word has 16 flag bits. Bit 0 is Forge's own `RELAYED` bit
/// ([`crate::layout::FRAME_RELAYED`]): it says the frame keeps the sequence
/// number of the ring it came from, and readers check continuity by it.
/// Only a relayed producer ([`crate::Segment::relayed_producer`]) sets it,
/// on every frame it commits. The other 15 bits are the application's, and
/// this type holds only those: an `AppFlags` cannot carry `RELAYED`, so no
/// commit sets it by accident.
///
/// # Examples
///
/// ```
/// use forge_fabric::AppFlags;
///
/// const KEYFRAME: AppFlags = AppFlags::bit(1);
/// let flags = KEYFRAME | AppFlags::bit(7);
/// assert!(flags.contains(KEYFRAME));
/// assert_eq!(flags.bits(), 0b1000_0010);
/// // Bit 0 is Forge's: refused, or dropped when asked to.
/// assert_eq!(AppFlags::from_bits(0b11), None);
/// assert_eq!(AppFlags::from_bits_truncate(0b11), KEYFRAME);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AppFlags(u16);

impl AppFlags {
    /// No flag set.
    pub const NONE: AppFlags = AppFlags(0);
    /// The slot-word flag bits that are the application's: all but bit 0.
    pub const MASK: u16 = !crate::layout::FRAME_RELAYED;

    /// The flag with slot-word bit `n` (1 to 15) set.
    ///
    /// # Panics
    ///
    /// When `n` is 0 (Forge's `RELAYED` bit) or above 15; in a `const` the
    /// build fails instead.
    pub const fn bit(n: u32) -> AppFlags {
        assert!(
            n >= 1 && n <= 15,
            "application flags are slot-word bits 1 to 15"
        );
        AppFlags(1 << n)
    }

    /// These slot-word flag bits, or `None` when one of them is Forge's.
    pub const fn from_bits(bits: u16) -> Option<AppFlags> {
        if bits & !Self::MASK != 0 {
            None
        } else {
            Some(AppFlags(bits))
        }
    }

    /// The application's bits of `bits`, leaving out Forge's (for example
    /// the flags of a frame read from one ring, written into another).
    pub const fn from_bits_truncate(bits: u16) -> AppFlags {
        AppFlags(bits & Self::MASK)
    }

    /// The slot-word bits these flags set.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Are all of `other`'s flags set in `self`?
    pub const fn contains(self, other: AppFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Is no flag set?
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for AppFlags {
    type Output = AppFlags;
    fn bitor(self, rhs: AppFlags) -> AppFlags {
        AppFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for AppFlags {
    fn bitor_assign(&mut self, rhs: AppFlags) {
        self.0 |= rhs.0;
    }
}

/// A code read from shared memory: a value this build knows, or the number
/// as it was found (another build, or damage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coded<T> {
    /// A known code.
    Known(T),
    /// A code this build does not know.
    Unknown(u32),
}

impl<T: TryFrom<u32>> Coded<T> {
    /// Decodes `code`.
    pub fn from_code(code: u32) -> Self {
        T::try_from(code).map_or(Coded::Unknown(code), Coded::Known)
    }
}

impl<T: Copy + Into<u32>> Coded<T> {
    /// The number as stored, known or not.
    pub fn code(&self) -> u32 {
        match self {
            Coded::Known(t) => (*t).into(),
            Coded::Unknown(code) => *code,
        }
    }
}

impl<T: Copy> Coded<T> {
    /// The value, if known.
    pub fn known(&self) -> Option<T> {
        match self {
            Coded::Known(t) => Some(*t),
            Coded::Unknown(_) => None,
        }
    }
}

impl<T: PartialEq> PartialEq<T> for Coded<T> {
    fn eq(&self, other: &T) -> bool {
        matches!(self, Coded::Known(t) if t == other)
    }
}

impl<T> From<T> for Coded<T> {
    fn from(t: T) -> Self {
        Coded::Known(t)
    }
}

impl<T: Default> Default for Coded<T> {
    fn default() -> Self {
        Coded::Known(T::default())
    }
}

impl<T: std::fmt::Display> std::fmt::Display for Coded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Coded::Known(t) => t.fmt(f),
            Coded::Unknown(code) => write!(f, "unknown ({code})"),
        }
    }
}

#[cfg(feature = "serde")]
impl<T: std::fmt::Display> serde::Serialize for Coded<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Sessions in JSON: `"0x0123456789abcdef"`, as every Forge tool prints
/// them. A JSON number would be rounded to 53 bits by common tools (`jq`
/// turns 0x158d019c4cd448f8 into …800), and a session that is not exact is
/// another session.
#[cfg(feature = "serde")]
pub fn serialize_session<S: serde::Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{id:#018x}"))
}

/// [`serialize_session`] for a session that may be absent (`null`).
#[cfg(feature = "serde")]
pub fn serialize_session_opt<S: serde::Serializer>(
    id: &Option<u64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => serialize_session(id, s),
        None => s.serialize_none(),
    }
}

/// A session as [`serialize_session`] writes it: `0x` and 1 to 16 hex
/// digits, nothing else.
pub fn parse_session(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("0x")?;
    let hex =
        !digits.is_empty() && digits.len() <= 16 && digits.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| u64::from_str_radix(digits, 16).ok()).flatten()
}

/// Reads a session written by [`serialize_session`].
#[cfg(feature = "serde")]
pub fn deserialize_session<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    parse_session(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not 0x and hex digits")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_parse_only_as_written() {
        assert_eq!(
            parse_session("0x158d019c4cd448f8"),
            Some(0x158d_019c_4cd4_48f8)
        );
        assert_eq!(parse_session("0x0000000000000abc"), Some(0xabc));
        for bad in [
            "",
            "0x",
            "158d",
            "0x+12",
            "0x-1",
            "0x10000000000000000",
            "0xzz",
        ] {
            assert_eq!(parse_session(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_and_codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.name().parse::<Role>(), Ok(r));
            assert_eq!(Role::try_from(r.code()), Ok(r));
        }
        assert_eq!(RoleState::Stopped.to_string(), "stopped");
        assert_eq!(SegmentState::try_from(2), Ok(SegmentState::Retired));
        assert_eq!(SegmentState::try_from(7), Err(UnknownCode(7)));
        assert_eq!("pending".parse::<SlotState>(), Ok(SlotState::Pending));
    }

    #[test]
    fn codes_from_shared_memory_keep_what_they_do_not_know() {
        assert_eq!(
            Coded::<SegmentState>::from_code(1),
            Coded::Known(SegmentState::Live)
        );
        let odd = Coded::<RoleState>::from_code(9);
        assert_eq!(odd, Coded::Unknown(9));
        assert_eq!(odd.to_string(), "unknown (9)");
        assert!(Coded::<RoleState>::from_code(1) == RoleState::Active);
    }

    #[test]
    fn application_flags_can_never_carry_forge_s_relayed_bit() {
        use crate::layout::FRAME_RELAYED;
        for bits in 0..=u16::MAX {
            assert_eq!(AppFlags::from_bits_truncate(bits).bits() & FRAME_RELAYED, 0);
            match AppFlags::from_bits(bits) {
                Some(f) => assert_eq!(f.bits(), bits),
                None => assert_ne!(bits & FRAME_RELAYED, 0),
            }
        }
        let all = (1..=15).fold(AppFlags::NONE, |acc, n| acc | AppFlags::bit(n));
        assert_eq!(all.bits(), AppFlags::MASK);
        assert!(std::panic::catch_unwind(|| AppFlags::bit(0)).is_err());
    }
}

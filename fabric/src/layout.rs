//! The shared-memory layout, pinned by compile-time assertions.
//!
//! ```text
//! offset 0      ┌──────────────────────────────────────────────┐
//!               │ IdentityLine   (128 B, written by forge-init) │ read-mostly
//!        128    │ SideLine  producer (128 B): head, pid, …      │ producer only
//!        256    │ SideLine  consumer (128 B): tail, pid, …      │ consumer only
//!        384    │ LatencyBlock (2816 B): consumer's histogram   │ consumer only
//!        3200   │ PaceLine (128 B): producer's target rate       │ producer only
//!        3328   │ reserved, zero                                 │
//! HEADER_SIZE   ├──────────────────────────────────────────────┤
//! = 4096        │ slot 0: word (len | flags | stamp) + capacity │ 8 + capacity B
//!               │ slot 1 …                                       │
//!               │ slot N-1                                       │
//!               └──────────────────────────────────────────────┘
//! ```
//!
//! The payload capacity is chosen when the segment is made (layout 3): 4096
//! bytes by default, as small as 8 for rings of small frames, so that
//! consecutive frames share cache lines and pages instead of each starting
//! a 4 KiB stride of its own. Layout 2 is the same with every capacity 4096;
//! this build still reads it.
//!
//! Every field another process may touch is an atomic. `fabric/LAYOUT.md`
//! documents each one; a test checks that page against the offsets here.

use crate::sync::{AtomicU32, AtomicU64};

/// `b"FORGERNG"` read as a little-endian `u64`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"FORGERNG");
/// Bumped whenever any offset, size or meaning below changes.
pub const LAYOUT_VERSION: u32 = 4;
/// The older layout this build still opens: every payload capacity is
/// [`PAYLOAD_CAPACITY`].
pub const FIXED_CAPACITY_LAYOUT_VERSION: u32 = 2;
/// The first layout whose role locks are on the segment's role-lock object
/// (`identity.role_lock_ino`), where a user who may only read the segment
/// cannot reach them; older layouts keep them on the segment itself.
pub const ROLE_LOCKS_LAYOUT_VERSION: u32 = 4;
/// The layout versions this build opens: 2 (every payload capacity is
/// [`PAYLOAD_CAPACITY`]), 3 (the capacity is the segment's own; role locks
/// on the segment) and 4 (role locks on the role-lock object).
pub const READABLE_LAYOUT_VERSIONS: [u32; 3] = [FIXED_CAPACITY_LAYOUT_VERSION, 3, LAYOUT_VERSION];
/// Bytes before slot 0: one page.
pub const HEADER_SIZE: usize = 4096;
/// Largest payload a frame may carry, and a segment's payload capacity
/// unless it is made with a smaller one.
pub const PAYLOAD_CAPACITY: usize = 4096;
/// Smallest payload capacity a segment may have.
pub const MIN_PAYLOAD_CAPACITY: usize = 8;
/// Bytes of one slot of the default capacity: the 8-byte frame word plus
/// [`PAYLOAD_CAPACITY`]. See [`slot_size`] for the others.
pub const SLOT_SIZE: usize = slot_size(PAYLOAD_CAPACITY);
/// Slots in a segment made with default settings.
pub const DEFAULT_SLOT_COUNT: u32 = 512;
/// Fewest slots a ring may have.
pub const MIN_SLOT_COUNT: u32 = 2;
/// Most slots a ring may have (4 GiB of slots at most).
pub const MAX_SLOT_COUNT: u32 = 1 << 20;
/// Size of one isolation line. 128 bytes covers the adjacent-line prefetcher.
pub const LINE: usize = 128;

// Segment states and role states are `vocab::SegmentState` and
// `vocab::RoleState`; their `code()` is what the header stores.

/// Holder flag: the frames this producer writes keep the sequence number of
/// the ring they came from (a bridge or a replay), not their ring position.
pub const HOLDER_RELAYED: u32 = 1;

/// Holder flag: this side sleeps on its `sleeping` futex word when it has
/// nothing to do (the park wait strategy), so the other side must wake it
/// (`FUTEX_WAKE`) after each publication that could end its wait. Set by
/// the holder when it takes the role, from the wait strategy it claimed
/// with; the peer reads it at every publication, so it needs no call to
/// learn it.
pub const HOLDER_PARKS: u32 = 2;

/// Slot-word flag: this frame keeps the sequence number it had in the ring
/// it came from (a bridge or a replay wrote it), so its sequence is checked
/// for continuity with the previous such frame, not against its position.
pub const FRAME_RELAYED: u16 = 1;

/// Byte offset of the producer's role lock in the role-lock object (layout
/// 4; in the segment itself before): an OFD write lock on this one byte is
/// held for as long as a process holds the role.
pub const PRODUCER_LOCK_OFFSET: u64 = 128;
/// Byte offset of the consumer's role lock (see [`PRODUCER_LOCK_OFFSET`]).
pub const CONSUMER_LOCK_OFFSET: u64 = 256;

/// `core` value meaning "not pinned / unknown".
pub const CORE_NONE: u32 = u32::MAX;

/// Latency histogram: sub-buckets per power of two (6.25 % wide buckets).
pub const HIST_SUB_BUCKETS: usize = 16;
/// Latency histogram: number of buckets; values from 2^24 ns up go to overflow.
pub const HIST_BUCKETS: usize = 336;
/// Smallest latency, in ns, that does not fit the histogram.
pub const HIST_OVERFLOW_NS: u64 = 1 << 24;

/// Written once by forge-init, then read by everyone.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct IdentityLine {
    /// [`MAGIC`].
    pub magic: AtomicU64,
    /// [`LAYOUT_VERSION`].
    pub layout_version: AtomicU32,
    /// [`HEADER_SIZE`].
    pub header_size: AtomicU32,
    /// [`slot_size`] of `payload_capacity`.
    pub slot_size: AtomicU32,
    /// Number of slots, a power of two.
    pub slot_count: AtomicU32,
    /// Total bytes: header plus slots.
    pub segment_size: AtomicU64,
    /// Non-zero, unique per initialization; published last (Release).
    pub session_id: AtomicU64,
    /// A [`crate::vocab::SegmentState`] code.
    pub state: AtomicU32,
    /// Pid of the forge-init that created the segment.
    pub init_pid: AtomicU32,
    /// When retired: the session that replaced this one (0 if unknown).
    pub successor_session: AtomicU64,
    /// Creation time, ns since the Unix epoch (wall clock; display only).
    pub created_unix_ns: AtomicU64,
    /// Creation time, CLOCK_MONOTONIC ns (for the session's age).
    pub created_mono_ns: AtomicU64,
    /// Bytes of payload each slot holds (see [`is_payload_capacity`]);
    /// always [`PAYLOAD_CAPACITY`] in layout 2.
    pub payload_capacity: AtomicU32,
    /// Segment flags set by forge-init; none are defined yet, and readers
    /// ignore bits they do not know.
    pub flags: AtomicU32,
    /// Layout 4: the inode of the segment's role-lock object
    /// (`/dev/shm/NAME.roles`, on the segment's device), where role locks
    /// are taken; never 0. Zero in older layouts.
    pub role_lock_ino: AtomicU64,
    /// Zero. Atomics, like every byte another process may write: a
    /// `&IdentityLine` claims no plain bytes.
    _reserved: [AtomicU32; 10],
}

/// Everything one side writes. The producer's line holds `head` as its
/// `index`; the consumer's holds `tail`.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct SideLine {
    /// Producer: next position to publish (`head`). Consumer: next position to
    /// read (`tail`). Monotonic, never masked.
    pub index: AtomicU64,
    /// Futex word: 1 while this side sleeps in the park wait strategy.
    pub sleeping: AtomicU32,
    /// Wait strategy of the holder: 0 spin, 1 yield, 2 park.
    pub wait_strategy: AtomicU32,
    /// Pid of the role holder, 0 when vacant.
    pub pid: AtomicU32,
    /// CPU core the holder pinned itself to, or [`CORE_NONE`].
    pub core: AtomicU32,
    /// Session the holder attached to.
    pub session: AtomicU64,
    /// CLOCK_MONOTONIC ns of the holder's last heartbeat.
    pub heartbeat_ns: AtomicU64,
    /// Frames committed (producer) or released (consumer).
    pub messages: AtomicU64,
    /// Payload bytes committed or released.
    pub bytes: AtomicU64,
    /// Producer: times it found the ring full. Consumer: times it found it empty.
    pub backpressure: AtomicU64,
    /// A [`crate::vocab::RoleState`] code.
    pub role_state: AtomicU32,
    /// Producer: commits per `head` store. Consumer: releases per `tail` store.
    pub batch: AtomicU32,
    /// CLOCK_MONOTONIC ns when the holder took the role.
    pub started_mono_ns: AtomicU64,
    /// Inode of the holder's pid namespace (`/proc/self/ns/pid`), 0 if
    /// unknown: a `pid` means something only inside that namespace.
    pub pidns: AtomicU64,
    /// The holder's start time, clock ticks after boot (`/proc/self/stat`
    /// field 22), 0 if unknown: with `pid` and `pidns` it names one process.
    pub start_ticks: AtomicU64,
    /// The holder's effective uid.
    pub uid: AtomicU32,
    /// `HOLDER_*` bits describing what the holder writes.
    pub flags: AtomicU32,
    /// The holder's program name, ASCII, NUL-padded (`forge-stream`).
    pub program: [AtomicU64; 2],
    /// Producer with [`HOLDER_RELAYED`]: the session of the ring its relayed
    /// frames come from, 0 if unknown. It stays after the holder stops, so a
    /// bridge restarted on this ring knows whose sequence the last frame
    /// carries. Consumer: 0.
    pub relay_session: AtomicU64,
}

impl SideLine {
    /// The 16 program bytes as text: up to the first NUL, anything but
    /// printable ASCII shown as `?` (the bytes come from another process and
    /// may be hostile; they reach terminals).
    pub fn program_name(&self) -> String {
        let mut bytes = [0u8; 16];
        let [lo, hi] = &self.program;
        // Relaxed: display text the holder writes before it publishes its
        // role_state; a torn name shows as such, nothing depends on it.
        bytes[..8].copy_from_slice(&lo.load(crate::sync::Ordering::Relaxed).to_le_bytes());
        bytes[8..].copy_from_slice(&hi.load(crate::sync::Ordering::Relaxed).to_le_bytes());
        bytes
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
            .collect()
    }
}

/// The consumer's transit-latency histogram, log-linear in nanoseconds.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct LatencyBlock {
    /// Samples recorded (including overflow).
    pub count: AtomicU64,
    /// Sum of all samples, ns (wrapping).
    pub sum_ns: AtomicU64,
    /// Largest sample, ns.
    pub max_ns: AtomicU64,
    /// Samples at or above [`HIST_OVERFLOW_NS`].
    pub overflow: AtomicU64,
    /// Bucket counts; see [`bucket_of`].
    pub buckets: [AtomicU64; HIST_BUCKETS],
    /// Zero, up to the block's whole lines: spelled out as atomics rather
    /// than left as padding, so a `&LatencyBlock` spans no plain bytes.
    _reserved: [AtomicU64; LATENCY_RESERVED_WORDS],
}

/// 8-byte words after the buckets that round the latency block up to whole
/// lines.
const LATENCY_RESERVED_WORDS: usize = LATENCY_BLOCK_SIZE / 8 - 4 - HIST_BUCKETS;

/// The segment header: one page at offset 0.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct Header {
    /// Read-mostly identity and lifecycle.
    pub identity: IdentityLine,
    /// Producer-written line.
    pub producer: SideLine,
    /// Consumer-written line.
    pub consumer: SideLine,
    /// Consumer-written latency histogram.
    pub latency: LatencyBlock,
    /// More of what the producer says about itself.
    pub pace: PaceLine,
    /// Zero. Atomics, so that a `&Header` claims no plain bytes that another
    /// process with write access may change while the reference lives.
    _reserved: [AtomicU64; HEADER_RESERVED_WORDS],
}

/// 8-byte words of the header after the pace line, reserved and zero.
const HEADER_RESERVED_WORDS: usize = (HEADER_SIZE - 4 * LINE - LATENCY_BLOCK_SIZE) / 8;

/// What the producer aims for, for inspectors: its own line is full.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct PaceLine {
    /// Frames per second a paced producer aims for; 0 when it streams as
    /// fast as the ring allows (or does not say).
    pub target_rate: AtomicU64,
    /// Frames a burst (SIGUSR1) sends at full speed; 0 if it takes none.
    pub burst: AtomicU64,
    /// Bursts taken since the holder took the role.
    pub bursts: AtomicU64,
    /// Zero; atomics like the reserved words of the header.
    _reserved: [AtomicU64; 13],
}

/// Bytes of the latency block, padded to whole lines.
pub const LATENCY_BLOCK_SIZE: usize = 2816;

/// The start of every slot: the slot word, holding the payload length (bits
/// 0..16), flags (16..32) and the publication stamp of the lap it was
/// written in (32..64). The slot's `payload_capacity` bytes follow it, and
/// the next slot follows them ([`slot_size`] bytes per slot).
#[repr(C)]
#[derive(Debug)]
pub struct Slot {
    /// Published with Release by the producer's commit.
    pub word: AtomicU64,
}

/// Under loom a slot's payload must be loom's tracked cell (so the models
/// see payload races), which plain bytes after the word cannot be: a loom
/// heap ring's slots are this struct, word first as in a segment, and its
/// stride is this struct's size.
#[cfg(loom)]
#[repr(C)]
pub(crate) struct LoomSlot {
    pub(crate) word: AtomicU64,
    pub(crate) payload: crate::sync::UnsafeCell<[u8; LOOM_PAYLOAD]>,
}

/// Payload bytes of a loom slot: the models move `u64`s.
#[cfg(loom)]
pub(crate) const LOOM_PAYLOAD: usize = 8;

/// Is `bytes` a payload capacity a segment may have: a multiple of 8 (so
/// every slot word stays 8-byte aligned) from [`MIN_PAYLOAD_CAPACITY`] to
/// [`PAYLOAD_CAPACITY`]?
pub const fn is_payload_capacity(bytes: usize) -> bool {
    bytes % 8 == 0 && bytes >= MIN_PAYLOAD_CAPACITY && bytes <= PAYLOAD_CAPACITY
}

/// Is `bytes` a payload capacity a segment of `layout_version` may declare:
/// exactly [`PAYLOAD_CAPACITY`] in layout 2, any [`is_payload_capacity`]
/// from layout 3 on?
pub const fn payload_capacity_allowed(layout_version: u32, bytes: usize) -> bool {
    match fixed_payload_capacity(layout_version) {
        Some(fixed) => bytes == fixed,
        None => is_payload_capacity(bytes),
    }
}

/// The one payload capacity a segment of `layout_version` may declare, if
/// its layout fixes it (layout 2); `None` where the segment chooses.
pub const fn fixed_payload_capacity(layout_version: u32) -> Option<usize> {
    if layout_version == FIXED_CAPACITY_LAYOUT_VERSION {
        Some(PAYLOAD_CAPACITY)
    } else {
        None
    }
}

/// Bytes of one slot holding up to `payload_capacity` bytes.
pub const fn slot_size(payload_capacity: usize) -> usize {
    8 + payload_capacity
}

/// Total segment size for `slot_count` slots of `payload_capacity` bytes.
pub const fn segment_size(slot_count: u32, payload_capacity: usize) -> usize {
    HEADER_SIZE + slot_count as usize * slot_size(payload_capacity)
}

/// Byte offset of slot `i` in a segment whose slots hold `payload_capacity`
/// bytes.
pub const fn slot_offset(i: u32, payload_capacity: usize) -> usize {
    HEADER_SIZE + i as usize * slot_size(payload_capacity)
}

/// The publication stamp for ring position `pos`. Never 0 (zeroed memory is
/// never "published"), and consecutive laps always differ, also across the
/// `u64` wrap.
#[inline(always)]
pub const fn stamp_for(pos: u64, lap_shift: u32) -> u32 {
    ((pos >> lap_shift) % (u32::MAX as u64)) as u32 + 1
}

/// Packs a slot word.
#[inline(always)]
pub const fn pack_word(len: u16, flags: u16, stamp: u32) -> u64 {
    len as u64 | (flags as u64) << 16 | (stamp as u64) << 32
}

/// Unpacks a slot word into `(len, flags, stamp)`.
#[inline(always)]
pub const fn unpack_word(word: u64) -> (u16, u16, u32) {
    (word as u16, (word >> 16) as u16, (word >> 32) as u32)
}

/// The histogram bucket for a latency of `ns` nanoseconds, or `None` when it
/// overflows. Buckets below 16 ns are exact; above, each power of two is cut
/// into 16 equal buckets.
#[inline(always)]
pub const fn bucket_of(ns: u64) -> Option<usize> {
    if ns < HIST_SUB_BUCKETS as u64 {
        return Some(ns as usize);
    }
    if ns >= HIST_OVERFLOW_NS {
        return None;
    }
    let m = 63 - ns.leading_zeros() as usize;
    Some(HIST_SUB_BUCKETS * (m - 4) + (ns >> (m - 4)) as usize)
}

/// The smallest latency, in ns, that falls into bucket `i`.
pub const fn bucket_low(i: usize) -> u64 {
    if i < HIST_SUB_BUCKETS {
        return i as u64;
    }
    let m = i / HIST_SUB_BUCKETS + 3;
    let sub = (i % HIST_SUB_BUCKETS + HIST_SUB_BUCKETS) as u64;
    sub << (m - 4)
}

/// The largest latency, in ns, that falls into bucket `i`.
pub const fn bucket_high(i: usize) -> u64 {
    if i + 1 >= HIST_BUCKETS {
        HIST_OVERFLOW_NS - 1
    } else {
        bucket_low(i + 1) - 1
    }
}

#[cfg(not(loom))]
mod asserts {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    // A changed layout must fail here until LAYOUT_VERSION is bumped and
    // these numbers, and LAYOUT.md, are updated with it.
    const _: () = assert!(LAYOUT_VERSION == 4);
    const _: () = assert!(size_of::<Slot>() == 8);
    const _: () = assert!(align_of::<Slot>() == 8);
    const _: () = assert!(offset_of!(Slot, word) == 0);
    const _: () = assert!(SLOT_SIZE == 4104);
    const _: () = assert!(slot_size(MIN_PAYLOAD_CAPACITY) == 16);
    const _: () = assert!(is_payload_capacity(PAYLOAD_CAPACITY));
    const _: () = assert!(!is_payload_capacity(PAYLOAD_CAPACITY + 8));
    const _: () = assert!(size_of::<Header>() == HEADER_SIZE);
    const _: () = assert!(align_of::<Header>() == LINE);
    const _: () = assert!(size_of::<IdentityLine>() == LINE);
    const _: () = assert!(size_of::<SideLine>() == LINE);
    const _: () = assert!(size_of::<LatencyBlock>() == LATENCY_BLOCK_SIZE);
    // No implicit padding anywhere: every byte of a shared struct is a named
    // atomic, so a reference to one claims no plain bytes (the field sizes
    // add up to the struct's size).
    const _: () = assert!(7 * 8 + 8 * 4 + 10 * 4 == size_of::<IdentityLine>());
    const _: () = assert!(12 * 8 + 8 * 4 == size_of::<SideLine>());
    const _: () =
        assert!((4 + HIST_BUCKETS + LATENCY_RESERVED_WORDS) * 8 == size_of::<LatencyBlock>());
    const _: () = assert!((3 + 13) * 8 == size_of::<PaceLine>());
    const _: () =
        assert!(4 * LINE + LATENCY_BLOCK_SIZE + HEADER_RESERVED_WORDS * 8 == size_of::<Header>());
    const _: () = assert!(offset_of!(Header, identity) == 0);
    const _: () = assert!(offset_of!(Header, producer) == 128);
    const _: () = assert!(offset_of!(Header, consumer) == 256);
    const _: () = assert!(offset_of!(Header, latency) == 384);
    const _: () = assert!(offset_of!(Header, pace) == 3200);
    const _: () = assert!(size_of::<PaceLine>() == LINE);
    const _: () = assert!(offset_of!(PaceLine, target_rate) == 0);
    const _: () = assert!(offset_of!(PaceLine, burst) == 8);
    const _: () = assert!(offset_of!(PaceLine, bursts) == 16);

    const _: () = assert!(offset_of!(IdentityLine, magic) == 0);
    const _: () = assert!(offset_of!(IdentityLine, layout_version) == 8);
    const _: () = assert!(offset_of!(IdentityLine, header_size) == 12);
    const _: () = assert!(offset_of!(IdentityLine, slot_size) == 16);
    const _: () = assert!(offset_of!(IdentityLine, slot_count) == 20);
    const _: () = assert!(offset_of!(IdentityLine, segment_size) == 24);
    const _: () = assert!(offset_of!(IdentityLine, session_id) == 32);
    const _: () = assert!(offset_of!(IdentityLine, state) == 40);
    const _: () = assert!(offset_of!(IdentityLine, init_pid) == 44);
    const _: () = assert!(offset_of!(IdentityLine, successor_session) == 48);
    const _: () = assert!(offset_of!(IdentityLine, created_unix_ns) == 56);
    const _: () = assert!(offset_of!(IdentityLine, created_mono_ns) == 64);
    const _: () = assert!(offset_of!(IdentityLine, payload_capacity) == 72);
    const _: () = assert!(offset_of!(IdentityLine, flags) == 76);
    const _: () = assert!(offset_of!(IdentityLine, role_lock_ino) == 80);

    const _: () = assert!(offset_of!(SideLine, index) == 0);
    const _: () = assert!(offset_of!(SideLine, sleeping) == 8);
    const _: () = assert!(offset_of!(SideLine, wait_strategy) == 12);
    const _: () = assert!(offset_of!(SideLine, pid) == 16);
    const _: () = assert!(offset_of!(SideLine, core) == 20);
    const _: () = assert!(offset_of!(SideLine, session) == 24);
    const _: () = assert!(offset_of!(SideLine, heartbeat_ns) == 32);
    const _: () = assert!(offset_of!(SideLine, messages) == 40);
    const _: () = assert!(offset_of!(SideLine, bytes) == 48);
    const _: () = assert!(offset_of!(SideLine, backpressure) == 56);
    const _: () = assert!(offset_of!(SideLine, role_state) == 64);
    const _: () = assert!(offset_of!(SideLine, batch) == 68);
    const _: () = assert!(offset_of!(SideLine, started_mono_ns) == 72);
    const _: () = assert!(offset_of!(SideLine, pidns) == 80);
    const _: () = assert!(offset_of!(SideLine, start_ticks) == 88);
    const _: () = assert!(offset_of!(SideLine, uid) == 96);
    const _: () = assert!(offset_of!(SideLine, flags) == 100);
    const _: () = assert!(offset_of!(SideLine, program) == 104);
    const _: () = assert!(offset_of!(SideLine, relay_session) == 120);
    const _: () = assert!(PRODUCER_LOCK_OFFSET as usize == offset_of!(Header, producer));
    const _: () = assert!(CONSUMER_LOCK_OFFSET as usize == offset_of!(Header, consumer));

    const _: () = assert!(offset_of!(LatencyBlock, count) == 0);
    const _: () = assert!(offset_of!(LatencyBlock, sum_ns) == 8);
    const _: () = assert!(offset_of!(LatencyBlock, max_ns) == 16);
    const _: () = assert!(offset_of!(LatencyBlock, overflow) == 24);
    const _: () = assert!(offset_of!(LatencyBlock, buckets) == 32);

    // The original design's 512-slot ring, with Forge's one-page header.
    const _: () = assert!(segment_size(DEFAULT_SLOT_COUNT, PAYLOAD_CAPACITY) == 2_105_344);
    const _: () = assert!(segment_size(DEFAULT_SLOT_COUNT, 56) == 4096 + 512 * 64);
    const _: () = assert!(HEADER_SIZE % 4096 == 0);
    const _: () = assert!(bucket_low(HIST_BUCKETS - 1) < HIST_OVERFLOW_NS);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_contain_every_value_they_claim() {
        for i in 0..HIST_BUCKETS {
            assert_eq!(bucket_of(bucket_low(i)), Some(i), "low of {i}");
            assert_eq!(bucket_of(bucket_high(i)), Some(i), "high of {i}");
        }
        assert_eq!(bucket_of(HIST_OVERFLOW_NS), None);
    }

    #[test]
    fn buckets_are_at_most_six_and_a_quarter_percent_wide() {
        for i in HIST_SUB_BUCKETS..HIST_BUCKETS {
            let (lo, hi) = (bucket_low(i), bucket_high(i) + 1);
            assert!((hi - lo) * 16 <= lo, "bucket {i}: {lo}..{hi}");
        }
    }

    #[test]
    fn stamps_differ_between_consecutive_laps_across_the_u64_wrap() {
        for shift in [1u32, 2, 9, 20] {
            let points = [0u64, 1 << shift, u64::MAX - (1 << shift), u64::MAX];
            for p in points {
                let next = p.wrapping_add(1 << shift);
                assert_ne!(stamp_for(p, shift), stamp_for(next, shift));
                assert_ne!(stamp_for(p, shift), 0);
            }
        }
        // The u32 stamp space wraps without ever producing 0 or a repeat.
        let shift = 0;
        let lap = (u32::MAX as u64) - 1;
        assert_eq!(stamp_for(lap, shift), u32::MAX);
        assert_eq!(stamp_for(lap + 1, shift), 1);
    }

    /// Another process may store into any byte of a live header while this
    /// one holds a `&Header`. That is sound only if every byte lies in an
    /// atomic (an `UnsafeCell`): here a store through a pointer derived
    /// from the reference stands for the other process, and under Miri
    /// (the CI's Miri run) a plain reserved byte or padding makes it an
    /// error.
    #[test]
    fn another_process_may_write_any_header_byte_while_a_reference_lives() {
        let layout = std::alloc::Layout::new::<Header>();
        // SAFETY: Header is not zero-sized.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!raw.is_null());
        // SAFETY: zeroed memory of Header's size and alignment; every field
        // is an atomic, valid when zero.
        let header: &Header = unsafe { &*raw.cast::<Header>() };
        let theirs = std::ptr::from_ref(header).cast_mut().cast::<u64>();
        for word in 0..HEADER_SIZE / 8 {
            // SAFETY: within the allocation, aligned; the bytes are atomics
            // (the point of the test), which shared references allow
            // writes to.
            unsafe { theirs.add(word).write_volatile(0x5A5A_5A5A_5A5A_5A5A) };
        }
        // The reference still reads what the other side wrote.
        assert_eq!(
            header
                .identity
                .magic
                .load(core::sync::atomic::Ordering::Relaxed),
            0x5A5A_5A5A_5A5A_5A5A
        );
        // SAFETY: allocated above with this layout; the reference is dead.
        unsafe { std::alloc::dealloc(raw, layout) };
    }

    #[test]
    fn word_round_trips() {
        let w = pack_word(4096, 0xBEEF, 0xDEAD_BEEF);
        assert_eq!(unpack_word(w), (4096, 0xBEEF, 0xDEAD_BEEF));
    }
}

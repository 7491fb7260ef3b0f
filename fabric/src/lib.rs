//! forge-fabric: a lock-free single-producer single-consumer ring in POSIX
//! shared memory.
//!
//! - [`Segment`] creates (zeroed, stamped with a unique session), opens and
//!   retires segments, and hands out the one [`Producer`] and one
//!   [`Consumer`].
//! - The ring moves frames of up to [`PAYLOAD_CAPACITY`] bytes with
//!   acquire/release atomics only: no syscall, allocation or lock per frame.
//! - [`Observer`] maps a segment read-only for inspectors.
//! - [`frame`] encodes and decodes the telemetry frame the demo sends.
//!
//! The byte layout is documented in `LAYOUT.md` and pinned in [`layout`].
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod sync;

pub mod error;
pub mod frame;
pub mod layout;
mod ring;
pub mod wait;

#[cfg(not(loom))]
pub mod clock;
mod heap;
#[cfg(not(loom))]
pub mod observe;
#[cfg(not(loom))]
pub mod process;
#[cfg(not(loom))]
pub mod segment;

pub use error::{Corruption, PopError, PushError, RoleError, SegmentError, SessionError};
pub use heap::{heap_ring, heap_ring_starting_at};
pub use layout::{DEFAULT_SLOT_COUNT, PAYLOAD_CAPACITY, SLOT_SIZE};
#[cfg(not(loom))]
pub use observe::{NameStatus, ObserveError, Observer, SlotCopy, SlotState, Snapshot};
#[cfg(not(loom))]
pub use ring::ReadFrame;
pub use ring::{Consumer, Producer, SlotWriter};
#[cfg(not(loom))]
pub use segment::{Claim, CreateOptions, Replaced, Segment, Side};
pub use wait::WaitStrategy;

/// The segment name used when none is given.
pub const DEFAULT_SEGMENT: &str = "/forge_shm";

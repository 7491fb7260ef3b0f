//! forge-fabric: a lock-free single-producer single-consumer ring in POSIX
//! shared memory, and the read-only observer that watches it.
//!
//! - [`Segment`] creates (zeroed, stamped with a unique session), opens and
//!   retires segments, and hands out the one [`Producer`] and one
//!   [`Consumer`]; who holds a role is the kernel's answer (a lock), not a
//!   pid's.
//! - The ring moves frames of up to [`PAYLOAD_CAPACITY`] bytes with
//!   acquire/release atomics only: no syscall, allocation or lock per frame.
//! - [`Observer`] maps a segment read-only for inspectors.
//! - [`hist`] is the consumer's latency histogram, kept in the header.
//!
//! The byte layout is documented in `LAYOUT.md` and pinned in [`layout`].
//!
//! # A producer and a consumer
//!
//! What a program holding a role owes the others (a heartbeat, the session
//! check, noticing a lost segment, a clean stop on SIGINT or SIGTERM, the
//! exit-code contract) is the `forge-holder` crate's, built on this one.
//! With it, a complete, well-behaved producer:
//!
//! ```
//! use forge_fabric::Claim;
//! use forge_holder::{Exit, Holder};
//!
//! fn main() -> Exit {
//! #   let _ring = doc::Ring::for_a_producer();
//!     forge_holder::run("my-producer", || {
//!         let name = std::env::var("FORGE_SEGMENT").unwrap_or_else(|_| "/forge_shm".into());
//!         let mut ring = Holder::producer(&name, &Claim::new())?;
//!         for n in 0u64.. {
//!             // Waits while the ring is full; a stop, a retired session or
//!             // a lost segment ends the run with its exit code.
//!             ring.write_from(&n.to_le_bytes())?;
//!         }
//!         Ok(())
//!     })
//! }
//! # mod doc { include!("../../holder/doc/ring.rs"); }
//! ```
//!
//! and a complete consumer, asleep on a futex while the ring is empty (the
//! producer wakes it: its claim says it parks):
//!
//! ```
//! use forge_fabric::{Claim, WaitStrategy};
//! use forge_holder::{Exit, Holder};
//!
//! fn main() -> Exit {
//! #   let _ring = doc::Ring::for_a_consumer();
//!     forge_holder::run("my-consumer", || {
//!         let name = std::env::var("FORGE_SEGMENT").unwrap_or_else(|_| "/forge_shm".into());
//!         let mut ring = Holder::consumer(&name, &Claim::new().wait(WaitStrategy::Park))?;
//!         loop {
//!             let frame = ring.read()?;
//!             println!("frame {}: {} bytes", frame.position(), frame.len());
//!             frame.release();
//!         }
//!     })
//! }
//! # mod doc { include!("../../holder/doc/ring.rs"); }
//! ```
//!
//! `forge-init` makes the segment (or [`Segment::create`]); `forge-core`
//! reads what the producer writes, `forge-stream` feeds the consumer.
//! forge-stream, forge-core, forge-record, forge-replay and forge-bridge are
//! built the same way. The telemetry frame Forge's own tools exchange is
//! `forge-frame`'s; the ring carries any bytes.
//!
//! # The ring alone
//!
//! A producer and a consumer on one segment, and an observer watching:
//!
//! ```
//! use std::time::Duration;
//! use forge_fabric::{CreateOptions, Observer, Segment};
//!
//! let name = format!("/forge_doc_front_{}", std::process::id());
//! let segment = Segment::create(&name, &CreateOptions::default())?;
//! let mut producer = segment.producer()?;
//! let mut consumer = segment.consumer()?;
//!
//! for i in 0..3u8 {
//!     producer.write_from(&[i; 16])?;
//! }
//! let mut seen = Vec::new();
//! while let Some(frame) = consumer.read_slot()? {
//!     seen.push(frame[0]);
//!     frame.release();
//! }
//! assert_eq!(seen, [0, 1, 2]);
//!
//! producer.flush_index();
//! consumer.flush_index();
//! let snap = Observer::open(&name, Duration::ZERO)?.snapshot()?;
//! assert_eq!((snap.head, snap.tail), (3, 3));
//! # drop((producer, consumer));
//! segment.unlink()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn, missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod sync;

pub mod error;
pub mod layout;
pub mod position;
mod ring;
pub mod vocab;
pub mod wait;

#[cfg(not(loom))]
pub mod clock;
mod heap;
pub mod hist;
#[cfg(not(loom))]
pub mod observe;
#[cfg(not(loom))]
mod process;
#[cfg(not(loom))]
pub mod segment;

pub use error::{
    Corruption, HeaderProblem, ReadError, RoleError, SegmentError, SessionError, WriteError,
};
pub use heap::{heap_ring, heap_ring_sized, heap_ring_starting_at, HeapRing};
pub use layout::{DEFAULT_SLOT_COUNT, PAYLOAD_CAPACITY, SLOT_SIZE};
#[cfg(not(loom))]
pub use observe::{HolderCheck, ObserveError, Observer, SlotCopy, Snapshot};
pub use position::Position;
#[cfg(not(loom))]
pub use ring::ReadSlot;
pub use ring::{Consumer, Pace, Producer, RelayedProducer, WriteSlot};
#[cfg(not(loom))]
pub use segment::{
    shm_path, Claim, CreateOptions, LiveHolders, NameStatus, Obtained, Replaced, Segment,
};
pub use vocab::{AppFlags, Coded, Role, RoleState, SegmentState, SlotState};
pub use wait::WaitStrategy;

/// The segment name used when none is given.
pub const DEFAULT_SEGMENT: &str = "/forge_shm";

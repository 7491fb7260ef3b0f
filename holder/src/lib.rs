//! forge-holder: the duties of a well-behaved Forge role holder, as a
//! library.
//!
//! [`forge_fabric`] is the transport: it hands out the one producer and the
//! one consumer of a segment and moves frames. Holding a role well takes
//! more, off the per-frame path: noticing a stop asked for, a retired
//! session, damage or a lost segment, beating the heart inspectors watch,
//! and ending with the exit code scripts rely on. [`Holder`] does all of it
//! for a side of a ring, the same way for forge-stream, forge-core,
//! forge-record, forge-replay, forge-bridge and programs of your own.
//!
//! # Examples
//!
//! A complete producer: SIGINT or SIGTERM (or a retired session, or a lost
//! segment) ends the loop, releases the role and exits with the code the
//! contract gives ([`Exit`]).
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
//!             // Waits while the ring is full, doing the holder's duties.
//!             ring.write_from(&n.to_le_bytes())?;
//!         }
//!         Ok(())
//!     })
//! }
//! # mod doc { include!("../doc/ring.rs"); }
//! ```
//!
//! A complete consumer, parked on a futex while the ring is empty (the
//! producer wakes it):
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
//! # mod doc { include!("../doc/ring.rs"); }
//! ```
//!
//! # What a holder does
//!
//! - [`signals`]: SIGINT, SIGTERM and SIGHUP become a stop flag the loop
//!   polls, so a stop releases the role and prints the report;
//! - [`watch`]: a thread that notices the segment unlinked, replaced or
//!   truncated, which the streaming loop never looks for (that needs a
//!   system call);
//! - [`checks`]: one housekeeping pass (stop, session, `tail`, the watch's
//!   verdict, the heartbeat) in one order for every holder;
//! - [`fault`]: a SIGBUS from a truncated segment ends the process with a
//!   message naming the segment, not a bare crash;
//! - [`Error`] and [`exit`]: why a run ended, and the exit code it maps to
//!   (0 done, 1 error, 2 usage, 3 session retired, 4 integrity);
//! - [`pace`] and [`pin`]: paced sending, and pinning to a core.
//!
//! Unlike fabric, this crate installs process-wide state (signal handlers,
//! a thread): a library that moves frames must not do that behind its
//! user's back, a program that holds a role should. Its errors are typed
//! ([`Error`]); reports for people (color-eyre, hints naming command lines)
//! are the binaries' business (`forge-cli`).
#![deny(missing_docs, missing_debug_implementations)]

pub mod checks;
pub mod end;
mod error;
pub mod exit;
pub mod fault;
mod holder;
pub mod pace;
pub mod pin;
pub mod signals;
pub mod watch;

pub use checks::Halt;
pub use error::{run, Error};
pub use exit::Exit;
pub use holder::{open_segment, Holder, Side, Writes, INIT_WAIT};

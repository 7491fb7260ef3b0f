//! forge-holder: the duties of a well-behaved Forge role holder.
//!
//! [`forge_fabric`] is the transport: it hands out the one producer and the
//! one consumer of a segment and moves frames. Holding a role well takes
//! more, off the per-frame path, and this crate does it the same way for
//! forge-stream, forge-core, forge-record, forge-replay, forge-bridge,
//! forge-bench and programs of your own:
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
//! - [`end`] and [`exit`]: why a run ended, and the exit code it maps to
//!   (0 done, 1 error, 2 usage, 3 session retired, 4 integrity): a contract
//!   scripts and forge-top rely on;
//! - [`pace`] and [`pin`]: paced sending, and pinning to a core.
//!
//! Unlike fabric, this crate installs process-wide state (signal handlers,
//! a thread): a library that moves frames must not do that behind its
//! user's back, a program that holds a role should.
#![deny(missing_docs, missing_debug_implementations)]

pub mod checks;
pub mod end;
pub mod exit;
pub mod fault;
pub mod pace;
pub mod pin;
pub mod signals;
pub mod watch;

//! forge-ffi: the C ABI of Forge. `libforge_ffi.a` and `libforge_ffi.so`,
//! with the header `include/forge.h` that cbindgen generates from this
//! crate (checked in; `tests/header.rs` fails when it drifts). The guide
//! for C programmers is `docs/c.md`; `examples/c/` has a producer and a
//! consumer.
//!
//! ```text
//!  ffi/src/
//!    status    ForgeStatus codes, the last failure's message, the guard
//!              that stops every panic at the boundary
//!    args      pointer arguments: NULL-checked, strings UTF-8-checked
//!    segment   ForgeSegment: create, open, open or create, replace, unlink
//!    ring      ForgeProducer, ForgeConsumer: push, claim/commit,
//!              read/release, copy out, wait, checks
//!    holder    ForgeHolder: a role held with a holder's duties, and the
//!              exit-code contract
//!    observer  ForgeObserver: a read-only snapshot of a segment's header
//!    frame     Forge's telemetry frame: encode, write a header, check
//! ```
//!
//! # The contract every function keeps
//!
//! - Each returns a [`ForgeStatus`] (a few return a value that cannot
//!   fail). On failure, [`forge_last_error_message`] says what was
//!   expected and what was found, and an output handle is set to NULL.
//! - Every pointer argument is checked: NULL gives
//!   `FORGE_STATUS_NULL_ARGUMENT` (the `*_drop` functions accept NULL), never
//!   a crash. A non-NULL pointer must be valid for its type (strings
//!   NUL-terminated, buffers as long as their length says, handles from
//!   this library and not yet dropped): that, C cannot let us check.
//! - No Rust panic crosses the boundary: every body runs under
//!   `catch_unwind`, and a panic (a bug here) returns `FORGE_STATUS_PANIC`.
//! - A handle is used by one thread at a time; it may move between
//!   threads. `forge_holder_stop` is the one call another thread may make.
//!
//! The functions are `unsafe` in Rust for that contract, stated here once
//! rather than in a `# Safety` section on each.
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![allow(clippy::missing_safety_doc)]

// cbindgen writes the header in this order (one group per module, so
// rustfmt keeps it): errors, segments, the ring, the holder, the observer,
// frames.
pub mod status;

mod args;

pub mod segment;

pub mod ring;

pub mod holder;

pub mod observer;

pub mod frame;

use std::ffi::c_char;

pub use frame::*;
pub use holder::*;
pub use observer::*;
pub use ring::*;
pub use segment::*;
pub use status::ForgeStatus;

/// The message of the last call on this thread that failed: what was
/// expected and what was found. "" when none has. Valid until the next
/// failing call on this thread; copy it to keep it. `FORGE_STATUS_FULL`
/// and `FORGE_STATUS_EMPTY` are answers, not failures, and leave it alone.
#[no_mangle]
pub extern "C" fn forge_last_error_message() -> *const c_char {
    status::value(c"".as_ptr(), status::last_message)
}

/// What a status code means, in a short phrase (a static string). Unknown
/// codes give "unknown status".
#[no_mangle]
pub extern "C" fn forge_status_message(status: i32) -> *const c_char {
    status::value(c"unknown status".as_ptr(), || {
        ForgeStatus::from_code(status).map_or(c"unknown status".as_ptr(), |s| s.message().as_ptr())
    })
}

//! The read-only observer: a segment mapped `PROT_READ`, and a snapshot of
//! its header (indices, session, state, both sides' lines) copied out at
//! one moment.

use std::ffi::c_char;
use std::time::Duration;

use forge_fabric::clock::monotonic_ns;
use forge_fabric::observe::{Liveness, SideSnapshot};
use forge_fabric::{Observer, SegmentState};

use crate::args::{self, millis};
use crate::ring::ForgeWaitStrategy;
use crate::status::{call, value, ForgeStatus};

/// A segment mapped read-only, for inspectors: it cannot write, holds no
/// role, and survives the segment being retired, unlinked or truncated
/// under it (a snapshot then fails instead of faulting). Opaque; drop it
/// with `forge_observer_drop`.
#[derive(Debug)]
pub struct ForgeObserver {
    observer: Observer,
}

/// The lifecycle state in a segment's header.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeSegmentState {
    /// `forge-init` is still writing it.
    Initializing = 0,
    /// Ready: programs may take its roles.
    Live = 1,
    /// Replaced: `successor_session` names the new session.
    Retired = 2,
    /// A state this library does not know (another build, or damage).
    Unknown = 3,
}

/// Whether a role's holder lives, as the kernel's role lock and the
/// header's role line say together.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeLiveness {
    /// Nobody has taken the role since the segment was made.
    Vacant = 0,
    /// A live process holds the role (the kernel's lock says so, whatever
    /// the pid says).
    Alive = 1,
    /// The holder released the role cleanly.
    Stopped = 2,
    /// The line says a holder is active, and nobody holds the lock: it died
    /// without releasing the role (SIGKILL, a crash).
    Dead = 3,
    /// The kernel would not say who holds the lock, or the role's state
    /// word holds a value this build does not know.
    Unknown = 4,
}

/// One side's line of the header, copied out.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ForgeSideSnapshot {
    /// Whether its holder lives.
    pub liveness: ForgeLiveness,
    /// The holder's pid as its line says (in its own pid namespace); 0 when
    /// vacant or released.
    pub pid: u32,
    /// The holder's program name (NUL-terminated, printable ASCII; any
    /// other byte shows as `?`).
    pub program: [c_char; 17],
    /// The session the holder attached to.
    pub session: u64,
    /// `head` (producer) or `tail` (consumer) as this line says.
    pub index: u64,
    /// Frames committed (producer) or released (consumer).
    pub messages: u64,
    /// Payload bytes committed or released.
    pub bytes: u64,
    /// Times the ring was found full (producer) or empty (consumer).
    pub backpressure: u64,
    /// How it waits (`ForgeWaitStrategy`; an unknown code reads as spin).
    pub wait: ForgeWaitStrategy,
    /// Asleep on its futex right now.
    pub sleeping: bool,
    /// The core it says it pinned itself to; -1 when none.
    pub core: i32,
    /// CLOCK_MONOTONIC ns of its last heartbeat; 0 if it never beat.
    pub heartbeat_ns: u64,
    /// How long ago it beat when the snapshot was taken, ns; `UINT64_MAX`
    /// if it never beat.
    pub heartbeat_age_ns: u64,
}

/// A segment's header copied out at one moment (`forge_observer_snapshot`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ForgeSnapshot {
    /// The session the header says.
    pub session: u64,
    /// Its lifecycle state.
    pub state: ForgeSegmentState,
    /// When retired, the session that replaced it; else 0.
    pub successor_session: u64,
    /// Number of slots.
    pub slot_count: u32,
    /// Largest frame, in bytes, the slots hold.
    pub payload_capacity: u32,
    /// `head`: frames published by the producer, as far as the header
    /// says (it is stored every few frames: see `newest`).
    pub head: u64,
    /// `tail`: frames released by the consumer (read before `head`).
    pub tail: u64,
    /// Frames published and not yet released, as the indices say.
    pub in_flight: u64,
    /// Whether any frame was ever published (then `newest` is its position).
    pub has_newest: bool,
    /// The newest published frame's position (`head` may lag it by the
    /// producer's publish batch).
    pub newest: u64,
    /// How many problems the header shows (a foreign magic, impossible
    /// indices, a damaged slot…); 0 for a sound segment. forge-top names them.
    pub problems: u32,
    /// The producer's line.
    pub producer: ForgeSideSnapshot,
    /// The consumer's line.
    pub consumer: ForgeSideSnapshot,
    /// CLOCK_MONOTONIC ns when it was taken.
    pub taken_ns: u64,
}

/// Maps segment `name` read-only, waiting up to `init_wait_ms` while it
/// initializes. A retired segment is refused (`FORGE_STATUS_RETIRED`):
/// inspectors attach to the live one. On failure `*out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn forge_observer_open(
    name: *const c_char,
    init_wait_ms: u32,
    out: *mut *mut ForgeObserver,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (out, name) = unsafe {
            let out = args::out(out, "out")?;
            out.set(std::ptr::null_mut());
            (out, args::string(name, "name")?)
        };
        let observer = Observer::open(name, millis(init_wait_ms))?;
        out.set(Box::into_raw(Box::new(ForgeObserver { observer })));
        Ok(())
    })
}

/// Copies the header into `*snapshot`. `FORGE_STATUS_SEGMENT_LOST` when the
/// segment was truncated under the observer (it is of no further use).
#[no_mangle]
pub unsafe extern "C" fn forge_observer_snapshot(
    observer: *const ForgeObserver,
    snapshot: *mut ForgeSnapshot,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (o, out) = unsafe {
            (
                args::handle(observer, "observer")?,
                args::out(snapshot, "snapshot")?,
            )
        };
        let snap = o.observer.snapshot()?;
        let now = monotonic_ns().max(snap.taken_mono_ns);
        out.set(ForgeSnapshot {
            session: snap.identity.session_id,
            state: match snap.state().known() {
                Some(SegmentState::Initializing) => ForgeSegmentState::Initializing,
                Some(SegmentState::Live) => ForgeSegmentState::Live,
                Some(SegmentState::Retired) => ForgeSegmentState::Retired,
                None => ForgeSegmentState::Unknown,
            },
            successor_session: snap.identity.successor_session,
            slot_count: snap.slot_count,
            payload_capacity: snap.identity.payload_capacity,
            head: snap.head,
            tail: snap.tail,
            in_flight: snap.in_flight(),
            has_newest: snap.newest.is_some(),
            newest: snap.newest.unwrap_or(0),
            problems: snap.problems().len().try_into().unwrap_or(u32::MAX),
            producer: side(&snap.producer, now),
            consumer: side(&snap.consumer, now),
            taken_ns: snap.taken_mono_ns,
        });
        Ok(())
    })
}

fn side(s: &SideSnapshot, now_ns: u64) -> ForgeSideSnapshot {
    // fabric's one liveness rule, as forge-top and forge-exporter apply
    // it; a C caller judges the heartbeat's age itself (`heartbeat_ns`), so
    // no age counts as stale here.
    let liveness = match s.liveness(now_ns, Duration::MAX) {
        Liveness::Running | Liveness::Stalled => ForgeLiveness::Alive,
        Liveness::Vacant => ForgeLiveness::Vacant,
        Liveness::Stopped => ForgeLiveness::Stopped,
        Liveness::Dead => ForgeLiveness::Dead,
        Liveness::Unknown => ForgeLiveness::Unknown,
    };
    let mut program: [c_char; 17] = [0; 17];
    for (dst, src) in program.iter_mut().zip(s.program.bytes().take(16)) {
        *dst = src as c_char;
    }
    ForgeSideSnapshot {
        liveness,
        pid: s.pid,
        program,
        session: s.session,
        index: s.index,
        messages: s.messages,
        bytes: s.bytes,
        backpressure: s.backpressure,
        wait: s
            .wait_strategy
            .known()
            .map_or(ForgeWaitStrategy::Spin, Into::into),
        sleeping: s.sleeping,
        core: s.core.and_then(|c| i32::try_from(c).ok()).unwrap_or(-1),
        heartbeat_ns: s.heartbeat_ns,
        heartbeat_age_ns: s
            .heartbeat_age(now_ns)
            .map_or(u64::MAX, |d| d.as_nanos().try_into().unwrap_or(u64::MAX)),
    }
}

/// Unmaps the segment and frees the handle. NULL is allowed.
#[no_mangle]
pub unsafe extern "C" fn forge_observer_drop(observer: *mut ForgeObserver) {
    // SAFETY: a handle from this library, not yet dropped (the contract).
    value((), || unsafe { args::drop_handle(observer) })
}

//! A role held as every Forge program holds it (forge-holder's `Holder`):
//! the signals that stop it, the watch thread, the SIGBUS guard, the checks
//! off the per-frame path and the heartbeat, and the exit-code contract.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_void};

use forge_fabric::clock::monotonic_ns;
use forge_fabric::{Consumer, Producer};
use forge_holder::signals::Control;
use forge_holder::Holder;

use crate::args;
use crate::ring::{self, ForgeClaim, ForgeEndpointInfo, ForgeFrame, ForgeWriteSlot};
use crate::status::{call, end_report, value, Failure, ForgeStatus};

/// One side of a ring held as every Forge program holds it. Making one
/// turns SIGINT, SIGTERM and SIGHUP into a stop the blocking calls return
/// as `FORGE_STATUS_STOPPED`, opens the segment (waiting up to 2 s while it
/// initializes), installs the SIGBUS guard for its mapping, starts the
/// thread that notices the segment unlinked, replaced or truncated, and
/// takes the role. Its blocking calls do the checks as they wait or every
/// 4096 frames: a stop, a retired session, damage, a lost segment, the
/// heartbeat. Opaque; dropping it (`forge_holder_drop`) releases the role.
pub struct ForgeHolder {
    /// The stop flag: the one part another thread may touch
    /// (`forge_holder_stop`).
    control: Control,
    /// The rest, used by one thread at a time (the contract, lib.rs).
    inner: UnsafeCell<Inner>,
}

impl std::fmt::Debug for ForgeHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForgeHolder")
            .field("stop_requested", &self.control.stop_requested())
            .finish_non_exhaustive()
    }
}

struct Inner {
    side: Side,
    /// The slot claimed (producer) or the frame lent (consumer).
    pending: Option<u64>,
}

enum Side {
    Producer(Holder<Producer>),
    Consumer(Holder<Consumer>),
}

impl Inner {
    fn producer(&mut self) -> Result<(&mut Holder<Producer>, &mut Option<u64>), Failure> {
        match &mut self.side {
            Side::Producer(h) => Ok((h, &mut self.pending)),
            Side::Consumer(_) => Err(Failure::wrong_state(
                "this holder holds the consumer role: writing is the producer's",
            )),
        }
    }

    fn consumer(&mut self) -> Result<(&mut Holder<Consumer>, &mut Option<u64>), Failure> {
        match &mut self.side {
            Side::Consumer(h) => Ok((h, &mut self.pending)),
            Side::Producer(_) => Err(Failure::wrong_state(
                "this holder holds the producer role: reading is the consumer's",
            )),
        }
    }
}

/// The holder's state, for the call on the one thread using it.
///
/// # Safety
///
/// `p` is NULL or a live holder from this library that no other thread
/// uses meanwhile (but for `forge_holder_stop`).
unsafe fn inner<'a>(p: *mut ForgeHolder) -> Result<&'a mut Inner, Failure> {
    // SAFETY: NULL or a live holder (the caller's promise).
    let h = unsafe { args::handle(p.cast_const(), "holder")? };
    // SAFETY: one thread at a time uses a holder's state (the contract),
    // and this call makes the only reference to it; the stop flag another
    // thread may read lies outside the cell.
    Ok(unsafe { &mut *h.inner.get() })
}

/// Makes a holder of the role `make` takes.
///
/// # Safety
///
/// As the entry points: NULL or valid pointers.
unsafe fn new(
    name: *const c_char,
    claim: *const ForgeClaim,
    out: *mut *mut ForgeHolder,
    make: impl FnOnce(&str, &forge_fabric::Claim) -> Result<Side, forge_holder::Error>,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the caller's promise: NULL or valid pointers.
        let (out, name, claim) = unsafe {
            let out = args::out(out, "out")?;
            out.set(std::ptr::null_mut());
            (out, args::string(name, "name")?, ring::claim(claim)?)
        };
        let side = make(name, &claim)?;
        let control = match &side {
            Side::Producer(h) => h.control().clone(),
            Side::Consumer(h) => h.control().clone(),
        };
        out.set(Box::into_raw(Box::new(ForgeHolder {
            control,
            inner: UnsafeCell::new(Inner {
                side,
                pending: None,
            }),
        })));
        Ok(())
    })
}

/// Holds the producer role of segment `name` as `claim` says (NULL: the
/// default claim), doing a holder's duties (see `ForgeHolder`). The segment
/// must exist (`forge-init`, or `forge_segment_create`). On failure `*out`
/// is NULL and `forge_holder_exit_code` gives the exit code.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_producer_new(
    name: *const c_char,
    claim: *const ForgeClaim,
    out: *mut *mut ForgeHolder,
) -> ForgeStatus {
    // SAFETY: the contract (lib.rs): NULL or valid pointers.
    unsafe {
        new(name, claim, out, |name, claim| {
            Holder::producer(name, claim).map(Side::Producer)
        })
    }
}

/// Holds the consumer role of segment `name` as `claim` says (NULL: the
/// default claim), doing a holder's duties (see `ForgeHolder`). Reading
/// starts at the segment's tail. On failure `*out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_consumer_new(
    name: *const c_char,
    claim: *const ForgeClaim,
    out: *mut *mut ForgeHolder,
) -> ForgeStatus {
    // SAFETY: the contract (lib.rs): NULL or valid pointers.
    unsafe {
        new(name, claim, out, |name, claim| {
            Holder::consumer(name, claim).map(Side::Consumer)
        })
    }
}

/// Copies `len` bytes at `data` into the next slot and publishes them as a
/// frame, waiting while the ring is full; `*position` (if not NULL) is its
/// ring position. Does the holder's duties as it goes: a stop
/// (`FORGE_STATUS_STOPPED`), a retired session
/// (`FORGE_STATUS_SESSION_RETIRED`), damage (`FORGE_STATUS_CORRUPT`) or a
/// lost segment (`FORGE_STATUS_SEGMENT_LOST`) ends the wait.
/// `FORGE_STATUS_TOO_LARGE` when `len` is more than a slot holds. Producer
/// holders only.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_write(
    holder: *mut ForgeHolder,
    data: *const c_void,
    len: usize,
    position: *mut u64,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (h, data, position) = unsafe {
            (
                inner(holder)?,
                args::bytes(data, len, "data")?,
                args::out_opt(position),
            )
        };
        let (h, claimed) = h.producer()?;
        *claimed = None;
        let at = h.write_from(data)?;
        if let Some(position) = position {
            position.set(at);
        }
        Ok(())
    })
}

/// Lends the next free slot in `*slot`, waiting while the ring is full and
/// doing the holder's duties as `forge_holder_write` does; write the frame
/// into `slot->data`, then publish it with `forge_holder_commit`. The
/// frame's sequence number is `slot->position`. Producer holders only.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_claim(
    holder: *mut ForgeHolder,
    slot: *mut ForgeWriteSlot,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (h, slot) = unsafe { (inner(holder)?, args::out(slot, "slot")?) };
        let (h, claimed) = h.producer()?;
        h.tick()?;
        loop {
            if let Some(lent) = ring::lend_slot(h.side(), claimed) {
                slot.set(lent);
                return Ok(());
            }
            h.wait()?;
        }
    })
}

/// Publishes the claimed slot's first `len` bytes as a frame with the
/// application's `flags` (bits 1 to 15; 0 for none); `*position` (if not
/// NULL) is its ring position. `FORGE_STATUS_WRONG_STATE` with no slot
/// claimed. Producer holders only.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_commit(
    holder: *mut ForgeHolder,
    len: usize,
    flags: u16,
    position: *mut u64,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (h, position) = unsafe { (inner(holder)?, args::out_opt(position)) };
        let (h, claimed) = h.producer()?;
        let at = ring::commit(h.side(), claimed, len, flags)?;
        if let Some(position) = position {
            position.set(at);
        }
        Ok(())
    })
}

/// Lends the oldest unread frame in `*frame`, in place, waiting until one
/// comes (with the claim's wait strategy) and doing the holder's duties as
/// it goes: a stop (`FORGE_STATUS_STOPPED`), a retired session, damage or a
/// lost segment (once what was committed before the loss is read) ends the
/// wait. Release it with `forge_holder_release`. Consumer holders only.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_read(
    holder: *mut ForgeHolder,
    frame: *mut ForgeFrame,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (h, frame) = unsafe { (inner(holder)?, args::out(frame, "frame")?) };
        let (h, lent) = h.consumer()?;
        let slot = h.read()?;
        let f = ring::frame_of(&slot);
        // Unreleased, the frame stays in place for `forge_holder_release`.
        drop(slot);
        *lent = Some(f.position);
        frame.set(f);
        Ok(())
    })
}

/// Releases the frame read last: its slot goes back to the producer, and
/// its bytes must no longer be used. `FORGE_STATUS_WRONG_STATE` when no
/// frame is lent. Consumer holders only.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_release(holder: *mut ForgeHolder) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a valid handle.
        let h = unsafe { inner(holder)? };
        let (h, lent) = h.consumer()?;
        ring::release(h.side(), lent)
    })
}

/// Waits at most one short slice (5 ms) for room (producer) or a frame
/// (consumer), with the claim's wait strategy, and does the duties that
/// are due: for a loop that does other work between frames, with the
/// non-blocking calls. `FORGE_STATUS_OK` when there is room or a frame,
/// `FORGE_STATUS_FULL` or `FORGE_STATUS_EMPTY` when not yet, or why the run
/// must end.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_wait(holder: *mut ForgeHolder) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a valid handle.
        let h = unsafe { inner(holder)? };
        let (ready, none) = match &mut h.side {
            Side::Producer(h) => (h.wait()?, ForgeStatus::Full),
            Side::Consumer(h) => (h.wait()?, ForgeStatus::Empty),
        };
        Failure::unless(ready, none)
    })
}

/// Does the holder's checks now: a stop asked for, the session, the
/// other side's index (producer) or a stuck slot (consumer), the watch
/// thread's verdict, then the heartbeat. The blocking calls do this by
/// themselves; a program that polls with `forge_holder_wait` need not.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_check(holder: *mut ForgeHolder) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a valid handle.
        let h = unsafe { inner(holder)? };
        let now = monotonic_ns();
        match &mut h.side {
            Side::Producer(h) => h.check(now)?,
            Side::Consumer(h) => h.check(now)?,
        }
        Ok(())
    })
}

/// Asks the holder to stop, as SIGTERM would: its next blocking call or
/// check returns `FORGE_STATUS_STOPPED`. The one call another thread may
/// make while the holder's own thread uses it (the stop is a flag).
#[no_mangle]
pub unsafe extern "C" fn forge_holder_stop(holder: *const ForgeHolder) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a live holder. Only the
        // stop flag, outside the holder's cell, is read through this
        // shared reference.
        let h = unsafe { args::handle(holder, "holder")? };
        h.control.request_stop();
        Ok(())
    })
}

/// Tells what the holder holds: its role, position, the ring's geometry,
/// its session and wait strategy.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_info(
    holder: *const ForgeHolder,
    info: *mut ForgeEndpointInfo,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (h, info) = unsafe { (inner(holder.cast_mut())?, args::out(info, "info")?) };
        info.set(match &h.side {
            Side::Producer(h) => ring::producer_info(h),
            Side::Consumer(h) => ring::consumer_info(h),
        });
        Ok(())
    })
}

/// Releases the role (inspectors see it stopped) and frees the handle.
/// NULL is allowed. The signal handlers stay: a later SIGTERM is only a
/// flag nobody reads.
#[no_mangle]
pub unsafe extern "C" fn forge_holder_drop(holder: *mut ForgeHolder) {
    // SAFETY: a handle from this library, not yet dropped (the contract).
    value((), || unsafe { args::drop_handle(holder) })
}

/// The exit code Forge's contract gives a program whose run ended with
/// `status` (forge-stream, forge-core and every holder end this way): 0
/// for `FORGE_STATUS_OK` and `FORGE_STATUS_STOPPED`, 3 for
/// `FORGE_STATUS_SESSION_RETIRED` (the segment was replaced under it), 4
/// for damage and failed frame checks (`FORGE_STATUS_CORRUPT`,
/// `FORGE_STATUS_FRAME_*`), 1 for every other code, unknown ones included.
#[no_mangle]
pub extern "C" fn forge_holder_exit_code(status: i32) -> i32 {
    value(1, || {
        ForgeStatus::from_code(status).map_or(1, |s| i32::from(s.exit_code()))
    })
}

/// Ends a run as forge-stream and forge-core do: says why on stderr
/// (`PROGRAM: stopping: …` for a retired session, damage or a lost
/// segment, `PROGRAM: error: …` for the rest, with the last failure's
/// message; nothing for `FORGE_STATUS_OK` and `FORGE_STATUS_STOPPED`) and
/// returns the exit code (`forge_holder_exit_code`), for `main` to return.
/// `program` NULL says "forge".
#[no_mangle]
pub unsafe extern "C" fn forge_holder_finish(program: *const c_char, status: i32) -> i32 {
    value(1, || {
        // SAFETY: the contract (lib.rs): NULL or a NUL-terminated string.
        let program = unsafe { args::string(program, "program") }.unwrap_or("forge");
        // A closed stderr must not change the exit code: nothing to say
        // it on, and nothing to panic about.
        let say = |line: String| {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{program}: {line}");
        };
        let Some(known) = ForgeStatus::from_code(status) else {
            say(format!("error: status {status} is not a ForgeStatus"));
            return 1;
        };
        if let Some(report) = end_report(known) {
            say(report);
        }
        i32::from(known.exit_code())
    })
}

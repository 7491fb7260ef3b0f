//! Segments: create, open, open or create, replace (retiring what was
//! there), unlink.

use std::ffi::c_char;

use forge_fabric::{CreateOptions, LiveHolders, Obtained, Replaced, Segment};

use crate::args::{self, millis};
use crate::status::{call, value, ForgeStatus};

/// A segment mapped read-write: what creates, opens and retires segments,
/// and hands out the ring's two ends (`forge_producer_new`,
/// `forge_consumer_new`). Opaque; drop it with `forge_segment_drop`. The
/// producer and consumer taken from it keep the mapping alive on their own.
#[derive(Debug)]
pub struct ForgeSegment {
    pub(crate) segment: Segment,
}

/// How to make a segment. Start from `forge_create_options_default()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ForgeCreateOptions {
    /// Number of slots: a power of two from 2 to 2^20 (default 512).
    pub slot_count: u32,
    /// Payload bytes per slot, the largest frame the ring carries: a
    /// multiple of 8 from 8 to 4096 (default 4096).
    pub payload_capacity: u32,
    /// Permission bits of the new object (default 0600).
    pub mode: u32,
}

/// What a segment is, as `forge_segment_info` tells it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ForgeSegmentInfo {
    /// The session: non-zero, unique to this initialization.
    pub session: u64,
    /// Number of slots.
    pub slot_count: u32,
    /// Largest frame, in bytes, the slots hold.
    pub payload_capacity: u32,
    /// Bytes mapped: the segment's size.
    pub size: u64,
    /// The header's layout version (fabric/LAYOUT.md).
    pub layout_version: u32,
}

/// The default options: 512 slots of 4096 bytes, mode 0600.
#[no_mangle]
pub extern "C" fn forge_create_options_default() -> ForgeCreateOptions {
    value(
        ForgeCreateOptions {
            slot_count: 0,
            payload_capacity: 0,
            mode: 0,
        },
        || {
            let d = CreateOptions::default();
            ForgeCreateOptions {
                slot_count: d.slot_count,
                payload_capacity: d.payload_capacity as u32,
                mode: d.mode,
            }
        },
    )
}

/// The options `p` points to, or the defaults for NULL.
///
/// # Safety
///
/// `p` is NULL or points to a `ForgeCreateOptions`.
unsafe fn options(p: *const ForgeCreateOptions) -> CreateOptions {
    // SAFETY: NULL or a valid ForgeCreateOptions (the caller's promise);
    // every bit pattern of its three u32 is a value.
    match unsafe { p.as_ref() } {
        None => CreateOptions::default(),
        Some(o) => CreateOptions {
            slot_count: o.slot_count,
            payload_capacity: o.payload_capacity as usize,
            mode: o.mode,
        },
    }
}

fn boxed(segment: Segment) -> *mut ForgeSegment {
    Box::into_raw(Box::new(ForgeSegment { segment }))
}

/// Creates a fresh, zeroed segment with a new session at `name` (like
/// `/my_ring`: one leading `/`, no other, at most 250 bytes, not ending in `.roles`). `options`
/// NULL takes the defaults. The name must be free: `FORGE_STATUS_EXISTS` if
/// anything is there (creating never replaces; see `forge_segment_replace`).
/// On success `*out` is the new handle; on failure it is NULL.
#[no_mangle]
pub unsafe extern "C" fn forge_segment_create(
    name: *const c_char,
    options: *const ForgeCreateOptions,
    out: *mut *mut ForgeSegment,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (out, name, opts) = unsafe {
            let out = args::out(out, "out")?;
            out.set(std::ptr::null_mut());
            (out, args::string(name, "name")?, self::options(options))
        };
        out.set(boxed(Segment::create(name, &opts)?));
        Ok(())
    })
}

/// Opens the live segment at `name`, waiting up to `init_wait_ms` while it
/// is still being initialized. `FORGE_STATUS_MISSING` when nothing is
/// there, `FORGE_STATUS_RETIRED` when it was replaced,
/// `FORGE_STATUS_NOT_A_SEGMENT` when it is not a Forge segment this library
/// reads. On failure `*out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn forge_segment_open(
    name: *const c_char,
    init_wait_ms: u32,
    out: *mut *mut ForgeSegment,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (out, name) = unsafe {
            let out = args::out(out, "out")?;
            out.set(std::ptr::null_mut());
            (out, args::string(name, "name")?)
        };
        out.set(boxed(Segment::open(name, millis(init_wait_ms))?));
        Ok(())
    })
}

/// Opens the live segment at `name` (waiting up to `init_wait_ms` while it
/// initializes), or creates it with `options` (NULL: the defaults) when
/// nothing is there. An existing segment with other slots than `options`
/// asks for is refused (`FORGE_STATUS_MISMATCH`), never replaced.
/// `*created` (if not NULL) says whether this call made it.
#[no_mangle]
pub unsafe extern "C" fn forge_segment_open_or_create(
    name: *const c_char,
    options: *const ForgeCreateOptions,
    init_wait_ms: u32,
    out: *mut *mut ForgeSegment,
    created: *mut bool,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (out, created, name, opts) = unsafe {
            let out = args::out(out, "out")?;
            out.set(std::ptr::null_mut());
            let created = args::out_opt(created);
            (
                out,
                created,
                args::string(name, "name")?,
                self::options(options),
            )
        };
        let (segment, how) = Segment::open_or_create(name, &opts, millis(init_wait_ms))?;
        if let Some(created) = created {
            created.set(how == Obtained::Created);
        }
        out.set(boxed(segment));
        Ok(())
    })
}

/// Creates a fresh segment at `name`, replacing what is there, as
/// `forge-init` does: a segment found there is first *retired* in place
/// (its holders see their session retired at their next check and stop
/// with exit code 3), then unlinked, never truncated. With
/// `retire_live_holders` false, a segment a live process holds a role of is
/// left alone (`FORGE_STATUS_ACTIVE`), and so is anything that is not a
/// usable segment (`FORGE_STATUS_NOT_A_SEGMENT`); true replaces both
/// (`forge-init --force`). `*retired_session` (if not NULL) is the session
/// retired, 0 when none was.
#[no_mangle]
pub unsafe extern "C" fn forge_segment_replace(
    name: *const c_char,
    options: *const ForgeCreateOptions,
    retire_live_holders: bool,
    out: *mut *mut ForgeSegment,
    retired_session: *mut u64,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (out, retired, name, opts) = unsafe {
            let out = args::out(out, "out")?;
            out.set(std::ptr::null_mut());
            let retired = args::out_opt(retired_session);
            (
                out,
                retired,
                args::string(name, "name")?,
                self::options(options),
            )
        };
        let live = if retire_live_holders {
            LiveHolders::Retire
        } else {
            LiveHolders::Refuse
        };
        let (segment, replaced) = Segment::replace(name, &opts, live)?;
        if let Some(retired) = retired {
            retired.set(match replaced {
                Replaced::Session(session) => session,
                Replaced::Nothing | Replaced::Foreign(_) => 0,
            });
        }
        out.set(boxed(segment));
        Ok(())
    })
}

/// Tells what `segment` is: its session and geometry.
#[no_mangle]
pub unsafe extern "C" fn forge_segment_info(
    segment: *const ForgeSegment,
    info: *mut ForgeSegmentInfo,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (segment, info) = unsafe {
            (
                &args::handle(segment, "segment")?.segment,
                args::out(info, "info")?,
            )
        };
        info.set(ForgeSegmentInfo {
            session: segment.session_id(),
            slot_count: segment.slot_count(),
            payload_capacity: segment.payload_capacity() as u32,
            size: segment.size(),
            layout_version: segment.layout_version(),
        });
        Ok(())
    })
}

/// Removes `segment`'s name (`shm_unlink`). Processes that map it keep
/// their mapping; their holders notice within 100 ms and stop
/// (`FORGE_STATUS_SEGMENT_LOST`, exit code 1) once they have read what was
/// committed. To replace a segment, retire it instead
/// (`forge_segment_replace`).
#[no_mangle]
pub unsafe extern "C" fn forge_segment_unlink(segment: *const ForgeSegment) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a valid handle.
        let segment = unsafe { &args::handle(segment, "segment")?.segment };
        segment.unlink()?;
        Ok(())
    })
}

/// Removes the segment called `name` (`shm_unlink`), as
/// `forge_segment_unlink` does, without opening it.
#[no_mangle]
pub unsafe extern "C" fn forge_unlink(name: *const c_char) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a NUL-terminated string.
        let name = unsafe { args::string(name, "name")? };
        forge_fabric::segment::unlink(name)?;
        Ok(())
    })
}

/// Unmaps the segment and frees the handle. NULL is allowed. The segment
/// itself stays at its name, and a producer or consumer taken from it
/// stays usable.
#[no_mangle]
pub unsafe extern "C" fn forge_segment_drop(segment: *mut ForgeSegment) {
    // SAFETY: a handle from this library, not yet dropped (the contract).
    value((), || unsafe { args::drop_handle(segment) })
}

impl ForgeSegment {
    /// For the ring's ends: the segment inside.
    pub(crate) fn get(&self) -> &Segment {
        &self.segment
    }
}

//! Arguments from C: every pointer checked for NULL before use, strings
//! checked for UTF-8, outputs written through raw pointers (never a
//! reference into memory C may not have initialized).

use std::ffi::{c_char, c_void, CStr};
use std::ptr::NonNull;
use std::time::Duration;

use crate::status::Failure;

/// A handle the caller passed: `p` is NULL or what this library returned
/// and has not dropped (the crate's contract).
///
/// # Safety
///
/// `p` is NULL or valid for reads as a `T` for `'a`, with no `&mut` to it.
pub(crate) unsafe fn handle<'a, T>(p: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller promises NULL or a valid, unaliased-for-writes `T`.
    unsafe { p.as_ref() }.ok_or_else(|| Failure::null(what))
}

/// A handle the caller passed, to change.
///
/// # Safety
///
/// `p` is NULL or valid for reads and writes as a `T` for `'a`, and nothing
/// else uses it meanwhile (one thread per handle at a time).
pub(crate) unsafe fn handle_mut<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller promises NULL or a valid `T` used by this call alone.
    unsafe { p.as_mut() }.ok_or_else(|| Failure::null(what))
}

/// Where to write a result.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Writes `value` over what is there (which is not read nor dropped:
    /// C's memory may be uninitialized, and the output types own nothing).
    pub(crate) fn set(&self, value: T) {
        // SAFETY: `Out::new`'s caller promised the pointer valid for writes
        // of a `T` for the call; `write` neither reads nor drops the old value.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// An output pointer the caller passed.
///
/// # Safety
///
/// `p` is NULL or valid for writes of a `T` (aligned) for the call.
pub(crate) unsafe fn out<T>(p: *mut T, what: &str) -> Result<Out<T>, Failure> {
    NonNull::new(p).map(Out).ok_or_else(|| Failure::null(what))
}

/// An optional output pointer: NULL means "not wanted".
///
/// # Safety
///
/// As [`out`].
pub(crate) unsafe fn out_opt<T>(p: *mut T) -> Option<Out<T>> {
    NonNull::new(p).map(Out)
}

/// A NUL-terminated UTF-8 string the caller passed.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string alive for `'a`.
pub(crate) unsafe fn string<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|e| {
        Failure::invalid(format!(
            "{what} is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// `len` bytes at `p`; NULL is allowed when `len` is 0.
///
/// # Safety
///
/// `p` is NULL or valid for reads of `len` bytes for `'a`, which nothing
/// writes meanwhile.
pub(crate) unsafe fn bytes<'a>(
    p: *const c_void,
    len: usize,
    what: &str,
) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::null(what));
    }
    check_len(len, what)?;
    // SAFETY: non-NULL, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// `len` writable bytes at `p`; NULL is allowed when `len` is 0.
///
/// # Safety
///
/// `p` is NULL or valid for reads and writes of `len` bytes for `'a`,
/// which nothing else uses meanwhile.
pub(crate) unsafe fn bytes_mut<'a>(
    p: *mut c_void,
    len: usize,
    what: &str,
) -> Result<&'a mut [u8], Failure> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Failure::null(what));
    }
    check_len(len, what)?;
    // SAFETY: non-NULL, and the caller promises `len` bytes it lends us
    // alone for the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) })
}

/// A length no object can have is a caller's mistake (a negative `ssize_t`
/// passed as `size_t`), not memory to touch.
fn check_len(len: usize, what: &str) -> Result<(), Failure> {
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!(
            "{what}'s length {len} is larger than any object can be"
        )));
    }
    Ok(())
}

/// A wait in milliseconds.
pub(crate) fn millis(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}

/// Drops a handle this library made with `Box::into_raw`; NULL does
/// nothing (every `forge_*_drop`).
///
/// # Safety
///
/// `handle` is NULL, or a pointer this library returned for a `T` and that
/// was not dropped yet.
pub(crate) unsafe fn drop_handle<T>(handle: *mut T) {
    if !handle.is_null() {
        // SAFETY: made by Box::into_raw and not dropped yet (the caller's
        // promise above).
        drop(unsafe { Box::from_raw(handle) });
    }
}

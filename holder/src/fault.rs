//! The daemons' one unsafe spot: signal dispositions that signal-hook does
//! not express, for faults that must end a daemon with a clear message.
//!
//! - [`report_sigbus`]: a segment truncated under a daemon makes its next
//!   touch of the lost pages raise SIGBUS. The handler writes one line naming
//!   the segment and the offset with `write(2)` and leaves with `_exit(1)`;
//!   nothing else runs in signal context (no allocation, no lock, no
//!   formatting machinery: the digits are written by hand into a stack
//!   buffer). A SIGBUS outside the segment's mapping is reported too, then
//!   the default action runs (the process dies by SIGBUS, as without us).
//! - [`ignore_sigxfsz`]: under a file-size limit (`ulimit -f`, `prlimit
//!   --fsize`), growing the new segment raises SIGXFSZ, which by default
//!   kills forge-init before it can remove the partial object. Ignored, the
//!   same call fails with `EFBIG` and fabric unlinks the object.
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::OnceLock;

use forge_fabric::Segment;

/// Where the segment is mapped, for the handler (0, 0 until installed).
static START: AtomicUsize = AtomicUsize::new(0);
static LEN: AtomicUsize = AtomicUsize::new(0);
/// The segment's open descriptor, to tell a truncation (the file shrank)
/// from a page the system could not provide (tmpfs full): -1 if unknown.
static FD: AtomicI32 = AtomicI32::new(-1);
/// "forge-stream" and "/forge_shm", fixed before the handler is installed.
static PROGRAM: OnceLock<Box<str>> = OnceLock::new();
static SEGMENT: OnceLock<Box<str>> = OnceLock::new();

/// Installs the SIGBUS reporter for `segment`'s mapping. Call it once, after
/// opening the segment and before the first frame. ([`crate::Holder::take`]
/// installs it.)
///
/// # Examples
///
/// ```
/// use forge_fabric::{CreateOptions, Segment};
///
/// let name = format!("/forge_doc_sigbus_{}", std::process::id());
/// let segment = Segment::create(&name, &CreateOptions::default())?;
/// // From here, a truncation of the segment under this process ends it with
/// // "my-daemon: error: /forge_doc_sigbus_…: was truncated under us …",
/// // exit 1, instead of a bare crash.
/// forge_holder::fault::report_sigbus("my-daemon", &segment)?;
/// segment.unlink()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn report_sigbus(program: &str, segment: &Segment) -> std::io::Result<()> {
    let _ = PROGRAM.set(program.into());
    let _ = SEGMENT.set(segment.name().into());
    let (start, len) = segment.mapped_range();
    // SYNC: ordered before the Release store of LEN below, which `on_sigbus` pairs with.
    START.store(start, Ordering::Relaxed);
    // SYNC: as START. The descriptor lives as long as the segment, which the
    // daemon keeps until it exits.
    FD.store(segment.as_raw_fd(), Ordering::Relaxed);
    // SYNC: pairs with the Acquire load of LEN in `on_sigbus`.
    LEN.store(len, Ordering::Release);
    // SAFETY: an all-zero sigaction is a valid value to fill in.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigbus as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `sa_mask` is a valid sigset_t to empty; `on_sigbus` only makes
    // async-signal-safe calls (write, sigaction, _exit) and has the
    // SA_SIGINFO signature.
    let rc = unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Makes a file-size limit an `EFBIG` error instead of a fatal SIGXFSZ.
pub fn ignore_sigxfsz() -> std::io::Result<()> {
    // SAFETY: SIG_IGN installs no code; no handler runs.
    let old = unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    if old == libc::SIG_ERR {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A message built in a fixed buffer, for signal context.
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Line {
    fn put(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn put_dec(&mut self, mut v: usize) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }

    fn put_hex(&mut self, v: usize) {
        let mut digits = [0u8; 16];
        for (i, d) in digits.iter_mut().enumerate() {
            *d = b"0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
        }
        self.put(b"0x");
        self.put(&digits);
    }

    fn write_stderr(&self) {
        // SAFETY: write(2) is async-signal-safe; the buffer is valid for len.
        let _ = unsafe { libc::write(2, self.buf.as_ptr().cast(), self.len) };
    }
}

/// The segment file's size now, from signal context (`fstat` is
/// async-signal-safe).
fn file_size() -> Option<u64> {
    // SYNC: ordered after the Acquire load of LEN in `on_sigbus`.
    let fd = FD.load(Ordering::Relaxed);
    if fd < 0 {
        return None;
    }
    // SAFETY: an all-zero stat is a valid value for fstat to fill in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes only into `st`; a stale descriptor fails cleanly.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(st.st_size as u64)
}

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    // SYNC: pairs with the Release store of LEN in `report_sigbus`.
    let len = LEN.load(Ordering::Acquire);
    // SYNC: ordered after the Acquire load of LEN above (pairs with `report_sigbus`).
    let start = START.load(Ordering::Relaxed);
    let program = PROGRAM.get().map_or("forge", |p| p);
    let segment = SEGMENT.get().map_or("the segment", |s| s);
    let mut line = Line {
        buf: [0; 512],
        len: 0,
    };
    line.put(program.as_bytes());
    if len != 0 && addr >= start && addr - start < len {
        line.put(b": error: ");
        line.put(segment.as_bytes());
        if file_size().is_some_and(|size| size >= len as u64) {
            line.put(b": SIGBUS at byte ");
            line.put_dec(addr - start);
            line.put(b" of its ");
            line.put_dec(len);
            line.put(b"-byte mapping, though the file still has its size: the system could not give that page memory (/dev/shm full, or a memory limit); exiting without touching it again\n");
        } else {
            line.put(b" was truncated under us (SIGBUS at byte ");
            line.put_dec(addr - start);
            line.put(b" of its ");
            line.put_dec(len);
            line.put(
                b"-byte mapping): the frames there are gone; exiting without touching it again\n",
            );
        }
        line.write_stderr();
        // SAFETY: _exit is async-signal-safe and does not return.
        unsafe { libc::_exit(1) };
    }
    line.put(b": fatal: SIGBUS at ");
    line.put_hex(addr);
    line.put(b", outside the segment's mapping\n");
    line.write_stderr();
    // Let the default action happen: returning re-runs the faulting access.
    // SAFETY: an all-zero sigaction is SIG_DFL; sigaction is
    // async-signal-safe.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut());
    }
}

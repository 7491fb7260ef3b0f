//! Turns a SIGBUS in an observer's mapping into a poisoned observer.
//!
//! Loads from a shared mapping whose file shrank under it raise SIGBUS.
//! Observers check the size before and after every sample, but the file
//! may shrink in between. So each observer registers its mapping here,
//! and the process-wide handler, for a fault inside a registered range:
//!
//! ```text
//!  load ──SIGBUS──▶ on_sigbus: addr in a registered range?
//!                     yes: mmap(MAP_FIXED | MAP_ANONYMOUS, PROT_READ) one
//!                          zero page over the faulting page, mark the
//!                          range faulted, return: the load re-runs, reads 0
//!                     no:  hand the signal on (the previous handler, or
//!                          the default action: the process dies as before)
//! ```
//!
//! The handler only loads atomics and calls `mmap` and `sigaction`, both
//! plain system calls, so it is async-signal-safe in practice on Linux.
//! It is installed once, on the first registration, and chains to
//! whatever handler was there before.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

/// Mappings that can be guarded at once; more observers than this go
/// unguarded (still protected by the size checks).
const SLOTS: usize = 64;
const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const ACTIVE: u8 = 2;

struct Range {
    state: AtomicU8,
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Range = Range {
    state: AtomicU8::new(FREE),
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};
static RANGES: [Range; SLOTS] = [EMPTY; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A registered mapping; unregistered on drop (before the unmapping).
#[derive(Debug)]
pub struct Registration(usize);

impl Registration {
    /// Did a load from this mapping fault?
    pub fn faulted(&self) -> bool {
        // SYNC: pairs with the Release store of faulted in `on_sigbus`.
        RANGES[self.0].faulted.load(Ordering::Acquire)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SYNC: pairs with the Acquire load of state in `on_sigbus`.
        RANGES[self.0].state.store(FREE, Ordering::Release);
    }
}

/// Guards `len` bytes from `start`. `None` if the handler could not be
/// installed or every slot is taken.
pub fn register(start: *const u8, len: usize) -> Option<Registration> {
    install();
    // SYNC: pairs with the Release store of INSTALLED in `install`.
    if !INSTALLED.load(Ordering::Acquire) {
        return None;
    }
    let i = RANGES.iter().position(|r| {
        // SYNC: pairs with the Release store of FREE in
        // `Registration::drop`: the previous user is done with the slot.
        r.state
            .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    })?;
    let r = &RANGES[i];
    r.start.store(start as usize, Ordering::Relaxed);
    r.len.store(len, Ordering::Relaxed);
    r.faulted.store(false, Ordering::Relaxed);
    // SYNC: pairs with the Acquire load of state in `on_sigbus`: the
    // handler sees start, len and faulted as written above.
    r.state.store(ACTIVE, Ordering::Release);
    Some(Registration(i))
}

/// Is the SIGBUS guard in place in this process?
pub fn installed() -> bool {
    // SYNC: pairs with the Release store of INSTALLED in `install`.
    INSTALLED.load(Ordering::Acquire)
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page > 0 {
            PAGE.store(page as usize, Ordering::Relaxed);
        }
        // SAFETY: an all-zero sigaction is a valid value to fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: a zeroed sigaction to receive the old disposition.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `action.sa_mask` is a valid sigset_t to empty.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // Read the old disposition first, so the handler can chain to it
        // from its first run.
        // SAFETY: a null new action only queries; `previous` is writable.
        if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) } != 0 {
            return;
        }
        let _ = PREVIOUS.set(previous);
        // SAFETY: `on_sigbus` is async-signal-safe (see the module doc)
        // and has the SA_SIGINFO signature.
        if unsafe { libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) } == 0 {
            // SYNC: pairs with the Acquire loads in `register` and
            // `installed`: PREVIOUS is set before the guard is in use.
            INSTALLED.store(true, Ordering::Release);
        }
    });
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Relaxed);
    for r in &RANGES {
        // SYNC: pairs with the Release stores of state in `register`
        // and `Registration::drop`.
        if r.state.load(Ordering::Acquire) != ACTIVE {
            continue;
        }
        let (start, len) = (
            r.start.load(Ordering::Relaxed),
            r.len.load(Ordering::Relaxed),
        );
        if addr < start || addr - start >= len {
            continue;
        }
        let base = addr & !(page - 1);
        // SAFETY: `base` is a page inside a mapping this process owns
        // (registered, so not yet unmapped); replacing it with a private
        // read-only zero page changes what the observer reads, never
        // what it may write (it maps PROT_READ), and nothing else.
        let p = unsafe {
            libc::mmap(
                base as *mut libc::c_void,
                page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            // SYNC: pairs with the Acquire load in `Registration::faulted`.
            r.faulted.store(true, Ordering::Release);
            return;
        }
    }
    chain(sig, info, ctx);
}

/// Hands a SIGBUS that is not ours to whoever had it before us.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let previous = PREVIOUS.get();
    match previous.map(|p| (p.sa_sigaction, p.sa_flags)) {
        Some((handler, flags)) if handler != libc::SIG_DFL && handler != libc::SIG_IGN => {
            if flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous SA_SIGINFO handler has this type.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(handler) };
                f(sig, info, ctx);
            } else {
                // SAFETY: the previous plain handler has this type.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
                f(sig);
            }
        }
        _ => {
            // The default action: returning re-runs the faulting load,
            // which now kills the process with SIGBUS as if we were not
            // here.
            // SAFETY: an all-zero sigaction is SIG_DFL with no flags.
            let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
            dfl.sa_sigaction = libc::SIG_DFL;
            // SAFETY: sigaction is async-signal-safe; `dfl` is valid.
            unsafe { libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut()) };
        }
    }
}

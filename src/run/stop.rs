//! Ending within 100 ms of SIGINT, SIGTERM or SIGHUP: a flag the signal
//! handlers set, and sleeps that look at it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::failure::Failure;

/// The longest forge-top sleeps without looking at the stop flag.
pub const STOP_POLL: Duration = Duration::from_millis(20);

/// A flag that SIGTERM, SIGINT and SIGHUP set. Readers load it `Relaxed`:
/// it is a lone flag that publishes no other data, so it pairs with nothing.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Failure::new("signals", format!("cannot install signal handlers: {e}")))?;
    }
    Ok(stop)
}

/// Sleeps `d`, or less if `stop` is set meanwhile; true if it was.
pub fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let now = Instant::now();
        if now >= end {
            return false;
        }
        std::thread::sleep((end - now).min(STOP_POLL));
    }
}

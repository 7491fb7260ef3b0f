//! Sampling off the request path: one thread owns the host scanner and
//! reads every ring when a request wants a pass newer than `max_age`;
//! requests wait (bounded) for that pass and share it. A client that is
//! slow to send or to read holds only its own HTTP worker, never this
//! thread, and concurrent scrapes cost one pass.
//!
//! ```text
//!  worker ──want(max_age)──▶ [latest pass, wanted] ◀──store── sampler thread
//!     ▲                           │ notify                      │ scan /dev/shm,
//!     └────── Arc<Exposition> ◀───┘                             │ read every ring
//! ```

use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use forge_fabric::observe::host::HostScanner;

use crate::judge::Thresholds;
use crate::metrics::{encode, Format, Pass};

/// One pass over the host, written lazily in each format a client asks for.
#[derive(Debug)]
pub struct Exposition {
    /// When the pass started.
    pub taken: Instant,
    pass: Arc<Pass>,
    openmetrics: OnceLock<Arc<str>>,
    prometheus: OnceLock<Arc<str>>,
}

impl Exposition {
    fn new(pass: Pass, taken: Instant) -> Self {
        Exposition {
            taken,
            pass: Arc::new(pass),
            openmetrics: OnceLock::new(),
            prometheus: OnceLock::new(),
        }
    }

    /// The text in `format` (written on first use, then shared).
    pub fn text(&self, format: Format) -> Arc<str> {
        let cell = match format {
            Format::OpenMetrics => &self.openmetrics,
            Format::Prometheus => &self.prometheus,
        };
        cell.get_or_init(|| encode(self.pass.clone(), format).into())
            .clone()
    }

    /// The pass it writes.
    pub fn pass(&self) -> &Pass {
        &self.pass
    }
}

#[derive(Default)]
struct State {
    latest: Option<Arc<Exposition>>,
    wanted: bool,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere leaves the state consistent (plain fields).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sampler thread and its mailbox.
pub struct Sampler {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler").finish_non_exhaustive()
    }
}

impl Sampler {
    /// Starts the thread; it reads nothing until asked.
    pub fn start(
        scanner: HostScanner,
        thresholds: Thresholds,
        per_octave: u32,
    ) -> std::io::Result<Sampler> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let inner = shared.clone();
        let thread = std::thread::Builder::new()
            .name("forge-sampler".into())
            .spawn(move || run(&inner, scanner, thresholds, per_octave))?;
        Ok(Sampler {
            shared,
            thread: Some(thread),
        })
    }

    /// A pass that started at most `max_age` before this call, waiting up
    /// to `wait` for one; past that, the newest there is (`None` if none).
    pub fn get(&self, max_age: Duration, wait: Duration) -> Option<Arc<Exposition>> {
        let asked = Instant::now();
        let deadline = asked + wait;
        let fresh = |e: &Exposition| e.taken + max_age >= asked;
        let mut state = self.shared.lock();
        loop {
            match &state.latest {
                Some(e) if fresh(e) => return Some(e.clone()),
                _ => {}
            }
            let now = Instant::now();
            if now >= deadline || state.stop {
                return state.latest.clone();
            }
            if !state.wanted {
                state.wanted = true;
                self.shared.changed.notify_all();
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Stops the thread after its current pass.
    pub fn stop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared, mut scanner: HostScanner, thresholds: Thresholds, per_octave: u32) {
    let mut passes = 0u64;
    loop {
        {
            let mut state = shared.lock();
            while !state.wanted && !state.stop {
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
            }
            if state.stop {
                return;
            }
            state.wanted = false;
        }
        let taken = Instant::now();
        let sample = scanner.sample();
        passes += 1;
        let exposition = Arc::new(Exposition::new(
            Pass {
                sample,
                passes,
                thresholds,
                per_octave,
            },
            taken,
        ));
        shared.lock().latest = Some(exposition);
        shared.changed.notify_all();
    }
}

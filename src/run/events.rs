//! Where events come from: the terminal, the feed (a live segment or a
//! file) and, in the host view, every ring of the host, each sampled at its
//! own refresh; or, in tests, a script.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crossterm::event::{self as ct, KeyEventKind, MouseEventKind};

use super::stop::STOP_POLL;
use crate::app::{App, Screen};
use crate::event::Event;
use crate::model::{Observation, Seek, SeekError, SlotRequest};
use crate::offline::FileSource;
use crate::source::{HostSource, LiveSource};

/// A stream of events. The app is passed in so the source knows which slots
/// are on screen and how often to sample.
pub trait EventSource {
    /// The next event, or `None` when the stream ends.
    fn next(&mut self, app: &App) -> std::io::Result<Option<Event>>;
    /// Watch `segment` from now on.
    fn switch(&mut self, _segment: &str) {}
    /// Moves an offline recording's cursor; says where it went, or why not.
    fn seek(&mut self, _to: Seek) -> Result<String, SeekError> {
        Err(SeekError::Live)
    }
}

/// Where observations come from: a live segment, or a file.
pub enum Feed {
    /// A segment in /dev/shm.
    Live(Box<LiveSource>),
    /// A recording or an image (`--file`).
    File(Box<FileSource>),
}

impl Feed {
    /// One observation for the slots `req` asks for.
    pub fn sample(&mut self, req: &SlotRequest) -> Observation {
        match self {
            Feed::Live(s) => s.sample(req),
            Feed::File(f) => f.sample(req),
        }
    }
}

/// Scripted events, for tests.
impl EventSource for std::collections::VecDeque<Event> {
    fn next(&mut self, _app: &App) -> std::io::Result<Option<Event>> {
        Ok(self.pop_front())
    }
}

/// The terminal plus the feed (live segment or file), sampled every refresh,
/// and the host, sampled every host refresh when there is a host view (the
/// ring's feed only while its view is up).
///
/// Terminal input is read on its own thread: crossterm's `read` can spin
/// forever on a hung-up terminal, and the main loop must still notice the
/// hang-up (or a stop signal) and exit cleanly.
pub struct LiveEvents {
    source: Option<Feed>,
    next_sample: Instant,
    host: Option<HostSource>,
    next_host: Instant,
    /// Set by signal handlers, a hang-up, or us. A lone flag that publishes
    /// no other data, so every load and store of it is `Relaxed`: it pairs
    /// with nothing.
    stop: Arc<AtomicBool>,
    input: mpsc::Receiver<ct::Event>,
}

impl LiveEvents {
    /// Samples `source`; `stop` is set by signal handlers.
    pub fn new(source: Feed, stop: Arc<AtomicBool>) -> Self {
        Self::with(Some(source), None, stop)
    }

    /// Samples every ring of the host; a ring opened from it is sampled
    /// from then on too.
    pub fn host(host: HostSource, stop: Arc<AtomicBool>) -> Self {
        Self::with(None, Some(host), stop)
    }

    fn with(source: Option<Feed>, host: Option<HostSource>, stop: Arc<AtomicBool>) -> Self {
        let (tx, input) = mpsc::channel();
        let quit = stop.clone();
        std::thread::spawn(move || {
            while !quit.load(Ordering::Relaxed) {
                match ct::poll(Duration::from_millis(50)) {
                    Ok(true) => match ct::read() {
                        Ok(ev) => {
                            if tx.send(ev).is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    },
                    Ok(false) => {}
                    Err(_) => return,
                }
            }
        });
        LiveEvents {
            source,
            next_sample: Instant::now(),
            host,
            next_host: Instant::now(),
            stop,
            input,
        }
    }
}

impl EventSource for LiveEvents {
    fn seek(&mut self, to: Seek) -> Result<String, SeekError> {
        self.next_sample = Instant::now();
        match &mut self.source {
            Some(Feed::File(f)) => f.seek(to),
            _ => Err(SeekError::Live),
        }
    }

    fn switch(&mut self, segment: &str) {
        self.source = Some(Feed::Live(Box::new(LiveSource::new(segment))));
        self.next_sample = Instant::now();
    }

    fn next(&mut self, app: &App) -> std::io::Result<Option<Event>> {
        loop {
            // A hung-up terminal fails isatty(3): the window is gone.
            if self.stop.load(Ordering::Relaxed) || !std::io::stdout().is_terminal() {
                self.stop.store(true, Ordering::Relaxed);
                return Ok(Some(Event::Stop));
            }
            let now = Instant::now();
            if let Some(host) = self.host.as_mut().filter(|_| now >= self.next_host) {
                let refresh = app.host_refresh().unwrap_or(crate::app::host::HOST_REFRESH);
                self.next_host = next_tick(self.next_host, now, refresh);
                return Ok(Some(Event::Host(Box::new(host.sample()))));
            }
            // The ring's feed only while its view is up.
            let ring = self.source.as_mut().filter(|_| app.screen == Screen::Ring);
            let ring_due = ring.is_some();
            if let Some(source) = ring.filter(|_| now >= self.next_sample || app.wants_slots()) {
                self.next_sample = next_tick(self.next_sample, now, app.refresh());
                let obs = source.sample(&app.slot_request());
                return Ok(Some(Event::Data(Box::new(obs))));
            }
            let mut wake = now + STOP_POLL;
            if ring_due {
                wake = wake.min(self.next_sample);
            }
            if self.host.is_some() {
                wake = wake.min(self.next_host);
            }
            // Wake often enough to end within 100 ms of a stop signal.
            let wait = wake.saturating_duration_since(now).min(STOP_POLL);
            let event = match self.input.recv_timeout(wait) {
                Ok(ev) => ev,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.stop.store(true, Ordering::Relaxed);
                    return Ok(Some(Event::Stop));
                }
            };
            match event {
                ct::Event::Key(k) if k.kind != KeyEventKind::Release => {
                    return Ok(Some(Event::Key(k)))
                }
                ct::Event::Mouse(m)
                    if matches!(
                        m.kind,
                        MouseEventKind::ScrollUp
                            | MouseEventKind::ScrollDown
                            | MouseEventKind::Down(_)
                    ) =>
                {
                    return Ok(Some(Event::Mouse(m)))
                }
                ct::Event::Resize(w, h) => return Ok(Some(Event::Resize(w, h))),
                _ => {}
            }
        }
    }
}

/// The next sampling time after `due` (now or past) for a period of
/// `refresh`: on the beat, unless a whole period was missed.
fn next_tick(due: Instant, now: Instant, refresh: Duration) -> Instant {
    if now >= due + refresh {
        now + refresh
    } else if now >= due {
        due + refresh
    } else {
        due
    }
}

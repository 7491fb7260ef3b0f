//! Where events come from: the terminal and the feed (a live segment or a
//! file), sampled every refresh; or, in tests, a script.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crossterm::event::{self as ct, KeyEventKind, MouseEventKind};

use super::stop::STOP_POLL;
use crate::app::App;
use crate::event::Event;
use crate::model::{Observation, Seek, SeekError, SlotRequest};
use crate::offline::FileSource;
use crate::source::LiveSource;

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

/// The terminal plus the feed (live segment or file), sampled every refresh.
///
/// Terminal input is read on its own thread: crossterm's `read` can spin
/// forever on a hung-up terminal, and the main loop must still notice the
/// hang-up (or a stop signal) and exit cleanly.
pub struct LiveEvents {
    source: Feed,
    next_sample: Instant,
    /// Set by signal handlers, a hang-up, or us. A lone flag that publishes
    /// no other data, so every load and store of it is `Relaxed`: it pairs
    /// with nothing.
    stop: Arc<AtomicBool>,
    input: mpsc::Receiver<ct::Event>,
}

impl LiveEvents {
    /// Samples `source`; `stop` is set by signal handlers.
    pub fn new(source: Feed, stop: Arc<AtomicBool>) -> Self {
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
            stop,
            input,
        }
    }
}

impl EventSource for LiveEvents {
    fn seek(&mut self, to: Seek) -> Result<String, SeekError> {
        self.next_sample = Instant::now();
        match &mut self.source {
            Feed::File(f) => f.seek(to),
            Feed::Live(_) => Err(SeekError::Live),
        }
    }

    fn switch(&mut self, segment: &str) {
        self.source = Feed::Live(Box::new(LiveSource::new(segment)));
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
            if now >= self.next_sample || app.wants_slots() {
                let refresh = app.refresh();
                self.next_sample = if now >= self.next_sample + refresh {
                    now + refresh
                } else if now >= self.next_sample {
                    self.next_sample + refresh
                } else {
                    self.next_sample
                };
                let obs = self.source.sample(&app.slot_request());
                return Ok(Some(Event::Data(Box::new(obs))));
            }
            // Wake often enough to end within 100 ms of a stop signal.
            let wait = (self.next_sample - now).min(STOP_POLL);
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

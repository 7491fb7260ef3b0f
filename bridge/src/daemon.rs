//! Start-up and shutdown pieces both ends share: the Zenoh session, the
//! ring thread's pinning, role errors, and how a run ended.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use color_eyre::eyre::{eyre, Report, Result, WrapErr};
use color_eyre::Section;
use forge_fabric::{Corruption, Role, RoleError, SessionError};
use forge_holder::checks::Halt;
use forge_holder::exit::Exit;
use zenoh::{Config, Session, Wait};

use crate::status::{self, Counters, Identity};

/// The program name in messages and in the ring's holder line.
pub const PROGRAM: &str = "forge-bridge";

/// Zenoh's runtimes as the bridge runs them, unless `ZENOH_RUNTIME` says
/// otherwise (Zenoh reads it when it starts its first runtime).
///
/// By default Zenoh reads a link on its `rx` threads but registers the
/// link's socket with the runtime that opened or accepted it (`net`,
/// `acc`): every batch that arrives wakes a `net` thread, which wakes an
/// `rx` thread. Handing `net` and `acc` over to `rx` puts the socket and
/// its reader on the same threads: one wake per sample instead of two.
/// `tx` keeps its own thread, so keep-alives still leave while `in`'s
/// receive callback waits for room in its ring.
pub const ZENOH_RUNTIME: &str = "(net: (handover: rx), acc: (handover: rx))";

/// Sets [`ZENOH_RUNTIME`] in the environment unless the user set one.
/// Called first thing in `main`, before any thread exists.
pub fn zenoh_runtime_default() {
    if std::env::var_os("ZENOH_RUNTIME").is_none() {
        std::env::set_var("ZENOH_RUNTIME", ZENOH_RUNTIME);
    }
}

/// Opens the Zenoh session, with a hint for the usual causes of failure.
pub fn open_zenoh(config: Config) -> Result<Session> {
    zenoh::open(config)
        .wait()
        .map_err(|e| eyre!("{e}"))
        .wrap_err("cannot open the Zenoh session")
        .suggestion(
            "check --listen/--connect endpoints (is another bridge already listening on that \
             port? pick another with --listen tcp/127.0.0.1:PORT) and the --config file",
        )
}

/// Pins the calling (ring) thread to `core` if asked. Called after the
/// Zenoh session is open, so Zenoh's threads keep every core.
pub fn pin_ring_thread(core: Option<u32>) -> Result<()> {
    let Some(core) = core else { return Ok(()) };
    forge_holder::pin::pin_to(core)
        .wrap_err("cannot pin the ring thread")
        .with_suggestion(|| {
            format!(
                "pick one of this machine's cores with --core: {:?}",
                forge_holder::pin::available_cores()
            )
        })
}

/// A role that could not be taken, as a report with the usual hint.
pub fn role_error(side: Role, name: &str, e: RoleError) -> Report {
    let hint = forge_cli::role_hint(side, name, &e);
    let what = match side {
        Role::Producer => format!("cannot write into {name}"),
        Role::Consumer => format!("cannot consume from {name}"),
    };
    let report = Report::new(e).wrap_err(what);
    match hint {
        Some(h) => report.suggestion(h),
        None => report,
    }
}

/// A holder that could not start, as a report: a role refused gets the
/// usual hint.
pub fn holder_error(side: Role, name: &str, e: forge_holder::Error) -> Report {
    match e {
        forge_holder::Error::Role(e) => role_error(side, name, e),
        e => Report::new(e),
    }
}

/// Why a bridge's ring loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingEnd {
    /// SIGINT, SIGTERM or SIGHUP.
    Stopped,
    /// The local segment was retired under us (forge-init --force).
    SessionLost(SessionError),
    /// The local segment's identity, indices or a slot word are damaged.
    Corrupt(Corruption),
    /// A slot word that the ring cannot step over (`out`).
    Slot(forge_fabric::ReadError),
    /// The local segment was unlinked, replaced or truncated under us.
    SegmentLost(forge_holder::end::Lost),
    /// `in` without --init: the origin ring was re-initialized.
    OriginChanged {
        /// Session relayed so far.
        old: u64,
        /// Session now arriving.
        new: u64,
    },
    /// Something else failed: Zenoh, or replacing the ring.
    Failed(String),
}

impl From<Halt> for RingEnd {
    fn from(h: Halt) -> RingEnd {
        match h {
            Halt::Stopped => RingEnd::Stopped,
            Halt::SessionLost(e) => RingEnd::SessionLost(e),
            Halt::Corrupt(c) | Halt::Stalled(c) => RingEnd::Corrupt(c),
            Halt::SegmentLost(l) => RingEnd::SegmentLost(l),
        }
    }
}

impl RingEnd {
    /// Short name for the report.
    pub fn name(&self) -> &'static str {
        match self {
            RingEnd::Stopped => "stopped",
            RingEnd::SessionLost(_) => "session_retired",
            RingEnd::Corrupt(_) | RingEnd::Slot(_) => "segment_corrupt",
            RingEnd::SegmentLost(lost) => lost.name(),
            RingEnd::OriginChanged { .. } => "origin_reinitialized",
            RingEnd::Failed(_) => "failed",
        }
    }

    /// The exit code, and a line saying why when it is not a plain stop.
    pub fn exit(&self, segment: &str) -> (Exit, Option<String>) {
        use forge_cli::human::session;
        match self {
            RingEnd::Stopped => (Exit::Ok, None),
            RingEnd::SessionLost(e) => (Exit::SessionRetired, Some(format!("{segment}: {e}"))),
            RingEnd::Corrupt(c) => (
                Exit::Integrity,
                Some(format!(
                    "{segment}: {c}\n  hint: start over with: forge-init --force --segment {segment} \
                     (the frames it holds are discarded)"
                )),
            ),
            RingEnd::Slot(e) => (Exit::Integrity, Some(format!("{segment}: {e}"))),
            RingEnd::SegmentLost(lost) => (Exit::Error, Some(format!("{segment}: {lost}"))),
            RingEnd::OriginChanged { old, new } => (
                Exit::SessionRetired,
                Some(format!(
                    "the origin ring was re-initialized (session {} -> {}): its sequence \
                     restarted, and {segment} holds the old session's frames\n  hint: replace \
                     it (forge-init --force --segment {segment}) and restart, or run \
                     forge-bridge in with --init to replace it automatically",
                    session(*old),
                    session(*new)
                )),
            ),
            RingEnd::Failed(e) => (Exit::Error, Some(e.clone())),
        }
    }
}

/// The status thread and the flag that stops it.
pub struct StatusThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl StatusThread {
    /// Starts publishing `counters` on KEY/@status.
    pub fn start(
        session: &Session,
        key: &zenoh::key_expr::KeyExpr<'static>,
        who: Identity,
        counters: Arc<Counters>,
    ) -> StatusThread {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = status::spawn(
            session.clone(),
            forge_bridge::wire::status_key(key),
            key.to_string(),
            who,
            counters,
            stop.clone(),
        )
        .map_err(|e| eprintln!("{PROGRAM}: warning: no status thread: {e}"))
        .ok();
        StatusThread { stop, handle }
    }

    /// Stops it and waits for it.
    pub fn stop(mut self) {
        // SYNC: a flag; the thread reads nothing else through it.
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The final status: one JSON line on stdout, for scripts and tests.
pub fn print_final(status: &status::Status) -> Result<()> {
    forge_cli::print_report(&(status.json() + "\n")).wrap_err("writing the report")
}

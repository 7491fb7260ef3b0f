//! `forge-bridge in`: subscribes to a key and writes every authenticated
//! frame it receives into a local ring as its producer, committed with
//! `FRAME_RELAYED` (it is a relayed producer) so that readers check the
//! origin's sequence.
//!
//! ```text
//!  Zenoh receive task ──KEY pack───────▶ MAC ─▶ session? ─▶ sequencer ─▶ ring (waits while full:
//!        │            ──KEY/@status────▶ MAC ─▶ sequencer (tail check)    the network backs up)
//!        │            ──history reply──▶ MAC, our nonce ─▶ sequencer ─▶ ring
//!        │            ──session reply──▶ MAC, our nonce ─▶ follow that session
//!  main thread: every 10 ms — stop, segment checks, heartbeat, and the queries
//!               the sequencer and the session tracker ask for (never sent from a callback)
//! ```
//!
//! Nothing that fails its MAC changes anything: it is counted
//! (`unauthenticated`) and dropped. Authenticated messages change state
//! only within what the sender can vouch for: a frame is written at its
//! place in the sequence or waits for the hole before it to be filled; a
//! range is declared lost only when the sender's history says it is gone
//! (in answer to our query, bound to its nonce); the session followed
//! changes only when the sender, asked with a fresh nonce, names a new one
//! (see `origin.rs`), so captured samples of an old session, replayed,
//! are stale and never replace the ring.
//!
//! Frames are written from Zenoh's callbacks, under one mutex, without a
//! thread hop: while the ring is full the callback waits, Zenoh stops
//! reading the link, and the sender's `put` blocks in turn. A pack that
//! continues the stream is written straight from the received bytes (no
//! copy besides the one into the slots); only frames that must wait are
//! copied.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::Thread;
use std::time::Duration;

use color_eyre::eyre::{eyre, Result, WrapErr};
use color_eyre::Section;
use forge_fabric::clock::monotonic_ns;
use forge_fabric::layout::FRAME_RELAYED;
use forge_fabric::{
    Claim, CreateOptions, LiveHolders, Observer, RelayedProducer, Role, Segment, SegmentError,
    WaitStrategy,
};
use forge_holder::exit::Exit;
use forge_holder::signals::Control;
use forge_holder::Holder;
use zenoh::key_expr::KeyExpr;
use zenoh::qos::CongestionControl;
use zenoh::query::{ConsolidationMode, QueryTarget};
use zenoh::sample::Sample;
use zenoh::{Session, Wait};

use crate::args::{self, End, InArgs};
use crate::auth::AuthKey;
use crate::daemon::{self, RingEnd, StatusThread, PROGRAM};
use crate::origin::{Decision, Origins, Verdict};
use crate::sequencer::{Effects, Range, Sequencer};
use crate::status::{Counters, Identity, Status};
use crate::wire::{self, Kind, Message, Query, Rejected, NONCE_LEN};

/// How often the main thread looks around.
const TICK: Duration = Duration::from_millis(10);
/// How long a history query may take before it is asked again.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a session query may take.
const SESSION_TIMEOUT: Duration = Duration::from_secs(2);
/// Least time between two session queries, and after a history query that
/// left a hole before the next.
const ASK_AGAIN_NS: u64 = 200_000_000;
/// Rejected samples reported one by one.
const REJECTS_PRINTED: u64 = 10;
/// Commits per `head` store: the frames themselves are visible at each
/// commit; `head` (for inspectors) is stored at the end of every sample.
const PUBLISH_BATCH: u64 = 64;
/// How long a ring being replaced is left to its reader to drain.
const DRAIN_BEFORE_REPLACE: Duration = Duration::from_secs(2);

/// Runs `forge-bridge in` until stopped.
pub fn run(args: &InArgs, control: Control) -> Result<Exit> {
    let name = args.segment.segment.clone();
    let key = args.key.key_expr()?;
    let config = args.zenoh.config(End::In)?;
    if let Err(line) = args::check_exposure(&config, &args.auth, End::In) {
        eprintln!("{line}");
        return Ok(Exit::Usage);
    }
    let auth = args.auth.key()?;
    if args.ring.parent.die_with_parent {
        forge_cli::die_with_parent()?;
    }
    let segment = Arc::new(open_or_create(args)?);
    if let Some(warning) = segment.owner_warning() {
        eprintln!("{PROGRAM}: warning: {warning}");
    }
    let wait = WaitStrategy::from(args.ring.wait);
    // The holder's duties: the SIGBUS guard, the watch thread, the role.
    // The origin's session is set with its first frame (`Writer::write`).
    let mut producer = Holder::<RelayedProducer>::take(
        segment.clone(),
        &claim(args.ring.core, wait),
        control.clone(),
    )
    .map_err(|e| daemon::holder_error(Role::Producer, &name, e))?;
    producer.set_index_batch(PUBLISH_BATCH);
    let resume = resume_point(&segment, producer.position());
    let session = daemon::open_zenoh(config)?;
    // Checks the core (and pins the housekeeping thread); the threads that
    // write the ring are Zenoh's, pinned on their first frame (`Shared::with`).
    daemon::pin_ring_thread(args.ring.core)?;

    let started = std::time::Instant::now();
    let counters = Arc::new(Counters::default());
    Counters::set(&counters.ring_session, segment.session_id());
    Counters::set(&counters.pending_limit, args.max_pending as u64);
    let writer = Writer {
        segment,
        producer: Some(producer),
        wait,
        control: control.clone(),
        relay_session: resume.map_or(0, |(s, _)| s),
        core: args.ring.core,
        replace: args.init.then_some(CreateOptions {
            slot_count: 0,
            // Frames from afar may have any size a ring carries.
            payload_capacity: forge_fabric::PAYLOAD_CAPACITY,
            mode: args.segment_mode,
        }),
    };
    let shared = Arc::new(Shared {
        inbound: Mutex::new(Inbound {
            auth: auth.clone(),
            stream: key.to_string(),
            origins: Origins::new(resume),
            seq: Sequencer::new(None, args.max_pending),
            pending_limit: args.max_pending,
            held: std::collections::VecDeque::new(),
            held_bytes: 0,
            query: None,
            hello: None,
            writer,
            counters: counters.clone(),
            end: None,
            rejects_printed: 0,
            overflow_reported: false,
            fx: Effects::default(),
            frames: 0,
            bytes: 0,
            next: 0,
        }),
        ended: AtomicBool::new(false),
        query_done: AtomicBool::new(false),
        hello_done: AtomicBool::new(false),
        main: std::thread::current(),
        core: args.ring.core,
        counters: counters.clone(),
    });
    let subscribers = subscribe(&session, &key, &shared)?;
    let who = Identity {
        mode: "in",
        key: key.to_string(),
        segment: name.clone(),
        zid: session.zid().to_string(),
        auth: auth.clone(),
    };
    let status = StatusThread::start(&session, &key, who.clone(), counters.clone());
    eprintln!(
        "{PROGRAM} in: pid {}, subscribed to {key} (zid {}), writing into {name} (session {}) {}; {}; \
         frames beyond a hole wait in memory up to {} bytes (--max-pending)",
        std::process::id(),
        who.zid,
        forge_cli::human::session(counters.ring_session.load(Ordering::Relaxed)),
        match resume {
            Some((s, next)) => format!(
                "after its last relayed frame: origin session {}, sequence {next} next",
                forge_cli::human::session(s)
            ),
            None => "from the first frame that comes".to_owned(),
        },
        if auth.is_secret() {
            "samples authenticated with the --auth-key"
        } else {
            "samples NOT authenticated (no --auth-key: a MAC under a public key, integrity only)"
        },
        args.max_pending,
    );

    let end = main_loop(&shared, &session, &key, &control);
    // No more callbacks, then the role is released.
    control.request_stop();
    drop(subscribers);
    let mut inbound = shared.lock();
    let end = inbound.end.take().unwrap_or(end);
    inbound.publish_counts();
    if let Some(mut p) = inbound.writer.producer.take() {
        p.flush_index();
    }
    status.stop();
    let mut final_status = Status::now(&who, &counters, 0, started);
    final_status.end = end.name().into();
    drop(inbound);
    let _ = session.close().wait();
    daemon::print_final(&final_status)?;
    let (mut exit, why) = end.exit(&name);
    if let Some(why) = why {
        eprintln!("{PROGRAM} in: stopping: {why}");
    }
    eprintln!(
        "{PROGRAM} in: wrote {} frames ({} bytes) from {} samples, next sequence {}; recovered {}, \
         lost {} in {} gaps; dropped: {} unauthenticated, {} replayed, {} stale, {} unconfirmed, \
         {} duplicates",
        final_status.frames,
        final_status.bytes,
        final_status.packs,
        final_status.next_sequence,
        final_status.recovered,
        final_status.lost,
        final_status.gaps,
        final_status.unauthenticated,
        final_status.replayed,
        final_status.stale,
        final_status.unconfirmed,
        final_status.duplicates,
    );
    if exit == Exit::Ok && final_status.lost > 0 {
        eprintln!(
            "{PROGRAM} in: {} frames were lost for good (see the gap lines above)",
            final_status.lost
        );
        exit = Exit::Integrity;
    }
    Ok(exit)
}

fn claim(core: Option<u32>, wait: WaitStrategy) -> Claim {
    let claim = Claim::new().wait(wait).program(PROGRAM);
    match core {
        Some(core) => claim.pinned_core(core),
        None => claim,
    }
}

/// Opens the segment, or with `--init` creates it when it does not exist
/// (an existing one is kept: a restarted bridge continues it).
fn open_or_create(args: &InArgs) -> Result<Segment> {
    let name = &args.segment.segment;
    if args.init {
        match Segment::open(name, forge_cli::INIT_WAIT) {
            Err(SegmentError::Missing { .. }) => {
                let opts = CreateOptions {
                    slot_count: args.slots,
                    // Frames from afar may have any size a ring carries.
                    payload_capacity: forge_fabric::PAYLOAD_CAPACITY,
                    mode: args.segment_mode,
                };
                let segment = Segment::create(name, &opts)
                    .wrap_err_with(|| format!("cannot create segment {name}"))?;
                eprintln!(
                    "{PROGRAM} in: created {name} ({} slots, session {})",
                    segment.slot_count(),
                    forge_cli::human::session(segment.session_id())
                );
                return Ok(segment);
            }
            Ok(segment) => return Ok(segment),
            Err(_) => {}
        }
    }
    forge_cli::open_segment(name).map_err(|report| {
        let missing = report
            .chain()
            .any(|c| matches!(c.downcast_ref(), Some(SegmentError::Missing { .. })));
        if missing {
            report.suggestion("or let the bridge create it: forge-bridge in --init …")
        } else {
            report
        }
    })
}

/// Where a restarted bridge continues: the origin session and the sequence
/// after the last relayed frame the ring holds, if its last frame is one.
fn resume_point(segment: &Segment, head: u64) -> Option<(u64, u64)> {
    let relay = segment.relay_session();
    if relay == 0 || head == 0 {
        return None;
    }
    let last = head.wrapping_sub(1);
    let observer = Observer::open(segment.name(), Duration::from_secs(1)).ok()?;
    let slot = observer
        .read_slot((last % u64::from(segment.slot_count())) as u32)
        .ok()?;
    if slot.position != Some(last) || slot.flags & FRAME_RELAYED == 0 || slot.torn {
        return None;
    }
    let sequence = wire::frame_sequence(&slot.bytes)?;
    Some((relay, sequence.wrapping_add(1)))
}

/// What the callbacks and the main thread share.
struct Shared {
    inbound: Mutex<Inbound>,
    /// Set once `inbound.end` is: the main thread polls it without the lock.
    ended: AtomicBool,
    /// The history query under way ended (its callback was dropped).
    query_done: AtomicBool,
    /// The session query under way ended.
    hello_done: AtomicBool,
    main: Thread,
    /// `--core`: where the threads that write the ring run.
    core: Option<u32>,
    /// The counters, reachable without the lock.
    counters: Arc<Counters>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbound> {
        self.inbound.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state unless the run has ended; then records an end
    /// and wakes the main thread if a query is wanted.
    fn with(&self, f: impl FnOnce(&mut Inbound)) {
        if let Some(core) = self.core {
            pin_this_thread_once(core);
        }
        let mut inbound = self.lock();
        if inbound.end.is_some() {
            return;
        }
        f(&mut inbound);
        if inbound.end.is_some() {
            // SYNC: a flag for the main thread; the end itself is read under the lock.
            self.ended.store(true, Ordering::Relaxed);
            self.main.unpark();
        } else if inbound.wants_a_query() {
            self.main.unpark();
        }
    }
}

/// Pins the calling Zenoh thread to `core` the first time it delivers a
/// frame (the core was checked at start).
fn pin_this_thread_once(core: u32) {
    thread_local!(static PINNED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    PINNED.with(|pinned| {
        if !pinned.replace(true) {
            let _ = forge_holder::pin::pin_to(core);
        }
    });
}

/// The subscribers, kept alive for the run.
struct Subscribers {
    _data: zenoh::pubsub::Subscriber<()>,
    _status: zenoh::pubsub::Subscriber<()>,
}

fn subscribe(
    session: &Session,
    key: &KeyExpr<'static>,
    shared: &Arc<Shared>,
) -> Result<Subscribers> {
    let s = shared.clone();
    let data = session
        .declare_subscriber(key.clone())
        .callback(move |sample: Sample| s.with(|i| i.on_pack(&sample)))
        .wait()
        .map_err(|e| eyre!("cannot subscribe to {key}: {e}"))?;
    let s = shared.clone();
    let status_key = wire::status_key(key);
    let status = session
        .declare_subscriber(status_key.clone())
        .callback(move |sample: Sample| s.with(|i| i.on_status(&sample)))
        .wait()
        .map_err(|e| eyre!("cannot subscribe to {status_key}: {e}"))?;
    Ok(Subscribers {
        _data: data,
        _status: status,
    })
}

/// Every [`TICK`]: stop, the end of a callback's run, the segment, idle
/// housekeeping, and the queries wanted.
fn main_loop(
    shared: &Arc<Shared>,
    session: &Session,
    key: &KeyExpr<'static>,
    control: &Control,
) -> RingEnd {
    let mut next_hello_ns = 0u64;
    let mut next_query_ns = 0u64;
    let mut first = true;
    loop {
        // The first pass asks the sender at once which session it publishes.
        if !std::mem::take(&mut first) {
            std::thread::park_timeout(TICK);
        }
        if control.stop_requested() {
            return RingEnd::Stopped;
        }
        // SYNC: a flag; the end is read under the lock after the loop.
        if shared.ended.load(Ordering::Relaxed) {
            return RingEnd::Stopped;
        }
        if let Some(lost) = control.segment_lost() {
            return RingEnd::SegmentLost(lost);
        }
        // A callback waiting for ring space holds the lock and looks
        // around itself; try again next tick.
        let Ok(mut inbound) = shared.inbound.try_lock() else {
            continue;
        };
        if inbound.end.is_some() {
            return RingEnd::Stopped;
        }
        let now = monotonic_ns();
        // SYNC: set by the queries' drop guards; the replies they followed
        // were handled under the lock we hold.
        if shared.hello_done.swap(false, Ordering::Relaxed) {
            inbound.hello = None;
            inbound.origins.unanswered();
            // Soon while nothing is followed yet (the sender may be
            // starting too), then less often.
            next_hello_ns = now
                + if inbound.origins.followed().is_none() {
                    ASK_AGAIN_NS / 10
                } else {
                    ASK_AGAIN_NS
                };
        }
        // SYNC: as above.
        if shared.query_done.swap(false, Ordering::Relaxed) {
            inbound.query_finished();
            next_query_ns = now + ASK_AGAIN_NS / 10;
        }
        if let Err(end) = inbound.writer.housekeeping() {
            inbound.end = Some(end);
            return RingEnd::Stopped;
        }
        inbound.update_gauges();
        inbound.publish_counts();
        let hello = (inbound.hello.is_none() && now >= next_hello_ns && inbound.origins.take_ask())
            .then(Query::session);
        if let Some(q) = &hello {
            inbound.hello = Some(q.nonce);
        }
        let query = if inbound.query.is_none() && now >= next_query_ns {
            inbound
                .seq
                .take_query()
                .map(|Range { from, to }| Query::history(from, to))
        } else {
            None
        };
        if let Some(q) = &query {
            inbound.query = Some(q.nonce);
        }
        let auth = inbound.auth.clone();
        drop(inbound);
        if let Some(q) = hello {
            ask(shared, session, &auth, key, q);
        }
        if let Some(q) = query {
            ask(shared, session, &auth, key, q);
        }
    }
}

/// Sends one query; its replies go to the state with the query's nonce,
/// and its end (the callback dropped) sets `query_done` or `hello_done`.
fn ask(shared: &Arc<Shared>, session: &Session, auth: &AuthKey, key: &KeyExpr<'static>, q: Query) {
    struct Done(Arc<Shared>, Kind);
    impl Drop for Done {
        fn drop(&mut self) {
            let flag = match self.1 {
                Kind::SessionQuery => &self.0.hello_done,
                _ => &self.0.query_done,
            };
            // SYNC: read by the main thread's swap; see `main_loop`.
            flag.store(true, Ordering::Relaxed);
            self.0.main.unpark();
        }
    }
    let (qkey, timeout) = match q.kind {
        Kind::SessionQuery => (wire::session_key(key), SESSION_TIMEOUT),
        _ => {
            Counters::add(&shared.counters.queries, 1);
            (wire::history_key(key), QUERY_TIMEOUT)
        }
    };
    let done = Done(shared.clone(), q.kind);
    let selector = format!("{qkey}?{}", q.parameters(auth, key.as_str()));
    let nonce = q.nonce;
    let sent = session
        .get(&selector)
        .consolidation(ConsolidationMode::None)
        .target(QueryTarget::All)
        .congestion_control(CongestionControl::Block)
        .timeout(timeout)
        .callback(move |reply| {
            let shared = &done.0;
            match reply.result() {
                Ok(sample) => shared.with(|i| i.on_reply(sample, nonce)),
                Err(e) => {
                    shared.with(|i| i.refused(&e.payload().try_to_string().unwrap_or_default()))
                }
            }
        })
        .wait();
    if let Err(e) = sent {
        // The callback (and its guard) is gone: the query counts as done.
        eprintln!("{PROGRAM} in: cannot query {qkey}: {e}");
    }
}

/// The receiving state: who is followed, the sequencer, and the ring.
struct Inbound {
    auth: AuthKey,
    /// The stream key, as every MAC binds it.
    stream: String,
    origins: Origins,
    seq: Sequencer<Vec<u8>>,
    pending_limit: usize,
    /// Packs of sessions not confirmed yet, as received (authenticated),
    /// held until the sender's answer: then written if of the session it
    /// names, else dropped as stale. At most `pending_limit` bytes; past it
    /// they are dropped (and asked from the history once confirmed).
    held: std::collections::VecDeque<(u64, Vec<u8>)>,
    held_bytes: usize,
    /// Nonce of the history query under way.
    query: Option<[u8; NONCE_LEN]>,
    /// Nonce of the session query under way.
    hello: Option<[u8; NONCE_LEN]>,
    writer: Writer,
    counters: Arc<Counters>,
    end: Option<RingEnd>,
    rejects_printed: u64,
    overflow_reported: bool,
    /// Reused from step to step.
    fx: Effects<Vec<u8>>,
    /// Frames, bytes and next sequence written; published each tick.
    frames: u64,
    bytes: u64,
    next: u64,
}

impl Inbound {
    fn wants_a_query(&self) -> bool {
        (self.seq.recovering() && self.query.is_none())
            || (self.origins.wants_ask() && self.hello.is_none())
    }

    /// A sample on KEY: a pack of live frames.
    fn on_pack(&mut self, sample: &Sample) {
        let payload = sample.payload().to_bytes();
        let m = match wire::open(&self.auth, &self.stream, &payload) {
            Ok(m) if m.header.kind == Kind::Frames => m,
            Ok(m) => return self.replayed(Rejected::Misplaced(m.header.kind)),
            Err(why) => return self.unauthenticated(sample, &why),
        };
        let h = m.header;
        Counters::add(&self.counters.packs, 1);
        match self.origins.sample(h.session, h.first) {
            Verdict::Follow => self.live(&m),
            Verdict::Stale => Counters::add(&self.counters.stale, h.count()),
            Verdict::Unconfirmed => {
                Counters::add(&self.counters.unconfirmed, h.count());
                if self.held_bytes + payload.len() <= self.pending_limit {
                    self.held_bytes += payload.len();
                    self.held.push_back((h.session, payload.into_owned()));
                }
            }
        }
    }

    /// An authenticated pack of the session followed.
    fn live(&mut self, m: &Message<'_>) {
        let h = m.header;
        if self.seq.in_order(h.first) {
            // The stream continues: straight from the received bytes.
            for (seq, frame) in wire::frames(m) {
                if let Err(end) = self.writer.write(frame, h.session) {
                    self.end = Some(end);
                    return;
                }
                self.frames += 1;
                self.bytes += frame.len() as u64;
                self.next = seq.wrapping_add(1);
            }
            self.seq.wrote(h.end);
            self.writer.publish();
            return;
        }
        let mut fx = std::mem::take(&mut self.fx);
        for (seq, frame) in wire::frames(m) {
            self.seq.live(seq, frame.to_vec(), &mut fx);
        }
        self.apply(&mut fx);
        self.fx = fx;
    }

    /// A reply to one of our queries (`nonce`).
    fn on_reply(&mut self, sample: &Sample, nonce: [u8; NONCE_LEN]) {
        let payload = sample.payload().to_bytes();
        let m = match wire::open(&self.auth, &self.stream, &payload) {
            Ok(m) => m,
            Err(why) => return self.unauthenticated(sample, &why),
        };
        // Bound to the query it answers, and that query must be ours and
        // under way: a captured reply, replayed, is neither.
        let h = m.header;
        let current = match h.kind {
            Kind::Session => self.hello,
            Kind::HistoryFrames | Kind::Gone => self.query,
            other => return self.replayed(Rejected::Misplaced(other)),
        };
        if h.nonce != nonce || current != Some(nonce) {
            return self.replayed(Rejected::Misplaced(h.kind));
        }
        if h.kind == Kind::Session {
            return self.on_session(&m);
        }
        if self.origins.followed() != Some(h.session) {
            return Counters::add(&self.counters.stale, h.count());
        }
        let mut fx = std::mem::take(&mut self.fx);
        if h.kind == Kind::Gone {
            self.seq.gone(h.first, h.end, &mut fx);
        } else {
            for (seq, frame) in wire::frames(&m) {
                self.seq.reply(seq, frame.to_vec(), &mut fx);
            }
        }
        self.apply(&mut fx);
        self.fx = fx;
    }

    /// The sender's answer to our session query.
    fn on_session(&mut self, m: &Message<'_>) {
        use forge_cli::human::session;
        let h = m.header;
        let (old, start, resume) = match self.origins.answer(h.session, h.first) {
            Decision::Same => return,
            Decision::Adopt {
                session: s,
                resume,
                start,
            } => {
                eprintln!(
                    "{PROGRAM} in: the sender publishes origin session {} (sequences {}..{} kept); \
                     following it",
                    session(s),
                    h.first,
                    h.end
                );
                (None, start, resume)
            }
            Decision::Replace { old, new, start } => {
                eprintln!(
                    "{PROGRAM} in: the origin ring was re-initialized: the sender now publishes \
                     session {} (the far ring holds session {})",
                    session(new),
                    session(old)
                );
                (Some(old), start, None)
            }
        };
        // The far ring holds frames of another session only if one was
        // written: then it must be replaced (or the run ends, exit 3).
        if let Some(old) = old.filter(|_| self.writer.relay_session != 0) {
            if let Err(end) = self.new_origin(old, h.session) {
                self.end = Some(end);
                return;
            }
        }
        Counters::set(&self.counters.origin_session, h.session);
        self.seq = Sequencer::new(resume.or(start), self.pending_limit);
        // A query under way was for the old session's sequence.
        self.query = None;
        // The packs held meanwhile: the named session's are written now,
        // in the order they came; the others are stale.
        self.held_bytes = 0;
        for (session, bytes) in std::mem::take(&mut self.held) {
            let Ok(m) = wire::open(&self.auth, &self.stream, &bytes) else {
                continue;
            };
            if session == h.session {
                self.live(&m);
                if self.end.is_some() {
                    return;
                }
            } else {
                Counters::add(&self.counters.stale, m.header.count());
            }
        }
    }

    /// A status on KEY/@status: the sender's, for the tail check. It can
    /// ask for a query, never move `next`.
    fn on_status(&mut self, sample: &Sample) {
        let Some(attachment) = sample.attachment().map(|a| a.to_bytes()) else {
            return self.unauthenticated(sample, &Rejected::Short { len: 0 });
        };
        let payload = sample.payload().to_bytes();
        let header = match wire::open_status(&self.auth, &self.stream, &payload, &attachment) {
            Ok(h) => h,
            Err(why) => return self.unauthenticated(sample, &why),
        };
        if header.kind == Kind::OutStatus && self.origins.followed() == Some(header.session) {
            self.seq.status(header.end);
        }
    }

    /// The history query under way ended.
    fn query_finished(&mut self) {
        self.query = None;
        self.seq.query_done();
    }

    /// The sender (or a stranger) refused a query.
    fn refused(&mut self, why: &str) {
        self.rejects_printed += 1;
        if self.rejects_printed <= REJECTS_PRINTED {
            eprintln!(
                "{PROGRAM} in: a query was refused: {why} (do both ends use the same --auth-key?)"
            );
        }
    }

    fn apply(&mut self, fx: &mut Effects<Vec<u8>>) {
        let c = &self.counters;
        for &(from, to) in &fx.lost {
            let n = to.wrapping_sub(from);
            Counters::add(&c.lost, n);
            Counters::add(&c.gaps, 1);
            eprintln!(
                "{PROGRAM} in: gap: frames {from}..{to} lost for good ({n} frames): the sender's \
                 history says they are gone; readers of the ring will see the same gap"
            );
        }
        if fx.duplicates != 0 {
            Counters::add(&c.duplicates, fx.duplicates);
        }
        if fx.recovered != 0 {
            Counters::add(&c.recovered, fx.recovered);
        }
        let origin = self.origins.followed().unwrap_or(0);
        for (seq, frame) in fx.write.drain(..) {
            if let Err(end) = self.writer.write(&frame, origin) {
                self.end = Some(end);
                break;
            }
            self.frames += 1;
            self.bytes += frame.len() as u64;
            self.next = seq.wrapping_add(1);
        }
        self.writer.publish();
        fx.clear();
        let overflowed = self.seq.take_overflowed();
        if overflowed > 0 && !self.overflow_reported {
            self.overflow_reported = true;
            eprintln!(
                "{PROGRAM} in: frames waiting beyond a hole reached the bound of {} bytes \
                 (--max-pending): later ones are left to the sender's history",
                self.pending_limit
            );
        }
    }

    /// The counters kept under the lock, for the status (every tick).
    fn publish_counts(&self) {
        Counters::set(&self.counters.frames, self.frames);
        Counters::set(&self.counters.bytes, self.bytes);
        Counters::set(&self.counters.next_sequence, self.next);
    }

    #[cold]
    fn unauthenticated(&mut self, sample: &Sample, why: &Rejected) {
        Counters::add(&self.counters.unauthenticated, 1);
        self.rejects_printed += 1;
        if self.rejects_printed <= REJECTS_PRINTED {
            eprintln!(
                "{PROGRAM} in: dropped a sample on {} ({} bytes, {}): {why}{}",
                sample.key_expr(),
                sample.payload().len(),
                why.name(),
                if *why == Rejected::Tag {
                    " (do both ends use the same --auth-key?)"
                } else {
                    ""
                }
            );
        } else if self.rejects_printed == REJECTS_PRINTED + 1 {
            eprintln!("{PROGRAM} in: more samples dropped; counting them in the status");
        }
    }

    #[cold]
    fn replayed(&mut self, why: Rejected) {
        Counters::add(&self.counters.replayed, 1);
        self.rejects_printed += 1;
        if self.rejects_printed <= REJECTS_PRINTED {
            eprintln!(
                "{PROGRAM} in: dropped an authenticated message ({why}): a reply to no query \
                 under way, or a replay"
            );
        }
    }

    /// The origin ring was re-initialized (or this ring holds another
    /// origin's frames): with --init, replace the ring with a fresh one, as
    /// the origin's was; else end the run (exit 3).
    #[cold]
    fn new_origin(&mut self, old: u64, new: u64) -> Result<(), RingEnd> {
        if self.writer.replace.is_none() {
            return Err(RingEnd::OriginChanged { old, new });
        }
        self.writer.replace_segment()?;
        Counters::add(&self.counters.replaced, 1);
        Counters::set(
            &self.counters.ring_session,
            self.writer.segment.session_id(),
        );
        Ok(())
    }

    fn update_gauges(&self) {
        let (head, tail) = self.writer.segment.indices();
        Counters::set(&self.counters.backlog, head.saturating_sub(tail));
        Counters::set(&self.counters.pending, self.seq.pending() as u64);
        Counters::set(
            &self.counters.pending_bytes,
            self.seq.pending_bytes() as u64,
        );
    }
}

/// The producer side of the local ring.
struct Writer {
    segment: Arc<Segment>,
    /// `None` once the run ended.
    producer: Option<Holder<RelayedProducer>>,
    wait: WaitStrategy,
    control: Control,
    /// What the producer line's `relay_session` holds.
    relay_session: u64,
    core: Option<u32>,
    /// With --init: how to replace the ring when the origin is re-initialized.
    replace: Option<CreateOptions>,
}

impl Writer {
    /// Writes one frame, bytes unchanged, waiting while the ring is full.
    #[inline]
    fn write(&mut self, frame: &[u8], origin: u64) -> Result<(), RingEnd> {
        if self.relay_session != origin {
            // Before the frame: a bridge restarted after this commit must
            // find whose sequence it carries. Only ever set on a ring that
            // holds no relayed frame of another origin (a fresh one).
            if let Some(producer) = self.producer.as_mut() {
                producer.set_origin(origin);
            }
            self.relay_session = origin;
        }
        loop {
            let producer = self.producer.as_mut().ok_or(RingEnd::Stopped)?;
            if let Some(mut slot) = producer.write_slot() {
                // The pack bounded the length by the largest payload, but
                // this ring's slots may have been made smaller.
                let Some(dest) = slot.payload_mut().get_mut(..frame.len()) else {
                    return Err(RingEnd::Failed(format!(
                        "a frame of {} bytes came, and this ring's slots hold {}; {}",
                        frame.len(),
                        producer.payload_capacity(),
                        forge_cli::larger_slots_hint(self.segment.name(), frame.len())
                    )));
                };
                dest.copy_from_slice(frame);
                slot.commit(frame.len())
                    .map_err(|e| RingEnd::Failed(e.to_string()))?;
                return Ok(());
            }
            // The holder waits one slice, and does its checks when due;
            // the loop claims again either way.
            producer.wait()?;
        }
    }

    /// Stores `head` for inspectors (the end of a sample).
    #[inline]
    fn publish(&mut self) {
        if let Some(p) = self.producer.as_mut() {
            p.flush_index();
        }
    }

    /// The holder's checks (stop, the session, the reader's index, the
    /// watch thread's verdict, the heartbeat), and `head` for inspectors.
    fn housekeeping(&mut self) -> Result<(), RingEnd> {
        let producer = self.producer.as_mut().ok_or(RingEnd::Stopped)?;
        producer.check(monotonic_ns())?;
        producer.flush_index();
        Ok(())
    }

    /// Replaces the ring with a fresh one of the same size, after leaving
    /// its reader a moment to drain it: the reader then ends with exit 3,
    /// as readers of the origin ring did.
    fn replace_segment(&mut self) -> Result<(), RingEnd> {
        let name = self.segment.name().to_owned();
        let deadline = std::time::Instant::now() + DRAIN_BEFORE_REPLACE;
        while std::time::Instant::now() < deadline {
            // A tail at head means everything was read.
            let (head, tail) = self.segment.indices();
            let done = tail >= head;
            if done || self.control.stop_requested() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut opts = self.replace.clone().expect("only called with --init");
        opts.slot_count = self.segment.slot_count();
        self.producer = None;
        let (segment, _) = Segment::replace(&name, &opts, LiveHolders::Retire)
            .map_err(|e| RingEnd::Failed(format!("cannot replace {name}: {e}")))?;
        let segment = Arc::new(segment);
        let claim = claim(self.core, self.wait);
        let mut producer =
            Holder::<RelayedProducer>::take(segment.clone(), &claim, self.control.clone())
                .map_err(|e| RingEnd::Failed(format!("cannot write into the new {name}: {e}")))?;
        producer.set_index_batch(PUBLISH_BATCH);
        eprintln!(
            "{PROGRAM} in: replaced {name}: new session {}; its readers end with exit 3 and restart on the new one",
            forge_cli::human::session(segment.session_id())
        );
        self.segment = segment;
        self.producer = Some(producer);
        self.relay_session = 0;
        Ok(())
    }
}

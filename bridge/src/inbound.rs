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
    CreateOptions, Observer, RelayedProducer, Role, Segment, SegmentError, WaitStrategy,
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
use crate::daemon::{self, RingEnd, StatusThread, PROGRAM};
use crate::status::{Counters, Identity, Status};
use forge_bridge::auth::AuthKey;
use forge_bridge::origin::Origins;
use forge_bridge::sequencer::{Effects, Range, Sequencer};
use forge_bridge::wire::{self, Kind, Query};

use self::state::Inbound;
use self::writer::{claim, Writer, PUBLISH_BATCH};

mod state;
mod writer;

/// How often the main thread looks around.
const TICK: Duration = Duration::from_millis(10);
/// How long a history query may take before it is asked again.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a session query may take.
const SESSION_TIMEOUT: Duration = Duration::from_secs(2);
/// Least time between two session queries, and after a history query that
/// left a hole before the next.
const ASK_AGAIN_NS: u64 = 200_000_000;

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

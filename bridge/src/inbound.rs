//! `forge-bridge in`: subscribes to a key and writes every frame it
//! receives into a local ring as its producer, committed with
//! `FRAME_RELAYED` so that readers check the origin's sequence.
//!
//! ```text
//!  Zenoh receive task ──KEY sample──▶ check ──▶ sequencer ──▶ ring (waits while full:
//!        │            ──KEY/@status──▶ sequencer (tail check)     the network backs up)
//!        │            ──history reply─▶ check ──▶ sequencer ──▶ ring
//!  main thread: every 10 ms — stop, segment checks, heartbeat, and the history
//!               query the sequencer asks for (never sent from a Zenoh callback)
//! ```
//!
//! Frames are written from Zenoh's callbacks, under one mutex, without a
//! thread hop: while the ring is full the callback waits, Zenoh stops
//! reading the link, and the sender's `put` blocks in turn. Nothing is
//! dropped on the way; frames missed across a restart or a dropped link
//! are asked from the sender's history, and what it no longer has is
//! reported as lost (a log line, the `lost` counter, exit code 4), and the
//! far ring's `forge-core --verify` sees the same gap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::Thread;
use std::time::Duration;

use color_eyre::eyre::{eyre, Result, WrapErr};
use color_eyre::Section;
use forge_fabric::clock::monotonic_ns;
use forge_fabric::layout::{FRAME_RELAYED, HOLDER_RELAYED};
use forge_fabric::{
    Claim, CreateOptions, Observer, Producer, Role, Segment, SegmentError, SessionError,
    WaitStrategy,
};
use forge_frame::decode_header;
use forge_holder::exit::Exit;
use forge_holder::signals::Control;
use zenoh::bytes::ZBytes;
use zenoh::key_expr::KeyExpr;
use zenoh::qos::CongestionControl;
use zenoh::query::ConsolidationMode;
use zenoh::sample::Sample;
use zenoh::{Session, Wait};

use crate::args::{End, InArgs};
use crate::daemon::{self, RingEnd, StatusThread, PROGRAM};
use crate::sequencer::{Effects, Origin, Sequencer};
use crate::status::{Counters, Identity, Status};
use crate::wire::{self, Range, Rejected};

/// How often the main thread looks around.
const TICK: Duration = Duration::from_millis(10);
/// Longest single wait for space before the writer looks around.
const WAIT_SLICE: Duration = Duration::from_millis(5);
/// Longest time between housekeeping passes while waiting for space.
const HOUSEKEEPING_NS: u64 = 10_000_000;
/// How long a history query may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Most bytes of live frames buffered while a recovery is under way.
const PENDING_LIMIT: usize = 256 << 20;
/// Rejected samples reported one by one.
const REJECTS_PRINTED: u64 = 10;
/// How long a ring being replaced is left to its reader to drain.
const DRAIN_BEFORE_REPLACE: Duration = Duration::from_secs(2);

/// Runs `forge-bridge in` until stopped.
pub fn run(args: &InArgs, control: Control) -> Result<Exit> {
    let name = args.segment.segment.clone();
    let key = args.key.key_expr()?;
    let config = args.zenoh.config(End::In)?;
    if args.ring.parent.die_with_parent {
        forge_cli::die_with_parent()?;
    }
    let segment = Arc::new(open_or_create(args)?);
    if let Some(warning) = segment.owner_warning() {
        eprintln!("{PROGRAM}: warning: {warning}");
    }
    forge_holder::fault::report_sigbus(PROGRAM, &segment)?;
    forge_holder::watch::spawn(PROGRAM, segment.clone(), Role::Producer, control.clone());
    let mut producer = segment
        .producer_with(&claim(args.ring.core))
        .map_err(|e| daemon::role_error(Role::Producer, &name, e))?;
    producer.set_wait_strategy(WaitStrategy::from(args.ring.wait));
    let resume = resume_point(&segment, producer.position());
    let session = daemon::open_zenoh(config)?;
    // Checks the core (and pins the housekeeping thread); the threads that
    // write the ring are Zenoh's, pinned on their first frame (`Shared::with`).
    daemon::pin_ring_thread(args.ring.core)?;

    let started = std::time::Instant::now();
    let counters = Arc::new(Counters::default());
    Counters::set(&counters.ring_session, segment.session_id());
    let writer = Writer {
        segment,
        producer: Some(producer),
        wait: WaitStrategy::from(args.ring.wait),
        control: control.clone(),
        relay_session: resume.map_or(0, |(s, _)| s),
        core: args.ring.core,
        replace: args.init.then_some(CreateOptions {
            slot_count: 0,
            // Frames from afar may have any size a ring carries.
            payload_capacity: forge_fabric::PAYLOAD_CAPACITY,
            mode: args.segment_mode,
            force: true,
        }),
        next_housekeeping_ns: 0,
    };
    let shared = Arc::new(Shared {
        inbound: Mutex::new(Inbound {
            seq: Sequencer::new(resume, PENDING_LIMIT),
            writer,
            counters: counters.clone(),
            end: None,
            rejects_printed: 0,
            fx: Effects::default(),
            frames: 0,
            bytes: 0,
            next: 0,
        }),
        ended: AtomicBool::new(false),
        query_done: AtomicBool::new(false),
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
    };
    let status = StatusThread::start(&session, &key, who.clone(), counters.clone());
    eprintln!(
        "{PROGRAM} in: pid {}, subscribed to {key} (zid {}), writing into {name} (session {}) {}",
        std::process::id(),
        who.zid,
        forge_cli::human::session(counters.ring_session.load(Ordering::Relaxed)),
        match resume {
            Some((s, next)) => format!(
                "after its last relayed frame: origin session {}, sequence {next} next",
                forge_cli::human::session(s)
            ),
            None => "from the first frame that comes".to_owned(),
        }
    );

    let end = main_loop(&shared, &session, &key, &control);
    // No more callbacks, then the role is released.
    control.request_stop();
    drop(subscribers);
    let mut inbound = shared.lock();
    let end = inbound.end.take().unwrap_or(end);
    inbound.publish_counts();
    if let Some(mut p) = inbound.writer.producer.take() {
        p.publish();
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
        "{PROGRAM} in: wrote {} frames ({} bytes), next sequence {}; recovered {}, lost {} in {} gaps, \
         rejected {}, duplicates dropped {}",
        final_status.frames,
        final_status.bytes,
        final_status.next_sequence,
        final_status.recovered,
        final_status.lost,
        final_status.gaps,
        final_status.rejected,
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

fn claim(core: Option<u32>) -> Claim {
    Claim {
        core,
        program: PROGRAM.into(),
        flags: HOLDER_RELAYED,
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
                    force: false,
                };
                let (segment, _) = Segment::create(name, &opts)
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
    let last = head - 1;
    let observer = Observer::open(segment.name(), Duration::from_secs(1)).ok()?;
    let slot = observer
        .read_slot((last % u64::from(segment.slot_count())) as u32)
        .ok()?;
    if slot.position != Some(last) || slot.flags & FRAME_RELAYED == 0 || slot.torn {
        return None;
    }
    let header = decode_header(&slot.bytes).ok()?;
    Some((relay, header.sequence.wrapping_add(1)))
}

/// What the callbacks and the main thread share.
struct Shared {
    inbound: Mutex<Inbound>,
    /// Set once `inbound.end` is: the main thread polls it without the lock.
    ended: AtomicBool,
    /// The history query under way ended (its callback was dropped).
    query_done: AtomicBool,
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
        } else if inbound.seq.recovering() {
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
        .callback(move |sample: Sample| s.with(|i| i.on_frame(&sample, false)))
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
/// housekeeping, and the history query the sequencer wants.
fn main_loop(
    shared: &Arc<Shared>,
    session: &Session,
    key: &KeyExpr<'static>,
    control: &Control,
) -> RingEnd {
    loop {
        std::thread::park_timeout(TICK);
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
        // SYNC: set by the query's drop guard; the replies it followed were
        // handled under the lock we hold.
        if shared.query_done.swap(false, Ordering::Relaxed) {
            inbound.query_finished();
        }
        if let Err(end) = inbound.writer.housekeeping() {
            inbound.end = Some(end);
            return RingEnd::Stopped;
        }
        inbound.update_gauges();
        inbound.publish_counts();
        let query = inbound.seq.take_query();
        drop(inbound);
        if let Some(range) = query {
            ask_history(shared, session, key, range);
        }
    }
}

/// Sends one history query; replies go through the same path as live
/// frames, and the end of the query (its callback dropped) sets
/// `query_done`.
fn ask_history(shared: &Arc<Shared>, session: &Session, key: &KeyExpr<'static>, range: Range) {
    struct Done(Arc<Shared>);
    impl Drop for Done {
        fn drop(&mut self) {
            // SYNC: read by the main thread's swap; see `main_loop`.
            self.0.query_done.store(true, Ordering::Relaxed);
            self.0.main.unpark();
        }
    }
    Counters::add(&shared.counters.queries, 1);
    let done = Done(shared.clone());
    let selector = format!("{}?{}", wire::history_key(key), range.parameters());
    let sent = session
        .get(&selector)
        .consolidation(ConsolidationMode::None)
        .congestion_control(CongestionControl::Block)
        .timeout(QUERY_TIMEOUT)
        .callback(move |reply| {
            let shared = &done.0;
            match reply.result() {
                Ok(sample) => shared.with(|i| i.on_frame(sample, true)),
                Err(e) => eprintln!(
                    "{PROGRAM} in: the history refused a query: {}",
                    e.payload().try_to_string().unwrap_or_default()
                ),
            }
        })
        .wait();
    if let Err(e) = sent {
        // The callback (and its guard) is gone: the query counts as done.
        eprintln!("{PROGRAM} in: cannot query the history at {selector}: {e}");
    }
}

/// The receiving state: the sequencer and the ring it writes into.
struct Inbound {
    seq: Sequencer<ZBytes>,
    writer: Writer,
    counters: Arc<Counters>,
    end: Option<RingEnd>,
    rejects_printed: u64,
    /// Reused from frame to frame.
    fx: Effects<ZBytes>,
    /// Frames, bytes and next sequence written; published each tick.
    frames: u64,
    bytes: u64,
    next: u64,
}

impl Inbound {
    /// A frame from the live stream or (`from_history`) a history reply.
    fn on_frame(&mut self, sample: &Sample, from_history: bool) {
        let payload = sample.payload();
        let attachment = sample.attachment().map(ZBytes::to_bytes);
        let checked = match wire::check(&payload.to_bytes(), attachment.as_deref()) {
            Ok(c) => c,
            Err(why) => return self.reject(sample, &why),
        };
        match self.seq.origin(checked.session) {
            Origin::Same => {}
            Origin::Stale => return Counters::add(&self.counters.stale, 1),
            Origin::New { old, new } => {
                if let Err(end) = self.new_origin(old, new) {
                    self.end = Some(end);
                    return;
                }
            }
        }
        Counters::set(&self.counters.origin_session, checked.session);
        let mut fx = std::mem::take(&mut self.fx);
        if from_history {
            self.seq.reply(checked.sequence, payload.clone(), &mut fx);
        } else {
            self.seq.live(checked.sequence, payload.clone(), &mut fx);
        }
        self.apply(&mut fx);
        // Kept for the next frame: its vectors keep their capacity.
        self.fx = fx;
    }

    /// A status on KEY/@status: the sender's, for the tail check.
    fn on_status(&mut self, sample: &Sample) {
        let Ok(text) = sample.payload().try_to_string() else {
            return;
        };
        let Ok(status) = serde_json::from_str::<Status>(&text) else {
            return;
        };
        if status.mode == "out" && Some(status.origin_session_id) == self.seq.session() {
            self.seq.status(status.next_sequence);
        }
    }

    /// The history query under way ended.
    fn query_finished(&mut self) {
        let mut fx = Effects::default();
        self.seq.query_done(&mut fx);
        self.apply(&mut fx);
    }

    fn apply(&mut self, fx: &mut Effects<ZBytes>) {
        let c = &self.counters;
        for &(from, to) in &fx.lost {
            let n = to.wrapping_sub(from);
            Counters::add(&c.lost, n);
            Counters::add(&c.gaps, 1);
            eprintln!(
                "{PROGRAM} in: gap: frames {from}..{to} lost for good ({n} frames): not in the \
                 sender's history; readers of the ring will see the same gap"
            );
        }
        if fx.duplicates != 0 {
            Counters::add(&c.duplicates, fx.duplicates);
        }
        if fx.recovered != 0 {
            Counters::add(&c.recovered, fx.recovered);
        }
        let origin = self.seq.session().unwrap_or(0);
        for (seq, frame) in fx.write.drain(..) {
            if let Err(end) = self.writer.write(&frame, origin) {
                self.end = Some(end);
                break;
            }
            self.frames += 1;
            self.bytes += frame.len() as u64;
            self.next = seq.wrapping_add(1);
        }
        fx.clear();
    }

    /// The counters kept under the lock, for the status (every tick).
    fn publish_counts(&self) {
        Counters::set(&self.counters.frames, self.frames);
        Counters::set(&self.counters.bytes, self.bytes);
        Counters::set(&self.counters.next_sequence, self.next);
    }

    #[cold]
    fn reject(&mut self, sample: &Sample, why: &Rejected) {
        Counters::add(&self.counters.rejected, 1);
        self.rejects_printed += 1;
        if self.rejects_printed <= REJECTS_PRINTED {
            eprintln!(
                "{PROGRAM} in: rejected a sample on {} ({} bytes, {}): {why}",
                sample.key_expr(),
                sample.payload().len(),
                why.name()
            );
        } else if self.rejects_printed == REJECTS_PRINTED + 1 {
            eprintln!("{PROGRAM} in: more samples rejected; counting them in the status");
        }
    }

    /// The origin ring was re-initialized (or this ring holds another
    /// origin's frames): with --init, replace the ring with a fresh one, as
    /// the origin's was; else end the run (exit 3).
    #[cold]
    fn new_origin(&mut self, old: u64, new: u64) -> Result<(), RingEnd> {
        use forge_cli::human::session;
        eprintln!(
            "{PROGRAM} in: the origin ring was re-initialized: session {} -> {}",
            session(old),
            session(new)
        );
        if self.seq.recovering() {
            eprintln!(
                "{PROGRAM} in: the recovery under way for session {} is abandoned",
                session(old)
            );
        }
        if self.writer.replace.is_none() {
            return Err(RingEnd::OriginChanged { old, new });
        }
        self.writer.replace_segment()?;
        Counters::set(
            &self.counters.ring_session,
            self.writer.segment.session_id(),
        );
        self.seq.restart(new);
        Ok(())
    }

    fn update_gauges(&self) {
        let (head, tail) = self.writer.segment.indices();
        Counters::set(&self.counters.backlog, head.saturating_sub(tail));
        Counters::set(&self.counters.pending, self.seq.pending() as u64);
    }
}

/// The producer side of the local ring.
struct Writer {
    segment: Arc<Segment>,
    /// `None` once the run ended.
    producer: Option<Producer>,
    wait: WaitStrategy,
    control: Control,
    /// What the producer line's `relay_session` holds.
    relay_session: u64,
    core: Option<u32>,
    /// With --init: how to replace the ring when the origin is re-initialized.
    replace: Option<CreateOptions>,
    next_housekeeping_ns: u64,
}

impl Writer {
    /// Writes one frame, waiting while the ring is full.
    fn write(&mut self, frame: &ZBytes, origin: u64) -> Result<(), RingEnd> {
        let bytes = frame.to_bytes();
        if self.relay_session != origin {
            // Before the frame: a bridge restarted after this commit must
            // find whose sequence it carries. Only ever set on a ring that
            // holds no relayed frame of another origin (a fresh one).
            if let Some(producer) = self.producer.as_mut() {
                producer.set_relay_session(origin);
            }
            self.relay_session = origin;
        }
        loop {
            let producer = self.producer.as_mut().ok_or(RingEnd::Stopped)?;
            if let Some(mut slot) = producer.claim() {
                // `wire::check` bounded the length by the largest payload,
                // but this ring's slots may have been made smaller.
                let Some(dest) = slot.payload_mut().get_mut(..bytes.len()) else {
                    return Err(RingEnd::Failed(format!(
                        "a frame of {} bytes came, and this ring's slots hold {}; {}",
                        bytes.len(),
                        producer.payload_capacity(),
                        forge_cli::larger_slots_hint(self.segment.name(), bytes.len())
                    )));
                };
                dest.copy_from_slice(&bytes);
                slot.commit_with_flags(bytes.len(), FRAME_RELAYED)
                    .map_err(|e| RingEnd::Failed(e.to_string()))?;
                return Ok(());
            }
            producer.wait_for_space(self.wait, WAIT_SLICE);
            if monotonic_ns() >= self.next_housekeeping_ns {
                self.housekeeping()?;
            }
        }
    }

    /// Stop, the session, the reader's index, the watch thread's verdict,
    /// the heartbeat, and `head` for inspectors.
    fn housekeeping(&mut self) -> Result<(), RingEnd> {
        self.next_housekeeping_ns = monotonic_ns() + HOUSEKEEPING_NS;
        if self.control.stop_requested() {
            return Err(RingEnd::Stopped);
        }
        if let Some(lost) = self.control.segment_lost() {
            return Err(RingEnd::SegmentLost(lost));
        }
        let producer = self.producer.as_mut().ok_or(RingEnd::Stopped)?;
        match producer.check_session() {
            Ok(()) => {}
            Err(SessionError::Corrupt(c)) => return Err(RingEnd::Corrupt(c)),
            Err(e) => return Err(RingEnd::SessionLost(e)),
        }
        producer.check_tail().map_err(RingEnd::Corrupt)?;
        producer.heartbeat();
        producer.publish();
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
        let (segment, _) = Segment::create(&name, &opts)
            .map_err(|e| RingEnd::Failed(format!("cannot replace {name}: {e}")))?;
        let segment = Arc::new(segment);
        if let Err(e) = forge_holder::fault::report_sigbus(PROGRAM, &segment) {
            eprintln!("{PROGRAM} in: warning: {e}");
        }
        forge_holder::watch::spawn(
            PROGRAM,
            segment.clone(),
            Role::Producer,
            self.control.clone(),
        );
        let mut producer = segment
            .producer_with(&claim(self.core))
            .map_err(|e| RingEnd::Failed(format!("cannot write into the new {name}: {e}")))?;
        producer.set_wait_strategy(self.wait);
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

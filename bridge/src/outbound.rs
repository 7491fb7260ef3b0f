//! `forge-bridge out`: the consumer of a local ring that publishes its
//! frames, packed and authenticated, on a Zenoh key.
//!
//! ```text
//!  ring ──read every frame there is now (≤ --pack-bytes, ≤ half the ring)──▶ pack ──▶ MAC
//!       ──▶ history ──▶ put (reliable, congestion control Block) ──▶ release the slots
//!                          │ blocks while the network is slower than
//!                          ▼ the producer: the ring fills, the producer waits
//!  KEY/@history queryable (own thread): packed replies from the history, and "gone"
//!  KEY/@session queryable (own thread): which session is published now
//!  KEY/@status (own thread): JSON once a second, tagged
//! ```
//!
//! Smart batching, as the Disruptor's batch consumer does it: no timer.
//! The loop takes whatever the ring holds when it looks, so at a low rate
//! a sample holds one frame and leaves at once, and under load it holds
//! many and the per-sample costs (Zenoh's, the MAC's set-up) are shared.
//! A pack is at most half the ring, so the producer fills the other half
//! while a pack is sealed and put.
//!
//! Slots are released only after `put` returned (once Zenoh holds the
//! pack), a quarter of the ring at a time or when the ring is empty: a
//! killed `out` republishes at most that (and one pack) when restarted,
//! never loses a frame, and `in` drops the repeats as duplicates. While no
//! subscriber matches the key the loop reads nothing, so the ring fills
//! and the producer waits instead of frames being published to nobody. A
//! pack goes into the history before it is put: a receiver whose
//! subscription reached us after the put finds it there.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use color_eyre::eyre::{eyre, Result, WrapErr};
use forge_fabric::clock::monotonic_ns;
use forge_fabric::{Claim, Consumer, Role, WaitStrategy};
use forge_holder::exit::Exit;
use forge_holder::signals::Control;
use forge_holder::Holder;
use zenoh::bytes::ZBytes;
use zenoh::key_expr::KeyExpr;
use zenoh::qos::CongestionControl;
use zenoh::query::Query as ZQuery;
use zenoh::{Session, Wait};

use crate::args::{self, End, OutArgs};
use crate::daemon::{self, RingEnd, StatusThread, PROGRAM};
use crate::status::{Counters, Identity, Status};
use forge_bridge::auth::{AuthKey, MAC_LEN};
use forge_bridge::history::{History, Piece};
use forge_bridge::wire::{self, Header, Kind, Packer, Query, QueryRefused, HEADER_LEN, NONCE_LEN};

/// Packs between two housekeeping passes while frames keep coming.
const CHECK_EVERY: u32 = 256;
/// How long the loop sleeps while no subscriber matches.
const WAIT_SLICE: Duration = forge_holder::end::WAIT_SLICE;
/// Damaged local frames reported one by one.
const CORRUPT_PRINTED: u64 = 10;
/// Query nonces remembered, to refuse a replayed query.
const NONCES_KEPT: usize = 4096;
/// Refused queries reported one by one.
const REFUSALS_PRINTED: u64 = 10;

/// Runs `forge-bridge out` until stopped.
pub fn run(args: &OutArgs, control: Control) -> Result<Exit> {
    let name = args.segment.segment.clone();
    let key = args.key.key_expr()?;
    let config = args.zenoh.config(End::Out)?;
    if let Err(line) = args::check_exposure(&config, &args.auth, End::Out) {
        eprintln!("{line}");
        return Ok(Exit::Usage);
    }
    let auth = args.auth.key()?;
    if args.ring.parent.die_with_parent {
        forge_cli::die_with_parent()?;
    }
    let segment = Arc::new(forge_cli::open_segment(&name)?);
    if let Some(warning) = segment.owner_warning() {
        eprintln!("{PROGRAM}: warning: {warning}");
    }
    let wait = WaitStrategy::from(args.ring.wait);
    let mut claim = Claim::new().wait(wait).program(PROGRAM);
    if let Some(core) = args.ring.core {
        claim = claim.pinned_core(core);
    }
    // The holder's duties: the SIGBUS guard, the watch thread, the role.
    let mut consumer = Holder::<Consumer>::take(segment.clone(), &claim, control.clone())
        .map_err(|e| daemon::holder_error(Role::Consumer, &name, e))?;
    // A tick is a pack here, many frames and a put: check more often.
    consumer.set_check_every(CHECK_EVERY);
    let session = daemon::open_zenoh(config)?;
    daemon::pin_ring_thread(args.ring.core)?;

    let started = std::time::Instant::now();
    let counters = Arc::new(Counters::default());
    let origin = segment.session_id();
    Counters::set(&counters.ring_session, origin);
    Counters::set(&counters.origin_session, origin);
    let publisher = session
        .declare_publisher(key.clone())
        .congestion_control(CongestionControl::Block)
        .wait()
        .map_err(|e| eyre!("cannot declare the publisher on {key}: {e}"))?;
    let c = counters.clone();
    publisher
        .matching_listener()
        // SYNC: a flag the loop polls; the frames it gates are the ring's.
        .callback(move |m| c.matching.store(m.matching(), Ordering::Relaxed))
        .background()
        .wait()
        .map_err(|e| eyre!("cannot watch {key} for subscribers: {e}"))?;
    let history = Arc::new(Mutex::new(History::new(args.history, args.history_bytes)));
    let pack_bytes = args.pack_bytes as usize;
    let server = Server {
        auth: auth.clone(),
        stream: key.to_string(),
        origin,
        history: history.clone(),
        counters: counters.clone(),
        pack_bytes,
        seen: Arc::new(Mutex::new(Nonces::default())),
    };
    let repliers = [
        server
            .clone()
            .spawn(&session, wire::history_key(&key), Kind::HistoryQuery)?,
        server.spawn(&session, wire::session_key(&key), Kind::SessionQuery)?,
    ];
    let who = Identity {
        mode: "out",
        key: key.to_string(),
        segment: name.clone(),
        zid: session.zid().to_string(),
        auth: auth.clone(),
    };
    let status = StatusThread::start(&session, &key, who.clone(), counters.clone());
    eprintln!(
        "{PROGRAM} out: pid {}, consuming from {name} (session {}) at sequence {}, publishing on {key} \
         (zid {}); samples of up to {pack_bytes} bytes, {}; history {} frames / {} bytes; {}",
        std::process::id(),
        forge_cli::human::session(origin),
        consumer.position(),
        who.zid,
        if auth.is_secret() {
            "authenticated with the --auth-key"
        } else {
            "NOT authenticated (no --auth-key: a MAC under a public key, integrity only)"
        },
        args.history,
        args.history_bytes,
        if args.no_wait_for_subscribers {
            "publishing whether or not anyone subscribes"
        } else {
            "waiting for a subscriber before consuming"
        },
    );

    // Half the ring at most per pack: the producer fills the other half
    // while this one is sealed and put.
    let max_frames = (consumer.capacity() / 2).max(1);
    // Slots put are handed back a quarter of the ring at a time (and
    // whenever the loop is about to wait): a producer that filled the ring
    // then sleeps and wakes once per quarter ring, not once per pack, and
    // each of its sleeps starts with the fabric's spin.
    let release_every = (consumer.capacity() / 4).max(1);
    // Slots are released by `flush_index` after a put, never before: at
    // most `release_every - 1` put and a pack of `max_frames` are held, so
    // the batch (the whole ring) is never reached.
    let whole_ring = consumer.capacity();
    consumer.set_index_batch(whole_ring);
    let mut out = Outbound {
        consumer: &mut consumer,
        counters: &counters,
        history: &history,
        publisher: &publisher,
        auth: &auth,
        stream: key.as_str(),
        origin,
        packer: Packer::new(pack_bytes),
        max_frames,
        release_every,
        unreleased: 0,
        gate: !args.no_wait_for_subscribers,
        corrupt_printed: 0,
        frames: 0,
        bytes: 0,
        packs: 0,
        next: 0,
    };
    let end = out.run();
    consumer.flush_index();
    Counters::set(&counters.backlog, backlog(&segment));
    // Release the role before the network goes down.
    drop(consumer);
    status.stop();
    drop(publisher);
    let mut final_status = Status::now(&who, &counters, 0, started);
    final_status.end = end.name().into();
    let _ = session.close().wait();
    for r in repliers {
        let _ = r.join();
    }
    daemon::print_final(&final_status)?;
    let (exit, why) = end.exit(&name);
    if let Some(why) = why {
        eprintln!("{PROGRAM} out: stopping: {why}");
    }
    eprintln!(
        "{PROGRAM} out: published {} frames ({} bytes) in {} samples, next sequence {}; {} queries \
         answered, {} refused as unauthenticated",
        final_status.frames,
        final_status.bytes,
        final_status.packs,
        final_status.next_sequence,
        final_status.queries,
        final_status.unauthenticated,
    );
    Ok(exit)
}

/// Frames in the ring not yet consumed.
fn backlog(segment: &forge_fabric::Segment) -> u64 {
    let (head, tail) = segment.indices();
    head.saturating_sub(tail)
}

/// Recent query nonces: a captured query, replayed, is refused.
#[derive(Debug, Default)]
struct Nonces {
    set: HashSet<[u8; NONCE_LEN]>,
    order: VecDeque<[u8; NONCE_LEN]>,
}

impl Nonces {
    /// Remembers `n`; false if it was seen already.
    fn first_time(&mut self, n: [u8; NONCE_LEN]) -> bool {
        if !self.set.insert(n) {
            return false;
        }
        self.order.push_back(n);
        if self.order.len() > NONCES_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// Answers KEY/@history and KEY/@session queries.
#[derive(Clone)]
struct Server {
    auth: AuthKey,
    stream: String,
    origin: u64,
    history: Arc<Mutex<History>>,
    counters: Arc<Counters>,
    pack_bytes: usize,
    seen: Arc<Mutex<Nonces>>,
}

impl Server {
    /// A queryable on `key` for queries of `kind`, served from a thread of
    /// its own, so a slow reader of the replies never holds up Zenoh's
    /// receive path.
    fn spawn(
        self,
        session: &Session,
        key: KeyExpr<'static>,
        kind: Kind,
    ) -> Result<std::thread::JoinHandle<()>> {
        let queryable = session
            .declare_queryable(key.clone())
            .wait()
            .map_err(|e| eyre!("cannot declare the queryable on {key}: {e}"))?;
        std::thread::Builder::new()
            .name(format!("{kind:?}"))
            .spawn(move || {
                let mut refused = 0u64;
                while let Ok(query) = queryable.recv() {
                    if let Err(why) = self.answer(&query, &key, kind) {
                        let _ = query.reply_err(why.clone()).wait();
                        refused += 1;
                        if refused <= REFUSALS_PRINTED {
                            eprintln!("{PROGRAM} out: refused a query on {key}: {why}");
                        }
                    }
                }
            })
            .wrap_err("cannot start a query thread")
    }

    fn answer(&self, query: &ZQuery, key: &KeyExpr<'static>, kind: Kind) -> Result<(), String> {
        let q = match Query::parse(&self.auth, &self.stream, kind, query.parameters()) {
            Ok(q) => q,
            Err(why) => {
                if !matches!(why, QueryRefused::Endless { .. }) {
                    Counters::add(&self.counters.unauthenticated, 1);
                }
                return Err(why.to_string());
            }
        };
        if !self
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first_time(q.nonce)
        {
            Counters::add(&self.counters.replayed, 1);
            return Err("a query seen before (replayed): not answered again".into());
        }
        Counters::add(&self.counters.queries, 1);
        let reply = |bytes: Vec<u8>| {
            query
                .reply(key.clone(), bytes)
                .wait()
                .map_err(|e| format!("cannot reply: {e}"))
        };
        let history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        if kind == Kind::SessionQuery {
            let header = Header {
                kind: Kind::Session,
                session: self.origin,
                first: history.front().unwrap_or(0),
                end: history.next().unwrap_or(0),
                nonce: q.nonce,
            };
            drop(history);
            return reply(wire::seal_empty(&self.auth, &self.stream, &header));
        }
        // Handles on the kept packs, taken under the lock; the replies are
        // built and sent without it.
        let pieces = history.answer(q.from, q.to);
        drop(history);
        let mut packer = Packer::new(self.pack_bytes);
        let seal = |packer: &mut Packer| {
            packer.seal(
                &self.auth,
                &self.stream,
                Kind::HistoryFrames,
                self.origin,
                q.nonce,
            )
        };
        for piece in pieces {
            match piece {
                Piece::Gone { from, to } => {
                    if let Some(p) = seal(&mut packer) {
                        reply(p)?;
                    }
                    let header = Header {
                        kind: Kind::Gone,
                        session: self.origin,
                        first: from,
                        end: to,
                        nonce: q.nonce,
                    };
                    reply(wire::seal_empty(&self.auth, &self.stream, &header))?;
                }
                Piece::Frames { from, to, pack } => {
                    let bytes = pack.to_bytes();
                    // Our own pack, sealed by us: its layout is known.
                    let body = &bytes[HEADER_LEN..bytes.len() - MAC_LEN];
                    let first = Header::decode(&bytes).map_err(|e| e.to_string())?.first;
                    for (i, frame) in wire::records(body).map_while(Result::ok).enumerate() {
                        let seq = first.wrapping_add(i as u64);
                        if wire::before(seq, from) {
                            continue;
                        }
                        if !wire::before(seq, to) {
                            break;
                        }
                        if !packer.fits(seq, frame.len()) {
                            if let Some(p) = seal(&mut packer) {
                                reply(p)?;
                            }
                        }
                        packer.push(seq, frame);
                    }
                }
            }
        }
        if let Some(p) = seal(&mut packer) {
            reply(p)?;
        }
        Ok(())
    }
}

/// The consumer loop and its state.
struct Outbound<'a> {
    consumer: &'a mut Holder<Consumer>,
    counters: &'a Counters,
    history: &'a Mutex<History>,
    publisher: &'a zenoh::pubsub::Publisher<'static>,
    auth: &'a AuthKey,
    stream: &'a str,
    origin: u64,
    packer: Packer,
    max_frames: u64,
    /// Slots put (or found damaged) before they are handed back to the
    /// producer.
    release_every: u64,
    /// Slots read since the last hand-back, damaged ones included: what
    /// counts toward the consumer's index batch.
    unreleased: u64,
    /// Read only while some subscriber matches.
    gate: bool,
    corrupt_printed: u64,
    /// Counted here, published to `counters` by housekeeping: no atomic
    /// read-modify-write per frame.
    frames: u64,
    bytes: u64,
    packs: u64,
    next: u64,
}

impl Outbound<'_> {
    fn run(&mut self) -> RingEnd {
        let end = self.stream();
        self.publish_counts();
        end
    }

    /// Frames, bytes and the next sequence for the status. The status
    /// thread may read a `next_sequence` up to one housekeeping period old:
    /// still true (every frame before it was put), which is all `in`'s
    /// tail check needs.
    fn publish_counts(&self) {
        Counters::set(&self.counters.frames, self.frames);
        Counters::set(&self.counters.bytes, self.bytes);
        Counters::set(&self.counters.packs, self.packs);
        Counters::set(&self.counters.next_sequence, self.next);
    }

    fn stream(&mut self) -> RingEnd {
        if let Some(end) = self.housekeeping(monotonic_ns()) {
            return end;
        }
        loop {
            // SYNC: a flag set by the matching listener; see `run`.
            if self.gate && !self.counters.matching.load(Ordering::Relaxed) {
                self.consumer.flush_index();
                self.unreleased = 0;
                std::thread::sleep(WAIT_SLICE);
                if let Some(end) = self.housekeeping(monotonic_ns()) {
                    return end;
                }
                continue;
            }
            match self.fill() {
                Ok(0) => {
                    // Empty, or stuck behind a damaged slot word? The
                    // holder tells, and does its checks. Every slot read
                    // was put: the wait hands them all back first.
                    self.unreleased = 0;
                    if let Err(halt) = self.consumer.wait() {
                        return halt.into();
                    }
                    self.extras();
                    continue;
                }
                Ok(_) => {}
                // A slot word claiming more than a slot: the ring cannot
                // step over it.
                Err(e) => return RingEnd::Slot(e),
            }
            if let Err(end) = self.send() {
                return end;
            }
            match self.consumer.tick() {
                Ok(false) => {}
                Ok(true) => self.extras(),
                Err(halt) => return halt.into(),
            }
        }
    }

    /// Moves every frame the ring holds now into the pack, up to its bound,
    /// half the ring, or a break in the sequence. Slots are read and
    /// released locally; the producer sees them free at `flush_index`, after the
    /// put. Returns the frames taken.
    #[inline]
    fn fill(&mut self) -> Result<u64, forge_fabric::ReadError> {
        let mut taken = 0;
        // Slots read, damaged ones included: at most `max_frames`, so that
        // no `tail` store happens before the put (see the release batch).
        let mut read = 0;
        while read < self.max_frames {
            let Some(frame) = self.consumer.read_slot()? else {
                break;
            };
            read += 1;
            let Some(seq) = wire::frame_sequence(&frame) else {
                let pos = frame.position();
                let len = frame.len();
                frame.release();
                // Released locally like a frame put: it counts toward the
                // index batch too.
                self.unreleased += 1;
                self.corrupt(pos, len);
                continue;
            };
            if !self.packer.fits(seq, frame.len()) {
                // Left in the ring for the next pack.
                break;
            }
            self.packer.push(seq, &frame);
            self.bytes += frame.len() as u64;
            frame.release();
            self.unreleased += 1;
            taken += 1;
        }
        Ok(taken)
    }

    /// Seals the pack, keeps it, puts it, then frees its slots.
    fn send(&mut self) -> Result<(), RingEnd> {
        let first = self.packer.end().wrapping_sub(self.packer.count());
        let end = self.packer.end();
        let Some(pack) = self.packer.seal(
            self.auth,
            self.stream,
            Kind::Frames,
            self.origin,
            [0; NONCE_LEN],
        ) else {
            return Ok(());
        };
        let pack = ZBytes::from(pack);
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(first, end, pack.clone());
        // Blocks while Zenoh's queue is full: the slots stay ours.
        if let Err(e) = self.publisher.put(pack).wait() {
            return Err(RingEnd::Failed(format!("Zenoh refused a sample: {e}")));
        }
        // Put: its slots (and any damaged ones read before) may go back.
        // `consumer.wait` hands back the rest before the loop sleeps.
        if self.unreleased >= self.release_every {
            self.consumer.flush_index();
            self.unreleased = 0;
        }
        self.frames += end.wrapping_sub(first);
        self.packs += 1;
        self.next = end;
        Ok(())
    }

    #[cold]
    fn corrupt(&mut self, position: u64, len: usize) {
        Counters::add(&self.counters.corrupt, 1);
        self.corrupt_printed += 1;
        if self.corrupt_printed <= CORRUPT_PRINTED {
            eprintln!(
                "{PROGRAM} out: the frame at ring position {position} has {len} bytes, too few for \
                 a sequence number: not published; receivers will report the gap"
            );
        }
    }

    /// Off the per-pack path: the holder's checks (stop, the session, the
    /// watch thread's verdict after draining, the heartbeat), then the
    /// bridge's own.
    fn housekeeping(&mut self, now_ns: u64) -> Option<RingEnd> {
        if let Err(halt) = self.consumer.check(now_ns) {
            return Some(halt.into());
        }
        self.extras();
        None
    }

    /// The bridge's housekeeping beside the holder's: the status counters,
    /// and a line on SIGUSR1.
    fn extras(&mut self) {
        self.publish_counts();
        let history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        Counters::set(&self.counters.history_frames, history.len());
        Counters::set(&self.counters.history_bytes, history.bytes() as u64);
        drop(history);
        if self.consumer.control().take_usr1() {
            eprintln!(
                "{PROGRAM} out: {} frames published in {} samples, next sequence {}",
                self.frames, self.packs, self.next
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_query_nonce_is_refused_and_old_ones_are_forgotten() {
        let mut n = Nonces::default();
        assert!(n.first_time([1; NONCE_LEN]));
        assert!(!n.first_time([1; NONCE_LEN]));
        for i in 0..NONCES_KEPT as u32 {
            let mut x = [0u8; NONCE_LEN];
            x[..4].copy_from_slice(&i.to_le_bytes());
            x[15] = 9;
            n.first_time(x);
        }
        assert!(n.set.len() <= NONCES_KEPT);
        assert!(n.first_time([1; NONCE_LEN]));
    }
}

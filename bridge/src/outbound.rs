//! `forge-bridge out`: the consumer of a local ring that publishes every
//! frame on a Zenoh key.
//!
//! ```text
//!  ring ──read──▶ copy ──▶ history ──▶ put (reliable, congestion control Block) ──▶ release
//!                                          │ blocks while the network is slower than
//!                                          ▼ the producer: the ring fills, the producer waits
//!  KEY/@history queryable (own thread): replies from the history
//!  KEY/@status (own thread): JSON once a second
//! ```
//!
//! A slot is released only after `put` returned, that is once Zenoh holds
//! the frame in its transmission queue. While no subscriber matches the key
//! the loop reads nothing, so the ring fills and the producer waits instead
//! of frames being published to nobody. A frame goes into the history
//! before it is put: a receiver whose subscription reached us after the
//! put finds it there.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use color_eyre::eyre::{eyre, Result, WrapErr};
use forge_fabric::clock::monotonic_ns;
use forge_fabric::{Claim, Consumer, Role, WaitStrategy};
use forge_frame::{decode_header, FRAME_HEADER_LEN};
use forge_holder::checks;
use forge_holder::exit::Exit;
use forge_holder::signals::Control;
use zenoh::bytes::ZBytes;
use zenoh::key_expr::KeyExpr;
use zenoh::qos::CongestionControl;
use zenoh::{Session, Wait};

use crate::args::{End, OutArgs};
use crate::daemon::{self, RingEnd, StatusThread, PROGRAM};
use crate::history::History;
use crate::status::{Counters, Identity, Status};
use crate::wire::{self, Range};

/// Frames between two housekeeping passes while frames keep coming.
const CHECK_EVERY: u32 = 4096;
/// Longest time between housekeeping passes while waiting.
const HOUSEKEEPING_NS: u64 = 10_000_000;
/// Longest single wait for a frame before the loop looks around.
const WAIT_SLICE: Duration = Duration::from_millis(5);
/// Releases per `tail` store: also the most frames a restarted `out`
/// publishes twice (the receivers drop them as duplicates).
const RELEASE_BATCH: u64 = 32;
/// Corrupt local frames reported one by one.
const CORRUPT_PRINTED: u64 = 10;

/// Runs `forge-bridge out` until stopped.
pub fn run(args: &OutArgs, control: Control) -> Result<Exit> {
    let name = args.segment.segment.clone();
    let key = args.key.key_expr()?;
    let config = args.zenoh.config(End::Out)?;
    if args.ring.parent.die_with_parent {
        forge_cli::die_with_parent()?;
    }
    let segment = Arc::new(forge_cli::open_segment(&name)?);
    if let Some(warning) = segment.owner_warning() {
        eprintln!("{PROGRAM}: warning: {warning}");
    }
    forge_holder::fault::report_sigbus(PROGRAM, &segment)?;
    forge_holder::watch::spawn(PROGRAM, segment.clone(), Role::Consumer, control.clone());
    let claim = Claim {
        core: args.ring.core,
        program: PROGRAM.into(),
        flags: 0,
    };
    let mut consumer = segment
        .consumer_with(&claim)
        .map_err(|e| daemon::role_error(Role::Consumer, &name, e))?;
    let session = daemon::open_zenoh(config)?;
    daemon::pin_ring_thread(args.ring.core)?;

    let started = std::time::Instant::now();
    let counters = Arc::new(Counters::default());
    Counters::set(&counters.ring_session, segment.session_id());
    Counters::set(&counters.origin_session, segment.session_id());
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
    let attachment = wire::origin_attachment(segment.session_id());
    let replier = serve_history(
        &session,
        &key,
        history.clone(),
        attachment.clone(),
        counters.clone(),
    )?;
    let who = Identity {
        mode: "out",
        key: key.to_string(),
        segment: name.clone(),
        zid: session.zid().to_string(),
    };
    let status = StatusThread::start(&session, &key, who.clone(), counters.clone());
    eprintln!(
        "{PROGRAM} out: pid {}, consuming from {name} (session {}) at sequence {}, publishing on {key} \
         (zid {}); history {} frames / {} bytes; {}",
        std::process::id(),
        forge_cli::human::session(segment.session_id()),
        consumer.position(),
        who.zid,
        args.history,
        args.history_bytes,
        if args.no_wait_for_subscribers {
            "publishing whether or not anyone subscribes"
        } else {
            "waiting for a subscriber before consuming"
        },
    );

    let wait = WaitStrategy::from(args.ring.wait);
    consumer.set_wait_strategy(wait);
    consumer.set_release_batch(RELEASE_BATCH);
    let mut out = Outbound {
        consumer: &mut consumer,
        control: &control,
        counters: &counters,
        history: &history,
        publisher: &publisher,
        attachment,
        wait,
        gate: !args.no_wait_for_subscribers,
        next_housekeeping_ns: 0,
        lost_since_ns: None,
        corrupt_printed: 0,
        frames: 0,
        bytes: 0,
        next: 0,
    };
    let end = out.run();
    consumer.flush();
    Counters::set(&counters.backlog, backlog(&segment));
    // Release the role before the network goes down.
    drop(consumer);
    status.stop();
    drop(publisher);
    let mut final_status = Status::now(&who, &counters, 0, started);
    final_status.end = end.name().into();
    let _ = session.close().wait();
    let _ = replier.join();
    daemon::print_final(&final_status)?;
    let (exit, why) = end.exit(&name);
    if let Some(why) = why {
        eprintln!("{PROGRAM} out: stopping: {why}");
    }
    eprintln!(
        "{PROGRAM} out: published {} frames ({} bytes), next sequence {}; {} history queries answered",
        final_status.frames, final_status.bytes, final_status.next_sequence, final_status.queries
    );
    Ok(exit)
}

/// Frames in the ring not yet consumed.
fn backlog(segment: &forge_fabric::Segment) -> u64 {
    let (head, tail) = segment.indices();
    head.saturating_sub(tail)
}

/// Answers KEY/@history queries from a thread of its own, so a slow reader
/// of the replies never holds up Zenoh's receive path.
fn serve_history(
    session: &Session,
    key: &KeyExpr<'static>,
    history: Arc<Mutex<History>>,
    attachment: ZBytes,
    counters: Arc<Counters>,
) -> Result<std::thread::JoinHandle<()>> {
    let hkey = wire::history_key(key);
    let queryable = session
        .declare_queryable(hkey.clone())
        .wait()
        .map_err(|e| eyre!("cannot declare the history queryable on {hkey}: {e}"))?;
    std::thread::Builder::new()
        .name("history".into())
        .spawn(move || {
            while let Ok(query) = queryable.recv() {
                Counters::add(&counters.queries, 1);
                let range = match Range::parse(query.parameters()) {
                    Ok(r) => r,
                    Err(why) => {
                        let _ = query.reply_err(why).wait();
                        continue;
                    }
                };
                let frames = history
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .range(range);
                for (_, frame) in frames {
                    if query
                        .reply(hkey.clone(), frame)
                        .attachment(attachment.clone())
                        .wait()
                        .is_err()
                    {
                        break;
                    }
                }
            }
        })
        .wrap_err("cannot start the history thread")
}

/// The consumer loop and its state.
struct Outbound<'a> {
    consumer: &'a mut Consumer,
    control: &'a Control,
    counters: &'a Counters,
    history: &'a Mutex<History>,
    publisher: &'a zenoh::pubsub::Publisher<'static>,
    attachment: ZBytes,
    wait: WaitStrategy,
    /// Read only while some subscriber matches.
    gate: bool,
    next_housekeeping_ns: u64,
    lost_since_ns: Option<u64>,
    corrupt_printed: u64,
    /// Counted here, published to `counters` by housekeeping: no atomic
    /// read-modify-write per frame.
    frames: u64,
    bytes: u64,
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
        Counters::set(&self.counters.next_sequence, self.next);
    }

    fn stream(&mut self) -> RingEnd {
        if let Some(end) = self.housekeeping(monotonic_ns()) {
            return end;
        }
        let mut until_check = CHECK_EVERY;
        loop {
            // SYNC: a flag set by the matching listener; see `run`.
            if self.gate && !self.counters.matching.load(Ordering::Relaxed) {
                self.consumer.flush();
                std::thread::sleep(WAIT_SLICE);
                if let Some(end) = self.housekeeping(monotonic_ns()) {
                    return end;
                }
                continue;
            }
            match self.consumer.read() {
                Ok(Some(frame)) => {
                    let len = frame.len();
                    match frame_sequence(&frame) {
                        Ok(seq) => {
                            let bytes = ZBytes::from(frame.to_vec());
                            self.history
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(seq, bytes.clone());
                            // Blocks while Zenoh's queue is full: the slot stays ours.
                            let sent = self
                                .publisher
                                .put(bytes)
                                .attachment(self.attachment.clone())
                                .wait();
                            if let Err(e) = sent {
                                return RingEnd::Failed(format!("Zenoh refused a frame: {e}"));
                            }
                            frame.release();
                            self.frames += 1;
                            self.bytes += len as u64;
                            self.next = seq.wrapping_add(1);
                        }
                        Err(why) => {
                            let pos = frame.position();
                            frame.release();
                            self.corrupt(pos, &why);
                        }
                    }
                    until_check -= 1;
                    if until_check == 0 {
                        until_check = CHECK_EVERY;
                        if let Some(end) = self.housekeeping(monotonic_ns()) {
                            return end;
                        }
                    }
                }
                Ok(None) => {
                    let got = self.consumer.wait_for_frame(self.wait, WAIT_SLICE);
                    let now = monotonic_ns();
                    if !got {
                        if let Err(c) = self.consumer.check_stall() {
                            return RingEnd::Corrupt(c);
                        }
                    }
                    if !got || now >= self.next_housekeeping_ns {
                        if let Some(end) = self.housekeeping(now) {
                            return end;
                        }
                    }
                }
                // A slot word claiming more than a slot: the ring cannot
                // step over it.
                Err(e) => return RingEnd::Slot(e),
            }
        }
    }

    #[cold]
    fn corrupt(&mut self, position: u64, why: &str) {
        Counters::add(&self.counters.corrupt, 1);
        self.corrupt_printed += 1;
        if self.corrupt_printed <= CORRUPT_PRINTED {
            eprintln!(
                "{PROGRAM} out: frame at ring position {position} is not a Forge frame ({why}): \
                 not published; receivers will report the gap"
            );
        }
    }

    /// Off the per-frame path: stop, the session, the watch thread's
    /// verdict (after draining), heartbeat, backlog, SIGUSR1.
    fn housekeeping(&mut self, now_ns: u64) -> Option<RingEnd> {
        self.next_housekeeping_ns = now_ns + HOUSEKEEPING_NS;
        let checked =
            checks::consumer(self.control, self.consumer, now_ns, &mut self.lost_since_ns);
        if let Err(halt) = checked {
            return Some(halt.into());
        }
        self.publish_counts();
        let history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        Counters::set(&self.counters.history_frames, history.len() as u64);
        Counters::set(&self.counters.history_bytes, history.bytes() as u64);
        drop(history);
        if self.control.take_usr1() {
            eprintln!(
                "{PROGRAM} out: {} frames published, next sequence {}",
                self.counters.frames.load(Ordering::Relaxed),
                self.counters.next_sequence.load(Ordering::Relaxed)
            );
        }
        None
    }
}

/// The sequence of a frame read from the local ring, after the checks that
/// need no checksum (the receiver verifies that): a header, and a body
/// length that matches the slot.
fn frame_sequence(bytes: &[u8]) -> Result<u64, String> {
    let h = decode_header(bytes).map_err(|e| e.to_string())?;
    let available = bytes.len() - FRAME_HEADER_LEN;
    if h.body_len as usize != available {
        return Err(format!(
            "body length {} does not match the {available} bytes after the header",
            h.body_len
        ));
    }
    Ok(h.sequence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_frame::{encode, FrameKind};

    #[test]
    fn a_local_frame_gives_its_sequence_and_a_damaged_one_a_reason() {
        let mut buf = vec![0u8; 128];
        let n = encode(&mut buf, 77, 1, 2, FrameKind::Log, b"hello").unwrap();
        assert_eq!(frame_sequence(&buf[..n]), Ok(77));
        assert!(frame_sequence(&buf[..n - 1]).is_err());
        assert!(frame_sequence(&buf[..10]).is_err());
    }
}

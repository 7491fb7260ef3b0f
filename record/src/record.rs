//! forge-record's engine: a ring into a recording, read one of two ways.
//!
//! - [`tap`]: through fabric's read-only [`Observer`], like forge-top. It
//!   never touches the ring, so it cannot slow the producer — and when it
//!   falls behind, the producer laps it. It follows `head` from where it was
//!   at start, copies each slot and keeps the copy only if the observer's
//!   validation says it is the frame at that position, whole. Every position
//!   it could not keep goes into a [`MissedRange`], written to the file as
//!   it closes and listed in the report, so recorded plus missed is exactly
//!   every position from the first to the last.
//! - [`consume`]: as the ring's consumer, like forge-core. A frame's slot is
//!   released only once the frame is in the writer, so nothing is lost, and
//!   a slow disk back-pressures the producer.
//!
//! Both close a chunk at least every [`RecordConfig::flush_every`], so a
//! recording killed with SIGKILL keeps all but that much, and roll files at
//! the writer's `--max-size` / `--max-duration`.

use std::time::Duration;

use forge_fabric::clock::monotonic_ns;
use forge_fabric::layout::{stamp_for, FRAME_RELAYED};
use forge_fabric::observe::ObserveError;
use forge_fabric::{Consumer, Corruption, NameStatus, Observer, SessionError, WaitStrategy};
use forge_fabric::{Position, SegmentState, PAYLOAD_CAPACITY};
use forge_frame::decode_header;
use forge_holder::checks::{self, Halt};
use forge_holder::end::Lost;
use forge_holder::signals::Control;

use crate::events::{Event, MissedRange, RingSample, SessionEnd};
use crate::identity::{ClockPair, Mode, SessionIdentity};
use crate::writer::{RecordingWriter, WriteError};

/// Frames between two housekeeping passes while frames keep coming.
pub const CHECK_EVERY: u32 = 4096;
/// Longest time between housekeeping passes.
pub const HOUSEKEEPING_NS: u64 = 10_000_000;
/// How often the ring's counters and latency histogram are written.
pub const SAMPLE_EVERY_NS: u64 = 1_000_000_000;
/// Missed ranges kept for the report; the file has every one of them.
pub const MAX_REPORTED_RANGES: usize = 100_000;
/// Longest single wait for a frame (consume) before looking around.
const WAIT_SLICE: Duration = Duration::from_millis(5);

/// How to record.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// Frames to record, then stop; 0 records until stopped.
    pub count: u64,
    /// How to wait for frames when tapping. A consumer waits as it was
    /// claimed ([`forge_fabric::Claim::wait`]): claim it with this.
    pub wait: WaitStrategy,
    /// Close the current chunk at least this often.
    pub flush_every: Duration,
    /// Consume: releases per `tail` store.
    pub release_batch: u64,
}

/// Why a recording ended.
#[derive(Debug)]
pub enum RecordEnd {
    /// `count` frames were recorded.
    CountReached,
    /// SIGINT, SIGTERM or SIGHUP.
    Stopped,
    /// The segment was retired or replaced under us.
    SessionLost(SessionError),
    /// The segment's identity or indices were damaged under us.
    Corrupt(Corruption),
    /// Consume: a slot word claims more than a slot.
    CorruptSlot(String),
    /// The segment was unlinked, replaced or truncated under us.
    SegmentLost(Lost),
    /// The file could not be written (a full disk): it is readable up to its
    /// last complete chunk.
    Write(WriteError),
    /// Tap: the segment could not be looked at (fstat failed).
    Observe(ObserveError),
}

impl From<Halt> for RecordEnd {
    fn from(h: Halt) -> RecordEnd {
        match h {
            Halt::Stopped => RecordEnd::Stopped,
            Halt::SessionLost(e) => RecordEnd::SessionLost(e),
            Halt::Corrupt(c) => RecordEnd::Corrupt(c),
            Halt::SegmentLost(l) => RecordEnd::SegmentLost(l),
        }
    }
}

impl RecordEnd {
    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            RecordEnd::CountReached => "count_reached",
            RecordEnd::Stopped => "stopped",
            RecordEnd::SessionLost(_) => "session_retired",
            RecordEnd::Corrupt(_) => "segment_corrupt",
            RecordEnd::CorruptSlot(_) => "integrity_failure",
            RecordEnd::SegmentLost(lost) => lost.name(),
            RecordEnd::Write(_) => "write_failed",
            RecordEnd::Observe(_) => "observe_failed",
        }
    }
}

/// What a recording did. `--report json` prints exactly this.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordReport {
    /// `tap` or `consume`.
    pub mode: &'static str,
    /// The session recorded, hex.
    pub session: String,
    /// Frames written to the file.
    pub frames: u64,
    /// Of those, frames known to have reached the file: fewer only when
    /// writing failed, losing the chunk being built (a reader may find one
    /// more chunk, when the failure came in the index records after it).
    pub durable_frames: u64,
    /// Payload bytes of those frames.
    pub payload_bytes: u64,
    /// Positions missed (tap only).
    pub missed_frames: u64,
    /// Missed ranges, all of them.
    pub missed_ranges: u64,
    /// The missed ranges in order: every one up to
    /// [`MAX_REPORTED_RANGES`], the first ones beyond (the file lists all).
    pub missed: Vec<MissedRange>,
    /// The first position recorded or missed.
    pub first_position: u64,
    /// The position that would have been read next: `first_position +
    /// frames + missed_frames`.
    pub next_position: u64,
    /// Seconds from the first frame recorded to the last.
    pub duration_s: f64,
    /// Seconds from start to end, waiting included.
    pub wall_s: f64,
    /// Frames per second between the first frame and the last.
    pub frames_per_s: f64,
    /// Payload bytes per second between the first frame and the last.
    pub payload_bytes_per_s: f64,
    /// Files written, in order.
    pub files: Vec<String>,
    /// Bytes on disk, all files.
    pub file_bytes: u64,
    /// How it ended.
    pub end: &'static str,
}

impl RecordReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        use forge_cli::human;
        let files = format!(
            "{} on disk in {} file{}",
            human::bytes(self.file_bytes),
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" },
        );
        // Rates need two frames; with fewer, say how long it watched.
        let mut out = match self.frames {
            0 => format!(
                "forge-record: recorded no frame in {:.1} s of watching: none was committed \
                 to the ring meanwhile; {files}\n",
                self.wall_s,
            ),
            1 => format!(
                "forge-record: recorded 1 frame ({}) in {:.1} s of watching; {files}\n",
                human::bytes(self.payload_bytes),
                self.wall_s,
            ),
            n => format!(
                "forge-record: recorded {} frames ({}) in {:.3} s: {} frames/s, {}, {files}\n",
                human::count(n),
                human::bytes(self.payload_bytes),
                self.duration_s,
                human::si(self.frames_per_s),
                human::bytes_rate(self.payload_bytes_per_s),
            ),
        };
        out += &format!("  mode       {}\n", self.mode);
        out += &if self.next_position == self.first_position {
            format!(
                "  positions  none (next {})\n",
                human::count(self.next_position)
            )
        } else {
            format!(
                "  positions  {} .. {} (next {})\n",
                human::count(self.first_position),
                human::count(self.next_position.wrapping_sub(1)),
                human::count(self.next_position),
            )
        };
        if self.durable_frames < self.frames {
            out += &format!(
                "  LOST       only {} frames reached the file: writing failed with {} in the chunk being built{}\n",
                human::count(self.durable_frames),
                human::count(self.frames - self.durable_frames),
                if self.mode == Mode::Consume.name() {
                    " (already released from the ring)"
                } else {
                    ""
                },
            );
        }
        if self.mode == Mode::Tap.name() {
            out += &format!(
                "  missed     {} frames in {} ranges\n",
                human::count(self.missed_frames),
                human::count(self.missed_ranges)
            );
            const SHOWN: usize = 10;
            for m in self.missed.iter().take(SHOWN) {
                out += &format!(
                    "    positions {}..{} (sequences {}..{}{}): {} frames, {}\n",
                    m.first_position,
                    m.end_position,
                    m.first_sequence,
                    m.end_sequence,
                    if m.sequences_inferred {
                        ", inferred"
                    } else {
                        ""
                    },
                    m.len(),
                    m.reason
                );
            }
            if self.missed_ranges > SHOWN as u64 {
                out += &format!(
                    "    … {} more ranges: all are in the file's /forge/events channel (forge-replay --info --report json lists them)\n",
                    human::count(self.missed_ranges - SHOWN as u64)
                );
            }
        }
        for f in &self.files {
            out += &format!("  file       {f}\n");
        }
        out += &format!(
            "  session    {}\n  ended      {}\n",
            self.session,
            self.end.replace('_', " ")
        );
        out
    }
}

/// The writer and the bookkeeping both modes share.
struct Sink<'a> {
    writer: &'a mut RecordingWriter,
    control: &'a Control,
    config: RecordConfig,
    session: u64,
    clock: ClockPair,
    first_position: u64,
    frames: u64,
    payload_bytes: u64,
    missed: Vec<MissedRange>,
    missed_ranges: u64,
    missed_frames: u64,
    /// The missed range being extended, not yet written.
    open_miss: Option<MissedRange>,
    /// The last frame recorded: position, sequence, relayed.
    last: Option<(u64, u64, bool)>,
    start_ns: u64,
    first_frame_ns: u64,
    last_frame_ns: u64,
    last_flush_ns: u64,
    /// When the ring was last sampled (0: never).
    last_sample_ns: u64,
    next_housekeeping_ns: u64,
}

impl<'a> Sink<'a> {
    fn new(
        writer: &'a mut RecordingWriter,
        control: &'a Control,
        config: RecordConfig,
        identity: SessionIdentity,
    ) -> Self {
        let now = monotonic_ns();
        let (session, clock, first_position) =
            (identity.session_id, identity.clock, identity.start_position);
        writer.add_session(identity);
        Sink {
            writer,
            control,
            config,
            session,
            clock,
            first_position,
            frames: 0,
            payload_bytes: 0,
            missed: Vec::new(),
            missed_ranges: 0,
            missed_frames: 0,
            open_miss: None,
            last: None,
            start_ns: now,
            first_frame_ns: 0,
            last_frame_ns: 0,
            last_flush_ns: now,
            last_sample_ns: 0,
            next_housekeeping_ns: now + HOUSEKEEPING_NS,
        }
    }

    fn count_reached(&self) -> bool {
        self.config.count != 0 && self.frames >= self.config.count
    }

    /// Writes one frame. Its wall-clock time is the producer's timestamp
    /// converted with the start-up clock pair; a frame without a telemetry
    /// header, or relayed from another ring (its timestamp is another
    /// host's clock), gets the time it was read.
    #[inline]
    fn frame(&mut self, position: u64, flags: u16, payload: &[u8]) -> Result<(), RecordEnd> {
        let header = decode_header(payload).ok();
        let relayed = flags & FRAME_RELAYED != 0;
        let mono = match header {
            Some(h) if !relayed => h.timestamp_ns,
            _ => monotonic_ns(),
        };
        self.close_miss()?;
        self.writer
            .write_frame(
                self.session,
                position,
                flags,
                payload,
                self.clock.to_unix(mono),
            )
            .map_err(RecordEnd::Write)?;
        let now = monotonic_ns();
        if self.frames == 0 {
            self.first_frame_ns = now;
        }
        self.last_frame_ns = now;
        self.frames += 1;
        self.payload_bytes += payload.len() as u64;
        if let Some(h) = header {
            self.last = Some((position, h.sequence, relayed));
        }
        Ok(())
    }

    /// Counts `position .. position + n` as missed for `reason`, extending
    /// the open range when it continues it.
    fn miss(&mut self, position: u64, n: u64, reason: &str) -> Result<(), RecordEnd> {
        if n == 0 {
            return Ok(());
        }
        self.missed_frames += n;
        if let Some(open) = &mut self.open_miss {
            if open.end_position == position && open.reason == reason {
                open.end_position = position.wrapping_add(n);
                open.end_sequence = open.end_sequence.wrapping_add(n);
                return Ok(());
            }
            self.close_miss()?;
        }
        // A producer that numbers by position (forge-stream) gives sequence
        // = position; a relayed stream goes on from its last frame seen.
        let (first_sequence, inferred) = match self.last {
            Some((pos, seq, true)) => (seq.wrapping_add(position.wrapping_sub(pos)), true),
            _ => (position, false),
        };
        self.open_miss = Some(MissedRange {
            session: self.session,
            first_position: position,
            end_position: position.wrapping_add(n),
            first_sequence,
            end_sequence: first_sequence.wrapping_add(n),
            sequences_inferred: inferred,
            reason: reason.to_owned(),
        });
        Ok(())
    }

    /// Writes the open missed range to the file.
    fn close_miss(&mut self) -> Result<(), RecordEnd> {
        let Some(m) = self.open_miss.take() else {
            return Ok(());
        };
        let now = self.clock.to_unix(monotonic_ns());
        self.writer
            .write_event(&Event::Missed(m.clone()), now)
            .map_err(RecordEnd::Write)?;
        self.missed_ranges += 1;
        if self.missed.len() < MAX_REPORTED_RANGES {
            self.missed.push(m);
        }
        Ok(())
    }

    /// Has a second passed since the last sample?
    fn sample_due(&self, now_ns: u64) -> bool {
        self.last_sample_ns == 0 || now_ns.saturating_sub(self.last_sample_ns) >= SAMPLE_EVERY_NS
    }

    /// Writes the ring's counters and latency histogram when a second has
    /// passed since the last sample (or always, with `force`).
    fn sample(&mut self, snap: &forge_fabric::Snapshot, force: bool) -> Result<(), RecordEnd> {
        let now = monotonic_ns();
        if !force && !self.sample_due(now) {
            return Ok(());
        }
        self.last_sample_ns = now;
        let at = self.clock.to_unix(now);
        self.writer
            .write_event(&Event::Sample(RingSample::of(snap, at)), at)
            .map_err(RecordEnd::Write)
    }

    /// The file's share of housekeeping: close a chunk when it is due, roll
    /// when the file is big or old enough.
    fn file_housekeeping(&mut self, now_ns: u64) -> Result<(), RecordEnd> {
        self.next_housekeeping_ns = now_ns + HOUSEKEEPING_NS;
        if now_ns.saturating_sub(self.last_flush_ns) >= self.config.flush_every.as_nanos() as u64 {
            self.close_miss()?;
            self.writer.flush().map_err(RecordEnd::Write)?;
            self.last_flush_ns = now_ns;
        }
        if self.writer.wants_roll() {
            self.close_miss()?;
            let path = self.writer.roll().map_err(RecordEnd::Write)?;
            eprintln!("forge-record: rolled to {}", path.display());
        }
        Ok(())
    }

    /// Ends the session in the file and makes the report.
    fn finish(mut self, end: &RecordEnd, mode: Mode, next_position: u64) -> RecordReport {
        // Best effort: a failed write already ended the run.
        let _ = self.close_miss();
        let _ = self.writer.write_event(
            &Event::End(SessionEnd {
                session: self.session,
                reason: end.name().to_owned(),
                frames: self.frames,
                missed: self.missed_frames,
                next_position,
            }),
            self.clock.to_unix(monotonic_ns()),
        );
        let wall_s = monotonic_ns().saturating_sub(self.start_ns) as f64 / 1e9;
        let duration_s = self.last_frame_ns.saturating_sub(self.first_frame_ns) as f64 / 1e9;
        let per_s = |x: u64| {
            if duration_s > 0.0 {
                x as f64 / duration_s
            } else {
                0.0
            }
        };
        RecordReport {
            mode: mode.name(),
            session: forge_cli::human::session(self.session),
            frames: self.frames,
            durable_frames: self.frames,
            payload_bytes: self.payload_bytes,
            missed_frames: self.missed_frames,
            missed_ranges: self.missed_ranges,
            missed: self.missed,
            first_position: self.first_position,
            next_position,
            duration_s,
            wall_s,
            // The first frame opens the interval; the rest arrive in it.
            frames_per_s: per_s(self.frames.saturating_sub(1)),
            payload_bytes_per_s: per_s(self.payload_bytes),
            files: Vec::new(),
            file_bytes: 0,
            end: end.name(),
        }
    }
}

/// Records as the ring's consumer until the count, a stop, or the session
/// or file fails. The first frame recorded is the one at the consumer's
/// position (`identity.start_position`). Like forge-core, it adds each
/// frame's transit latency to the segment's histogram; with `observer`, it
/// also samples the ring's counters and that histogram into the file.
pub fn consume(
    consumer: &mut Consumer,
    observer: Option<&Observer>,
    control: &Control,
    writer: &mut RecordingWriter,
    identity: SessionIdentity,
    config: RecordConfig,
) -> (RecordReport, RecordEnd) {
    consumer.set_index_batch(config.release_batch);
    let mut sink = Sink::new(writer, control, config, identity);
    let mut lost_since: Option<u64> = None;
    let end = consume_loop(consumer, observer, &mut sink, &mut lost_since);
    consumer.flush_index();
    if let Some(snap) = observer.and_then(|o| o.snapshot().ok()) {
        let _ = sink.sample(&snap, true);
    }
    let next = consumer.position();
    let report = sink.finish(&end, Mode::Consume, next);
    (report, end)
}

fn consume_loop(
    consumer: &mut Consumer,
    observer: Option<&Observer>,
    sink: &mut Sink<'_>,
    lost_since: &mut Option<u64>,
) -> RecordEnd {
    let mut until_check = CHECK_EVERY;
    if let Some(end) = consume_housekeeping(consumer, observer, sink, monotonic_ns(), lost_since) {
        return end;
    }
    loop {
        if sink.count_reached() {
            return RecordEnd::CountReached;
        }
        match consumer.read_slot() {
            Ok(Some(frame)) => {
                // Released only once written: a failed write leaves the
                // frame in the ring for whoever consumes next.
                if let Err(end) = sink.frame(frame.position(), frame.slot_flags(), &frame) {
                    return end;
                }
                let stamp = decode_header(&frame).ok().map(|h| h.timestamp_ns);
                frame.release();
                if let Some(stamp) = stamp {
                    consumer.record_latency(sink.last_frame_ns.saturating_sub(stamp));
                }
                until_check -= 1;
                if until_check == 0 {
                    until_check = CHECK_EVERY;
                    if let Some(end) =
                        consume_housekeeping(consumer, observer, sink, monotonic_ns(), lost_since)
                    {
                        return end;
                    }
                }
            }
            Ok(None) => {
                let got = consumer.wait_for_frame(WAIT_SLICE);
                let now = monotonic_ns();
                if !got {
                    if let Err(c) = consumer.check_stall() {
                        return RecordEnd::CorruptSlot(c.to_string());
                    }
                }
                if !got || now >= sink.next_housekeeping_ns {
                    if let Some(end) =
                        consume_housekeeping(consumer, observer, sink, now, lost_since)
                    {
                        return end;
                    }
                }
            }
            Err(e) => return RecordEnd::CorruptSlot(e.to_string()),
        }
    }
}

fn consume_housekeeping(
    consumer: &mut Consumer,
    observer: Option<&Observer>,
    sink: &mut Sink<'_>,
    now_ns: u64,
    lost_since: &mut Option<u64>,
) -> Option<RecordEnd> {
    // Records what the producer committed before a loss, for at most
    // DRAIN_WAIT, as forge-core does.
    if let Err(halt) = checks::consumer(sink.control, consumer, now_ns, lost_since) {
        return Some(halt.into());
    }
    if sink.sample_due(now_ns) {
        if let Some(snap) = observer.and_then(|o| o.snapshot().ok()) {
            if let Err(e) = sink.sample(&snap, true) {
                return Some(e);
            }
        }
    }
    sink.file_housekeeping(now_ns).err()
}

/// How a tap waits when it has caught up with `head`.
fn idle(wait: WaitStrategy) {
    match wait {
        WaitStrategy::Spin => std::hint::spin_loop(),
        WaitStrategy::Yield => std::thread::yield_now(),
        WaitStrategy::Park => std::thread::sleep(Duration::from_micros(200)),
    }
}

/// Is a snapshot's `head` one a ring can have? It is never more than the
/// ring's size past `tail`, nor further behind it than the producer's
/// publish batch (read in that order, `tail` first). Anything else was
/// written by something other than the producer: a tap that believed it
/// would skip ahead or wait for good.
fn head_is_possible(snap: &forge_fabric::Snapshot, slots: u64) -> bool {
    let ahead = Position::new(snap.head).ahead_of(Position::new(snap.tail));
    (-i64::from(snap.producer.batch)..=slots as i64).contains(&ahead)
}

/// Records through a read-only observer from `identity.start_position` on,
/// until the count, a stop, or the segment or file fails. On a stop it
/// first records up to the `head` of that moment.
///
/// Positions wrap at 2^64, so every comparison goes through
/// [`Position`]. A `head` that no ring can have (see [`head_is_possible`])
/// is never followed: the tap waits for the next sane one, says so once,
/// and whatever the producer rewrote meanwhile becomes one missed range.
pub fn tap(
    observer: &Observer,
    control: &Control,
    writer: &mut RecordingWriter,
    identity: SessionIdentity,
    config: RecordConfig,
) -> (RecordReport, RecordEnd) {
    let wait = config.wait;
    let slot_count = identity.slot_count.max(1);
    let slots = u64::from(slot_count);
    let lap_shift = slot_count.trailing_zeros();
    let mut cursor = Position::new(identity.start_position);
    let mut sink = Sink::new(writer, control, config, identity);
    let mut stopping = false;
    // Since when (and at what head) the indices have been impossible.
    let mut impossible: Option<u64> = None;
    let end = loop {
        let snap = match observer.snapshot() {
            Ok(s) => s,
            Err(ObserveError::Truncated { now, mapped }) => {
                break RecordEnd::SegmentLost(Lost::Truncated { now, mapped })
            }
            Err(e) => break RecordEnd::Observe(e),
        };
        let head = Position::new(snap.head);
        let sane = head_is_possible(&snap, slots);
        if !sane && impossible.is_none() {
            eprintln!(
                "forge-record: head {} is impossible with tail {} on a ring of {slots} slots: \
                 waiting for a sane one (recorded up to position {cursor})",
                snap.head, snap.tail
            );
            impossible = Some(snap.head);
        }
        let mut waiting = !sane;
        if sane {
            // Too far behind to catch up before the producer laps us: skip
            // to half a ring behind head, and count what was skipped as
            // missed, with why.
            let behind = head.since(cursor);
            if behind > slots * 3 / 4 {
                let resume = head.minus(slots / 2);
                let why = if impossible.is_some() {
                    "impossible head"
                } else {
                    "lapped"
                };
                if let Err(e) = sink.miss(cursor.get(), resume.since(cursor), why) {
                    break e;
                }
                cursor = resume;
            }
            if impossible.take().is_some() {
                eprintln!(
                    "forge-record: head {} is sane again: recording from position {cursor}",
                    snap.head
                );
            }
            // Copy up to half a ring in one go (one size check around the
            // lot, not two per slot), then look at head again.
            let count = head.min(cursor.plus(slots / 2)).since(cursor) as u32;
            let start = cursor.slot(slot_count);
            let first_part = count.min(slot_count - start);
            let copies = observer
                .read_slots(start..start + first_part, PAYLOAD_CAPACITY)
                .and_then(|mut a| {
                    a.extend(observer.read_slots(0..count - first_part, PAYLOAD_CAPACITY)?);
                    Ok(a)
                });
            let copies = match copies {
                Ok(c) => c,
                Err(ObserveError::Truncated { now, mapped }) => {
                    break RecordEnd::SegmentLost(Lost::Truncated { now, mapped });
                }
                Err(e) => break RecordEnd::Observe(e),
            };
            let mut failed = None;
            for copy in copies {
                if sink.count_reached() {
                    break;
                }
                let p = cursor.get();
                // A slot that still holds the lap before (or was never
                // written) is not published yet, whatever head says: a head
                // ahead of the frames was not the producer's. Wait for it
                // rather than call it missed.
                if copy.stamp == 0 || copy.stamp == stamp_for(p.wrapping_sub(slots), lap_shift) {
                    waiting = true;
                    break;
                }
                let result = match copy.position {
                    Some(at) if at == p && !copy.torn => sink.frame(p, copy.flags, &copy.bytes),
                    Some(at) if at == p => sink.miss(p, 1, "torn"),
                    // Rewritten for a later lap, or a stamp of no nearby lap.
                    _ => sink.miss(p, 1, "lapped"),
                };
                if let Err(e) = result {
                    failed = Some(e);
                    break;
                }
                cursor = cursor.plus(1);
            }
            if let Some(end) = failed {
                break end;
            }
        }
        if sink.count_reached() {
            break RecordEnd::CountReached;
        }
        // Stopping records up to the head of that moment, if it is sane.
        if stopping && (waiting || !cursor.is_before(head)) {
            break RecordEnd::Stopped;
        }
        let now = monotonic_ns();
        if now >= sink.next_housekeeping_ns {
            if control.stop_requested() {
                // One more pass records up to the head of this moment.
                stopping = true;
            }
            if snap.identity.session_id != sink.session
                || snap.identity.state == SegmentState::Retired
            {
                break RecordEnd::SessionLost(SessionError::Retired {
                    ours: sink.session,
                    successor: snap.identity.successor_session,
                });
            }
            match observer.name_status() {
                NameStatus::Same => {}
                NameStatus::Replaced => break RecordEnd::SegmentLost(Lost::Replaced),
                NameStatus::Unlinked => break RecordEnd::SegmentLost(Lost::Unlinked),
            }
            if let Err(e) = sink.sample(&snap, false) {
                break e;
            }
            if let Err(e) = sink.file_housekeeping(now) {
                break e;
            }
        }
        if (waiting || !cursor.is_before(head)) && !stopping {
            idle(wait);
        }
    };
    // The ring as the recording ends, when it can still be read.
    if let Ok(snap) = observer.snapshot() {
        let _ = sink.sample(&snap, true);
    }
    let report = sink.finish(&end, Mode::Tap, cursor.get());
    (report, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::Recording;
    use crate::writer::WriterOptions;
    /// A heap ring whose sides yield when they wait.
    fn heap_ring(capacity: u32) -> (forge_fabric::Producer, forge_fabric::Consumer) {
        forge_fabric::HeapRing::new(capacity)
            .wait(WaitStrategy::Yield)
            .build()
    }
    use forge_frame::{encode, FrameKind};

    #[test]
    fn issue22_15_a_recording_of_no_frame_says_how_long_it_watched_not_0_000_s() {
        let report = RecordReport {
            mode: Mode::Tap.name(),
            session: "0x1".into(),
            frames: 0,
            durable_frames: 0,
            payload_bytes: 0,
            missed_frames: 0,
            missed_ranges: 0,
            missed: Vec::new(),
            first_position: 7,
            next_position: 7,
            duration_s: 0.0,
            wall_s: 6.02,
            frames_per_s: 0.0,
            payload_bytes_per_s: 0.0,
            files: vec!["ring.mcap".into()],
            file_bytes: 1_200,
            end: "stopped",
        };
        let text = report.text();
        assert!(!text.contains("0.000 s"), "{text}");
        assert!(
            text.contains("recorded no frame in 6.0 s of watching"),
            "{text}"
        );
        assert!(text.contains("positions  none (next 7)"), "{text}");
    }

    fn config(count: u64) -> RecordConfig {
        RecordConfig {
            count,
            wait: WaitStrategy::Yield,
            flush_every: Duration::from_secs(1),
            release_batch: 8,
        }
    }

    fn identity() -> SessionIdentity {
        SessionIdentity {
            segment: "/heap".into(),
            session_id: 1,
            slot_count: 8,
            segment_size: forge_fabric::layout::segment_size(8, forge_fabric::PAYLOAD_CAPACITY)
                as u64,
            mode: Some(Mode::Consume),
            clock: ClockPair::now(),
            ..Default::default()
        }
    }

    #[test]
    fn a_consumed_ring_is_recorded_whole_and_in_order() {
        let (mut p, mut c) = heap_ring(8);
        let n = 5_000u64;
        let producer = std::thread::spawn(move || {
            for seq in 0..n {
                loop {
                    if let Some(mut slot) = p.write_slot() {
                        let len = encode(
                            slot.payload_mut(),
                            seq,
                            monotonic_ns(),
                            3,
                            FrameKind::Log,
                            &seq.to_le_bytes(),
                        )
                        .unwrap();
                        slot.commit(len).unwrap();
                        break;
                    }
                    std::thread::yield_now();
                }
            }
            p.flush_index();
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.mcap");
        let mut w = RecordingWriter::create(&path, WriterOptions::default()).unwrap();
        let control = Control::new();
        let (report, end) = consume(&mut c, None, &control, &mut w, identity(), config(n));
        producer.join().unwrap();
        assert!(matches!(end, RecordEnd::CountReached), "{end:?}");
        assert_eq!((report.frames, report.next_position), (n, n));
        w.finish().unwrap();
        let rec = Recording::open(&path).unwrap();
        assert_eq!(rec.len(), n);
        for (i, f) in rec.frames_from(0).enumerate() {
            assert_eq!(f.unwrap().sequence(), Some(i as u64));
        }
        assert_eq!(rec.ends().len(), 1);
        assert_eq!(rec.ends()[0].reason, "count_reached");
    }

    #[test]
    fn missed_positions_merge_into_ranges_with_their_sequences() {
        let dir = tempfile::tempdir().unwrap();
        let mut w =
            RecordingWriter::create(&dir.path().join("m.mcap"), WriterOptions::default()).unwrap();
        let control = Control::new();
        let mut sink = Sink::new(&mut w, &control, config(0), identity());
        let mut buf = [0u8; 64];
        let n = encode(&mut buf, 500, 1, 1, FrameKind::Ping, b"").unwrap();
        sink.frame(9, FRAME_RELAYED, &buf[..n]).unwrap();
        sink.miss(10, 1, "lapped").unwrap();
        sink.miss(11, 4, "lapped").unwrap();
        sink.miss(15, 1, "torn").unwrap();
        sink.frame(16, 0, &buf[..n]).unwrap();
        assert_eq!(sink.missed.len(), 2);
        let (a, b) = (&sink.missed[0], &sink.missed[1]);
        assert_eq!((a.first_position, a.end_position), (10, 15));
        assert_eq!((a.first_sequence, a.end_sequence), (501, 506));
        assert!(a.sequences_inferred);
        assert_eq!(
            (b.first_position, b.end_position, &*b.reason),
            (15, 16, "torn")
        );
        assert_eq!(sink.missed_frames, 6);
    }
}

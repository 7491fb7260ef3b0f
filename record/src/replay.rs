//! forge-replay's engine: a recording back into a ring, as its producer.
//!
//! The producer is a relayed one ([`RelayedProducer`]): every frame carries
//! [`FRAME_RELAYED`](forge_fabric::layout::FRAME_RELAYED) (and the holder is
//! flagged [`HOLDER_RELAYED`](forge_fabric::layout::HOLDER_RELAYED)), so a consumer
//! checks the *recorded* sequence for continuity instead of the ring
//! position: `forge-core --verify` on the replayed ring verifies the
//! recording. The payload goes back byte for byte, except the telemetry
//! timestamp, which is restamped with the replay's clock (so forge-core's
//! latency means replay-to-consumer transit) unless `keep_timestamps`. A
//! frame format 2 checksum covers the header, so a restamped frame gets its
//! checksum made true again — only if it verified as recorded: a replay
//! never turns a corrupt frame into a sound one.
//!
//! Looping: a second lap would repeat sequence numbers, which any
//! continuity check rightly calls duplicates. So lap `k` adds `k × span` to
//! every sequence, `span` being last − first + 1 of the replayed range:
//! the looped stream stays continuous (and a gap recorded in the file
//! stays a gap of the same size in every lap). The body is untouched (a
//! format 1 checksum, of the body only, too). The replayed frames are then no longer the
//! recorded ones in their sequence field, and the report says so.

use forge_fabric::clock::monotonic_ns;
use forge_fabric::{AppFlags, Corruption, RelayedProducer, SessionError};
use forge_frame::FRAME_HEADER_LEN;
use forge_holder::end::Lost;
use forge_holder::pace::{wait_until, Look, Pacer};
use forge_holder::{Halt, Holder};

use crate::args::Speed;
use crate::read::{ReadError, RecordedFrame, Recording};

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Recorded pace scaled, or as fast as possible.
    pub speed: Speed,
    /// A fixed rate in frames per second instead of the recorded pace.
    pub rate: Option<u64>,
    /// Index of the first frame to replay.
    pub start: u64,
    /// Replay only this session's frames (index into the recording's
    /// sessions).
    pub session: usize,
    /// Start over at `start` after the last frame, until stopped or `count`.
    pub looped: bool,
    /// Frames to write, then stop; 0 for all (once, or until stopped).
    pub count: u64,
    /// Keep the recorded timestamps instead of restamping. (How to wait
    /// for space and for a frame's due time is the producer's wait
    /// strategy, chosen when it took the role.)
    pub keep_timestamps: bool,
}

/// Why a replay ended.
#[derive(Debug)]
pub enum ReplayEnd {
    /// Every frame was written (once, without `--loop`).
    Done,
    /// `count` frames were written.
    CountReached,
    /// SIGINT, SIGTERM or SIGHUP.
    Stopped,
    /// The segment was retired or replaced under us.
    SessionLost(SessionError),
    /// The segment's identity or the consumer's index was damaged.
    Corrupt(Corruption),
    /// The segment was unlinked, replaced or truncated under us.
    SegmentLost(Lost),
    /// The recording could not be read on.
    Read(ReadError),
    /// A recorded frame is larger than the ring's slots (a ring made with a
    /// smaller `--payload-capacity` than the recorded one).
    TooLarge {
        /// The frame's index in the recording.
        index: u64,
        /// Its length.
        len: usize,
        /// What the ring's slots hold.
        capacity: usize,
    },
}

impl From<Halt> for ReplayEnd {
    fn from(h: Halt) -> ReplayEnd {
        match h {
            Halt::Stopped => ReplayEnd::Stopped,
            Halt::SessionLost(e) => ReplayEnd::SessionLost(e),
            Halt::Corrupt(c) | Halt::Stalled(c) => ReplayEnd::Corrupt(c),
            Halt::SegmentLost(l) => ReplayEnd::SegmentLost(l),
        }
    }
}

impl ReplayEnd {
    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            ReplayEnd::Done => "done",
            ReplayEnd::CountReached => "count_reached",
            ReplayEnd::Stopped => "stopped",
            ReplayEnd::SessionLost(_) => "session_retired",
            ReplayEnd::Corrupt(_) => "segment_corrupt",
            ReplayEnd::SegmentLost(lost) => lost.name(),
            ReplayEnd::Read(_) => "read_failed",
            ReplayEnd::TooLarge { .. } => "frame_too_large",
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayReport {
    /// Frames written into the ring.
    pub frames: u64,
    /// Payload bytes written.
    pub bytes: u64,
    /// Seconds from start to end.
    pub duration_s: f64,
    /// `frames / duration_s`.
    pub frames_per_s: f64,
    /// The first sequence written, if any frame was a telemetry frame.
    pub first_sequence: Option<u64>,
    /// The last sequence written.
    pub last_sequence: Option<u64>,
    /// Laps that wrote at least one frame (1 without `--loop`).
    pub laps: u64,
    /// Sequences were shifted by a lap's span from the second lap on.
    pub renumbered: bool,
    /// The ring position of the first frame written.
    pub first_position: u64,
    /// Times the ring was full.
    pub ring_full_waits: u64,
    /// How it ended.
    pub end: &'static str,
}

impl ReplayReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        use forge_cli::human;
        let seq = |s: Option<u64>| s.map_or("none".to_owned(), human::count);
        format!(
            "forge-replay: wrote {} frames ({}) in {:.3} s: {} frames/s, {}\n  \
             sequences  {} .. {}{}\n  \
             laps       {}\n  \
             ring full  {} waits for the consumer\n  \
             ended      {}\n",
            human::count(self.frames),
            human::bytes(self.bytes),
            self.duration_s,
            human::si(self.frames_per_s),
            human::bytes_rate(if self.duration_s > 0.0 {
                self.bytes as f64 / self.duration_s
            } else {
                0.0
            }),
            seq(self.first_sequence),
            seq(self.last_sequence),
            if self.renumbered {
                " (renumbered from lap 2 on so the loop stays continuous)"
            } else {
                ""
            },
            self.laps,
            human::count(self.ring_full_waits),
            self.end.replace('_', " "),
        )
    }
}

/// When the next frame is due.
enum Pace {
    /// Recorded pace: frame time `log - base_log` after `base_mono`, scaled.
    Recorded {
        factor: f64,
        base_mono: u64,
        base_log: Option<u64>,
    },
    /// A fixed rate.
    Rate(Pacer),
    /// No waiting.
    Max,
}

impl Pace {
    fn due(&mut self, f: &RecordedFrame, now: u64) -> u64 {
        match self {
            Pace::Recorded {
                factor,
                base_mono,
                base_log,
            } => {
                let base = *base_log.get_or_insert(f.log_time_ns);
                let offset = f.log_time_ns.saturating_sub(base) as f64 / *factor;
                base_mono.saturating_add(offset as u64)
            }
            Pace::Rate(p) => p.due_ns(),
            Pace::Max => now,
        }
    }

    /// A new lap starts now.
    fn rebase(&mut self, now: u64) {
        match self {
            Pace::Recorded {
                base_mono,
                base_log,
                ..
            } => {
                *base_mono = now;
                *base_log = None;
            }
            Pace::Rate(p) => p.rebase(now),
            Pace::Max => {}
        }
    }

    fn sent(&mut self, now: u64) {
        if let Pace::Rate(p) = self {
            p.sent(now);
        }
    }
}

struct Replayer<'a> {
    holder: &'a mut Holder<RelayedProducer>,
    config: ReplayConfig,
    frames: u64,
    bytes: u64,
    first_sequence: Option<u64>,
    last_sequence: Option<u64>,
    /// Sequence span of one lap, known once the first lap ended.
    span: Option<u64>,
    lap_first: Option<u64>,
    lap_last: Option<u64>,
    /// The lap being written, from 0.
    lap: u64,
    /// Frames written in this lap.
    lap_frames: u64,
    ring_full_waits: u64,
}

/// Replays `recording` into the relayed producer `holder` holds, as
/// `config` says.
pub fn replay(
    recording: &Recording,
    holder: &mut Holder<RelayedProducer>,
    config: ReplayConfig,
) -> (ReplayReport, ReplayEnd) {
    let first_position = holder.position();
    let start_ns = monotonic_ns();
    let mut pace = match (config.rate, config.speed) {
        (Some(rate), _) => Pace::Rate(Pacer::new(rate.max(1), start_ns)),
        (None, Speed::Max) => Pace::Max,
        (None, Speed::Factor(factor)) => Pace::Recorded {
            factor,
            base_mono: start_ns,
            base_log: None,
        },
    };
    let mut r = Replayer {
        holder,
        config,
        frames: 0,
        bytes: 0,
        first_sequence: None,
        last_sequence: None,
        span: None,
        lap_first: None,
        lap_last: None,
        lap: 0,
        lap_frames: 0,
        ring_full_waits: 0,
    };
    let end = r.run(recording, &mut pace);
    r.holder.flush_index();
    let duration_s = monotonic_ns().saturating_sub(start_ns) as f64 / 1e9;
    let report = ReplayReport {
        frames: r.frames,
        bytes: r.bytes,
        duration_s,
        frames_per_s: if duration_s > 0.0 {
            r.frames as f64 / duration_s
        } else {
            0.0
        },
        first_sequence: r.first_sequence,
        last_sequence: r.last_sequence,
        laps: r.lap + u64::from(r.lap_frames > 0),
        renumbered: r.lap > 0 && r.lap_frames > 0 || r.lap > 1,
        first_position,
        ring_full_waits: r.ring_full_waits,
        end: end.name(),
    };
    (report, end)
}

impl Replayer<'_> {
    fn run(&mut self, recording: &Recording, pace: &mut Pace) -> ReplayEnd {
        if let Some(end) = self.housekeeping(monotonic_ns()) {
            return end;
        }
        loop {
            self.lap_frames = 0;
            let mut any = false;
            for f in recording.frames_from(self.config.start) {
                let f = match f {
                    Ok(f) => f,
                    Err(e) => return ReplayEnd::Read(e),
                };
                if f.session != self.config.session {
                    continue;
                }
                any = true;
                if self.config.count != 0 && self.frames >= self.config.count {
                    return ReplayEnd::CountReached;
                }
                if let Some(end) = self.wait_until_due(pace, &f) {
                    return end;
                }
                if let Some(end) = self.write(&f) {
                    return end;
                }
                pace.sent(monotonic_ns());
                if let Err(halt) = self.holder.tick() {
                    return halt.into();
                }
            }
            if !self.config.looped || !any {
                return ReplayEnd::Done;
            }
            // The next lap continues the sequence where this one ended.
            if self.span.is_none() {
                self.span = match (self.lap_first, self.lap_last) {
                    (Some(a), Some(b)) => Some(b.wrapping_sub(a).wrapping_add(1)),
                    _ => Some(0),
                };
            }
            self.lap += 1;
            pace.rebase(monotonic_ns());
        }
    }

    /// Waits for `f`'s due time, looking around every housekeeping period.
    fn wait_until_due(&mut self, pace: &mut Pace, f: &RecordedFrame) -> Option<ReplayEnd> {
        let due = pace.due(f, monotonic_ns());
        let wait = self.holder.wait_strategy();
        wait_until(due, wait, self.holder.next_check_ns(), |now| {
            match self.housekeeping(now) {
                Some(end) => Look::End(end),
                None => Look::Wait(self.holder.next_check_ns()),
            }
        })
    }

    /// Writes one frame into the next slot, waiting for space.
    fn write(&mut self, f: &RecordedFrame) -> Option<ReplayEnd> {
        loop {
            if let Some(mut slot) = self.holder.write_slot() {
                let out = slot.payload_mut();
                let capacity = out.len();
                let len = f.payload.len();
                // The codec refuses payloads longer than any slot; this
                // ring's slots may have been made smaller.
                let Some(dest) = out.get_mut(..len) else {
                    return Some(ReplayEnd::TooLarge {
                        index: f.index,
                        len,
                        capacity,
                    });
                };
                dest.copy_from_slice(&f.payload);
                if let Some(seq) = f.sequence() {
                    let lap = self.lap;
                    let seq = seq.wrapping_add(lap.wrapping_mul(self.span.unwrap_or(0)));
                    if lap == 0 {
                        self.lap_first.get_or_insert(seq);
                        self.lap_last = Some(seq);
                    }
                    self.first_sequence.get_or_insert(seq);
                    self.last_sequence = Some(seq);
                    // The header's sequence and timestamp fields (see
                    // frame/src/lib.rs); a format 2 checksum covers them and
                    // is made true again, but only for a frame that was
                    // sound: a corrupt one stays corrupt.
                    let stamp = (!self.config.keep_timestamps).then(monotonic_ns);
                    forge_frame::restamp(&mut out[..len], seq, stamp);
                    debug_assert!(len >= FRAME_HEADER_LEN);
                }
                // Cannot fail: `len` fit the payload above.
                let _ = slot.commit_flagged(len, AppFlags::from_bits_truncate(f.slot_flags));
                self.frames += 1;
                self.lap_frames += 1;
                self.bytes += len as u64;
                return None;
            }
            self.ring_full_waits += 1;
            if let Err(halt) = self.holder.wait() {
                return Some(halt.into());
            }
        }
    }

    fn housekeeping(&mut self, now_ns: u64) -> Option<ReplayEnd> {
        self.holder.check(now_ns).err().map(ReplayEnd::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::From;
    use crate::identity::SessionIdentity;
    use crate::writer::{RecordingWriter, WriterOptions};
    use forge_holder::signals::Control;
    /// A relayed heap ring whose sides yield when they wait.
    fn heap_ring(capacity: u32) -> (RelayedProducer, forge_fabric::Consumer) {
        forge_fabric::HeapRing::new(capacity)
            .wait(forge_fabric::WaitStrategy::Yield)
            .build_relayed()
    }
    use forge_frame::{decode, encode, FrameKind};
    use std::time::Duration;

    /// 100 frames, sequences 1000.., 1 ms apart; frames 40..50 missing.
    fn recording(dir: &std::path::Path) -> Recording {
        let path = dir.join("r.mcap");
        let mut w = RecordingWriter::create(&path, WriterOptions::default()).unwrap();
        w.add_session(SessionIdentity {
            session_id: 3,
            ..Default::default()
        });
        let mut buf = [0u8; 128];
        for i in (0..100u64).filter(|i| !(40..50).contains(i)) {
            let n = encode(&mut buf, 1_000 + i, 7, 1, FrameKind::Log, b"body").unwrap();
            w.write_frame(3, i, 0, &buf[..n], 5_000_000_000 + i * 1_000_000)
                .unwrap();
        }
        w.finish().unwrap();
        Recording::open(&path).unwrap()
    }

    fn config() -> ReplayConfig {
        ReplayConfig {
            speed: Speed::Max,
            rate: None,
            start: 0,
            session: 0,
            looped: false,
            count: 0,
            keep_timestamps: false,
        }
    }

    /// Every frame in the ring: its sequence and slot flags.
    fn drain(c: &mut forge_fabric::Consumer, out: &mut Vec<(u64, u16)>) {
        while let Some(f) = c.read_slot().unwrap() {
            let item = (decode(&f).unwrap().header.sequence, f.slot_flags());
            f.release();
            out.push(item);
        }
    }

    #[test]
    fn start_points_name_frames_by_sequence_time_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let rec = recording(dir.path());
        assert_eq!(rec.start_index(0, From::Sequence(1_020)).unwrap(), Some(20));
        assert_eq!(rec.start_index(0, From::Sequence(1_045)).unwrap(), None);
        // 45 ms in falls in the missing range: the next frame is sequence 1050.
        let i = rec
            .start_index(0, From::Offset(Duration::from_millis(45)))
            .unwrap()
            .unwrap();
        assert_eq!(rec.frame(i).unwrap().sequence(), Some(1_050));
        let t = rec
            .start_index(0, From::Time(5_000_000_000 + 60_000_000))
            .unwrap();
        assert_eq!(
            t.map(|i| rec.frame(i).unwrap().sequence()),
            Some(Some(1_060))
        );
        assert_eq!(rec.start_index(0, From::Time(u64::MAX)).unwrap(), None);
    }

    #[test]
    fn a_looped_replay_continues_each_lap_where_the_last_ended() {
        let dir = tempfile::tempdir().unwrap();
        let rec = recording(dir.path());
        let (p, mut c) = heap_ring(512);
        let control = Control::new();
        // From frame 70 (sequence 1080): laps of 1080..=1099, 20 frames.
        let cfg = ReplayConfig {
            start: 70,
            looped: true,
            count: 50,
            ..config()
        };
        let (report, end) = replay(&rec, &mut Holder::on_heap(p, control.clone()), cfg);
        assert!(matches!(end, ReplayEnd::CountReached), "{end:?}");
        assert_eq!(
            (report.frames, report.laps, report.renumbered),
            (50, 3, true)
        );
        let mut got = Vec::new();
        drain(&mut c, &mut got);
        // Each lap renumbered by the span of 20: one continuous stream.
        let seqs: Vec<u64> = got.iter().map(|&(s, _)| s).collect();
        assert_eq!(seqs, (1_080..1_130).collect::<Vec<_>>());
        assert!(got
            .iter()
            .all(|&(_, f)| f & forge_fabric::layout::FRAME_RELAYED != 0));
    }

    #[test]
    fn a_paced_replay_takes_at_least_the_recorded_time_scaled() {
        let dir = tempfile::tempdir().unwrap();
        let rec = recording(dir.path());
        let (p, mut c) = heap_ring(512);
        let mut p = Holder::on_heap(p, Control::new());
        // 90 frames spanning 99 ms, at 10x: at least 9.9 ms.
        let cfg = ReplayConfig {
            speed: Speed::Factor(10.0),
            ..config()
        };
        let started = std::time::Instant::now();
        let (report, end) = replay(&rec, &mut p, cfg);
        assert!(matches!(end, ReplayEnd::Done), "{end:?}");
        assert_eq!(report.frames, 90);
        assert!(started.elapsed() >= Duration::from_micros(9_900));
        // 30 frames at 1000 frames/s: at least 29 ms.
        let cfg = ReplayConfig {
            rate: Some(1_000),
            count: 30,
            ..config()
        };
        let started = std::time::Instant::now();
        replay(&rec, &mut p, cfg);
        assert!(started.elapsed() >= Duration::from_millis(29));
        let mut got = Vec::new();
        drain(&mut c, &mut got);
        assert_eq!(got.len(), 120);
    }
}

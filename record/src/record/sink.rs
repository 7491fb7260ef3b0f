//! The writer and the bookkeeping both ways of recording share: frames,
//! missed ranges, samples, flushes and rolls, the report.

use forge_fabric::clock::monotonic_ns;
use forge_fabric::layout::FRAME_RELAYED;
use forge_frame::decode_header;

use crate::events::{Event, MissedRange, RingSample, SessionEnd};
use crate::identity::{ClockPair, Mode, SessionIdentity};
use crate::writer::RecordingWriter;

use super::*;

/// The writer and the bookkeeping both modes share.
pub(super) struct Sink<'a> {
    pub(super) writer: &'a mut RecordingWriter,
    pub(super) config: RecordConfig,
    pub(super) session: u64,
    pub(super) clock: ClockPair,
    pub(super) first_position: u64,
    pub(super) frames: u64,
    pub(super) payload_bytes: u64,
    pub(super) missed: Vec<MissedRange>,
    pub(super) missed_ranges: u64,
    pub(super) missed_frames: u64,
    /// The missed range being extended, not yet written.
    pub(super) open_miss: Option<MissedRange>,
    /// The last frame recorded: position, sequence, relayed.
    pub(super) last: Option<(u64, u64, bool)>,
    pub(super) start_ns: u64,
    pub(super) first_frame_ns: u64,
    pub(super) last_frame_ns: u64,
    pub(super) last_flush_ns: u64,
    /// When the ring was last sampled (0: never).
    pub(super) last_sample_ns: u64,
    pub(super) next_housekeeping_ns: u64,
}

impl<'a> Sink<'a> {
    pub(super) fn new(
        writer: &'a mut RecordingWriter,
        config: RecordConfig,
        identity: SessionIdentity,
    ) -> Self {
        let now = monotonic_ns();
        let (session, clock, first_position) =
            (identity.session_id, identity.clock, identity.start_position);
        writer.add_session(identity);
        Sink {
            writer,
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

    pub(super) fn count_reached(&self) -> bool {
        self.config.count != 0 && self.frames >= self.config.count
    }

    /// Writes one frame. Its wall-clock time is the producer's timestamp
    /// converted with the start-up clock pair; a frame without a telemetry
    /// header, or relayed from another ring (its timestamp is another
    /// host's clock), gets the time it was read.
    #[inline]
    pub(super) fn frame(
        &mut self,
        position: u64,
        flags: u16,
        payload: &[u8],
    ) -> Result<(), RecordEnd> {
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
    pub(super) fn miss(&mut self, position: u64, n: u64, reason: &str) -> Result<(), RecordEnd> {
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
    pub(super) fn close_miss(&mut self) -> Result<(), RecordEnd> {
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
    pub(super) fn sample_due(&self, now_ns: u64) -> bool {
        self.last_sample_ns == 0 || now_ns.saturating_sub(self.last_sample_ns) >= SAMPLE_EVERY_NS
    }

    /// Writes the ring's counters and latency histogram when a second has
    /// passed since the last sample (or always, with `force`).
    pub(super) fn sample(
        &mut self,
        snap: &forge_fabric::Snapshot,
        force: bool,
    ) -> Result<(), RecordEnd> {
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
    pub(super) fn file_housekeeping(&mut self, now_ns: u64) -> Result<(), RecordEnd> {
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
    pub(super) fn finish(
        mut self,
        end: &RecordEnd,
        mode: Mode,
        next_position: u64,
    ) -> RecordReport {
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

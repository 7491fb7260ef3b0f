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

mod consume;
mod report;
mod sink;
mod tap;

use std::time::Duration;

use forge_fabric::observe::ObserveError;
use forge_fabric::{Corruption, SessionError, WaitStrategy};
use forge_holder::checks::Halt;
use forge_holder::end::Lost;

use crate::writer::WriteError;

pub use self::consume::consume;
pub use self::report::RecordReport;
pub use self::tap::tap;

/// Frames between two housekeeping passes while frames keep coming: the
/// holder's.
pub const CHECK_EVERY: u32 = forge_holder::end::CHECK_EVERY;
/// Longest time between housekeeping passes: the holder's.
pub const HOUSEKEEPING_NS: u64 = forge_holder::end::HOUSEKEEPING_NS;
/// How often the ring's counters and latency histogram are written.
pub const SAMPLE_EVERY_NS: u64 = 1_000_000_000;
/// Missed ranges kept for the report; the file has every one of them.
pub const MAX_REPORTED_RANGES: usize = 100_000;

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
            // A slot the consumer cannot step over.
            Halt::Stalled(c) => RecordEnd::CorruptSlot(c.to_string()),
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

#[cfg(test)]
mod tests {
    use super::sink::Sink;
    use super::*;
    use crate::identity::{ClockPair, Mode, SessionIdentity};
    use crate::read::Recording;
    use crate::writer::{RecordingWriter, WriterOptions};
    use forge_fabric::clock::monotonic_ns;
    use forge_fabric::layout::FRAME_RELAYED;
    use forge_holder::signals::Control;
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
        let (mut p, c) = heap_ring(8);
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
        let mut holder = forge_holder::Holder::on_heap(c, control);
        let (report, end) = consume(&mut holder, None, &mut w, identity(), config(n));
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
        let mut sink = Sink::new(&mut w, config(0), identity());
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

//! forge-core's engine: the consumer ("ingestion tracking") loop.
//!
//! Per frame it reads the slot in place, verifies the frame (sequence,
//! length and, with `--verify`, checksum), measures transit latency from the
//! producer's timestamp against the vDSO clock, releases the slot and adds
//! the sample to both its own histogram and the segment's shared one, which
//! forge-top reads live. No syscall, allocation, lock or formatting — except
//! on the cold path that reports an integrity failure.
//!
//! Releases are batched: `tail` is stored every `release_batch` frames (and
//! whenever the consumer catches up and waits). A consumer killed with
//! SIGKILL therefore resumes at most `release_batch` frames behind the last
//! frame it read: that is the bound on frames seen twice across a restart.

use forge_cli::human;
use forge_fabric::clock::monotonic_ns;
use forge_fabric::hist::Histogram;
use forge_fabric::Consumer;

use crate::end::{end_line, RunEnd};
use forge_frame::verify::{Issue, Quantiles, Verifier};
use forge_holder::{Halt, Holder};

/// Releases per `tail` store unless told otherwise; also the most frames a
/// consumer restarted after SIGKILL reads again.
pub const DEFAULT_RELEASE_BATCH: u64 = 32;
/// Issues printed one by one when not stopping at the first.
const ISSUES_PRINTED: u64 = 10;

/// How to consume.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Frames to read; 0 reads until stopped.
    pub count: u64,
    /// Verify checksums and stop at the first integrity failure.
    pub verify: bool,
    /// Releases per `tail` store (at least 1).
    pub release_batch: u64,
}

/// What a run saw. `--report json` prints exactly this.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestReport {
    /// Frames read by this run.
    pub frames: u64,
    /// Frame bytes read by this run.
    pub bytes: u64,
    /// Seconds from the first frame to the last.
    pub duration_s: f64,
    /// `frames / duration_s` (0 with fewer than two frames).
    pub frames_per_s: f64,
    /// `bytes / duration_s`.
    pub bytes_per_s: f64,
    /// Transit latency, producer timestamp to consumer read, ns.
    pub latency_ns: Quantiles,
    /// Discontinuities where frames went missing.
    pub gaps: u64,
    /// Frames seen again.
    pub duplicates: u64,
    /// Frames that did not decode or verify.
    pub corrupt: u64,
    /// The first issue, in words.
    pub first_issue: Option<String>,
    /// `sequence, length, checksum` with `--verify`, else `sequence, length`.
    pub checked: &'static str,
    /// The sequence (ring position) this run started at.
    pub first_sequence: u64,
    /// The sequence expected next.
    pub next_sequence: u64,
    /// Relayed or replayed frames: the origin's sequence numbers they
    /// carried, first and next expected (the ring positions above are
    /// this ring's, not theirs).
    pub frame_sequences: Option<(u64, u64)>,
    /// Times the ring was found empty.
    pub empty_polls: u64,
    /// The session read from, hex.
    pub session: String,
    /// Seconds from start to end, waiting included.
    pub wall_s: f64,
    /// `count_reached`, `stopped`, `session_retired`, `segment_corrupt`,
    /// `integrity_failure`, `segment_…` (`running` in an interim report).
    #[serde(serialize_with = "crate::end::serialize_end")]
    pub end: Option<RunEnd>,
}

impl IngestReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        let l = &self.latency_ns;
        let last = match self.frames {
            0 => "none".to_owned(),
            _ => human::count(self.next_sequence.wrapping_sub(1)),
        };
        let mut out = format!(
            "forge-core: received {} frames ({}) in {:.3} s: {} frames/s, {}\n  \
             latency    p50 {}  p99 {}  p99.9 {}  max {}  (mean {}, {} samples)\n  \
             integrity  {} gaps, {} duplicates, {} corrupt (checked: {})\n",
            human::count(self.frames),
            human::bytes(self.bytes),
            self.duration_s,
            human::si(self.frames_per_s),
            human::bytes_rate(self.bytes_per_s),
            l.show("p50", l.p50, human::duration_ns),
            l.show("p99", l.p99, human::duration_ns),
            l.show("p999", l.p999, human::duration_ns),
            human::duration_ns(l.max),
            human::duration_ns(l.mean),
            human::count(l.samples),
            self.gaps,
            self.duplicates,
            self.corrupt,
            self.checked,
        );
        if l.overflow > 0 {
            out += &format!(
                "             {} of {} samples past the histogram's {} range: only counted, so a \
                 quantile among them is shown as >{}\n",
                human::count(l.overflow),
                human::count(l.samples),
                human::duration_ns(l.range_ns),
                human::duration_ns(l.range_ns),
            );
        }
        if let Some(issue) = &self.first_issue {
            out += &format!("  first      {issue}\n");
        }
        // Ring positions: a frame's sequence only when the producer made
        // it here (a relayed or replayed frame keeps its origin's).
        out += &format!(
            "  positions  {} .. {} (next {})\n",
            human::count(self.first_sequence),
            last,
            human::count(self.next_sequence),
        );
        if let Some((first, next)) = self.frame_sequences {
            out += &format!(
                "  sequences  {} .. {} carried by the frames (relayed: their origin's)\n",
                human::count(first),
                human::count(next.wrapping_sub(1)),
            );
        }
        out += &format!("  session    {}\n", self.session);
        out += &end_line(&self.end);
        out
    }
}

/// The consumer loop and its state.
pub struct Ingester<'a> {
    holder: &'a mut Holder<Consumer>,
    config: IngestConfig,
    verifier: Verifier,
    histogram: Histogram,
    first_sequence: u64,
    frames: u64,
    bytes: u64,
    issues_printed: u64,
    start_ns: u64,
    first_frame_ns: u64,
    last_frame_ns: u64,
}

impl<'a> Ingester<'a> {
    /// An ingester over the consumer `holder` holds, starting at its
    /// position.
    pub fn new(holder: &'a mut Holder<Consumer>, config: IngestConfig) -> Self {
        holder.set_index_batch(config.release_batch);
        let first_sequence = holder.position();
        Ingester {
            verifier: Verifier::new(first_sequence, config.verify),
            histogram: Histogram::default(),
            holder,
            config,
            first_sequence,
            frames: 0,
            bytes: 0,
            issues_printed: 0,
            start_ns: 0,
            first_frame_ns: 0,
            last_frame_ns: 0,
        }
    }

    /// Reads until the count is reached, a stop is asked for, the session
    /// is lost, or (with `--verify`) the first integrity failure.
    pub fn run(mut self) -> (IngestReport, RunEnd) {
        self.start_ns = monotonic_ns();
        let end = match self.housekeeping(self.start_ns) {
            Some(end) => end,
            None => self.ingest(),
        };
        self.holder.flush_index();
        (self.report(&end), end)
    }

    /// The final report.
    pub fn report(&self, end: &RunEnd) -> IngestReport {
        self.report_as(Some(end.clone()))
    }

    /// The report as of now, ended or not.
    fn report_as(&self, end: Option<RunEnd>) -> IngestReport {
        let span_ns = self.last_frame_ns.saturating_sub(self.first_frame_ns);
        let duration_s = span_ns as f64 / 1e9;
        let per_s = |x: u64| {
            if span_ns > 0 {
                x as f64 / duration_s
            } else {
                0.0
            }
        };
        let v = &self.verifier;
        IngestReport {
            frames: self.frames,
            bytes: self.bytes,
            duration_s,
            // The first frame opens the interval; the rest arrive in it.
            frames_per_s: per_s(self.frames.saturating_sub(1)),
            bytes_per_s: per_s(self.bytes),
            latency_ns: Quantiles::of(&self.histogram),
            gaps: v.gaps,
            duplicates: v.duplicates,
            corrupt: v.corrupt,
            first_issue: v.first_issue.as_ref().map(ToString::to_string),
            checked: if self.config.verify {
                "sequence, length, checksum"
            } else {
                "sequence, length"
            },
            first_sequence: self.first_sequence,
            next_sequence: self.holder.position(),
            frame_sequences: v.relayed_sequences(),
            empty_polls: self.holder.empty_count(),
            session: human::session(self.holder.session()),
            wall_s: monotonic_ns().saturating_sub(self.start_ns) as f64 / 1e9,
            end,
        }
    }

    /// Integrity failures seen so far.
    pub fn issues(&self) -> u64 {
        self.verifier.issues()
    }

    /// The steady-state loop.
    fn ingest(&mut self) -> RunEnd {
        loop {
            if self.config.count != 0 && self.frames >= self.config.count {
                return RunEnd::CountReached;
            }
            match self.holder.read_slot() {
                Ok(Some(frame)) => {
                    let now = monotonic_ns();
                    let len = frame.len() as u64;
                    let (stamp, issue) = self.verifier.check_with_flags(
                        frame.position(),
                        frame.slot_flags(),
                        &frame,
                    );
                    frame.release();
                    if let Some(stamp) = stamp {
                        let latency = now.saturating_sub(stamp);
                        self.histogram.record(latency);
                        self.holder.record_latency(latency);
                    }
                    if self.frames == 0 {
                        self.first_frame_ns = now;
                    }
                    self.frames += 1;
                    self.bytes += len;
                    self.last_frame_ns = now;
                    if let Some(issue) = issue {
                        if let Some(end) = self.on_issue(issue) {
                            return end;
                        }
                    }
                    match self.holder.tick() {
                        Ok(false) => {}
                        Ok(true) => self.interim_report(),
                        Err(halt) => return self.ended(halt),
                    }
                }
                Ok(None) => {
                    // Empty, or stuck behind a damaged slot word? The
                    // holder tells, and does its checks.
                    if let Err(halt) = self.holder.wait() {
                        return self.ended(halt);
                    }
                    self.interim_report();
                }
                Err(e) => {
                    // A slot word claiming more than a slot: the ring cannot
                    // step over it, so this ends the run whatever the flags.
                    let issue = self
                        .verifier
                        .corrupt_slot(self.holder.position(), e.to_string());
                    eprintln!("forge-core: integrity failure: {issue}");
                    return RunEnd::Integrity(issue);
                }
            }
        }
    }

    #[cold]
    fn on_issue(&mut self, issue: Issue) -> Option<RunEnd> {
        if self.config.verify {
            eprintln!("forge-core: integrity failure: {issue}");
            return Some(RunEnd::Integrity(issue));
        }
        self.issues_printed += 1;
        if self.issues_printed <= ISSUES_PRINTED {
            eprintln!("forge-core: integrity failure: {issue}");
        } else if self.issues_printed == ISSUES_PRINTED + 1 {
            eprintln!("forge-core: more integrity failures; counting them for the final report");
        }
        None
    }

    /// Off the per-message path: the holder's checks (a loss ends the run
    /// only once what the producer committed before it is read, for at
    /// most the holder's drain wait), then an interim report on SIGUSR1.
    fn housekeeping(&mut self, now_ns: u64) -> Option<RunEnd> {
        if let Err(halt) = self.holder.check(now_ns) {
            return Some(self.ended(halt));
        }
        self.interim_report();
        None
    }

    /// An interim report on stderr if SIGUSR1 asked for one.
    fn interim_report(&mut self) {
        if self.holder.control().take_usr1() {
            eprint!("{}", self.report_as(None).text());
        }
    }

    /// The end a check found; a ring stuck at a damaged slot is an
    /// integrity failure of that position, as a frame that fails its check
    /// is.
    fn ended(&mut self, halt: Halt) -> RunEnd {
        match halt {
            Halt::Stalled(c) => {
                let issue = self
                    .verifier
                    .corrupt_slot(self.holder.position(), c.to_string());
                eprintln!("forge-core: integrity failure: {issue}");
                RunEnd::Integrity(issue)
            }
            halt => halt.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{StreamConfig, Streamer};
    use forge_frame::load::{LoadGen, SizeSpec};
    use forge_holder::end::Lost;
    use forge_holder::signals::Control;
    use std::time::Duration;

    fn config(count: u64) -> IngestConfig {
        IngestConfig {
            count,
            verify: true,
            release_batch: DEFAULT_RELEASE_BATCH,
        }
    }

    /// A heap ring whose sides yield when they wait.
    fn heap_ring(capacity: u32) -> (forge_fabric::Producer, forge_fabric::Consumer) {
        forge_fabric::HeapRing::new(capacity)
            .wait(forge_fabric::WaitStrategy::Yield)
            .build()
    }

    #[test]
    fn a_threaded_stream_arrives_whole_and_in_order() {
        let (p, c) = heap_ring(64);
        let n = 200_000;
        let producer = std::thread::spawn(move || {
            let control = Control::new();
            let gen = LoadGen::new(SizeSpec { min: 32, max: 512 }, 1, 3).unwrap();
            let cfg = StreamConfig {
                rate: 0,
                count: n,
                burst: 0,
            };
            Streamer::new(&mut Holder::on_heap(p, control.clone()), cfg, gen)
                .run()
                .unwrap()
        });
        let control = Control::new();
        let (report, end) =
            Ingester::new(&mut Holder::on_heap(c, control.clone()), config(n)).run();
        let (sent, sent_end) = producer.join().unwrap();
        assert_eq!(sent_end, RunEnd::CountReached);
        assert_eq!(end, RunEnd::CountReached);
        assert_eq!(report.frames, n);
        assert_eq!(report.bytes, sent.bytes);
        assert_eq!((report.gaps, report.duplicates, report.corrupt), (0, 0, 0));
        assert_eq!(report.latency_ns.samples, n);
        assert_eq!(report.next_sequence, n);
        assert!(report.latency_ns.p50 > 0);
    }

    #[test]
    fn issue22_10_a_replayed_ring_reports_positions_and_the_frames_own_sequences_apart() {
        // A relayed producer: its frames keep the sequences they carry.
        let (mut p, c) = forge_fabric::HeapRing::new(64)
            .wait(forge_fabric::WaitStrategy::Yield)
            .build_relayed();
        let mut gen = LoadGen::new(SizeSpec::fixed(48), 1, 1).unwrap();
        for seq in 699_170..699_180u64 {
            let mut slot = p.write_slot().unwrap();
            let len = gen.write_frame(slot.payload_mut(), seq, monotonic_ns);
            slot.commit(len).unwrap();
        }
        p.flush_index();
        let control = Control::new();
        let (report, end) =
            Ingester::new(&mut Holder::on_heap(c, control.clone()), config(10)).run();
        assert_eq!(end, RunEnd::CountReached);
        assert_eq!(report.gaps, 0);
        let text = report.text();
        assert!(text.contains("positions  0 .. 9 (next 10)"), "{text}");
        assert!(text.contains("sequences  699,170 .. 699,179"), "{text}");
        assert_eq!(report.frame_sequences, Some((699_170, 699_180)));
    }

    fn push_raw(p: &mut forge_fabric::Producer, seq: u64) {
        let mut gen = LoadGen::new(SizeSpec::fixed(48), 1, 1).unwrap();
        let mut slot = p.write_slot().unwrap();
        let len = gen.write_frame(slot.payload_mut(), seq, monotonic_ns);
        slot.commit(len).unwrap();
    }

    #[test]
    fn with_verify_the_first_gap_ends_the_run() {
        let (mut p, c) = heap_ring(8);
        push_raw(&mut p, 0);
        push_raw(&mut p, 2);
        push_raw(&mut p, 3);
        let control = Control::new();
        let (report, end) =
            Ingester::new(&mut Holder::on_heap(c, control.clone()), config(0)).run();
        assert_eq!(
            end,
            RunEnd::Integrity(Issue::Gap {
                expected: 1,
                found: 2
            })
        );
        assert_eq!((report.frames, report.gaps), (2, 1));
        assert!(report.first_issue.unwrap().contains("expected sequence 1"));
    }

    #[test]
    fn without_verify_issues_are_counted_and_the_run_goes_on() {
        let (mut p, c) = heap_ring(8);
        for seq in [0, 1, 1, 2, 9] {
            push_raw(&mut p, seq);
        }
        let control = Control::new();
        let mut cfg = config(5);
        cfg.verify = false;
        let (report, end) = Ingester::new(&mut Holder::on_heap(c, control.clone()), cfg).run();
        assert_eq!(end, RunEnd::CountReached);
        assert_eq!((report.gaps, report.duplicates, report.corrupt), (1, 1, 0));
    }

    #[test]
    fn a_lost_segment_is_drained_before_the_run_ends() {
        let (mut p, c) = heap_ring(8);
        for seq in 0..5 {
            push_raw(&mut p, seq);
        }
        let control = Control::new();
        control.set_segment_lost(Lost::Unlinked);
        let (report, end) =
            Ingester::new(&mut Holder::on_heap(c, control.clone()), config(0)).run();
        assert_eq!(end, RunEnd::SegmentLost(Lost::Unlinked));
        assert_eq!(crate::end::end_name(&report.end), "segment_unlinked");
        assert_eq!(
            (report.frames, report.next_sequence, report.gaps),
            (5, 5, 0)
        );
    }

    #[test]
    fn a_stop_while_the_ring_is_empty_ends_the_run_promptly() {
        let (_p, c) = heap_ring(8);
        let control = Control::new();
        let stopper = control.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            stopper.request_stop();
        });
        let started = std::time::Instant::now();
        let (report, end) =
            Ingester::new(&mut Holder::on_heap(c, control.clone()), config(0)).run();
        t.join().unwrap();
        assert_eq!(end, RunEnd::Stopped);
        assert_eq!(report.frames, 0);
        assert!(started.elapsed() < Duration::from_secs(2));
        let json = serde_json::to_value(&report).unwrap();
        for key in [
            "frames",
            "bytes",
            "duration_s",
            "frames_per_s",
            "bytes_per_s",
            "gaps",
            "duplicates",
            "corrupt",
            "session",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        for key in ["p50", "p99", "p999", "max"] {
            assert!(json["latency_ns"].get(key).is_some(), "missing {key}");
        }
    }
}

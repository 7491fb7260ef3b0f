//! forge-stream's engine: the producer ("transport gateway") loop.
//!
//! Per frame it claims a slot, writes the frame in place with the ring
//! position as its sequence number, and commits: no syscall, allocation,
//! lock or formatting. Everything else — signals, the session check, the
//! heartbeat — is the [`Holder`]'s, every
//! [`CHECK_EVERY`](forge_holder::end::CHECK_EVERY) frames and at least every
//! [`HOUSEKEEPING_NS`](forge_holder::end::HOUSEKEEPING_NS) while waiting
//! (for space, or for a paced frame's due time).
//!
//! A restarted producer attaches at the segment's `head` (fabric scans past
//! frames published but not yet counted), so sequence numbers continue
//! without a gap and nothing the consumer has not released is overwritten.

use color_eyre::eyre::Result;
use forge_cli::human;
use forge_fabric::clock::monotonic_ns;
use forge_fabric::Producer;

use crate::end::{end_line, RunEnd};
use forge_frame::load::LoadGen;
use forge_holder::pace::{wait_until, Look, Pacer};
use forge_holder::Holder;

/// What to stream.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Frames per second; 0 streams as fast as the ring allows.
    pub rate: u64,
    /// Frames to send; 0 streams until stopped. (How to wait when the
    /// ring is full and between paced frames is the producer's wait
    /// strategy, chosen when it took the role.)
    pub count: u64,
    /// Frames a SIGUSR1 sends at full speed.
    pub burst: u64,
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamReport {
    /// Frames committed by this run.
    pub frames: u64,
    /// Frame bytes committed by this run.
    pub bytes: u64,
    /// Seconds from start to end.
    pub duration_s: f64,
    /// `frames / duration_s`.
    pub frames_per_s: f64,
    /// `bytes / duration_s`.
    pub bytes_per_s: f64,
    /// Sequence (ring position) this run started at.
    pub first_sequence: u64,
    /// Sequence the next frame would have had.
    pub next_sequence: u64,
    /// Times this run found the ring full and waited for the consumer.
    pub ring_full_waits: u64,
    /// SIGUSR1 bursts taken.
    pub bursts: u64,
    /// The session streamed into, hex.
    pub session: String,
    /// Why the run ended.
    #[serde(serialize_with = "crate::end::serialize_end")]
    pub end: Option<RunEnd>,
}

impl StreamReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        let last = match self.frames {
            0 => "none".to_owned(),
            _ => human::count(self.next_sequence.wrapping_sub(1)),
        };
        format!(
            "forge-stream: sent {} frames ({}) in {:.3} s: {} frames/s, {}\n  \
             sequences  {} .. {} (next {})\n  \
             ring full  {} waits for the consumer\n  \
             bursts     {}\n  \
             session    {}\n{}",
            human::count(self.frames),
            human::bytes(self.bytes),
            self.duration_s,
            human::si(self.frames_per_s),
            human::bytes_rate(self.bytes_per_s),
            human::count(self.first_sequence),
            last,
            human::count(self.next_sequence),
            human::count(self.ring_full_waits),
            self.bursts,
            self.session,
            end_line(&self.end),
        )
    }
}

/// The producer loop and its state.
pub struct Streamer<'a> {
    holder: &'a mut Holder<Producer>,
    config: StreamConfig,
    gen: LoadGen,
    pacer: Option<Pacer>,
    frames: u64,
    bytes: u64,
    ring_full_waits: u64,
    bursts: u64,
    burst_left: u64,
}

impl<'a> Streamer<'a> {
    /// A streamer over the producer `holder` holds, writing what `gen`
    /// makes.
    pub fn new(holder: &'a mut Holder<Producer>, config: StreamConfig, gen: LoadGen) -> Self {
        Streamer {
            holder,
            config,
            gen,
            pacer: None,
            frames: 0,
            bytes: 0,
            ring_full_waits: 0,
            bursts: 0,
            burst_left: 0,
        }
    }

    /// Streams until the count is reached, a stop is asked for or the
    /// session is lost. Errors only on a broken invariant (a frame the slot
    /// cannot hold), never on a peer's behaviour.
    pub fn run(mut self) -> Result<(StreamReport, RunEnd)> {
        let start_ns = monotonic_ns();
        let first_sequence = self.holder.position();
        let pacer = (self.config.rate > 0).then(|| Pacer::new(self.config.rate, start_ns));
        match &pacer {
            Some(pacer) => pacer.announce(self.holder.pace(), self.config.burst),
            None => self.holder.pace().announce(0, self.config.burst),
        }
        self.pacer = pacer;
        // A stop or a retirement that came before the first frame.
        let end = match self.housekeeping(start_ns) {
            Some(end) => end,
            None => self.stream()?,
        };
        self.holder.flush_index();
        let duration_s = (monotonic_ns() - start_ns) as f64 / 1e9;
        let per_s = |x: u64| {
            if duration_s > 0.0 {
                x as f64 / duration_s
            } else {
                0.0
            }
        };
        let report = StreamReport {
            frames: self.frames,
            bytes: self.bytes,
            duration_s,
            frames_per_s: per_s(self.frames),
            bytes_per_s: per_s(self.bytes),
            first_sequence,
            next_sequence: self.holder.position(),
            ring_full_waits: self.ring_full_waits,
            bursts: self.bursts,
            session: human::session(self.holder.session()),
            end: Some(end.clone()),
        };
        Ok((report, end))
    }

    /// The steady-state loop.
    fn stream(&mut self) -> Result<RunEnd> {
        loop {
            if self.config.count != 0 && self.frames >= self.config.count {
                return Ok(RunEnd::CountReached);
            }
            if self.burst_left == 0 && self.pacer.is_some() {
                if let Some(end) = self.wait_for_due_time() {
                    return Ok(end);
                }
            }
            if let Some(mut slot) = self.holder.write_slot() {
                let sequence = slot.position();
                let mut stamped_ns = 0;
                let len = self.gen.write_frame(slot.payload_mut(), sequence, || {
                    stamped_ns = monotonic_ns();
                    stamped_ns
                });
                slot.commit(len)?;
                self.frames += 1;
                self.bytes += len as u64;
                self.after_send(stamped_ns);
                match self.holder.tick() {
                    Ok(false) => {}
                    Ok(true) => self.take_burst(),
                    Err(halt) => return Ok(halt.into()),
                }
            } else {
                self.ring_full_waits += 1;
                if let Err(halt) = self.holder.wait() {
                    return Ok(halt.into());
                }
                self.take_burst();
            }
        }
    }

    #[inline]
    fn after_send(&mut self, now_ns: u64) {
        if self.burst_left > 0 {
            self.burst_left -= 1;
            if self.burst_left == 0 {
                // Back to the rate from here, without paying for the burst.
                if let Some(pacer) = &mut self.pacer {
                    pacer.rebase(now_ns);
                }
            }
        } else if let Some(pacer) = &mut self.pacer {
            pacer.sent(now_ns);
        }
    }

    /// Waits until the pacer says the next frame is due, doing the holder's
    /// checks whenever they fall due. Spinning reads only the vDSO clock;
    /// `yield` and `park` give the core back when the gap is long.
    fn wait_for_due_time(&mut self) -> Option<RunEnd> {
        // Housekeeping does not move the pacer, so the due time (a 128-bit
        // division) is computed once per frame, not once per spin.
        let due = self.pacer.as_ref().map(Pacer::due_ns)?;
        let wait = self.holder.wait_strategy();
        let next = self.holder.next_check_ns();
        wait_until(due, wait, next, |now| match self.housekeeping(now) {
            Some(end) => Look::End(end),
            None if self.burst_left > 0 => Look::Go,
            None => Look::Wait(self.holder.next_check_ns()),
        })
    }

    /// Off the per-message path: the holder's checks, then a burst asked
    /// for with SIGUSR1.
    fn housekeeping(&mut self, now_ns: u64) -> Option<RunEnd> {
        if let Err(halt) = self.holder.check(now_ns) {
            return Some(halt.into());
        }
        self.take_burst();
        None
    }

    /// A SIGUSR1 since the last look: a burst of `burst` frames.
    fn take_burst(&mut self) {
        if self.holder.control().take_usr1() {
            self.bursts += 1;
            self.holder.pace().count_burst();
            self.burst_left = self.burst_left.saturating_add(self.config.burst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_frame::decode;
    use forge_frame::load::SizeSpec;
    use forge_holder::end::Lost;
    use forge_holder::signals::Control;

    fn config(count: u64, rate: u64) -> StreamConfig {
        StreamConfig {
            rate,
            count,
            burst: 1_000,
        }
    }

    /// A heap ring whose sides yield when they wait, as the daemons' tests
    /// always did.
    fn heap_ring(capacity: u32) -> (forge_fabric::Producer, forge_fabric::Consumer) {
        forge_fabric::HeapRing::new(capacity)
            .wait(forge_fabric::WaitStrategy::Yield)
            .build()
    }

    #[test]
    fn frames_carry_their_ring_position_as_sequence() {
        let (p, mut c) = forge_fabric::HeapRing::new(8)
            .starting_at(1_000)
            .wait(forge_fabric::WaitStrategy::Yield)
            .build();
        let control = Control::new();
        let gen = LoadGen::new(SizeSpec::fixed(64), 1, 1).unwrap();
        let (report, end) =
            Streamer::new(&mut Holder::on_heap(p, control.clone()), config(5, 0), gen)
                .run()
                .unwrap();
        assert_eq!(end, RunEnd::CountReached);
        assert_eq!((report.frames, report.bytes), (5, 320));
        assert_eq!(
            (report.first_sequence, report.next_sequence),
            (1_000, 1_005)
        );
        for want in 1_000..1_005 {
            let seq = c
                .read_with(|b| decode(b).unwrap().header.sequence)
                .unwrap()
                .unwrap();
            assert_eq!(seq, want);
        }
    }

    #[test]
    fn a_full_ring_waits_and_a_stop_ends_the_wait() {
        let (p, _c) = heap_ring(4);
        let control = Control::new();
        let stopper = control.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            stopper.request_stop();
        });
        let gen = LoadGen::new(SizeSpec::fixed(64), 1, 1).unwrap();
        let (report, end) =
            Streamer::new(&mut Holder::on_heap(p, control.clone()), config(0, 0), gen)
                .run()
                .unwrap();
        t.join().unwrap();
        assert_eq!(end, RunEnd::Stopped);
        assert_eq!(report.frames, 4);
        assert!(report.ring_full_waits >= 1);
    }

    #[test]
    fn a_lost_segment_ends_the_stream_with_its_reason() {
        let (p, _c) = heap_ring(64);
        let control = Control::new();
        control.set_segment_lost(Lost::Truncated { now: 0, mapped: 0 });
        let gen = LoadGen::new(SizeSpec::fixed(64), 1, 1).unwrap();
        let (report, end) =
            Streamer::new(&mut Holder::on_heap(p, control.clone()), config(0, 0), gen)
                .run()
                .unwrap();
        assert!(matches!(end, RunEnd::SegmentLost(Lost::Truncated { .. })));
        assert_eq!(report.frames, 0);
        assert_eq!(crate::end::end_name(&report.end), "segment_truncated");
    }

    #[test]
    fn a_rate_paces_the_stream() {
        let (p, _c) = heap_ring(64);
        let control = Control::new();
        let gen = LoadGen::new(SizeSpec::fixed(64), 1, 1).unwrap();
        // 20 frames at 200/s: frame 19 is due at 95 ms.
        let (report, _) = Streamer::new(
            &mut Holder::on_heap(p, control.clone()),
            config(20, 200),
            gen,
        )
        .run()
        .unwrap();
        assert!(
            (0.09..1.0).contains(&report.duration_s),
            "took {} s",
            report.duration_s
        );
    }

    #[test]
    fn sigusr1_sends_a_burst_at_full_speed() {
        let (p, mut c) = heap_ring(4096);
        let control = Control::new();
        control.request_usr1();
        let gen = LoadGen::new(SizeSpec::fixed(64), 1, 1).unwrap();
        // At 10 frames/s, 1,000 frames would take 100 s; the burst sends them
        // at once, and the pacer then asks for 0.1 s for the last one.
        let (report, _) = Streamer::new(
            &mut Holder::on_heap(p, control.clone()),
            config(1_001, 10),
            gen,
        )
        .run()
        .unwrap();
        assert_eq!(report.bursts, 1);
        assert!(report.duration_s < 5.0, "took {} s", report.duration_s);
        let mut n = 0;
        while c.read_with(|_| ()).unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 1_001);
    }
}

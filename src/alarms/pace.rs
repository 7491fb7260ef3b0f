//! Bursts and pace: what a burst asked of the producer did, and a paced
//! producer falling behind its target, followed once per rate interval.

use super::{Alarms, BurstWatch, Severity, BURST_NS, PACE_NS, PACE_SHARE};
use crate::model::human::{self, duration_ns};
use crate::model::{Liveness, Observation, Rates, RingPosition, Sample};

impl Alarms {
    /// A burst was sent to `pid`: watch what it does.
    pub fn burst_sent(&mut self, pid: u32, sample: Option<&Sample>, mono_ns: u64, unix_ns: u64) {
        let Some(s) = sample else { return };
        let frames = s.header.pace.burst;
        self.burst = Some(BurstWatch {
            pid,
            from_mono_ns: mono_ns,
            from_head: s.head(),
            frames,
            peak_fps: 0.0,
            full_ns: 0,
            last_mono_ns: mono_ns,
        });
        self.log(
            unix_ns,
            Severity::Info,
            if frames > 0 {
                format!(
                    "burst asked of producer pid {pid}: {} frames at full speed",
                    human::count(frames)
                )
            } else {
                format!("burst asked of producer pid {pid} (it does not say how many frames)")
            },
        );
    }

    /// Follows a burst and a paced producer's rate, once per rate interval.
    pub fn rates(&mut self, obs: &Observation, rates: &Rates) {
        let Some(s) = &obs.sample else { return };
        let full = s.header.in_flight() >= u64::from(s.slot_count().max(1));
        if let Some(b) = &mut self.burst {
            let dt = obs.mono_ns.saturating_sub(b.last_mono_ns);
            b.last_mono_ns = obs.mono_ns;
            if full {
                b.full_ns += dt;
            }
            b.peak_fps = b.peak_fps.max(rates.frames_per_s);
            let sent = RingPosition::new(s.head()).since(RingPosition::new(b.from_head));
            let took = obs.mono_ns.saturating_sub(b.from_mono_ns);
            let done = b.frames > 0 && sent >= b.frames;
            if done || took > BURST_NS {
                let b = *b;
                self.burst = None;
                // Head moves for every frame, the burst's and the paced
                // stream's own, which goes on beside it: say both.
                let asked = if b.frames == 0 {
                    String::new()
                } else if sent > b.frames {
                    let target = s.header.pace.target_rate;
                    format!(
                        " ({} asked and {} more: {})",
                        human::count(b.frames),
                        human::count(sent - b.frames),
                        if target > 0 {
                            format!(
                                "the stream's own frames at its {} frames/s go on during a burst",
                                human::si(target as f64)
                            )
                        } else {
                            "the producer kept sending after the burst".to_owned()
                        }
                    )
                } else {
                    format!(" ({} asked)", human::count(b.frames))
                };
                self.log(
                    obs.unix_ns,
                    Severity::Info,
                    format!(
                        "burst of pid {} {}: head moved {} frames{asked} in {}, peak {} frames/s, {}",
                        b.pid,
                        if done {
                            "done"
                        } else {
                            "still going after 10 s"
                        },
                        human::count(sent),
                        duration_ns(took),
                        human::si(b.peak_fps),
                        if b.full_ns == 0 {
                            "the ring never seen full".to_owned()
                        } else {
                            format!("the ring full for about {}", duration_ns(b.full_ns))
                        }
                    ),
                );
            }
        }
        // A paced producer under its target, once per episode; a burst is
        // no episode's end or start.
        if self.burst.is_some() {
            return;
        }
        let target = s.header.pace.target_rate as f64;
        let running = s.producer.liveness == Liveness::Running;
        let behind = running && target > 0.0 && rates.frames_per_s < PACE_SHARE * target;
        if !behind {
            if self.behind_said && running {
                self.log(
                    obs.unix_ns,
                    Severity::Info,
                    format!(
                        "producer back at its target rate ({} frames/s)",
                        human::si(target)
                    ),
                );
            }
            self.behind_since = None;
            self.behind_said = false;
            return;
        }
        let since = *self.behind_since.get_or_insert(obs.mono_ns);
        if self.behind_said || obs.mono_ns.saturating_sub(since) < PACE_NS {
            return;
        }
        self.behind_said = true;
        let why = if full {
            "the ring is full: the consumer holds it back".to_owned()
        } else if let Some(core) = s.header.producer.core.filter(|&c| {
            s.header.consumer.core == Some(c) && s.consumer.liveness == Liveness::Running
        }) {
            format!("it shares core {core} with the consumer")
        } else if s.header.producer.core.is_some() && s.header.producer.core == obs.me.cpu {
            "it shares its core with forge-top".to_owned()
        } else {
            "no reason seen in the ring: the machine may be busy, or the rate above what one core does".to_owned()
        };
        self.log(
            obs.unix_ns,
            Severity::Info,
            format!(
                "producer at {} frames/s, {:.0}% of its {} target, for {}: {why}",
                human::si(rates.frames_per_s),
                rates.frames_per_s * 100.0 / target,
                human::si(target),
                duration_ns(obs.mono_ns.saturating_sub(since))
            ),
        );
    }
}

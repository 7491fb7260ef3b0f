//! The report: the figures and the checks of a run, rendered as Markdown
//! and JSON.

use std::fmt::Write as _;

use forge_cli::human;
use serde::Serialize;

use crate::checks::Check;
use crate::figures::*;
use crate::harness::Spread;
use crate::machine::Machine;
use crate::plan::{Budget, Plan};

/// Whole report: what `--json` prints and the Markdown is made from.
#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub machine: Machine,
    pub plan: Plan,
    pub checks: Vec<Check>,
    pub results: Results,
    pub notes: Vec<String>,
}

/// A duration in ns with a unit that keeps 2 to 4 significant digits.
pub fn fmt_ns(v: f64) -> String {
    let (n, unit) = human::duration_parts(v);
    format!("{n} {unit}")
}

fn spread_with(s: Spread, f: impl Fn(f64) -> String) -> String {
    format!("{} ({}–{})", f(s.median), f(s.min), f(s.max))
}

/// "316 (310–330) ns" when one unit fits all three, else each with its own.
fn ns_spread(s: Spread) -> String {
    let (m, mu) = human::duration_parts(s.median);
    let (lo, lu) = human::duration_parts(s.min);
    let (hi, hu) = human::duration_parts(s.max);
    if mu == lu && mu == hu {
        format!("{m} ({lo}–{hi}) {mu}")
    } else {
        format!("{m} {mu} ({lo} {lu} – {hi} {hu})")
    }
}

fn ratio_cell(s: Spread, unit: &str) -> String {
    match unit {
        "ns" => ns_spread(s),
        _ => format!("{:.2}× ({:.2}–{:.2})", s.median, s.min, s.max),
    }
}

impl Report {
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let p = &self.plan;
        let mut s = String::new();
        let _ = writeln!(s, "# forge-bench\n");
        if p.budget != Budget::Full {
            let _ = writeln!(
                s,
                "> **{} run**: fewer samples than the full run; use the full run for published figures.\n",
                match p.budget {
                    Budget::Smoke => "Smoke",
                    _ => "Quick",
                }
            );
        }
        let _ = writeln!(s, "## Machine and method\n");
        let _ = writeln!(s, "| | |\n|---|---|");
        let row = |s: &mut String, k: &str, v: &str| {
            let _ = writeln!(s, "| {k} | {v} |");
        };
        row(&mut s, "CPU", &m.cpu);
        row(
            &mut s,
            "cores",
            &format!(
                "{} online; measuring side on core {}, peer on core {}{}",
                m.online_cpus,
                m.cores_used[0],
                m.cores_used[1],
                match m.smt_siblings {
                    Some(true) => " (SMT siblings of one physical core)",
                    Some(false) => " (not SMT siblings, per the topology the kernel sees)",
                    None => "",
                }
            ),
        );
        row(&mut s, "virtualisation", &m.virtualisation);
        row(
            &mut s,
            "kernel, clock",
            &format!(
                "Linux {}; clocksource {}; one CLOCK_MONOTONIC read costs {:.1} ns",
                m.kernel, m.clocksource, m.clock_read_ns
            ),
        );
        row(&mut s, "build", &m.build_profile);
        row(&mut s, "spin policy", &m.spin_policy);
        row(&mut s, "caches (measuring core)", &m.caches_line());
        row(
            &mut s,
            "load average (1, 5, 15 min)",
            &format!("{} before, {} after", m.load_before, m.load_after),
        );
        row(
            &mut s,
            "samples",
            &format!(
                "{} repeats of every figure, each cell the median (min–max of the repeats); round trips: {} per repeat over shared memory, {} through the kernel; one-way: {} per repeat; throughput: {} frames per repeat up to 64 B, {} above, {} through the kernel; warm-up discarded (a tenth, and at least 4 ring laps)",
                p.repeats,
                p.rtt_samples,
                p.kernel_rtt_samples,
                p.oneway_samples,
                p.tput_frames_small,
                p.tput_frames_large,
                p.kernel_tput_frames
            ),
        );
        row(
            &mut s,
            "preempted",
            "times the measuring side / its peer were descheduled against their will during the figure (nonvoluntary context switches; ? when the peer cannot tell): millisecond tails come from these, not from the ring",
        );
        row(
            &mut s,
            "rings",
            &format!(
                "{} slots everywhere (Forge, rtrb, iceoryx2 subscriber buffer)",
                p.slots
            ),
        );

        let _ = writeln!(s, "\n## Ratios and targets\n");
        let _ = writeln!(
            s,
            "Ratios of medians; the range is conservative: min(a)/max(b) to max(a)/min(b) over the repeats.\n"
        );
        let _ = writeln!(
            s,
            "| figure | value | target | verdict |\n|---|---|---|---|"
        );
        for c in &self.checks {
            let value = match (&c.value, &c.note) {
                (Some(v), _) => ratio_cell(*v, c.unit),
                (None, Some(n)) => format!("not measured: {n}"),
                (None, None) => "not measured".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                c.name,
                value,
                c.target,
                c.verdict.label()
            );
        }
        let _ = writeln!(s, "\nDefinitions:\n");
        for c in &self.checks {
            let _ = writeln!(s, "- *{}*: {}.", c.name, c.definition);
        }

        let rtts: Vec<_> = self
            .results
            .latency
            .iter()
            .filter(|f| f.kind == LatencyKind::RoundTrip)
            .collect();
        if !rtts.is_empty() {
            let _ = writeln!(s, "\n## Round trip\n");
            let _ = writeln!(
                s,
                "One frame there and back; one clock read per round trip. The floor moves one 8-byte word.\n"
            );
            let _ = writeln!(
                s,
                "| system | payload | read | p50 | p90 | p99 | p99.9 | max | preempted |\n|---|---|---|---|---|---|---|---|---|"
            );
            for f in rtts {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    f.system.label(),
                    human::bytes(f.payload as u64),
                    f.read.map_or("—", ReadMode::label),
                    ns_spread(f.summary.p50),
                    ns_spread(f.summary.p90),
                    ns_spread(f.summary.p99),
                    ns_spread(f.summary.p999),
                    ns_spread(f.summary.max),
                    f.preempted.cell(),
                );
            }
        }
        let oneway: Vec<_> = self
            .results
            .latency
            .iter()
            .filter(|f| f.kind == LatencyKind::OneWay)
            .collect();
        if !oneway.is_empty() {
            let _ = writeln!(s, "\n## One-way latency\n");
            let _ = writeln!(
                s,
                "Paced: one frame every {} ns, so frames do not queue. From the producer's clock read just before commit to the consumer's once it has the frame (in place: its timestamp read where it lies; copy: the whole frame copied out). Both clocks are CLOCK_MONOTONIC on the same TSC.\n",
                p.pace_ns
            );
            let _ = writeln!(
                s,
                "| payload | read | p50 | p90 | p99 | p99.9 | p99.99 | max | preempted |\n|---|---|---|---|---|---|---|---|---|"
            );
            for f in oneway {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    if f.system == System::ForgeShm {
                        human::bytes(f.payload as u64)
                    } else {
                        "floor: one line, no ring".into()
                    },
                    f.read.map_or("—", ReadMode::label),
                    ns_spread(f.summary.p50),
                    ns_spread(f.summary.p90),
                    ns_spread(f.summary.p99),
                    ns_spread(f.summary.p999),
                    ns_spread(f.summary.p9999),
                    ns_spread(f.summary.max),
                    f.preempted.cell(),
                );
            }
        }
        if !self.results.throughput.is_empty() {
            let _ = writeln!(s, "\n## Throughput\n");
            let _ = writeln!(
                s,
                "At full speed. In place, the consumer reads every byte where it lies (a sum of its 8-byte words); copy, it copies every frame out. Batching stores Forge's `head`/`tail` every {} frames instead of every frame. *While both ran*: each repeat is cut into {} windows and the median window's rate taken (a window in which either side was descheduled is slow, and the median leaves it out); the ratios use this. *Whole repeat*: frames over the repeat's wall time, preemptions included.\n",
                p.batch,
                crate::harness::WINDOWS
            );
            let _ = writeln!(
                s,
                "| system | payload | read | batching | frames/s while both ran | frames/s, whole repeat | bytes/s, whole repeat | preempted |\n|---|---|---|---|---|---|---|---|"
            );
            for f in &self.results.throughput {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    f.system.label(),
                    human::bytes(f.payload as u64),
                    f.read.map_or("—", ReadMode::label),
                    match f.batched {
                        Some(true) => "on",
                        Some(false) => "off",
                        None => "—",
                    },
                    f.busy_frames_per_s
                        .map_or("—".into(), |b| spread_with(b, |v| human::si_unit(
                            v, "/s"
                        ))),
                    spread_with(f.frames_per_s, |v| human::si_unit(v, "/s")),
                    spread_with(f.bytes_per_s, |v| human::si_unit(v, "B/s")),
                    f.preempted.cell(),
                );
            }
        }
        if !self.results.paired.is_empty() {
            self.paired_markdown(&mut s);
        }
        if !self.results.probe.is_empty() {
            let _ = writeln!(s, "\n## Slot-layout probe\n");
            let _ = writeln!(
                s,
                "Forge's slot protocol (payload stores, then the slot word with Release; the reader polls the word with Acquire, then reads the payload) on plain atomics between two threads; only the slot stride changes. 4104 is Forge's (8-byte word + 4096-byte payload): its words drift through the cache line and half its 64-byte frames straddle a 128-byte boundary. Round trip:\n"
            );
            let _ = writeln!(
                s,
                "| payload | slot stride | p50 | p90 | p99 | p99.9 | preempted |\n|---|---|---|---|---|---|---|"
            );
            for f in &self.results.probe {
                let _ = writeln!(
                    s,
                    "| {} | {} B{} | {} | {} | {} | {} | {} |",
                    human::bytes(f.payload as u64),
                    f.stride,
                    match f.stride % 128 {
                        0 => " (128-aligned)",
                        64 => " (64-aligned)",
                        _ if f.stride % 64 == 0 => " (64-aligned)",
                        _ => " (Forge today)",
                    },
                    ns_spread(f.summary.p50),
                    ns_spread(f.summary.p90),
                    ns_spread(f.summary.p99),
                    ns_spread(f.summary.p999),
                    f.preempted.cell(),
                );
            }
        }
        if !self.results.sweep.is_empty() {
            self.sweep_markdown(&mut s);
        }
        let _ = writeln!(s, "\n## Plots\n");
        let _ = writeln!(
            s,
            "![Round-trip latency percentiles by payload](latency.svg)\n"
        );
        let _ = writeln!(s, "![Throughput by payload](throughput.svg)");
        if !self.results.sweep.is_empty() {
            let _ = writeln!(s, "\n![Throughput and round trip by ring size](slots.svg)");
        }
        if !self.results.failures.is_empty() || !self.notes.is_empty() {
            let _ = writeln!(s, "\n## Notes\n");
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
            for f in &self.results.failures {
                let _ = writeln!(s, "- failed: {f}");
            }
        }
        s
    }

    fn paired_markdown(&self, s: &mut String) {
        let _ = writeln!(s, "\n## Forge beside rtrb, in turn\n");
        let _ = writeln!(
            s,
            "On a shared machine the rate two cores reach moves by up to 2× from one minute to the next, so two figures measured a minute apart can disagree by more than the rings do. Here Forge (2 processes, in place, per-frame publication, a ring sized for the frame) and rtrb (2 threads, in place) run one repeat each in turn, the side going first alternating, and each round's ratio is taken before the median. Frames/s while both ran. *Floor*: the one-word round trip measured just before each round, which shows where the host had put the two vCPUs (about 300 ns on separate cores on this guest, about 100 ns on one core's two hardware threads); `results.json` has every round.\n"
        );
        let _ = writeln!(
            s,
            "| payload | rounds | Forge, sized slots | rtrb | Forge / rtrb per round | floor before each round | preempted |\n|---|---|---|---|---|---|---|"
        );
        for f in &self.results.paired {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                human::bytes(f.payload as u64),
                f.rounds.len(),
                spread_with(f.forge, |v| human::si_unit(v, "/s")),
                spread_with(f.rtrb, |v| human::si_unit(v, "/s")),
                ratio_cell(f.ratio, "×"),
                ns_spread(f.floor),
                f.preempted.cell(),
            );
        }
    }

    fn sweep_markdown(&self, s: &mut String) {
        let _ = writeln!(s, "\n## Ring size\n");
        let _ = writeln!(
            s,
            "Forge shm, 2 processes, in place, head and tail stored every frame, at each ring size. *Per lap* is what one lap of frames of this size touches (slot words and payload lines): it has to stay in the caches for the ring to run from them. *Fits in* compares it with the measuring core's caches above. *Pages* is how many 4 KiB pages those lines lie on: every slot starts a page of its own, so each frame needs its own TLB entry. Throughput is frames/s while both sides ran; the round trip is p50 (p99).\n"
        );
        let _ = writeln!(
            s,
            "| payload | slots | segment | per lap | fits in | pages | frames/s | round trip p50 (p99) | preempted |\n|---|---|---|---|---|---|---|---|---|"
        );
        for f in &self.results.sweep {
            let rtt = f.rtt.map_or("—".into(), |r| {
                format!("{} ({})", fmt_ns(r.p50.median), fmt_ns(r.p99.median))
            });
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                human::bytes(f.payload as u64),
                f.slots,
                human::bytes(f.segment_bytes),
                human::bytes(f.lap_bytes),
                self.machine.fits_in(f.lap_bytes),
                f.lap_pages,
                f.frames_per_s
                    .map_or("—".into(), |v| spread_with(v, |x| human::si_unit(
                        x, "/s"
                    ))),
                rtt,
                f.preempted.cell(),
            );
        }
    }
}

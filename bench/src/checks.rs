//! The ratios that matter, each against its target, from the figures of
//! one run.

use serde::Serialize;

use crate::figures::*;
use crate::harness::Spread;
use crate::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Met,
    Missed,
    NotMeasured,
    /// No target: shown for context.
    Info,
}

impl Verdict {
    /// How the report's table says it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Met => "**met**",
            Verdict::Missed => "**missed**",
            Verdict::NotMeasured => "not measured",
            Verdict::Info => "—",
        }
    }
}

/// A ratio or absolute figure with its target.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    /// What exactly is divided by what.
    pub definition: String,
    pub value: Option<Spread>,
    /// "×" for ratios, "ns" for latencies.
    pub unit: &'static str,
    pub target: String,
    pub verdict: Verdict,
    /// Why it was not measured, when it was not.
    pub note: Option<String>,
}

fn target(
    name: &str,
    definition: String,
    value: Option<Spread>,
    unit: &'static str,
    target: &str,
    ok: Option<fn(f64) -> bool>,
    missing: &str,
) -> Check {
    let verdict = match (value, ok) {
        (None, _) => Verdict::NotMeasured,
        (Some(_), None) => Verdict::Info,
        (Some(v), Some(ok)) if ok(v.median) => Verdict::Met,
        (Some(_), Some(_)) => Verdict::Missed,
    };
    Check {
        name: name.into(),
        definition,
        value,
        unit,
        target: target.into(),
        verdict,
        note: value.is_none().then(|| missing.to_owned()),
    }
}

/// The ratios the issue asks for, each against its target. The spread of a
/// ratio a/b is conservative: min(a)/max(b) to max(a)/min(b).
pub fn checks(r: &Results, plan: &Plan, ice_missing: &str) -> Vec<Check> {
    use LatencyKind::*;
    use ReadMode::*;
    use System::*;
    let rtt = |s, p, m| r.find_latency(s, RoundTrip, p, m).map(|f| f.summary.p50);
    let oneway = |p, m| {
        r.find_latency(ForgeShm, OneWay, p, Some(m))
            .map(|f| f.summary)
    };
    let fps = |s, p, m, b| r.find_rate(s, p, m, b).map(RateFigure::ratio_frames_per_s);
    let bps = |s, p, m, b| r.find_rate(s, p, m, b).map(|f| f.bytes_per_s);
    let ratio = |a: Option<Spread>, b: Option<Spread>| Some(Spread::ratio(a?, b?));
    let le = |x: f64| x <= 1.2;
    let mut out = vec![
        target(
            "Forge RTT / floor RTT, 8 B",
            "p50 round trip of Forge shm (8 B, in place) ÷ p50 of the floor ping-pong (one 8-byte word) with the same spin policy (pause)".into(),
            ratio(rtt(ForgeShm, 8, Some(InPlace)), rtt(FloorPause, 8, None)),
            "×",
            "≤ 1.2×",
            Some(le),
            "needs the floor and Forge shm round trips (groups floor, rtt)",
        ),
        target(
            "Forge RTT / floor RTT, 8 B, sized slots",
            "the same with the ring made for 8-byte frames (`forge-init --payload-capacity 8`: 16-byte slots)".into(),
            ratio(rtt(ForgeShmSized, 8, Some(InPlace)), rtt(FloorPause, 8, None)),
            "×",
            "≤ 1.2×",
            Some(le),
            "needs the floor and Forge shm round trips (groups floor, rtt)",
        ),
        target(
            "Forge RTT / floor RTT, 64 B",
            "p50 round trip of Forge shm (in place) ÷ p50 of the floor ping-pong with the same spin policy (pause)".into(),
            ratio(rtt(ForgeShm, 64, Some(InPlace)), rtt(FloorPause, 8, None)),
            "×",
            "≤ 1.2×",
            Some(le),
            "needs the floor and Forge shm round trips (groups floor, rtt)",
        ),
        target(
            "Forge RTT / floor RTT (no pause), 64 B",
            "p50 round trip of Forge shm (in place) ÷ p50 of the floor ping-pong without the pause hint".into(),
            ratio(rtt(ForgeShm, 64, Some(InPlace)), rtt(FloorBusy, 8, None)),
            "×",
            "context",
            None,
            "needs the floor and Forge shm round trips",
        ),
        target(
            "Forge one-way p50, 64 B",
            format!(
                "p50 from the producer's clock read before commit to the consumer's after it has the frame in place, one frame every {} ns",
                plan.pace_ns
            ),
            oneway(64, InPlace).map(|s| s.p50),
            "ns",
            "< 150 ns",
            Some(|x| x < 150.0),
            "needs group oneway",
        ),
        target(
            "Forge one-way / floor one-way, p50, 64 B",
            "p50 one-way of Forge shm (64 B, in place) ÷ p50 of a paced clock value stored into one line and polled from the other core (the one-way floor, same clocks and pacing)".into(),
            ratio(
                oneway(64, InPlace).map(|s| s.p50),
                r.find_latency(FloorPause, OneWay, 8, None).map(|f| f.summary.p50),
            ),
            "×",
            "context",
            None,
            "needs group oneway",
        ),
        target(
            "Forge one-way p99, 4096 B in place",
            "p99 of the same one-way latency for 4 KiB frames read in place".into(),
            oneway(4096, InPlace).map(|s| s.p99),
            "ns",
            "< 1000 ns",
            Some(|x| x < 1000.0),
            "needs group oneway",
        ),
        target(
            "Forge / rtrb RTT, 64 B",
            "p50 round trip of Forge shm (2 processes, in place) ÷ rtrb (2 threads, in place); lower is better".into(),
            ratio(rtt(ForgeShm, 64, Some(InPlace)), rtt(Rtrb, 64, Some(InPlace))),
            "×",
            "context",
            None,
            "needs groups rtt and rtrb",
        ),
        target(
            "Forge 4 KiB bytes/s / memcpy",
            "bytes/s of Forge shm at 4096 B (in place, every byte read, batching off) ÷ memcpy bandwidth of one core in 4 KiB blocks over a ring-sized working set".into(),
            ratio(
                bps(ForgeShm, 4096, Some(InPlace), Some(false)),
                r.find_rate(Memcpy, 4096, None, None).map(|f| f.bytes_per_s),
            ),
            "×",
            "≥ 0.5×",
            Some(|x| x >= 0.5),
            "needs groups throughput and memcpy",
        ),
        target(
            "Forge 4 KiB bytes/s (batched) / memcpy",
            format!(
                "the same with head/tail stored every {} frames",
                plan.batch
            ),
            ratio(
                bps(ForgeShm, 4096, Some(InPlace), Some(true)),
                r.find_rate(Memcpy, 4096, None, None).map(|f| f.bytes_per_s),
            ),
            "×",
            "context",
            None,
            "needs groups throughput and memcpy",
        ),
        target(
            "Forge 4 KiB bytes/s (copy out) / memcpy to L1",
            "bytes/s of Forge shm at 4096 B (every frame copied out, batching off) ÷ memcpy of one core from a ring-sized source into one 4 KiB buffer, the same copy with the source local".into(),
            ratio(
                bps(ForgeShm, 4096, Some(Copy), Some(false)),
                r.find_rate(MemcpyHot, 4096, None, None).map(|f| f.bytes_per_s),
            ),
            "×",
            "context",
            None,
            "needs groups throughput and memcpy",
        ),
        target(
            "socket pair RTT / Forge RTT, 64 B",
            "p50 round trip of a Unix socket pair (blocking) ÷ Forge shm (in place)".into(),
            ratio(rtt(Uds, 64, None), rtt(ForgeShm, 64, Some(InPlace))),
            "×",
            "≥ 25×",
            Some(|x| x >= 25.0),
            "needs groups kernel and rtt",
        ),
        target(
            "pipes RTT / Forge RTT, 64 B",
            "p50 round trip over two pipes (blocking) ÷ Forge shm (in place)".into(),
            ratio(rtt(Pipe, 64, None), rtt(ForgeShm, 64, Some(InPlace))),
            "×",
            "context",
            None,
            "needs groups kernel and rtt",
        ),
    ];
    for p in [8, 64, 1024, 4096] {
        let rtrb = fps(Rtrb, p, Some(InPlace), None);
        out.push(target(
            &format!("Forge / rtrb throughput, {p} B, per-frame publication"),
            "frames/s while both sides ran of Forge shm (in place, head and tail stored every frame) ÷ rtrb (in place, read_chunk)".into(),
            ratio(fps(ForgeShm, p, Some(InPlace), Some(false)), rtrb),
            "×",
            "≥ 1×",
            Some(|x| x >= 1.0),
            "needs groups throughput and rtrb",
        ));
        out.push(target(
            &format!("Forge / rtrb throughput, {p} B, per-frame, sized slots"),
            format!("the same in a ring made for {p}-byte frames (`forge-init --payload-capacity {p}`: {}-byte slots, the way rtrb holds {p}-byte elements)", p + 8),
            ratio(fps(ForgeShmSized, p, Some(InPlace), Some(false)), rtrb),
            "×",
            "≥ 1×",
            Some(|x| x >= 1.0),
            "needs groups throughput and rtrb",
        ));
        let paired = r.paired.iter().find(|f| f.payload == p);
        out.push(target(
            &format!("Forge / rtrb throughput, {p} B, sized slots, alternating"),
            format!("frames/s while both sides ran of Forge shm in a ring sized for the frame ÷ rtrb, one repeat of each in turn ({} rounds, the side going first alternating): the median of the rounds' ratios, so that the two sides of each ratio met the same machine", 2 * plan.repeats),
            paired.map(|f| f.ratio),
            "×",
            "≥ 1×",
            Some(|x| x >= 1.0),
            "needs groups throughput and rtrb",
        ));
        out.push(target(
            &format!("Forge / rtrb throughput, {p} B, batched"),
            format!(
                "the same with Forge's head/tail stored every {} frames",
                plan.batch
            ),
            ratio(fps(ForgeShm, p, Some(InPlace), Some(true)), rtrb),
            "×",
            "context",
            None,
            "needs groups throughput and rtrb",
        ));
        out.push(target(
            &format!("Forge / rtrb throughput, {p} B, copy out"),
            "frames/s while both sides ran of Forge shm (copy out, batching off) ÷ rtrb (pop)"
                .into(),
            ratio(
                fps(ForgeShm, p, Some(Copy), Some(false)),
                fps(Rtrb, p, Some(Copy), None),
            ),
            "×",
            "context",
            None,
            "needs groups throughput and rtrb",
        ));
    }
    for p in [8, 64, 1024, 4096] {
        let mut c = target(
            &format!("Forge / iceoryx2 RTT, {p} B"),
            "p50 round trip of Forge shm (in place) ÷ iceoryx2 publish/subscribe (in place), both 2 processes".into(),
            ratio(rtt(ForgeShm, p, Some(InPlace)), rtt(Iceoryx2, p, None)),
            "×",
            "≤ 1×",
            Some(|x| x <= 1.0),
            ice_missing,
        );
        if c.value.is_none() && r.find_latency(Iceoryx2, RoundTrip, p, None).is_some() {
            c.note = Some("needs group rtt".into());
        }
        out.push(c);
    }
    out
}

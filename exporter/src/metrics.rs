//! The metrics: one catalogue of families ([`FAMILIES`]) and the collector
//! that writes a [`HostSample`] as them, through prometheus-client's
//! encoders (OpenMetrics, or the Prometheus text format for clients that
//! do not ask for OpenMetrics).
//!
//! Conventions: the `forge_` prefix, base units (seconds, bytes) in the
//! name, counters end in `_total`, and every label takes values from a
//! bounded set: `ring` (one per segment on the host), `role` (producer,
//! consumer), `state`, `kind` and `reason` (fixed lists), `program` (one
//! per ring and role at a time). Neither pids nor sessions are labels (a
//! restart would make a new series each time): the pid is a gauge's value,
//! and a new session counts in `forge_ring_session_changes_total`.
//!
//! A ring that goes away takes its series with it: every exposition is
//! written from one sample of the host, with nothing kept from before.

use std::sync::Arc;

use forge_fabric::layout::{bucket_high, HIST_BUCKETS};
use forge_fabric::observe::host::{HostSample, RingEntry, RingState, Unreadable};
use forge_fabric::{Role, Snapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::judge::{self, Liveness, RingAlarm, RoleAlarm, Thresholds, RING_STATES};

/// Which family; the collector writes each in its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Id {
    /// Seconds the last pass over every ring took.
    ScrapeDuration,
    /// Passes over the host.
    Scrapes,
    /// Every ring's state, as a state set.
    RingState,
    /// Why a ring could not be read.
    RingUnreadable,
    /// Slots.
    RingSlots,
    /// Payload capacity of a slot.
    RingPayloadCapacity,
    /// Segment size.
    RingSize,
    /// Frames in flight.
    RingInFlight,
    /// In flight over slots.
    RingFill,
    /// How long every slot has been in flight.
    RingFullSeconds,
    /// New sessions seen under the name.
    RingSessionChanges,
    /// Frames per side.
    Frames,
    /// Payload bytes per side.
    PayloadBytes,
    /// Ring found full or empty.
    Backpressure,
    /// Transit latency histogram.
    Latency,
    /// Largest transit latency.
    LatencyMax,
    /// The kernel's role lock.
    RoleUp,
    /// Liveness state set.
    RoleLiveness,
    /// Heartbeat age.
    RoleHeartbeatAge,
    /// Program name.
    RoleHolder,
    /// Pid as the line says.
    RolePid,
    /// Ring alarms by kind.
    RingAlarm,
    /// Role alarms by kind.
    RoleAlarm,
}

/// A metric family: what its descriptor says.
#[derive(Debug)]
pub struct Family {
    /// Which.
    pub id: Id,
    /// Name without unit or type suffix.
    pub name: &'static str,
    /// Base unit, appended to the name.
    pub unit: Option<Unit>,
    /// Counter, gauge, histogram or info.
    pub kind: MetricType,
    /// HELP text.
    pub help: &'static str,
}

impl Family {
    /// The names its samples carry, as PromQL sees them.
    pub fn series_names(&self) -> Vec<String> {
        let base = match &self.unit {
            Some(u) => format!("{}_{}", self.name, u.as_str()),
            None => self.name.to_owned(),
        };
        match self.kind {
            MetricType::Counter => vec![format!("{base}_total")],
            MetricType::Histogram => ["bucket", "sum", "count"]
                .iter()
                .map(|s| format!("{base}_{s}"))
                .collect(),
            MetricType::Info => vec![format!("{base}_info")],
            _ => vec![base],
        }
    }
}

/// Every family the exporter writes, in order.
pub const FAMILIES: &[Family] = &[
    Family {
        id: Id::ScrapeDuration,
        name: "forge_exporter_scrape_duration",
        unit: Some(Unit::Seconds),
        kind: MetricType::Gauge,
        help: "Seconds the exporter took to list and read every ring for this exposition.",
    },
    Family {
        id: Id::Scrapes,
        name: "forge_exporter_scrapes",
        unit: None,
        kind: MetricType::Counter,
        help: "Passes over every ring of the host since the exporter started (concurrent scrapes share one).",
    },
    Family {
        id: Id::RingState,
        name: "forge_ring_state",
        unit: None,
        kind: MetricType::Gauge,
        help: "1 for the ring's state (initializing, live, retired, unreadable by the exporter, unknown code), 0 for the others.",
    },
    Family {
        id: Id::RingUnreadable,
        name: "forge_ring_unreadable",
        unit: None,
        kind: MetricType::Gauge,
        help: "1 for a ring the exporter cannot read, by reason (permission, version, malformed, lost, other).",
    },
    Family {
        id: Id::RingSlots,
        name: "forge_ring_slots",
        unit: None,
        kind: MetricType::Gauge,
        help: "Slots in the ring.",
    },
    Family {
        id: Id::RingPayloadCapacity,
        name: "forge_ring_payload_capacity",
        unit: Some(Unit::Bytes),
        kind: MetricType::Gauge,
        help: "Largest payload a slot holds.",
    },
    Family {
        id: Id::RingSize,
        name: "forge_ring_size",
        unit: Some(Unit::Bytes),
        kind: MetricType::Gauge,
        help: "Size of the shared-memory segment.",
    },
    Family {
        id: Id::RingInFlight,
        name: "forge_ring_in_flight",
        unit: None,
        kind: MetricType::Gauge,
        help: "Frames published and not yet released (head - tail).",
    },
    Family {
        id: Id::RingFill,
        name: "forge_ring_fill_ratio",
        unit: None,
        kind: MetricType::Gauge,
        help: "Frames in flight over slots, 0 to 1.",
    },
    Family {
        id: Id::RingFullSeconds,
        name: "forge_ring_full",
        unit: Some(Unit::Seconds),
        kind: MetricType::Gauge,
        help: "How long every slot has been in flight as the exporter saw it (0 when not full).",
    },
    Family {
        id: Id::RingSessionChanges,
        name: "forge_ring_session_changes",
        unit: None,
        kind: MetricType::Counter,
        help: "Times the name led to a new session (re-initialization) since the exporter first saw it.",
    },
    Family {
        id: Id::Frames,
        name: "forge_frames",
        unit: None,
        kind: MetricType::Counter,
        help: "Frames committed by the producer, or released by the consumer, in this session.",
    },
    Family {
        id: Id::PayloadBytes,
        name: "forge_payload",
        unit: Some(Unit::Bytes),
        kind: MetricType::Counter,
        help: "Payload bytes committed by the producer, or released by the consumer, in this session.",
    },
    Family {
        id: Id::Backpressure,
        name: "forge_backpressure",
        unit: None,
        kind: MetricType::Counter,
        help: "Times the producer found the ring full, or the consumer found it empty, in this session.",
    },
    Family {
        id: Id::Latency,
        name: "forge_latency",
        unit: Some(Unit::Seconds),
        kind: MetricType::Histogram,
        help: "Transit latency from the producer's timestamp to the consumer's read, in the ring's own buckets (LAYOUT.md).",
    },
    Family {
        id: Id::LatencyMax,
        name: "forge_latency_max",
        unit: Some(Unit::Seconds),
        kind: MetricType::Gauge,
        help: "Largest transit latency the consumer recorded in this session.",
    },
    Family {
        id: Id::RoleUp,
        name: "forge_role_up",
        unit: None,
        kind: MetricType::Gauge,
        help: "1 when a live process holds the role's lock (the kernel's answer), else 0.",
    },
    Family {
        id: Id::RoleLiveness,
        name: "forge_role_liveness",
        unit: None,
        kind: MetricType::Gauge,
        help: "1 for the role's liveness (vacant, running, stalled, stopped, dead, unknown), 0 for the others.",
    },
    Family {
        id: Id::RoleHeartbeatAge,
        name: "forge_role_heartbeat_age",
        unit: Some(Unit::Seconds),
        kind: MetricType::Gauge,
        help: "Age of the role holder's last heartbeat.",
    },
    Family {
        id: Id::RoleHolder,
        name: "forge_role_holder",
        unit: None,
        kind: MetricType::Info,
        help: "The program the role's line names (its last holder's, as written there).",
    },
    Family {
        id: Id::RolePid,
        name: "forge_role_pid",
        unit: None,
        kind: MetricType::Gauge,
        help: "The pid the role's line names, in the holder's pid namespace (0 when vacant).",
    },
    Family {
        id: Id::RingAlarm,
        name: "forge_ring_alarm",
        unit: None,
        kind: MetricType::Gauge,
        help: "1 while a ring alarm is active, by kind (header, damaged, retired, ring_full).",
    },
    Family {
        id: Id::RoleAlarm,
        name: "forge_role_alarm",
        unit: None,
        kind: MetricType::Gauge,
        help: "1 while a role alarm is active, by kind (dead, stalled, epoch_mismatch).",
    },
];

/// One pass over the host, with what is needed to write it.
#[derive(Debug)]
pub struct Pass {
    /// The sample.
    pub sample: HostSample,
    /// Passes so far, this one included.
    pub passes: u64,
    /// Alarm thresholds.
    pub thresholds: Thresholds,
    /// Latency buckets written per power of two (see [`RESOLUTIONS`]).
    pub per_octave: u32,
}

/// The latency resolutions the exporter writes: buckets per power of two.
/// 16 is every bucket of the ring; fewer merge neighbours (every written
/// `le` is still one of the ring's own bounds, so its count stays exact).
pub const RESOLUTIONS: [u32; 5] = [16, 8, 4, 2, 1];

/// The text formats the exporter speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text.
    OpenMetrics,
    /// The Prometheus text format 0.0.4, for clients that do not ask for
    /// OpenMetrics (curl, promtool).
    Prometheus,
}

impl Format {
    /// The `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }

    /// The format an `Accept` header asks for: OpenMetrics when named,
    /// else the Prometheus text format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }
}

/// Writes `pass` in `format`.
pub fn encode(pass: Arc<Pass>, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(HostCollector(pass)));
    let mut out = String::new();
    let written = match format {
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
        Format::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        }
    };
    // Writing to a String fails only if an encoder refuses its input,
    // which no value we pass makes it do.
    debug_assert!(written.is_ok(), "{written:?}");
    out
}

#[derive(Debug)]
struct HostCollector(Arc<Pass>);

type Labels<'a> = Vec<(&'static str, &'a str)>;

impl Collector for HostCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in FAMILIES {
            let mut m = encoder.encode_descriptor(
                family.name,
                family.help,
                family.unit.as_ref(),
                family.kind,
            )?;
            write_family(family.id, &self.0, &mut m)?;
        }
        Ok(())
    }
}

fn gauge(
    m: &mut MetricEncoder,
    labels: &Labels,
    v: impl EncodeGauge,
) -> Result<(), std::fmt::Error> {
    v.put(&mut m.encode_family(labels)?)
}

fn counter(m: &mut MetricEncoder, labels: &Labels, v: u64) -> Result<(), std::fmt::Error> {
    m.encode_family(labels)?
        .encode_counter::<NoLabelSet, _, f64>(&v, None)
}

/// u64 and f64 gauges through one helper.
trait EncodeGauge {
    fn put(self, m: &mut MetricEncoder) -> Result<(), std::fmt::Error>;
}
impl EncodeGauge for u64 {
    fn put(self, m: &mut MetricEncoder) -> Result<(), std::fmt::Error> {
        m.encode_gauge(&self)
    }
}
impl EncodeGauge for f64 {
    fn put(self, m: &mut MetricEncoder) -> Result<(), std::fmt::Error> {
        m.encode_gauge(&self)
    }
}

fn ns_to_s(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Producer => "producer",
        Role::Consumer => "consumer",
    }
}

/// Every sampled ring with its snapshot.
fn sampled(pass: &Pass) -> impl Iterator<Item = (&RingEntry, &Snapshot)> {
    pass.sample
        .rings
        .iter()
        .filter_map(|e| e.snapshot().map(|s| (e, s)))
}

fn write_family(id: Id, pass: &Pass, m: &mut MetricEncoder) -> Result<(), std::fmt::Error> {
    let th = pass.thresholds;
    match id {
        Id::ScrapeDuration => m.encode_gauge(&pass.sample.took.as_secs_f64())?,
        Id::Scrapes => m.encode_counter::<NoLabelSet, _, f64>(&pass.passes, None)?,
        Id::RingState => {
            for e in &pass.sample.rings {
                let now = judge::ring_state(e);
                for state in RING_STATES {
                    let mut l = ring(e);
                    l.push(("state", state));
                    gauge(m, &l, u64::from(state == now))?;
                }
            }
        }
        Id::RingUnreadable => {
            for e in &pass.sample.rings {
                if let RingState::Unreadable { reason, .. } = &e.state {
                    let mut l = ring(e);
                    l.push(("reason", reason_name(*reason)));
                    gauge(m, &l, 1u64)?;
                }
            }
        }
        Id::RingSlots => {
            for (e, s) in sampled(pass) {
                gauge(m, &ring(e), u64::from(s.slot_count))?;
            }
        }
        Id::RingPayloadCapacity => {
            for (e, s) in sampled(pass) {
                gauge(m, &ring(e), u64::from(s.identity.payload_capacity))?;
            }
        }
        Id::RingSize => {
            for (e, s) in sampled(pass) {
                gauge(m, &ring(e), s.file_size)?;
            }
        }
        Id::RingInFlight => {
            for (e, s) in sampled(pass) {
                gauge(m, &ring(e), s.in_flight())?;
            }
        }
        Id::RingFill => {
            for (e, s) in sampled(pass) {
                gauge(m, &ring(e), s.fill_ratio())?;
            }
        }
        Id::RingFullSeconds => {
            for (e, s) in sampled(pass) {
                let full = e
                    .full_since_mono_ns
                    .map_or(0, |since| s.taken_mono_ns.saturating_sub(since));
                gauge(m, &ring(e), ns_to_s(full))?;
            }
        }
        Id::RingSessionChanges => {
            for e in &pass.sample.rings {
                counter(m, &ring(e), e.session_changes)?;
            }
        }
        Id::Frames | Id::PayloadBytes | Id::Backpressure => {
            for (e, s) in sampled(pass) {
                for r in Role::ALL {
                    let line = s.side(r);
                    let v = match id {
                        Id::Frames => line.messages,
                        Id::PayloadBytes => line.bytes,
                        _ => line.backpressure,
                    };
                    counter(m, &role(e, r), v)?;
                }
            }
        }
        Id::Latency => {
            for (e, s) in sampled(pass) {
                let (buckets, total) = latency_buckets(s, pass.per_octave);
                let l = ring(e);
                m.encode_family(&l)?.encode_histogram::<NoLabelSet>(
                    ns_to_s(s.latency.sum_ns),
                    total,
                    &buckets,
                    None,
                )?;
            }
        }
        Id::LatencyMax => {
            for (e, s) in sampled(pass) {
                gauge(m, &ring(e), ns_to_s(s.latency.max_ns))?;
            }
        }
        Id::RoleUp => {
            for (e, s) in sampled(pass) {
                for r in Role::ALL {
                    if let Some(held) = s.side(r).lock_held {
                        gauge(m, &role(e, r), u64::from(held))?;
                    }
                }
            }
        }
        Id::RoleLiveness => {
            for (e, s) in sampled(pass) {
                for r in Role::ALL {
                    let now = s.side(r).liveness(s.taken_mono_ns, th.stale);
                    for state in Liveness::ALL {
                        let mut l = role(e, r);
                        l.push(("state", state.name()));
                        gauge(m, &l, u64::from(state == now))?;
                    }
                }
            }
        }
        Id::RoleHeartbeatAge => {
            for (e, s) in sampled(pass) {
                for r in Role::ALL {
                    if let Some(age) = s.side(r).heartbeat_age(s.taken_mono_ns) {
                        gauge(m, &role(e, r), age.as_secs_f64())?;
                    }
                }
            }
        }
        Id::RoleHolder => {
            for (e, s) in sampled(pass) {
                for r in Role::ALL {
                    let program = s.side(r).program.as_str();
                    if !program.is_empty() {
                        let l = role(e, r);
                        m.encode_family(&l)?.encode_info(&[("program", program)])?;
                    }
                }
            }
        }
        Id::RolePid => {
            for (e, s) in sampled(pass) {
                for r in Role::ALL {
                    gauge(m, &role(e, r), u64::from(s.side(r).pid))?;
                }
            }
        }
        Id::RingAlarm => {
            for (e, s) in sampled(pass) {
                for kind in RingAlarm::ALL {
                    let mut l = ring(e);
                    l.push(("kind", kind.name()));
                    gauge(m, &l, u64::from(judge::ring_alarm(kind, e, s, th)))?;
                }
            }
        }
        Id::RoleAlarm => {
            for (e, s) in sampled(pass) {
                for r in Role::ALL {
                    for kind in RoleAlarm::ALL {
                        let mut l = role(e, r);
                        l.push(("kind", kind.name()));
                        gauge(m, &l, u64::from(judge::role_alarm(kind, r, s, th)))?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn ring(e: &RingEntry) -> Labels<'_> {
    vec![("ring", e.name.as_str())]
}

fn role(e: &RingEntry, r: Role) -> Labels<'_> {
    vec![("ring", e.name.as_str()), ("role", role_name(r))]
}

fn reason_name(r: Unreadable) -> &'static str {
    r.name()
}

/// Ring buckets merged into one written bucket at `per_octave` (one of
/// [`RESOLUTIONS`]; anything else writes every bucket).
fn merge(per_octave: u32) -> usize {
    match per_octave {
        1 | 2 | 4 | 8 => (16 / per_octave) as usize,
        _ => 1,
    }
}

/// The upper bounds of the written latency buckets in seconds. Bucket `i`
/// of the ring holds integer nanoseconds up to `bucket_high(i)` included,
/// so that is its `le`; merged buckets take the last one's. The overflow
/// goes to `+Inf` alone.
pub fn bucket_bounds(per_octave: u32) -> Vec<f64> {
    let step = merge(per_octave);
    (0..HIST_BUCKETS)
        .filter(|i| (i + 1) % step == 0)
        .map(|i| ns_to_s(bucket_high(i)))
        .chain(std::iter::once(f64::INFINITY))
        .collect()
}

/// The ring's histogram as (upper bound, samples in that bucket), and the
/// total. Counts come from another process and may be anything: the
/// running total saturates, and each bucket is given as the step of that
/// total, so the encoder's own running sum never overflows.
pub fn latency_buckets(s: &Snapshot, per_octave: u32) -> (Vec<(f64, u64)>, u64) {
    let step = merge(per_octave);
    let bounds = bucket_bounds(per_octave);
    let mut out = Vec::with_capacity(bounds.len());
    let (mut total, mut written) = (0u64, 0u64);
    for (i, &n) in s.latency.buckets.iter().enumerate() {
        total = total.saturating_add(n);
        if (i + 1) % step == 0 {
            out.push((bounds[out.len()], total - written));
            written = total;
        }
    }
    total = total.saturating_add(s.latency.overflow);
    out.push((f64::INFINITY, total - written));
    (out, total)
}

/// Every series name the catalogue declares.
pub fn series_names() -> Vec<String> {
    FAMILIES.iter().flat_map(Family::series_names).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_fabric::layout::bucket_of;

    #[test]
    fn every_latency_sample_falls_under_its_own_bucket_bound() {
        let bounds = bucket_bounds(16);
        assert_eq!(bounds.len(), HIST_BUCKETS + 1);
        assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds increase");
        for ns in [
            0u64,
            1,
            15,
            16,
            17,
            31,
            32,
            1000,
            1023,
            1024,
            123_456,
            (1 << 24) - 1,
        ] {
            let i = bucket_of(ns).unwrap();
            assert!(ns_to_s(ns) <= bounds[i], "{ns} ns over its bucket's le");
            assert!(
                i == 0 || ns_to_s(ns) > bounds[i - 1],
                "{ns} ns under the previous le"
            );
        }
    }

    #[test]
    fn hostile_bucket_counts_saturate_instead_of_overflowing() {
        let mut s = Snapshot::default();
        s.latency.buckets[3] = u64::MAX;
        s.latency.buckets[9] = 5;
        s.latency.overflow = u64::MAX;
        let (buckets, total) = latency_buckets(&s, 16);
        assert_eq!(total, u64::MAX);
        let mut running = 0u64;
        for (_, n) in &buckets {
            running = running.checked_add(*n).expect("never overflows");
        }
        assert_eq!(running, u64::MAX);
    }

    fn cumulative(buckets: &[(f64, u64)]) -> Vec<(f64, u64)> {
        let mut total = 0;
        buckets
            .iter()
            .map(|&(le, n)| {
                total += n;
                (le, total)
            })
            .collect()
    }

    #[test]
    fn fewer_buckets_per_octave_keep_exact_counts_at_the_ring_bounds_they_keep() {
        let mut s = Snapshot::default();
        for ns in [3u64, 15, 16, 200, 201, 220, 5_000, 70_000, (1 << 24) - 1] {
            s.latency.buckets[bucket_of(ns).unwrap()] += 1;
        }
        s.latency.overflow = 2;
        let full = cumulative(&latency_buckets(&s, 16).0);
        for per_octave in RESOLUTIONS {
            let (buckets, total) = latency_buckets(&s, per_octave);
            assert_eq!(total, 11);
            assert_eq!(buckets.len(), 21 * per_octave as usize + 1, "{per_octave}");
            for (le, n) in cumulative(&buckets) {
                let same = full.iter().find(|(l, _)| *l == le).expect("a ring bound");
                assert_eq!(same.1, n, "le {le} at {per_octave} per octave");
            }
        }
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        for f in FAMILIES {
            assert!(f.name.starts_with("forge_"), "{}", f.name);
            for n in f.series_names() {
                let counter = f.kind == MetricType::Counter;
                assert_eq!(n.ends_with("_total"), counter, "{n}");
            }
        }
    }

    #[test]
    fn the_format_follows_the_accept_header() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(Format::negotiate(None), Format::Prometheus);
    }
}

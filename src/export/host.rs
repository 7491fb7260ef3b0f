//! The host view's table for scripts: every ring as `--all --once --format
//! json` prints it (sessions as hex strings, as everywhere in JSON), in the
//! table's order, from the same state the screen draws.

use serde::Serialize;

use super::ToolInfo;
use crate::alarms::{Alarm, LogEntry};
use crate::app::App;
use crate::model::{human, Liveness, RingStatus, Role};

/// The host view's table for scripts (`--all --once --format json`).
#[derive(Debug, Serialize)]
pub struct HostReport<'a> {
    /// `forge-top`.
    pub tool: &'static str,
    /// forge-top's version.
    pub version: &'static str,
    /// When the last sample was taken, UTC.
    pub taken_utc: String,
    /// The sampling interval the rates are over, ms.
    pub interval_ms: u64,
    /// How long the last sample of every ring took, ns.
    pub sample_took_ns: u64,
    /// The filter, when one was given (lower case).
    pub filter: Option<&'a str>,
    /// The column the rings are sorted by, and whether largest first.
    pub sorted_by: &'static str,
    /// Largest first.
    pub descending: bool,
    /// The rings the table shows, in its order.
    pub rings: Vec<HostRow<'a>>,
    /// Objects in `/dev/shm` that are not Forge rings.
    pub not_forge: usize,
    /// The host's event log, oldest first.
    pub events: Vec<&'a LogEntry>,
    /// forge-top itself.
    pub forge_top: ToolInfo<'a>,
}

/// One ring of [`HostReport`].
#[derive(Debug, Serialize)]
pub struct HostRow<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its session, as hex.
    pub session: Option<String>,
    /// `live`, `retired`, `initializing`, `unreadable` or `lost`.
    pub state: &'static str,
    /// The state in words, as the table says it.
    pub state_text: String,
    /// A retired ring's successor session, as hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
    /// Why an unreadable ring could not be read, and whose it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<HostUnreadable<'a>>,
    /// The producer, when the ring could be read.
    pub producer: Option<HostRole<'a>>,
    /// The consumer, when the ring could be read.
    pub consumer: Option<HostRole<'a>>,
    /// Frames published per second over the interval.
    pub frames_per_s: Option<f64>,
    /// Frames released per second.
    pub consumed_per_s: Option<f64>,
    /// Payload bytes per second.
    pub bytes_per_s: Option<f64>,
    /// Slots in flight over all, 0 to 1.
    pub fill: Option<f64>,
    /// Slots in flight.
    pub in_flight: Option<u64>,
    /// Slots.
    pub slot_count: Option<u32>,
    /// Transit latency p99 over the last second, ns (none when no frame
    /// went through).
    pub p99_ns: Option<u64>,
    /// The same since the consumer began.
    pub p99_since_start_ns: Option<u64>,
    /// A quantile past the histogram's range is this bound, not a value.
    pub latency_range_ns: Option<u64>,
    /// The most severe active alarm.
    pub alarm: Option<&'a Alarm>,
    /// Every active alarm, most severe first.
    pub alarms: &'a [Alarm],
    /// Sessions the name led to after the first, while forge-top watched.
    pub session_changes: u64,
}

/// A role of a [`HostRow`].
#[derive(Debug, Serialize)]
pub struct HostRole<'a> {
    /// Its holder's pid (in its pid namespace), 0 when none.
    pub pid: u32,
    /// Its program.
    pub program: &'a str,
    /// running, stalled, stopped, dead, vacant, unknown.
    pub liveness: Liveness,
    /// Asleep on its futex (running, parked).
    pub parked: bool,
    /// The pid is proven to be the holder here.
    pub verified: bool,
}

/// Why a ring of a [`HostRow`] could not be read.
#[derive(Debug, Serialize)]
pub struct HostUnreadable<'a> {
    /// permission, version, malformed, lost, other.
    pub reason: &'static str,
    /// In words.
    pub detail: &'a str,
    /// Its owner and mode, when the kernel refused us.
    #[serde(flatten)]
    pub owner: Option<&'a crate::model::Unreadable>,
}

/// The host report for the app's host view.
pub fn host_report(app: &App) -> Option<HostReport<'_>> {
    let h = app.host.as_ref()?;
    let rings = h
        .rows()
        .into_iter()
        .map(|r| {
            let sample = r.sample();
            let role = |role: Role| {
                sample.map(|s| {
                    let side = s.side(role);
                    HostRole {
                        pid: side.line.pid,
                        program: &side.line.program,
                        liveness: side.holder.liveness,
                        parked: side.line.sleeping,
                        verified: side.holder.verified,
                    }
                })
            };
            let sampled = matches!(r.status, RingStatus::Sampled(_));
            let rate = |v: f64| sampled.then_some(v);
            HostRow {
                name: &r.name,
                session: r.session().map(human::session),
                state: r.state_code(),
                state_text: r.state_words().0.swap_remove(0),
                successor: match &r.status {
                    RingStatus::Retired { successor, .. } => Some(human::session(*successor)),
                    _ => sample
                        .filter(|s| s.header.identity.successor_session != 0)
                        .map(|s| human::session(s.header.identity.successor_session)),
                },
                unreadable: match &r.status {
                    RingStatus::Unreadable {
                        reason,
                        detail,
                        owner,
                    } => Some(HostUnreadable {
                        reason: reason.name(),
                        detail,
                        owner: owner.as_ref(),
                    }),
                    _ => None,
                },
                producer: role(Role::Producer),
                consumer: role(Role::Consumer),
                frames_per_s: rate(r.rates.frames_per_s),
                consumed_per_s: rate(r.rates.consumed_per_s),
                bytes_per_s: rate(r.rates.bytes_per_s),
                fill: r.fill(),
                in_flight: sample.map(|s| s.header.in_flight()),
                slot_count: sample.map(|s| s.slot_count()),
                p99_ns: r.p99_ns(),
                p99_since_start_ns: sample.and_then(|s| s.latency.p99_ns),
                latency_range_ns: sample.map(|s| s.latency.range_ns),
                alarm: r.worst(),
                alarms: &r.alarms.active,
                session_changes: r.session_changes,
            }
        })
        .collect();
    Some(HostReport {
        tool: "forge-top",
        version: env!("CARGO_PKG_VERSION"),
        taken_utc: format!("{} UTC", human::date_time(h.unix_ns)),
        interval_ms: h.refresh.as_millis() as u64,
        sample_took_ns: h.took_ns,
        filter: (!h.filter.is_empty()).then_some(h.filter.as_str()),
        sorted_by: h.sort.name(),
        descending: h.sort.descends() != h.reversed,
        rings,
        not_forge: h.not_forge,
        events: h.events.log.iter().collect(),
        forge_top: ToolInfo {
            me: &h.me,
            cpu_percent: h.me_cpu_pct,
            refresh_ms: h.refresh.as_millis() as u64,
        },
    })
}

/// The host report as pretty JSON.
pub fn host_json(app: &App) -> String {
    serde_json::to_string_pretty(&host_report(app)).unwrap_or_else(|e| {
        serde_json::json!({ "error": e.to_string(), "kind": "serialize" }).to_string()
    })
}

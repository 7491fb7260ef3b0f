//! What happened while recording, beside the frames: sequence ranges the
//! recorder missed, the ring's counters and latency histogram sampled once
//! a second, and how each session's recording ended. Written as JSON
//! messages on the `/forge/events` channel as they happen, so a recording
//! cut short still says what it missed up to its last complete chunk.

/// The events channel's topic.
pub const TOPIC: &str = "/forge/events";
/// The events channel's message encoding.
pub const ENCODING: &str = "json";

/// Ring positions a `--tap` recorder could not copy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MissedRange {
    /// The session, `0x` and 16 hex digits.
    #[serde(with = "hex")]
    pub session: u64,
    /// First missed ring position.
    pub first_position: u64,
    /// One past the last missed position.
    pub end_position: u64,
    /// The sequence numbers those positions carried: the same as the
    /// positions for a producer that numbers frames by position (forge-stream),
    /// else counted on from the last frame recorded before the gap
    /// (`sequences_inferred`).
    pub first_sequence: u64,
    /// One past the last missed sequence.
    pub end_sequence: u64,
    /// The sequences were inferred from a relayed frame's before the gap.
    pub sequences_inferred: bool,
    /// `lapped` (the producer rewrote the slots before the recorder got to
    /// them), `torn` (a slot changed while it was being copied) or
    /// `impossible head` (the producer's index said something no ring can
    /// be, and by the time it was sane again the slots were rewritten).
    pub reason: String,
}

impl MissedRange {
    /// Frames missed. Positions wrap at 2^64: `end_position` is never
    /// before `first_position` in wrapping order, so a range that crosses
    /// the wrap (`first_position` near 2^64, `end_position` near 0) is
    /// counted as the few frames it is.
    pub fn len(&self) -> u64 {
        forge_fabric::Position::new(self.end_position)
            .since(forge_fabric::Position::new(self.first_position))
    }

    /// No frames missed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a session's recording ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionEnd {
    /// The session.
    #[serde(with = "hex")]
    pub session: u64,
    /// Why: `stopped`, `count_reached`, `session_retired`, …
    pub reason: String,
    /// Frames recorded in this session (all files of a rolled recording).
    pub frames: u64,
    /// Frames missed in this session.
    pub missed: u64,
    /// The ring position the recorder would have read next.
    pub next_position: u64,
}

/// The ring's header counters and the consumer's latency histogram at one
/// moment, as an inspector would sample them live: the offline view computes
/// throughput and latency over time from consecutive samples.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RingSample {
    /// The session.
    #[serde(with = "hex")]
    pub session: u64,
    /// When, wall clock ns (the message's `log_time` too).
    pub at_unix_ns: u64,
    /// `head`.
    pub head: u64,
    /// `tail`.
    pub tail: u64,
    /// Frames the producer committed.
    pub producer_messages: u64,
    /// Frames the consumer released.
    pub consumer_messages: u64,
    /// Times the producer found the ring full.
    pub producer_backpressure: u64,
    /// Times the consumer found it empty.
    pub consumer_backpressure: u64,
    /// Latency samples in the histogram.
    pub latency_count: u64,
    /// Their sum, ns.
    pub latency_sum_ns: u64,
    /// The largest, ns.
    pub latency_max_ns: u64,
    /// Samples beyond the histogram.
    pub latency_overflow: u64,
    /// Bucket counts (fabric's layout: `bucket_low`/`bucket_high`).
    pub latency_buckets: Vec<u64>,
}

impl RingSample {
    /// From an observer's snapshot taken at `at_unix_ns`.
    pub fn of(s: &forge_fabric::Snapshot, at_unix_ns: u64) -> Self {
        RingSample {
            session: s.identity.session_id,
            at_unix_ns,
            head: s.head,
            tail: s.tail,
            producer_messages: s.producer.messages,
            consumer_messages: s.consumer.messages,
            producer_backpressure: s.producer.backpressure,
            consumer_backpressure: s.consumer.backpressure,
            latency_count: s.latency.count,
            latency_sum_ns: s.latency.sum_ns,
            latency_max_ns: s.latency.max_ns,
            latency_overflow: s.latency.overflow,
            latency_buckets: s.latency.buckets.to_vec(),
        }
    }

    /// The histogram as fabric's type, for its quantiles and deltas.
    pub fn latency(&self) -> forge_fabric::hist::Histogram {
        let mut buckets = Box::new([0u64; forge_fabric::layout::HIST_BUCKETS]);
        // A file may hold fewer or more buckets than this build: extra ones
        // are dropped, missing ones read as empty.
        for (dst, src) in buckets.iter_mut().zip(&self.latency_buckets) {
            *dst = *src;
        }
        forge_fabric::hist::Histogram {
            count: self.latency_count,
            sum_ns: self.latency_sum_ns,
            max_ns: self.latency_max_ns,
            overflow: self.latency_overflow,
            buckets,
        }
    }
}

/// One message of the events channel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Positions the recorder missed.
    Missed(MissedRange),
    /// The ring's counters and latency histogram.
    Sample(RingSample),
    /// The end of a session's recording.
    End(SessionEnd),
}

mod hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:#018x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        s.strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not 0x and hex digits")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_tagged_json() {
        let e = Event::Missed(MissedRange {
            session: 0xab,
            first_position: 10,
            end_position: 20,
            first_sequence: 10,
            end_sequence: 20,
            sequences_inferred: false,
            reason: "lapped".into(),
        });
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""event":"missed""#), "{json}");
        assert!(json.contains(r#""session":"0x00000000000000ab""#), "{json}");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
    }
}

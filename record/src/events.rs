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
    pub latency_buckets: Buckets,
}

/// The most latency buckets a sample may carry: a few times this build's,
/// so that a later build's finer histogram still reads, and a crafted
/// sample cannot hold millions.
pub const MAX_BUCKETS: usize = 4 * forge_fabric::layout::HIST_BUCKETS;

/// A sample's latency bucket counts, written as the plain JSON array of
/// every count and kept in memory as its non-zero entries only: the
/// histogram of an idle ring is all zeros, and a recording holds one such
/// sample a second. Reading refuses more than [`MAX_BUCKETS`] counts as it
/// goes, so a crafted array is never held whole.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Buckets {
    len: u32,
    /// Shared between samples whose histograms are equal (an idle ring's
    /// stay as they were), so a long recording holds each once.
    nonzero: std::sync::Arc<[(u32, u64)]>,
}

impl Buckets {
    /// From every bucket's count.
    pub fn from_counts(counts: &[u64]) -> Self {
        Buckets {
            len: counts.len() as u32,
            nonzero: counts
                .iter()
                .enumerate()
                .filter(|(_, &n)| n != 0)
                .map(|(i, &n)| (i as u32, n))
                .collect(),
        }
    }

    /// Shares `other`'s counts when they are the same as these; true if so.
    pub fn share(&mut self, other: &Buckets) -> bool {
        if self == other {
            self.nonzero = other.nonzero.clone();
            true
        } else {
            false
        }
    }

    /// How many buckets.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// No bucket at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `(bucket, count)` of every non-zero bucket, in order.
    pub fn nonzero(&self) -> &[(u32, u64)] {
        &self.nonzero
    }

    /// Bytes held on the heap (shared or not).
    pub fn heap_bytes(&self) -> usize {
        self.nonzero.len() * std::mem::size_of::<(u32, u64)>()
    }
}

impl serde::Serialize for Buckets {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len()))?;
        let mut next = self.nonzero.iter().peekable();
        for i in 0..self.len {
            match next.next_if(|(at, _)| *at == i) {
                Some((_, n)) => seq.serialize_element(n)?,
                None => seq.serialize_element(&0u64)?,
            }
        }
        seq.end()
    }
}

impl<'de> serde::Deserialize<'de> for Buckets {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Counts;
        impl<'de> serde::de::Visitor<'de> for Counts {
            type Value = Buckets;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "an array of at most {MAX_BUCKETS} bucket counts")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Buckets, A::Error> {
                let (mut len, mut nonzero) = (0u32, Vec::new());
                while let Some(n) = a.next_element::<u64>()? {
                    if len as usize == MAX_BUCKETS {
                        return Err(serde::de::Error::custom(format!(
                            "more than {MAX_BUCKETS} latency_buckets"
                        )));
                    }
                    if n != 0 {
                        nonzero.push((len, n));
                    }
                    len += 1;
                }
                Ok(Buckets {
                    len,
                    nonzero: nonzero.into(),
                })
            }
        }
        d.deserialize_seq(Counts)
    }
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
            latency_buckets: Buckets::from_counts(&s.latency.buckets[..]),
        }
    }

    /// The histogram as fabric's type, for its quantiles and deltas.
    pub fn latency(&self) -> forge_fabric::hist::Histogram {
        let mut buckets = Box::new([0u64; forge_fabric::layout::HIST_BUCKETS]);
        // A file may hold fewer or more buckets than this build: extra ones
        // are dropped, missing ones read as empty.
        for &(i, n) in self.latency_buckets.nonzero() {
            if let Some(dst) = buckets.get_mut(i as usize) {
                *dst = n;
            }
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

/// Sessions as hex strings, fabric's spelling (`#[serde(with = "hex")]`).
mod hex {
    pub use forge_fabric::vocab::{
        deserialize_session as deserialize, serialize_session as serialize,
    };
}

#[cfg(test)]
mod bucket_tests {
    use super::*;

    #[test]
    fn buckets_are_a_dense_array_on_disk_and_sparse_in_memory() {
        let b = Buckets::from_counts(&[0, 5, 0, 0, 7, 0]);
        assert_eq!(b.nonzero(), &[(1, 5), (4, 7)]);
        let mut again = Buckets::from_counts(&[0, 5, 0, 0, 7, 0]);
        assert!(again.share(&b) && std::sync::Arc::ptr_eq(&again.nonzero, &b.nonzero));
        assert!(!again.share(&Buckets::from_counts(&[1])));
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, "[0,5,0,0,7,0]");
        assert_eq!(serde_json::from_str::<Buckets>(&json).unwrap(), b);
        let many = format!("[{}]", vec!["0"; MAX_BUCKETS + 1].join(","));
        let e = serde_json::from_str::<Buckets>(&many)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 1344 latency_buckets"), "{e}");
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

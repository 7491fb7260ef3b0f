//! The metadata's JSON shape: fabric's types mirrored field by field, so
//! the file format does not change when fabric's Rust types do.

use forge_fabric::hist::Histogram;
use forge_fabric::observe::{HolderCheck, PaceSnapshot, SideSnapshot};
use forge_fabric::segment::IdentitySnapshot;
use forge_fabric::{Coded, Corruption, SegmentState, Snapshot};

use super::format::{ImageError, ImageMeta, IMAGE_VERSION};

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Meta {
    image_format: u32,
    #[serde(flatten)]
    meta: ImageMeta,
    snapshot: Snap,
    holders: [Holder; 2],
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Snap {
    name: String,
    file_size: u64,
    magic: u64,
    layout_version: u32,
    header_size: u32,
    slot_size: u32,
    slot_count: u32,
    segment_size: u64,
    payload_capacity: u32,
    #[serde(with = "hex_session")]
    session_id: u64,
    state: u32,
    #[serde(with = "hex_session")]
    successor_session: u64,
    init_pid: u32,
    created_unix_ns: u64,
    created_mono_ns: u64,
    #[serde(default)]
    identity_flags: u32,
    /// The identity line's own slot count, when it differs from the
    /// validated one (a damaged header).
    #[serde(default)]
    identity_slot_count: Option<u32>,
    producer: Line,
    consumer: Line,
    #[serde(default)]
    pace: Pace,
    latency: Latency,
    head: u64,
    tail: u64,
    #[serde(default)]
    newest: Option<u64>,
    stuck: Option<Damage>,
    taken_mono_ns: u64,
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Pace {
    target_rate: u64,
    burst: u64,
    bursts: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    index: u64,
    sleeping: bool,
    wait_strategy: u32,
    pid: u32,
    core: Option<u32>,
    #[serde(with = "hex_session")]
    session: u64,
    heartbeat_ns: u64,
    messages: u64,
    bytes: u64,
    backpressure: u64,
    role_state: u32,
    batch: u32,
    started_mono_ns: u64,
    pidns: u64,
    start_ticks: u64,
    uid: u32,
    flags: u32,
    program: String,
    lock_held: Option<bool>,
    #[serde(default, with = "hex_session")]
    relay_session: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Latency {
    count: u64,
    sum_ns: u64,
    max_ns: u64,
    overflow: u64,
    buckets: Vec<u64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Damage {
    Identity {
        what: String,
    },
    Stamp {
        position: u64,
        slot: u64,
        expected: u32,
        found: u32,
        head: u64,
    },
    Indices {
        head: u64,
        tail: u64,
        slots: u64,
        what: String,
    },
}

// Named as fabric's HolderCheck variants, which are the file's words.
#[allow(clippy::enum_variant_names)]
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
enum Holder {
    NotHeld,
    Verified { pid: u32 },
    OtherNamespace { pid: u32 },
    Unnamed,
    NotTheHolder { pid: u32, why: String },
    Unknown,
}

impl Line {
    fn of(s: &SideSnapshot) -> Self {
        Line {
            index: s.index,
            sleeping: s.sleeping,
            wait_strategy: s.wait_strategy.code(),
            pid: s.pid,
            core: s.core,
            session: s.session,
            heartbeat_ns: s.heartbeat_ns,
            messages: s.messages,
            bytes: s.bytes,
            backpressure: s.backpressure,
            role_state: s.role_state.code(),
            batch: s.batch,
            started_mono_ns: s.started_mono_ns,
            pidns: s.pidns,
            start_ticks: s.start_ticks,
            uid: s.uid,
            flags: s.flags,
            program: s.program.clone(),
            lock_held: s.lock_held,
            relay_session: s.relay_session,
        }
    }

    fn into_side(self) -> SideSnapshot {
        SideSnapshot {
            index: self.index,
            sleeping: self.sleeping,
            wait_strategy: Coded::from_code(self.wait_strategy),
            pid: self.pid,
            core: self.core,
            session: self.session,
            heartbeat_ns: self.heartbeat_ns,
            messages: self.messages,
            bytes: self.bytes,
            backpressure: self.backpressure,
            role_state: Coded::from_code(self.role_state),
            batch: self.batch,
            started_mono_ns: self.started_mono_ns,
            pidns: self.pidns,
            start_ticks: self.start_ticks,
            uid: self.uid,
            flags: self.flags,
            program: self.program,
            lock_held: self.lock_held,
            relay_session: self.relay_session,
        }
    }
}

impl Damage {
    fn of(c: &Corruption) -> Self {
        match c.clone() {
            Corruption::Identity { what } => Damage::Identity { what },
            Corruption::Stamp {
                position,
                slot,
                expected,
                found,
                head,
            } => Damage::Stamp {
                position,
                slot,
                expected,
                found,
                head,
            },
            Corruption::Indices {
                head,
                tail,
                slots,
                what,
            } => Damage::Indices {
                head,
                tail,
                slots,
                what,
            },
        }
    }

    fn into_corruption(self) -> Corruption {
        match self {
            Damage::Identity { what } => Corruption::Identity { what },
            Damage::Stamp {
                position,
                slot,
                expected,
                found,
                head,
            } => Corruption::Stamp {
                position,
                slot,
                expected,
                found,
                head,
            },
            Damage::Indices {
                head,
                tail,
                slots,
                what,
            } => Corruption::Indices {
                head,
                tail,
                slots,
                what,
            },
        }
    }
}

impl Holder {
    fn of(h: &HolderCheck) -> Self {
        match h.clone() {
            HolderCheck::NotHeld => Holder::NotHeld,
            HolderCheck::Verified { pid } => Holder::Verified { pid },
            HolderCheck::OtherNamespace { pid } => Holder::OtherNamespace { pid },
            HolderCheck::Unnamed => Holder::Unnamed,
            HolderCheck::NotTheHolder { pid, why } => Holder::NotTheHolder { pid, why },
            HolderCheck::Unknown => Holder::Unknown,
        }
    }

    fn into_check(self) -> HolderCheck {
        match self {
            Holder::NotHeld => HolderCheck::NotHeld,
            Holder::Verified { pid } => HolderCheck::Verified { pid },
            Holder::OtherNamespace { pid } => HolderCheck::OtherNamespace { pid },
            Holder::Unnamed => HolderCheck::Unnamed,
            Holder::NotTheHolder { pid, why } => HolderCheck::NotTheHolder { pid, why },
            Holder::Unknown => HolderCheck::Unknown,
        }
    }
}

impl Meta {
    pub(super) fn of(meta: &ImageMeta, s: &Snapshot, holders: &[HolderCheck; 2]) -> Self {
        let (id, l) = (&s.identity, &s.latency);
        Meta {
            image_format: IMAGE_VERSION,
            meta: meta.clone(),
            snapshot: Snap {
                name: s.name.clone(),
                file_size: s.file_size,
                magic: id.magic,
                layout_version: id.layout_version,
                header_size: id.header_size,
                slot_size: id.slot_size,
                slot_count: s.slot_count,
                segment_size: id.segment_size,
                payload_capacity: id.payload_capacity,
                session_id: id.session_id,
                state: id.state.code(),
                successor_session: id.successor_session,
                init_pid: id.init_pid,
                created_unix_ns: id.created_unix_ns,
                created_mono_ns: id.created_mono_ns,
                identity_flags: id.flags,
                identity_slot_count: (id.slot_count != s.slot_count).then_some(id.slot_count),
                producer: Line::of(&s.producer),
                consumer: Line::of(&s.consumer),
                pace: Pace {
                    target_rate: s.pace.target_rate,
                    burst: s.pace.burst,
                    bursts: s.pace.bursts,
                },
                latency: Latency {
                    count: l.count,
                    sum_ns: l.sum_ns,
                    max_ns: l.max_ns,
                    overflow: l.overflow,
                    buckets: l.buckets.to_vec(),
                },
                head: s.head,
                tail: s.tail,
                newest: s.newest,
                stuck: s.damaged.as_ref().map(Damage::of),
                taken_mono_ns: s.taken_mono_ns,
            },
            holders: [Holder::of(&holders[0]), Holder::of(&holders[1])],
        }
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn into_parts(self) -> Result<(ImageMeta, Snapshot, [HolderCheck; 2]), ImageError> {
        if self.image_format != IMAGE_VERSION {
            return Err(ImageError::Corrupt(format!(
                "metadata says image_format {}, the preamble {IMAGE_VERSION}",
                self.image_format
            )));
        }
        let s = self.snapshot;
        if s.latency.buckets.len() != forge_fabric::layout::HIST_BUCKETS {
            return Err(ImageError::Corrupt(format!(
                "latency histogram has {} buckets, expected {}",
                s.latency.buckets.len(),
                forge_fabric::layout::HIST_BUCKETS
            )));
        }
        let mut buckets = Box::new([0u64; forge_fabric::layout::HIST_BUCKETS]);
        buckets.copy_from_slice(&s.latency.buckets);
        let snapshot = Snapshot {
            name: s.name,
            file_size: s.file_size,
            identity: IdentitySnapshot {
                magic: s.magic,
                layout_version: s.layout_version,
                header_size: s.header_size,
                slot_size: s.slot_size,
                slot_count: s.identity_slot_count.unwrap_or(s.slot_count),
                segment_size: s.segment_size,
                session_id: s.session_id,
                state: Coded::<SegmentState>::from_code(s.state),
                init_pid: s.init_pid,
                successor_session: s.successor_session,
                created_unix_ns: s.created_unix_ns,
                created_mono_ns: s.created_mono_ns,
                payload_capacity: s.payload_capacity,
                flags: s.identity_flags,
            },
            slot_count: s.slot_count,
            producer: s.producer.into_side(),
            consumer: s.consumer.into_side(),
            pace: PaceSnapshot {
                target_rate: s.pace.target_rate,
                burst: s.pace.burst,
                bursts: s.pace.bursts,
            },
            latency: Histogram {
                count: s.latency.count,
                sum_ns: s.latency.sum_ns,
                max_ns: s.latency.max_ns,
                overflow: s.latency.overflow,
                buckets,
            },
            head: s.head,
            tail: s.tail,
            damaged: s.stuck.map(Damage::into_corruption),
            newest: s.newest,
            taken_mono_ns: s.taken_mono_ns,
        };
        let [p, c] = self.holders;
        Ok((self.meta, snapshot, [p.into_check(), c.into_check()]))
    }
}

/// Sessions as `0x` and 16 hex digits, as every other JSON Forge writes
/// (a u64 past 2^53 is not exact in jq and other tools that read numbers as
/// doubles). Images written before read back too: a JSON integer is taken
/// as it is.
mod hex_session {
    use serde::{Deserialize, Deserializer};

    pub(super) use forge_fabric::vocab::serialize_session as serialize;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Hex(String),
        Number(u64),
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(n),
            Either::Hex(h) => forge_fabric::vocab::parse_session(&h).ok_or_else(|| {
                serde::de::Error::custom(format!("session {h:?} is not 0x and up to 16 hex digits"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct S {
        #[serde(with = "super::hex_session")]
        session: u64,
    }

    #[test]
    fn sessions_are_written_in_hex_and_read_in_hex_or_as_older_images_wrote_them() {
        let s = S {
            session: 0x158d_019c_4cd4_48f8,
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"session":"0x158d019c4cd448f8"}"#);
        assert_eq!(serde_json::from_str::<S>(&json).unwrap(), s);
        // An image written before sessions were hex.
        let old = r#"{"session":1552899217328195832}"#;
        assert_eq!(serde_json::from_str::<S>(old).unwrap(), s);
        for bad in [
            r#""158d""#,
            r#""0x""#,
            r#""0xZZ""#,
            r#""0x10000000000000000""#,
        ] {
            let e = serde_json::from_str::<S>(&format!(r#"{{"session":{bad}}}"#));
            assert!(e.is_err(), "{bad} was taken");
        }
    }
}

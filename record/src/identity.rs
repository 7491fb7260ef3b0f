//! What a recording says about the ring it came from: the segment's identity,
//! its role holders when recording began, and how its clock maps to the wall
//! clock. Stored as the string map of each session's MCAP channel, so any
//! MCAP tool shows it (`mcap info`, Foxglove's channel list).

use std::collections::BTreeMap;

use forge_fabric::clock::{monotonic_ns, unix_ns};
use forge_fabric::layout::{MAGIC, READABLE_LAYOUT_VERSIONS};
use forge_fabric::observe::SideSnapshot;
use forge_fabric::segment::IdentitySnapshot;
use forge_fabric::{SegmentState, Snapshot};

/// How the recorder read the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Read-only, through the observer: never slows the producer, may miss
    /// frames when it falls behind (every miss is recorded).
    Tap,
    /// As the ring's consumer: loses nothing, back-pressures the producer.
    Consume,
}

impl Mode {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Tap => "tap",
            Mode::Consume => "consume",
        }
    }
}

/// One instant read on both clocks: converts the producers' CLOCK_MONOTONIC
/// timestamps to wall-clock nanoseconds for MCAP's `log_time`.
///
/// The recorder reads its own pair when it starts rather than using the
/// segment's `created_unix_ns`/`created_mono_ns`: a segment may be days old,
/// and the wall clock may have been stepped (NTP) since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockPair {
    /// Wall clock, ns since the Unix epoch.
    pub unix_ns: u64,
    /// CLOCK_MONOTONIC ns at the same instant.
    pub mono_ns: u64,
}

impl ClockPair {
    /// Both clocks now: the monotonic reading is the midpoint of two taken
    /// around the wall-clock one.
    pub fn now() -> Self {
        let before = monotonic_ns();
        let unix_ns = unix_ns();
        let after = monotonic_ns();
        ClockPair {
            unix_ns,
            mono_ns: before + (after - before) / 2,
        }
    }

    /// The wall-clock time of monotonic instant `mono_ns` (0 before the epoch).
    pub fn to_unix(&self, mono_ns: u64) -> u64 {
        let delta = i128::from(mono_ns) - i128::from(self.mono_ns);
        (i128::from(self.unix_ns) + delta).clamp(0, i128::from(u64::MAX)) as u64
    }

    /// The monotonic instant of wall-clock time `unix_ns` on this host.
    pub fn to_mono(&self, unix_ns: u64) -> u64 {
        let delta = i128::from(unix_ns) - i128::from(self.unix_ns);
        (i128::from(self.mono_ns) + delta).clamp(0, i128::from(u64::MAX)) as u64
    }
}

/// A role holder as the segment named it when recording began.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holder {
    /// Pid, 0 when the role was vacant.
    pub pid: u32,
    /// Program name from the holder's line.
    pub program: String,
    /// Core it pinned itself to.
    pub core: Option<u32>,
    /// `HOLDER_*` bits.
    pub flags: u32,
    /// `ROLE_*` state.
    pub role_state: u32,
    /// Wait strategy code (0 spin, 1 yield, 2 park).
    pub wait_strategy: u32,
}

impl Holder {
    /// From a side's line.
    pub fn from_side(s: &SideSnapshot) -> Self {
        Holder {
            pid: s.pid,
            program: s.program.clone(),
            core: s.core,
            flags: s.flags,
            role_state: s.role_state.code(),
            wait_strategy: s.wait_strategy.code(),
        }
    }
}

/// Everything a recording keeps about one session of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIdentity {
    /// Segment name, like `/forge_shm`.
    pub segment: String,
    /// The session's id.
    pub session_id: u64,
    /// Layout version of the segment.
    pub layout_version: u32,
    /// Slots in the ring.
    pub slot_count: u32,
    /// Bytes per slot.
    pub slot_size: u32,
    /// Largest payload.
    pub payload_capacity: u32,
    /// Bytes of header.
    pub header_size: u32,
    /// Bytes of segment.
    pub segment_size: u64,
    /// When forge-init created it, wall clock ns.
    pub created_unix_ns: u64,
    /// When forge-init created it, CLOCK_MONOTONIC ns.
    pub created_mono_ns: u64,
    /// Host name of the machine the ring lives on.
    pub host: String,
    /// How it was read.
    pub mode: Option<Mode>,
    /// The clock pair the recorder converted timestamps with.
    pub clock: ClockPair,
    /// The first ring position recorded.
    pub start_position: u64,
    /// The producer when recording began.
    pub producer: Holder,
    /// The consumer when recording began (forge-record itself with --consume).
    pub consumer: Holder,
}

impl Default for SessionIdentity {
    /// A session of a ring as `forge-init` makes it by default (its
    /// geometry sound, everything else empty).
    fn default() -> Self {
        use forge_fabric::layout::{segment_size, slot_size, HEADER_SIZE, LAYOUT_VERSION};
        let (slots, capacity) = (
            forge_fabric::DEFAULT_SLOT_COUNT,
            forge_fabric::PAYLOAD_CAPACITY,
        );
        SessionIdentity {
            segment: String::new(),
            session_id: 0,
            layout_version: LAYOUT_VERSION,
            slot_count: slots,
            slot_size: slot_size(capacity) as u32,
            payload_capacity: capacity as u32,
            header_size: HEADER_SIZE as u32,
            segment_size: segment_size(slots, capacity) as u64,
            created_unix_ns: 0,
            created_mono_ns: 0,
            host: String::new(),
            mode: None,
            clock: ClockPair::default(),
            start_position: 0,
            producer: Holder::default(),
            consumer: Holder::default(),
        }
    }
}

impl SessionIdentity {
    /// From a snapshot of the segment.
    pub fn from_snapshot(s: &Snapshot, mode: Mode, clock: ClockPair, start_position: u64) -> Self {
        SessionIdentity {
            segment: s.name.clone(),
            session_id: s.identity.session_id,
            layout_version: s.identity.layout_version,
            slot_count: s.slot_count,
            slot_size: s.identity.slot_size,
            payload_capacity: s.identity.payload_capacity,
            header_size: s.identity.header_size,
            segment_size: s.identity.segment_size,
            created_unix_ns: s.identity.created_unix_ns,
            created_mono_ns: s.identity.created_mono_ns,
            host: host_name(),
            mode: Some(mode),
            clock,
            start_position,
            producer: Holder::from_side(&s.producer),
            consumer: Holder::from_side(&s.consumer),
        }
    }

    /// What is wrong with the recorded geometry, by fabric's own rules for
    /// a segment's header: the layout version, then `header_size`,
    /// `payload_capacity`, `slot_size`, `slot_count` (a power of two from 2
    /// to 2^20) and `segment_size`. A recording is a claim about a ring; a
    /// ring no forge-init could make is not believed (a slot count of 0 or
    /// 2^31 once crashed forge-top).
    pub fn geometry_problem(&self) -> Option<String> {
        if !READABLE_LAYOUT_VERSIONS.contains(&self.layout_version) {
            return Some(format!(
                "layout_version is {}, expected one of {READABLE_LAYOUT_VERSIONS:?}",
                self.layout_version
            ));
        }
        let header = IdentitySnapshot {
            magic: MAGIC,
            layout_version: self.layout_version,
            header_size: self.header_size,
            slot_size: self.slot_size,
            slot_count: self.slot_count,
            segment_size: self.segment_size,
            session_id: self.session_id.max(1),
            state: SegmentState::Live.into(),
            payload_capacity: self.payload_capacity,
            ..IdentitySnapshot::default()
        };
        header.problem().map(|p| p.to_string())
    }

    /// The MCAP topic of this session's frames.
    pub fn topic(&self) -> String {
        format!("{}/session/{:016x}", self.segment, self.session_id)
    }

    /// The channel metadata map (every value a string).
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_owned(), v);
        };
        put("forge.format", crate::FORMAT_VERSION.to_string());
        put("segment", self.segment.clone());
        put("session", format!("{:#018x}", self.session_id));
        put("layout_version", self.layout_version.to_string());
        put("slot_count", self.slot_count.to_string());
        put("slot_size", self.slot_size.to_string());
        put("payload_capacity", self.payload_capacity.to_string());
        put("header_size", self.header_size.to_string());
        put("segment_size", self.segment_size.to_string());
        put("created_unix_ns", self.created_unix_ns.to_string());
        put("created_mono_ns", self.created_mono_ns.to_string());
        put("host", self.host.clone());
        put("mode", self.mode.map_or("", Mode::name).to_owned());
        put("clock.unix_ns", self.clock.unix_ns.to_string());
        put("clock.mono_ns", self.clock.mono_ns.to_string());
        put("start_position", self.start_position.to_string());
        for (side, h) in [("producer", &self.producer), ("consumer", &self.consumer)] {
            put(&format!("{side}.pid"), h.pid.to_string());
            put(&format!("{side}.program"), h.program.clone());
            put(
                &format!("{side}.core"),
                h.core.map_or(String::new(), |c| c.to_string()),
            );
            put(&format!("{side}.flags"), h.flags.to_string());
            put(&format!("{side}.role_state"), h.role_state.to_string());
            put(
                &format!("{side}.wait_strategy"),
                h.wait_strategy.to_string(),
            );
        }
        m
    }

    /// Back from a channel's metadata map; names the first key missing or
    /// malformed.
    pub fn from_metadata(m: &BTreeMap<String, String>) -> Result<Self, String> {
        let get = |k: &str| m.get(k).ok_or_else(|| format!("no {k:?} key"));
        fn num<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{k} is {v:?}, expected a decimal number"))
        }
        let n64 = |k: &str| get(k).and_then(|v| num::<u64>(k, v));
        let n32 = |k: &str| get(k).and_then(|v| num::<u32>(k, v));
        let format = n32("forge.format")?;
        if format != crate::FORMAT_VERSION {
            return Err(format!(
                "forge.format is {format}, this build reads format {}",
                crate::FORMAT_VERSION
            ));
        }
        let session = get("session")?;
        let session_id = session
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or_else(|| format!("session is {session:?}, expected 0x and 16 hex digits"))?;
        let mode = match get("mode")?.as_str() {
            "tap" => Some(Mode::Tap),
            "consume" => Some(Mode::Consume),
            "" => None,
            other => return Err(format!("mode is {other:?}, expected tap or consume")),
        };
        let holder = |side: &str| -> Result<Holder, String> {
            let key = |f: &str| format!("{side}.{f}");
            let core = get(&key("core"))?;
            Ok(Holder {
                pid: n32(&key("pid"))?,
                program: get(&key("program"))?.clone(),
                core: if core.is_empty() {
                    None
                } else {
                    Some(num(&key("core"), core)?)
                },
                flags: n32(&key("flags"))?,
                role_state: n32(&key("role_state"))?,
                wait_strategy: n32(&key("wait_strategy"))?,
            })
        };
        let identity = SessionIdentity {
            segment: get("segment")?.clone(),
            session_id,
            layout_version: n32("layout_version")?,
            slot_count: n32("slot_count")?,
            slot_size: n32("slot_size")?,
            payload_capacity: n32("payload_capacity")?,
            header_size: n32("header_size")?,
            segment_size: n64("segment_size")?,
            created_unix_ns: n64("created_unix_ns")?,
            created_mono_ns: n64("created_mono_ns")?,
            host: get("host")?.clone(),
            mode,
            clock: ClockPair {
                unix_ns: n64("clock.unix_ns")?,
                mono_ns: n64("clock.mono_ns")?,
            },
            start_position: n64("start_position")?,
            producer: holder("producer")?,
            consumer: holder("consumer")?,
        };
        match identity.geometry_problem() {
            Some(problem) => Err(problem),
            None => Ok(identity),
        }
    }
}

/// This machine's host name, or `unknown`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_pairs_convert_both_ways() {
        let c = ClockPair {
            unix_ns: 1_000_000,
            mono_ns: 500,
        };
        assert_eq!(c.to_unix(700), 1_000_200);
        assert_eq!(c.to_unix(0), 999_500);
        assert_eq!(c.to_mono(1_000_200), 700);
        let early = ClockPair {
            unix_ns: 10,
            mono_ns: 1_000,
        };
        assert_eq!(early.to_unix(0), 0);
    }

    #[test]
    fn identity_survives_the_metadata_map() {
        let id = SessionIdentity {
            segment: "/forge_x".into(),
            session_id: 0xdead_beef_0000_0001,
            layout_version: 2,
            slot_count: 512,
            slot_size: 4104,
            payload_capacity: 4096,
            header_size: 4096,
            segment_size: 2_105_344,
            created_unix_ns: 5,
            created_mono_ns: 6,
            host: "box".into(),
            mode: Some(Mode::Tap),
            clock: ClockPair {
                unix_ns: 7,
                mono_ns: 8,
            },
            start_position: 99,
            producer: Holder {
                pid: 10,
                program: "forge-stream".into(),
                core: Some(1),
                flags: 0,
                role_state: 1,
                wait_strategy: 0,
            },
            consumer: Holder::default(),
        };
        let back = SessionIdentity::from_metadata(&id.to_metadata()).unwrap();
        assert_eq!(back, id);
        let mut m = id.to_metadata();
        m.remove("slot_count");
        assert!(SessionIdentity::from_metadata(&m)
            .unwrap_err()
            .contains("slot_count"));
        m = id.to_metadata();
        m.insert("forge.format".into(), "99".into());
        assert!(SessionIdentity::from_metadata(&m)
            .unwrap_err()
            .contains("format 1"));
        assert_eq!(
            SessionIdentity::from_metadata(&SessionIdentity::default().to_metadata()),
            Ok(SessionIdentity::default())
        );
    }

    #[test]
    fn a_geometry_no_ring_could_have_is_refused_naming_the_field() {
        let with = |k: &str, v: &str| {
            let mut m = SessionIdentity::default().to_metadata();
            m.insert(k.into(), v.into());
            SessionIdentity::from_metadata(&m).unwrap_err()
        };
        for (count, _) in [
            ("0", 0),
            ("3", 3),
            ("2147483648", 1 << 31),
            ("268435456", 1 << 28),
        ] {
            let e = with("slot_count", count);
            assert!(
                e.starts_with(&format!(
                    "slot_count is {count}, expected a power of two from 2 to 1048576"
                )),
                "{e}"
            );
        }
        assert!(with("payload_capacity", "12").contains("payload_capacity is 12"));
        assert!(with("slot_size", "9").contains("slot_size is 9"));
        assert!(with("segment_size", "1").contains("segment_size is 1"));
        assert!(with("header_size", "0").contains("header_size is 0"));
        assert!(with("layout_version", "9").contains("layout_version is 9"));
    }
}

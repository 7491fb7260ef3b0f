//! LAYOUT.md must match the code: every documented offset and size is
//! checked against `offset_of!`, and every field in the code is documented.
#![cfg(not(loom))]

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};

use forge_fabric::layout::*;

fn documented() -> BTreeMap<String, (usize, usize)> {
    let doc = include_str!("../LAYOUT.md");
    let mut rows = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | offset | size | type | field | writer | meaning |
        if cells.len() < 7 {
            continue;
        }
        let (Ok(offset), Ok(size)) = (cells[1].parse::<usize>(), cells[2].parse::<usize>()) else {
            continue;
        };
        let field = cells[4];
        if field.contains('.') {
            assert!(
                rows.insert(field.to_owned(), (offset, size)).is_none(),
                "{field} twice"
            );
        }
    }
    rows
}

macro_rules! side {
    ($out:ident, $side:literal, $base:expr) => {
        for (name, off, size) in [
            ("index", offset_of!(SideLine, index), 8),
            ("sleeping", offset_of!(SideLine, sleeping), 4),
            ("wait_strategy", offset_of!(SideLine, wait_strategy), 4),
            ("pid", offset_of!(SideLine, pid), 4),
            ("core", offset_of!(SideLine, core), 4),
            ("session", offset_of!(SideLine, session), 8),
            ("heartbeat_ns", offset_of!(SideLine, heartbeat_ns), 8),
            ("messages", offset_of!(SideLine, messages), 8),
            ("bytes", offset_of!(SideLine, bytes), 8),
            ("backpressure", offset_of!(SideLine, backpressure), 8),
            ("role_state", offset_of!(SideLine, role_state), 4),
            ("batch", offset_of!(SideLine, batch), 4),
            ("started_mono_ns", offset_of!(SideLine, started_mono_ns), 8),
            ("pidns", offset_of!(SideLine, pidns), 8),
            ("start_ticks", offset_of!(SideLine, start_ticks), 8),
            ("uid", offset_of!(SideLine, uid), 4),
            ("flags", offset_of!(SideLine, flags), 4),
            ("program", offset_of!(SideLine, program), 16),
            ("relay_session", offset_of!(SideLine, relay_session), 8),
        ] {
            $out.insert(format!("{}.{}", $side, name), ($base + off, size));
        }
    };
}

fn from_code() -> BTreeMap<String, (usize, usize)> {
    let mut out = BTreeMap::new();
    let id = offset_of!(Header, identity);
    for (name, off, size) in [
        ("magic", offset_of!(IdentityLine, magic), 8),
        (
            "layout_version",
            offset_of!(IdentityLine, layout_version),
            4,
        ),
        ("header_size", offset_of!(IdentityLine, header_size), 4),
        ("slot_size", offset_of!(IdentityLine, slot_size), 4),
        ("slot_count", offset_of!(IdentityLine, slot_count), 4),
        ("segment_size", offset_of!(IdentityLine, segment_size), 8),
        ("session_id", offset_of!(IdentityLine, session_id), 8),
        ("state", offset_of!(IdentityLine, state), 4),
        ("init_pid", offset_of!(IdentityLine, init_pid), 4),
        (
            "successor_session",
            offset_of!(IdentityLine, successor_session),
            8,
        ),
        (
            "created_unix_ns",
            offset_of!(IdentityLine, created_unix_ns),
            8,
        ),
        (
            "created_mono_ns",
            offset_of!(IdentityLine, created_mono_ns),
            8,
        ),
        (
            "payload_capacity",
            offset_of!(IdentityLine, payload_capacity),
            4,
        ),
        ("flags", offset_of!(IdentityLine, flags), 4),
        ("role_lock_ino", offset_of!(IdentityLine, role_lock_ino), 8),
    ] {
        out.insert(format!("identity.{name}"), (id + off, size));
    }
    side!(out, "producer", offset_of!(Header, producer));
    side!(out, "consumer", offset_of!(Header, consumer));
    let lat = offset_of!(Header, latency);
    for (name, off, size) in [
        ("count", offset_of!(LatencyBlock, count), 8),
        ("sum_ns", offset_of!(LatencyBlock, sum_ns), 8),
        ("max_ns", offset_of!(LatencyBlock, max_ns), 8),
        ("overflow", offset_of!(LatencyBlock, overflow), 8),
        (
            "buckets",
            offset_of!(LatencyBlock, buckets),
            8 * HIST_BUCKETS,
        ),
    ] {
        out.insert(format!("latency.{name}"), (lat + off, size));
    }
    let pace = offset_of!(Header, pace);
    for (name, off) in [
        ("target_rate", offset_of!(PaceLine, target_rate)),
        ("burst", offset_of!(PaceLine, burst)),
        ("bursts", offset_of!(PaceLine, bursts)),
    ] {
        out.insert(format!("pace.{name}"), (pace + off, 8));
    }
    out.insert("slot.word".into(), (offset_of!(Slot, word), 8));
    // The payload's size is the segment's capacity, `C` on the page.
    out
}

#[test]
fn layout_md_documents_every_field_at_its_real_offset_and_size() {
    let doc = documented();
    let code = from_code();
    for (field, at) in &code {
        assert_eq!(
            doc.get(field),
            Some(at),
            "LAYOUT.md row for {field} (offset, size)"
        );
    }
    for field in doc.keys() {
        assert!(
            code.contains_key(field),
            "LAYOUT.md documents {field}, which the code lacks"
        );
    }
    assert_eq!(size_of::<Slot>(), 8);
    assert!(include_str!("../LAYOUT.md").contains("# Forge segment layout, version 4"));
    assert_eq!(READABLE_LAYOUT_VERSIONS, [2, 3, 4]);
    assert_eq!(
        LAYOUT_VERSION, 4,
        "bump the version in LAYOUT.md's title too"
    );
    assert_eq!(ROLE_LOCKS_LAYOUT_VERSION, 4);
}

/// The facts LAYOUT.md gives in prose, checked against the code where the
/// code can say them.
#[test]
fn layout_md_states_the_constants_the_code_uses() {
    let doc = include_str!("../LAYOUT.md");
    assert_eq!(CORE_NONE, 0xFFFF_FFFF);
    assert!(doc.contains("core =\n    0xFFFFFFFF") || doc.contains("core = 0xFFFFFFFF"));
    assert!(doc.contains("`batch = 1`"));
    assert_eq!((PRODUCER_LOCK_OFFSET, CONSUMER_LOCK_OFFSET), (128, 256));
    assert!(doc.contains("byte 128 for the producer, 256 for the\n   consumer"));
    assert_eq!(HIST_OVERFLOW_NS, 1 << 24);
    assert!(doc.contains("samples ≥ 2^24 ns"));
    assert!(doc.contains("| 8 | C | bytes | slot.payload |"));
    assert_eq!(segment_size(4, 56), 4096 + 4 * 64);
    assert!(doc.contains("size = 4096 + N * (8 + C)"));
    assert!(is_payload_capacity(8) && is_payload_capacity(4096) && !is_payload_capacity(12));
    assert!(doc.contains("a multiple of 8 from 8 to 4096"));
    assert_eq!(FRAME_RELAYED, 1);
    assert!(doc.contains("Flag bit 0 (`RELAYED`)"));
    assert_eq!((HOLDER_RELAYED, HOLDER_PARKS), (1, 2));
    assert!(doc.contains("bit 0 (`RELAYED`, producer only)"));
    assert!(doc.contains("bit 1 (`PARKS`)"));
}

/// A reader written from rules 6 and 8 alone agrees with the observer on a
/// 2-slot ring whose head lags by many laps (issue 21 (a), (b)).
#[test]
fn the_documented_newest_and_copy_rules_are_the_ones_fabric_uses() {
    use forge_fabric::{CreateOptions, Observer, Segment};
    let doc = include_str!("../LAYOUT.md");
    assert!(doc.contains("Go **down** from that top"));
    assert!(doc.contains("the slot before holds neither `stamp(pos - 1)` nor 0"));
    let name = format!("/forge_test_layoutdoc_rules_{}", std::process::id());
    let opts = CreateOptions {
        slot_count: 2,
        payload_capacity: 8,
        ..Default::default()
    };
    let segment = Segment::create(&name, &opts).unwrap();
    let _unlink = Unlink(name.clone());
    let mut p = segment.producer().unwrap();
    let mut c = segment.consumer().unwrap();
    p.set_index_batch(32);
    for i in 0..40u64 {
        p.write_from(&i.to_le_bytes()).unwrap();
        c.read_with(|_| ()).unwrap();
    }
    let bytes = std::fs::read(forge_fabric::shm_path(&name)).unwrap();
    let word = |i: u32| {
        let at = slot_offset(i, 8);
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
    };
    let index = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let (head, tail, batch) = (index(128), index(256), 32u64);
    let stamp = |pos: u64| ((pos >> 1) % u64::from(u32::MAX)) as u32 + 1;
    // Rule 8, as written: down from min(head + batch - 1, tail + N - 1).
    let top = (head + batch - 1).min(tail + 2 - 1);
    let newest = (head.max(tail) - 1..=top)
        .rev()
        .find(|&pos| (word((pos % 2) as u32) >> 32) as u32 == stamp(pos));
    let snap = Observer::open(&name, std::time::Duration::ZERO)
        .unwrap()
        .snapshot()
        .unwrap();
    assert_eq!((head, tail), (32, 40));
    assert_eq!(newest, Some(39));
    assert_eq!(snap.newest, newest);
    // Rule 6, as written, for position 39 in slot 1: the slot before holds
    // 38, stamp(39 - 1): the producer cannot be rewriting it.
    let before = (word(0) >> 32) as u32;
    assert!(before == stamp(38) || before == 0);
    let copy = Observer::open(&name, std::time::Duration::ZERO)
        .unwrap()
        .read_slot(1)
        .unwrap();
    assert_eq!((copy.position, copy.torn), (Some(39), false));
}

struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = forge_fabric::segment::unlink(&self.0);
    }
}

/// A reader written from LAYOUT.md's percentile rule alone gets exactly the
/// numbers forge-top shows (fabric's `Histogram::quantile`).
#[test]
fn the_documented_percentile_rule_is_the_one_fabric_uses() {
    use forge_fabric::hist::Histogram;
    // The rule as the page words it, with bucket bounds from its formulas.
    fn low(i: usize) -> u64 {
        if i < 16 {
            return i as u64;
        }
        let (m, s) = (i / 16 + 3, (i % 16 + 16) as u64);
        s << (m - 4)
    }
    fn high(i: usize) -> u64 {
        if i + 1 >= HIST_BUCKETS {
            HIST_OVERFLOW_NS - 1
        } else {
            low(i + 1) - 1
        }
    }
    fn documented(buckets: &[u64], overflow: u64, max_ns: u64, q: f64) -> Option<u64> {
        let n: u64 = buckets.iter().sum::<u64>() + overflow;
        if n == 0 {
            return None;
        }
        let r = ((q * n as f64).ceil() as u64).max(1);
        let mut total = 0;
        for (i, &c) in buckets.iter().enumerate() {
            total += c;
            if total >= r {
                return Some(((low(i) + high(i)) / 2).min(max_ns.max(low(i))));
            }
        }
        Some(max_ns)
    }
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..200 {
        let mut h = Histogram::new();
        for _ in 0..(next() % 500) {
            // Spread over every bucket and into the overflow.
            let shift = next() % 27;
            h.record(next() % (1u64 << shift).max(1));
        }
        for q in [0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                h.quantile(q),
                documented(&h.buckets[..], h.overflow, h.max_ns, q),
                "q {q}"
            );
        }
    }
}

//! Issue 19 case 7 for forge-top: files that lie. Every count a recording
//! or a ring image claims is checked against the format's rules before
//! anything is allocated for it; a bad file is refused (exit 1) naming the
//! field, and a recording with no frame opens and says it is empty. Each
//! run is capped at 2 GiB of address space, so a reader that believes a
//! claim fails here instead of taking the machine's memory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use forge_fabric::observe::HolderCheck;
use forge_fabric::{SlotCopy, SlotState, Snapshot};
use forge_record::events::{Event, RingSample};
use forge_record::identity::SessionIdentity;
use forge_record::image::{ImageMeta, RingImage};
use forge_record::{RecordingWriter, WriterOptions};

const SESSION: u64 = 7;

fn top(args: &[&str]) -> Output {
    Command::new("prlimit")
        .arg("--as=2147483648")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_forge-top"))
        .args(args)
        .env_remove("FORGE_SEGMENT")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("prlimit runs forge-top")
}

/// A recording of `frames` frames of a session whose identity claims
/// `slot_count` slots (the rest of its geometry a default ring's).
fn recording(path: &Path, slot_count: u32, frames: u64) {
    let mut w = RecordingWriter::create(path, WriterOptions::default()).unwrap();
    w.add_session(SessionIdentity {
        segment: "/crafted".into(),
        session_id: SESSION,
        slot_count,
        ..Default::default()
    });
    let mut buf = [0u8; 96];
    for i in 0..frames {
        let n = forge_frame::encode(&mut buf, i, i, 1, forge_frame::FrameKind::Metric, &[1; 40])
            .unwrap();
        w.write_frame(SESSION, i, 0, &buf[..n], 1_700_000_000_000_000_000 + i)
            .unwrap();
    }
    if frames == 0 {
        // What a tap on an idle ring writes: its samples, no frame.
        let sample = RingSample::of(&Snapshot::default(), 1_700_000_000_000_000_000);
        let sample = RingSample {
            session: SESSION,
            ..sample
        };
        w.write_event(&Event::Sample(sample), 1_700_000_000_000_000_000)
            .unwrap();
    }
    w.finish().unwrap();
}

/// An image of `records` slots of a ring claiming `slot_count` slots of
/// `capacity` bytes, slot 0's word claiming `len0` bytes.
fn image(path: &Path, slot_count: u32, records: u32, len0: u16, capacity: u32) {
    use forge_fabric::layout::{HEADER_SIZE, LAYOUT_VERSION, MAGIC};
    let slots = (0..records)
        .map(|i| SlotCopy {
            index: i,
            position: Some(u64::from(i)),
            state: SlotState::Pending,
            len: if i == 0 { len0 } else { 40 },
            flags: 0,
            stamp: 1,
            bytes: vec![i as u8; 40],
            changed: false,
            overwritable: false,
            torn: false,
        })
        .collect();
    let mut s = Snapshot {
        name: "/crafted".into(),
        slot_count,
        head: u64::from(records),
        ..Default::default()
    };
    let id = &mut s.identity;
    id.magic = MAGIC;
    id.layout_version = LAYOUT_VERSION;
    id.header_size = HEADER_SIZE as u32;
    id.payload_capacity = capacity;
    id.slot_size = 8 + capacity;
    id.slot_count = slot_count;
    id.segment_size = HEADER_SIZE as u64 + u64::from(slot_count) * u64::from(8 + capacity);
    id.session_id = SESSION;
    id.state = forge_fabric::SegmentState::Live.into();
    s.file_size = id.segment_size;
    let img = RingImage {
        meta: ImageMeta::default(),
        snapshot: s,
        holders: [HolderCheck::Unknown, HolderCheck::Unknown],
        slots,
    };
    std::fs::write(path, img.to_bytes()).unwrap();
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn refused(o: &Output, says: &str) {
    let e = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1 saying {says:?}:\n{e}"
    );
    assert!(
        e.contains(says) && !e.contains("panicked"),
        "expected {says:?}:\n{e}"
    );
}

#[test]
fn case_7_crafted_recordings_and_images_are_refused_naming_the_field_and_an_empty_recording_opens()
{
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| -> PathBuf { dir.path().join(name) };
    let arg = |p: &PathBuf| p.to_str().unwrap().to_owned();

    // Recordings whose channel claims a ring no forge-init makes: 0 slots
    // panicked, 2^31 aborted out of memory, 2^28 took 16.8 GB; 3 read on.
    for slots in [0u32, 3, 1 << 28, 1 << 31] {
        let path = at(&format!("slots{slots}.mcap"));
        recording(&path, slots, 2_000);
        let o = top(&["--file", &arg(&path), "--once"]);
        refused(
            &o,
            &format!("slot_count is {slots}, expected a power of two from 2 to 1048576"),
        );
    }

    // Images of 0 or 3 slots.
    for slots in [0u32, 3] {
        let path = at(&format!("img{slots}.forge"));
        image(&path, slots, slots, 40, 4096);
        let o = top(&["--file", &arg(&path), "--once"]);
        refused(
            &o,
            &format!("snapshot.slot_count is {slots}, expected a power of two"),
        );
    }

    // A slot word claiming 65,535 bytes of a 256-byte slot: shown damaged,
    // not as a sound frame.
    let path = at("len.forge");
    image(&path, 4, 4, 65_535, 256);
    let o = top(&["--file", &arg(&path), "--once", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let slot = &v["selected_slot"];
    assert_eq!(slot["len"], 65_535, "{v}");
    assert!(slot["frame"].is_null(), "{slot}");
    assert!(
        slot["frame_error"]
            .as_str()
            .is_some_and(|e| e.contains("damaged") && e.contains("holds 256")),
        "{slot}"
    );

    // A recording with no frame (a tap on an idle ring) opens and says so.
    let path = at("empty.mcap");
    recording(&path, 512, 0);
    let o = top(&["--file", &arg(&path), "--once"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        text.contains("a recording, empty: it holds no frame") && text.contains("512 slots"),
        "{text}"
    );
}

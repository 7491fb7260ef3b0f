//! Frame format 2 (issue 19, case 5): the checksum covers the frame's
//! header fields as well as its body, so a pending frame whose timestamp,
//! source or kind was changed in the ring is corrupt to `forge-core
//! --verify` (exit 4); format 1 frames still verify as they always did.

mod common;

use std::time::Duration;

use common::{at, Bin, Rig};
use forge_frame::{decode, decode_header, write_header_as, FrameFormat, FrameKind};

const T: Duration = Duration::from_secs(60);
const SLOTS: u32 = 64;

/// Where slot `i`'s payload starts in the segment file.
fn payload_at(i: u32) -> u64 {
    at::slot_word(i) + 8
}

/// Streams `n` frames nobody reads yet, so they wait in the ring.
fn pending(rig: &mut Rig, n: u32) {
    rig.init(&["--slots", &SLOTS.to_string()]);
    rig.run(
        Bin::Stream,
        &["--count", &n.to_string(), "--wait", "yield"],
        T,
    )
    .expect_code(0);
}

fn verify(rig: &mut Rig, n: u32) -> common::Output {
    rig.run(
        Bin::Core,
        &[
            "--verify",
            "--count",
            &n.to_string(),
            "--wait",
            "yield",
            "--report",
            "json",
        ],
        T,
    )
}

#[test]
fn forge_stream_writes_format_2_frames() {
    let mut rig = Rig::new("frame_v2_written");
    pending(&mut rig, 4);
    let obs = rig.observer();
    for i in 0..4 {
        let copy = obs.read_slot(i).unwrap();
        let h = decode_header(&copy.bytes).unwrap();
        assert_eq!(h.format, FrameFormat::V2, "slot {i}");
        decode(&copy.bytes).unwrap();
    }
}

#[test]
fn a_format_2_frame_whose_header_was_changed_in_the_ring_is_corrupt() {
    // (offset in the frame, bytes): timestamp, source, kind set to 7.
    let edits: [(u64, &[u8]); 3] = [(8, &[0x55]), (16, &[0x42]), (20, &[7, 0])];
    for (field, bytes) in edits {
        let mut rig = Rig::new("frame_v2_header");
        pending(&mut rig, 8);
        rig.poke(payload_at(3) + field, bytes);
        let out = verify(&mut rig, 8);
        out.expect_code(4);
        let v = out.json();
        assert_eq!(v["corrupt"], 1, "offset {field}: {v}");
        assert!(
            v["first_issue"]
                .as_str()
                .is_some_and(|s| s.contains("checksum mismatch")),
            "offset {field}: {v}"
        );
    }
}

#[test]
fn format_1_frames_still_verify_and_a_changed_body_is_still_caught() {
    let mut rig = Rig::new("frame_v1");
    pending(&mut rig, 8);
    // Rewrite every pending frame as an older producer wrote it: format 1,
    // same sequence and body, checksum of the body only.
    let obs = rig.observer();
    for i in 0..8 {
        let mut frame = obs.read_slot(i).unwrap().bytes;
        let h = decode_header(&frame).unwrap();
        write_header_as(
            FrameFormat::V1,
            &mut frame,
            h.sequence,
            h.timestamp_ns,
            h.source_id,
            h.kind,
            h.body_len as usize,
        )
        .unwrap();
        rig.poke(payload_at(i), &frame);
    }
    let out = verify(&mut rig, 8);
    out.expect_code(0);
    assert_eq!(out.json()["corrupt"], 0);

    // A format 1 header change goes unseen, as it always did; a body change
    // does not.
    drop((obs, rig));
    let mut rig = Rig::new("frame_v1_body");
    pending(&mut rig, 8);
    let obs = rig.observer();
    let mut frame = obs.read_slot(2).unwrap().bytes;
    let h = decode_header(&frame).unwrap();
    write_header_as(
        FrameFormat::V1,
        &mut frame,
        h.sequence,
        h.timestamp_ns,
        h.source_id,
        FrameKind::Other(7),
        h.body_len as usize,
    )
    .unwrap();
    let last = frame.len() - 1;
    frame[last] ^= 0x01;
    rig.poke(payload_at(2), &frame);
    let out = verify(&mut rig, 8);
    out.expect_code(4);
    assert_eq!(out.json()["corrupt"], 1);
}

//! Recordings written and read back in-process: round trips, lookups, and
//! files cut short, damaged or foreign.

use std::path::{Path, PathBuf};

use forge_fabric::PAYLOAD_CAPACITY;
use forge_frame::{encode, FrameKind};
use forge_record::events::{Event, MissedRange};
use forge_record::identity::{ClockPair, Mode, SessionIdentity};
use forge_record::read::ReadError;
use forge_record::{Compression, Recording, RecordingWriter, WriterOptions};

const SESSION: u64 = 0x0123_4567_89ab_cdef;

fn identity() -> SessionIdentity {
    SessionIdentity {
        segment: "/forge_files_test".into(),
        session_id: SESSION,
        layout_version: 2,
        slot_count: 64,
        slot_size: 4104,
        payload_capacity: 4096,
        header_size: 4096,
        segment_size: 4096 + 64 * 4104,
        host: "test".into(),
        mode: Some(Mode::Consume),
        clock: ClockPair {
            unix_ns: 1_700_000_000_000_000_000,
            mono_ns: 1_000,
        },
        ..Default::default()
    }
}

fn payload(seq: u64) -> Vec<u8> {
    let mut buf = vec![0u8; PAYLOAD_CAPACITY];
    let body: Vec<u8> = (0..(seq % 200) as usize)
        .map(|i| (i as u64 ^ seq) as u8)
        .collect();
    let n = encode(&mut buf, seq, 1_000 + seq * 10, 7, FrameKind::Metric, &body).unwrap();
    buf.truncate(n);
    buf
}

/// Writes `n` frames (sequence = position = i, one ms apart) with a missed
/// range event after frame 10.
fn write(path: &Path, n: u64, compression: Compression) -> forge_record::writer::Written {
    let opts = WriterOptions {
        compression,
        chunk_size: 16 * 1024,
        ..Default::default()
    };
    let mut w = RecordingWriter::create(path, opts).unwrap();
    w.add_session(identity());
    for i in 0..n {
        w.write_frame(SESSION, i, 0, &payload(i), 1_000_000 + i * 1_000_000)
            .unwrap();
        if i == 10 {
            let missed = MissedRange {
                session: SESSION,
                first_position: 100,
                end_position: 200,
                first_sequence: 100,
                end_sequence: 200,
                sequences_inferred: false,
                reason: "lapped".into(),
            };
            w.write_event(&Event::Missed(missed), 0).unwrap();
        }
    }
    w.finish().unwrap()
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn a_recording_reads_back_frame_for_frame_in_every_compression() {
    for compression in [Compression::Zstd, Compression::Lz4, Compression::None] {
        let dir = temp();
        let path = dir.path().join("r.mcap");
        let written = write(&path, 3_000, compression);
        assert_eq!(written.frames, 3_000);
        let rec = Recording::open(&path).unwrap();
        assert!(rec.is_complete());
        assert!(rec.damage().is_empty());
        assert_eq!(rec.len(), 3_000);
        assert!(rec.chunk_count() > 5, "{} chunks", rec.chunk_count());
        assert_eq!(rec.sessions().len(), 1);
        assert_eq!(rec.sessions()[0].identity, identity());
        assert_eq!(rec.sessions()[0].frames, 3_000);
        for (i, f) in rec.frames_from(0).enumerate() {
            let f = f.unwrap();
            assert_eq!(f.index, i as u64);
            assert_eq!(f.position, i as u64);
            assert_eq!(f.payload, payload(i as u64), "{compression:?} frame {i}");
            assert_eq!(f.log_time_ns, 1_000_000 + i as u64 * 1_000_000);
            assert!(f.frame().is_ok());
        }
        assert_eq!(rec.missed().len(), 1);
        assert_eq!(rec.missed()[0].len(), 100);
    }
}

#[test]
fn the_reader_lists_channels_with_their_message_counts() {
    let dir = temp();
    let path = dir.path().join("r.mcap");
    write(&path, 500, Compression::Zstd);
    let rec = Recording::open(&path).unwrap();
    let listed: Vec<(String, String, u64)> = rec
        .channels()
        .iter()
        .map(|c| (c.topic.clone(), c.schema.clone(), c.messages))
        .collect();
    assert_eq!(
        listed,
        [
            ("/forge/events".to_owned(), String::new(), 1),
            (
                format!("/forge_files_test/session/{SESSION:016x}"),
                "forge/msg/Frame".to_owned(),
                500
            ),
        ]
    );
    // The mcap crate's own reader agrees, summary and all.
    let bytes = std::fs::read(&path).unwrap();
    let summary = mcap::Summary::read(&bytes).unwrap().unwrap();
    let stats = summary.stats.unwrap();
    assert_eq!(stats.message_count, 501);
    assert_eq!(stats.channel_count, 2);
    let messages = mcap::MessageStream::new(&bytes).unwrap().count();
    assert_eq!(messages, 501);
}

#[test]
fn frames_are_found_by_index_sequence_and_time() {
    let dir = temp();
    let path = dir.path().join("r.mcap");
    write(&path, 2_000, Compression::Lz4);
    let rec = Recording::open(&path).unwrap();
    assert_eq!(rec.frame(1_234).unwrap().payload, payload(1_234));
    assert!(matches!(
        rec.frame(2_000),
        Err(ReadError::OutOfRange {
            index: 2_000,
            len: 2_000
        })
    ));
    assert_eq!(rec.find_sequence(777).unwrap(), Some(777));
    assert_eq!(rec.find_sequence(5_000).unwrap(), None);
    assert_eq!(
        rec.find_time(1_000_000 + 1_500 * 1_000_000).unwrap(),
        Some(1_500)
    );
    assert_eq!(
        rec.find_time(1_000_000 + 1_500 * 1_000_000 - 1).unwrap(),
        Some(1_500)
    );
    assert_eq!(rec.find_time(u64::MAX).unwrap(), None);
    assert_eq!(
        rec.time_range(),
        Some((1_000_000, 1_000_000 + 1_999 * 1_000_000))
    );
}

/// The byte offsets where chunks end in a finished file: the cut points
/// that lose nothing but the summary.
fn cut(path: &Path, len: u64) -> PathBuf {
    let bytes = std::fs::read(path).unwrap();
    let out = path.with_extension(format!("cut{len}"));
    std::fs::write(&out, &bytes[..len as usize]).unwrap();
    out
}

#[test]
fn a_file_cut_anywhere_is_refused_with_how_far_it_reads_and_recovered_up_to_its_last_chunk() {
    let dir = temp();
    let path = dir.path().join("r.mcap");
    write(&path, 3_000, Compression::Zstd);
    let size = std::fs::metadata(&path).unwrap().len();
    let mut cuts: Vec<u64> = (8..size).step_by((size / 97) as usize).collect();
    cuts.extend([9, 16, size - 1]);
    cuts.sort_unstable();
    let mut last_frames = 0;
    for len in cuts {
        let short = cut(&path, len);
        match Recording::open(&short) {
            Err(ReadError::Incomplete {
                readable_bytes,
                file_bytes,
                frames,
                ..
            }) => {
                assert_eq!(file_bytes, len);
                assert!(readable_bytes <= len);
                let rec = Recording::open_recovering(&short).unwrap();
                assert_eq!(rec.len(), frames, "cut at {len}");
                assert!(!rec.is_complete());
                // Every frame read back is the one written.
                for (i, f) in rec.frames_from(0).enumerate() {
                    assert_eq!(f.unwrap().payload, payload(i as u64));
                }
                assert!(
                    frames >= last_frames,
                    "cut at {len}: {frames} < {last_frames}"
                );
                last_frames = frames;
            }
            other => panic!("cut at {len} of {size}: {other:?}"),
        }
    }
    // Cut just before its closing magic, every frame is still there.
    assert_eq!(last_frames, 3_000);
}

#[test]
fn a_damaged_chunk_is_skipped_by_recovery_and_named_by_open() {
    let dir = temp();
    let path = dir.path().join("r.mcap");
    write(&path, 3_000, Compression::None);
    let mut bytes = std::fs::read(&path).unwrap();
    // Frame 1500's position field, inside an uncompressed chunk: the
    // chunk's CRC no longer holds.
    let mut needle = vec![0x00, 0x01, 0x00, 0x00];
    needle.extend_from_slice(&1_500u64.to_le_bytes());
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("frame 1500 in the file");
    bytes[at + 6] ^= 0x5a;
    let bad = dir.path().join("bad.mcap");
    std::fs::write(&bad, &bytes).unwrap();
    let err = Recording::open(&bad).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("chunk at byte"), "{text}");
    let rec = Recording::open_recovering(&bad).unwrap();
    assert_eq!(rec.damage().len(), 1, "{:?}", rec.damage());
    assert!(!rec.damage()[0].fatal);
    assert!(rec.len() < 3_000 && rec.len() > 2_500, "{}", rec.len());
}

#[test]
fn files_that_are_not_forge_recordings_are_refused_saying_what_they_are() {
    let dir = temp();
    let empty = dir.path().join("empty.mcap");
    std::fs::write(&empty, b"").unwrap();
    let e = Recording::open(&empty).unwrap_err().to_string();
    assert!(
        e.contains("not an MCAP file") && e.contains("an empty file"),
        "{e}"
    );

    let text = dir.path().join("text.mcap");
    std::fs::write(&text, b"hello, world, this is text").unwrap();
    let e = Recording::open(&text).unwrap_err().to_string();
    assert!(e.contains("expected the magic"), "{e}");

    let foreign = dir.path().join("ros.mcap");
    {
        let f = std::fs::File::create(&foreign).unwrap();
        let mut w = mcap::WriteOptions::new().profile("ros2").create(f).unwrap();
        w.finish().unwrap();
    }
    let e = Recording::open(&foreign).unwrap_err();
    assert!(matches!(e, ReadError::Foreign { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(r#"expected profile "forge", found "ros2""#),
        "{e}"
    );
}

#[test]
fn an_empty_recording_is_complete_and_empty() {
    let dir = temp();
    let path = dir.path().join("r.mcap");
    write(&path, 0, Compression::Zstd);
    let rec = Recording::open(&path).unwrap();
    assert!(rec.is_empty());
    assert!(rec.is_complete());
    assert_eq!(rec.frames_from(0).count(), 0);
}

#[test]
fn rolling_starts_a_new_self_contained_file() {
    let dir = temp();
    let path = dir.path().join("roll.mcap");
    let opts = WriterOptions {
        chunk_size: 8 * 1024,
        max_size: Some(32 * 1024),
        ..Default::default()
    };
    let mut w = RecordingWriter::create(&path, opts).unwrap();
    w.add_session(identity());
    for i in 0..5_000 {
        w.write_frame(SESSION, i, 0, &payload(i), i).unwrap();
        if w.wants_roll() {
            w.roll().unwrap();
        }
    }
    let written = w.finish().unwrap();
    assert!(written.files.len() > 2, "{:?}", written.files);
    assert_eq!(written.files[1], dir.path().join("roll.1.mcap"));
    let mut next = 0;
    for f in &written.files {
        let rec = Recording::open(f).unwrap();
        assert_eq!(rec.sessions()[0].identity, identity());
        for frame in rec.frames_from(0) {
            assert_eq!(frame.unwrap().position, next);
            next += 1;
        }
    }
    assert_eq!(next, 5_000);
}

#[test]
fn an_inspector_opens_either_kind_of_file_by_its_first_bytes() {
    use forge_record::offline::{open, Offline, OfflineError};
    let dir = temp();
    let path = dir.path().join("r.mcap");
    write(&path, 10, Compression::Zstd);
    assert!(matches!(open(&path, false), Ok(Offline::Recording(r)) if r.len() == 10));
    let image = forge_record::RingImage {
        meta: Default::default(),
        snapshot: forge_fabric::Snapshot {
            slot_count: 2,
            latency: Default::default(),
            ..Default::default()
        },
        holders: [
            forge_fabric::observe::HolderCheck::Unknown,
            forge_fabric::observe::HolderCheck::Unknown,
        ],
        slots: (0..2)
            .map(|index| forge_fabric::SlotCopy {
                index,
                position: None,
                state: forge_fabric::SlotState::Free,
                len: 0,
                flags: 0,
                stamp: 0,
                bytes: vec![],
                changed: false,
                overwritable: false,
                torn: false,
            })
            .collect(),
    };
    let img = dir.path().join("ring.forge");
    image.save(&img, &forge_cli::output::Output::new()).unwrap();
    assert!(matches!(open(&img, false), Ok(Offline::Image(i)) if *i == image));
    let other = dir.path().join("x.txt");
    std::fs::write(&other, b"hello").unwrap();
    let e = open(&other, false).unwrap_err();
    assert!(matches!(e, OfflineError::Unknown { .. }), "{e}");
    assert!(e.to_string().contains("neither a Forge recording"), "{e}");
    // A cut recording: refused, or read up to its last chunk.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    assert!(matches!(
        open(&path, false),
        Err(OfflineError::Recording(ReadError::Incomplete { .. }))
    ));
    assert!(matches!(open(&path, true), Ok(Offline::Recording(r)) if r.len() == 10));
}

#[test]
fn a_chunk_that_decompresses_far_beyond_its_size_is_not_read() {
    // 20 MiB of zero payloads compress to almost nothing: more than the
    // 8 MiB any chunk may hold whatever it compresses to, and more than 16
    // times its compressed size.
    let dir = temp();
    let path = dir.path().join("bomb.mcap");
    let opts = WriterOptions {
        chunk_size: 32 << 20,
        ..Default::default()
    };
    let mut w = RecordingWriter::create(&path, opts).unwrap();
    w.add_session(identity());
    let zeros = vec![0u8; PAYLOAD_CAPACITY];
    for i in 0..5_000 {
        w.write_frame(SESSION, i, 0, &zeros, i).unwrap();
    }
    w.finish().unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len < 1 << 20, "{len}");
    let e = Recording::open(&path).unwrap_err().to_string();
    assert!(
        e.contains("uncompressed bytes") && e.contains("more than the 8388608 this reader accepts"),
        "{e}"
    );
    let rec = Recording::open_recovering(&path).unwrap();
    assert_eq!(rec.len(), 0);
    assert_eq!(rec.damage().len(), 1);
}

#[test]
fn events_that_would_hold_far_more_memory_than_the_file_are_refused() {
    use forge_record::events::{Buckets, RingSample};
    let dir = temp();
    let path = dir.path().join("events.mcap");
    let opts = WriterOptions {
        chunk_size: 4 << 20,
        ..Default::default()
    };
    let mut w = RecordingWriter::create(&path, opts).unwrap();
    w.add_session(identity());
    // Two full histograms, alternating: nothing a ring's ever-growing
    // histogram does, and nothing to share between neighbours.
    let full = |k: u64| Buckets::from_counts(&[k; forge_fabric::layout::HIST_BUCKETS]);
    for i in 0..4_000u64 {
        let sample = RingSample {
            session: SESSION,
            at_unix_ns: i,
            head: 0,
            tail: 0,
            producer_messages: 0,
            consumer_messages: 0,
            producer_backpressure: 0,
            consumer_backpressure: 0,
            latency_count: 0,
            latency_sum_ns: 0,
            latency_max_ns: 0,
            latency_overflow: 0,
            latency_buckets: full(1 + i % 2),
        };
        w.write_event(&Event::Sample(sample), i).unwrap();
    }
    w.finish().unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    let e = Recording::open_recovering(&path).unwrap_err();
    assert!(
        matches!(e, ReadError::Corrupt { .. })
            && e.to_string().contains("its events take")
            && e.to_string()
                .contains(&format!("a file of {len} bytes may")),
        "{e}"
    );
}

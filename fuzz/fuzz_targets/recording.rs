//! The recording reader on arbitrary bytes, and on bytes laid over a valid
//! recording: a typed error, or a recording whose every frame reads back.
//! Never a panic, and never more memory than the reader's documented bound
//! for a file of that size (checked by a counting allocator).
#![no_main]

#[path = "count.rs"]
mod count;

#[global_allocator]
static ALLOC: count::Counting = count::Counting::new();

/// The most a read of a `len`-byte recording may hold at once: one chunk at
/// the largest ratio a reader accepts and its frames decoded, the events
/// budget, and a few copies of the file's own bytes (FORMATS.md).
fn bound(len: usize) -> usize {
    let len = len as u64;
    let chunk = forge_record::read::chunk_limit(len);
    (3 * chunk + forge_record::read::event_budget(len) + 16 * len + (1 << 20)) as usize
}

use std::path::PathBuf;
use std::sync::OnceLock;

use forge_record::identity::SessionIdentity;
use forge_record::{Compression, Recording, RecordingWriter, WriterOptions};
use libfuzzer_sys::fuzz_target;

fn valid() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("forge_fuzz_recording_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("seed.mcap");
        let opts = WriterOptions {
            compression: Compression::None,
            chunk_size: 512,
            ..Default::default()
        };
        let mut w = RecordingWriter::create(&path, opts).unwrap();
        w.add_session(SessionIdentity {
            session_id: 9,
            ..Default::default()
        });
        let mut buf = [0u8; 96];
        for i in 0..20u64 {
            let n = forge_frame::encode(
                &mut buf,
                i,
                i,
                1,
                forge_frame::FrameKind::Metric,
                &[i as u8; 40],
            )
            .unwrap();
            w.write_frame(9, i, 0, &buf[..n], i).unwrap();
        }
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        bytes
    })
}

fn check(bytes: &[u8]) {
    count::within(&ALLOC, bound(bytes.len()), "reading a recording", || {
        read(bytes)
    });
}

fn read(bytes: &[u8]) {
    if let Ok(rec) = Recording::from_bytes(PathBuf::from("fuzz.mcap"), bytes.to_vec()) {
        let mut n = 0;
        for f in rec.frames_from(0) {
            if f.is_err() {
                break;
            }
            n += 1;
        }
        assert!(n <= rec.len());
        let _ = rec.find_sequence(5);
        let _ = rec.find_time(5);
    }
}

fuzz_target!(|data: &[u8]| {
    let valid = valid();
    check(data);
    let mut file = valid.to_vec();
    if let [a, b, rest @ ..] = data {
        let at = usize::from(u16::from_le_bytes([*a, *b])) % file.len();
        let n = rest.len().min(file.len() - at);
        file[at..at + n].copy_from_slice(&rest[..n]);
        check(&file);
        file.truncate(at + n);
        check(&file);
    }
});

//! Arbitrary bytes as a real shared-memory object: the read-write open, the
//! read-only observer and every sample it takes must give typed errors or
//! sound data, and never fault outside the mapping.
#![no_main]

mod seed;

use std::time::Duration;

use forge_fabric::{Observer, Segment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = format!("/forge_fuzz_{}", std::process::id());
    let path = format!("/dev/shm{name}");
    std::fs::write(&path, seed::file_from(data)).expect("write /dev/shm");
    let _ = Segment::open(&name, Duration::ZERO).map(|s| s.check_session());
    if let Ok(obs) = Observer::open(&name, Duration::ZERO) {
        if let Ok(snap) = obs.snapshot() {
            let _ = snap.problems();
            for i in 0..snap.slot_count.min(4) {
                let slot = obs.read_slot(i).expect("sound geometry, same size");
                assert!(slot.bytes.len() <= forge_fabric::PAYLOAD_CAPACITY);
                let _ = snap.slot_state(i);
            }
        }
    }
    let _ = std::fs::remove_file(&path);
});

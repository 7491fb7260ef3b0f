//! Arbitrary side lines and slot words under a sound identity: claiming a
//! role and attaching must refuse impossible indices and stamps with a typed
//! error, never panic or loop; a side that attaches must then move frames
//! without panicking, and its waits must end.
#![no_main]

mod seed;

use std::time::Duration;

use forge_fabric::layout::{segment_size, slot_offset, slot_size, HEADER_SIZE, PAYLOAD_CAPACITY};
use forge_fabric::Segment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&slots_log, rest)) = data.split_first() else {
        return;
    };
    let slots = 2u32 << (slots_log % 4);
    // Small slots share lines with their neighbours: the same checks must
    // hold there.
    let capacity = [PAYLOAD_CAPACITY, 8, 56, 1016][usize::from(slots_log >> 4) % 4];
    let mut file = seed::segment_with(slots, capacity);
    // Bytes 0..256 of the rest: the producer and consumer lines; then one
    // slot word per 8 bytes.
    let (lines, words) = rest.split_at(rest.len().min(256));
    file[128..128 + lines.len()].copy_from_slice(lines);
    for (i, w) in words.chunks(8).take(slots as usize).enumerate() {
        let at = slot_offset(i as u32, capacity);
        file[at..at + w.len()].copy_from_slice(w);
    }
    debug_assert_eq!(file.len(), segment_size(slots, capacity));
    debug_assert!(HEADER_SIZE + slots as usize * slot_size(capacity) == file.len());
    let name = format!("/forge_fuzz_attach_{}", std::process::id());
    let path = format!("/dev/shm{name}");
    std::fs::write(&path, &file).expect("write /dev/shm");
    if let Ok(seg) = Segment::open(&name, Duration::ZERO) {
        if let Ok(mut p) = seg.producer() {
            for k in 0..3u8 {
                let _ = p.write_from(&[k; 40][..8 << k]);
            }
            let _ = p.check_tail();
            let _ = p.wait_for_space(Duration::ZERO);
        }
        if let Ok(mut c) = seg.consumer() {
            for _ in 0..4 {
                let _ = c.read_with(|b| b.len());
            }
            let _ = c.check_stall();
            let _ = c.wait_for_frame(Duration::ZERO);
        }
    }
    let _ = std::fs::remove_file(&path);
});

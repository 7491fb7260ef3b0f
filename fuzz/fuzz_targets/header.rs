//! The header validator on arbitrary bytes: a typed error, or a geometry
//! that the bytes (standing for the file) really hold. Never a panic.
#![no_main]

mod seed;

use forge_fabric::layout::segment_size;
use forge_fabric::segment::validate_header_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&seed::file_from(data));
});

fn check(bytes: &[u8]) {
    if let Ok((session, slots, capacity)) = validate_header_bytes(bytes) {
        assert_ne!(session, 0);
        assert!(slots.is_power_of_two());
        assert!(segment_size(slots, capacity) <= bytes.len());
    }
}

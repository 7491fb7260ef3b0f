//! A valid 2-slot segment image, for the targets to mutate: bytes laid over
//! it reach every check after the magic, not only the first ones.

use forge_fabric::layout::*;

/// The bytes of a live 2-slot segment, session 7.
#[allow(dead_code)]
pub fn segment() -> Vec<u8> {
    segment_with(2, PAYLOAD_CAPACITY)
}

/// The bytes of a live segment of `slots` slots of `capacity` payload
/// bytes, session 7, as forge-init leaves it (vacant roles: batch 1, no
/// core).
pub fn segment_with(slots: u32, capacity: usize) -> Vec<u8> {
    let mut b = vec![0u8; segment_size(slots, capacity)];
    let mut put = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    put(0, &MAGIC.to_le_bytes());
    put(8, &LAYOUT_VERSION.to_le_bytes());
    put(12, &(HEADER_SIZE as u32).to_le_bytes());
    put(16, &(slot_size(capacity) as u32).to_le_bytes());
    put(20, &slots.to_le_bytes());
    put(24, &(segment_size(slots, capacity) as u64).to_le_bytes());
    put(32, &7u64.to_le_bytes());
    put(40, &forge_fabric::SegmentState::Live.code().to_le_bytes());
    put(72, &(capacity as u32).to_le_bytes());
    for line in [128, 256] {
        put(line + 20, &CORE_NONE.to_le_bytes());
        put(line + 68, &1u32.to_le_bytes());
    }
    b
}

#[allow(dead_code)]
/// The fuzzer's input as a file: the first two bytes pick its length (up to
/// the segment's size plus a slot), the rest is laid over the valid image
/// from offset 0 (header fields, then slot words and payloads).
pub fn file_from(data: &[u8]) -> Vec<u8> {
    let mut file = segment();
    let (len, over) = match data {
        [a, b, rest @ ..] => (
            usize::from(u16::from_le_bytes([*a, *b])) % (file.len() + SLOT_SIZE + 1),
            rest,
        ),
        _ => (file.len(), data),
    };
    file.resize(len.max(file.len()), 0);
    let n = over.len().min(file.len());
    file[..n].copy_from_slice(&over[..n]);
    file.truncate(len);
    file
}

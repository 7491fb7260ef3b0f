//! The `.forge` image reader on arbitrary bytes: a typed error or an image
//! that writes back to the same bytes; never a panic. Bytes are also laid
//! over a valid image and its checksum made to hold again, so they reach
//! the fields behind the checksum.
#![no_main]

#[path = "count.rs"]
mod count;

#[global_allocator]
static ALLOC: count::Counting = count::Counting::new();

use std::sync::OnceLock;

use forge_fabric::observe::HolderCheck;
use forge_fabric::{SlotCopy, SlotState, Snapshot};
use forge_record::image::{ImageMeta, RingImage, END_MAGIC};
use libfuzzer_sys::fuzz_target;

fn valid() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let slots = (0..4u32)
            .map(|i| SlotCopy {
                index: i,
                position: Some(u64::from(i)),
                state: SlotState::Pending,
                len: 40,
                flags: 0,
                stamp: 1,
                bytes: vec![i as u8; 40],
                changed: false,
                overwritable: false,
                torn: false,
            })
            .collect();
        RingImage {
            meta: ImageMeta::default(),
            snapshot: Snapshot {
                slot_count: 4,
                head: 4,
                ..Default::default()
            },
            holders: [HolderCheck::Unknown, HolderCheck::NotHeld],
            slots,
        }
        .to_bytes()
    })
}

/// The most reading (and writing back) a `len`-byte image may hold: a few
/// copies of its bytes (the metadata's JSON parsed, a `SlotCopy` per
/// 24-byte record, the image written back and read again).
fn bound(len: usize) -> usize {
    16 * len + (64 << 10)
}

fn check(bytes: &[u8]) {
    count::within(&ALLOC, bound(bytes.len()), "reading an image", || {
        read(bytes)
    });
}

fn read(bytes: &[u8]) {
    if let Ok(img) = RingImage::from_bytes(bytes) {
        assert_eq!(img.slots.len() as u64, u64::from(img.snapshot.slot_count));
        let again = RingImage::from_bytes(&img.to_bytes()).expect("a read image writes back");
        assert_eq!(again, img);
    }
}

fuzz_target!(|data: &[u8]| {
    let valid = valid();
    check(data);
    // The first two bytes pick where the rest lands in a valid image.
    let mut img = valid.to_vec();
    if let [a, b, rest @ ..] = data {
        let at = usize::from(u16::from_le_bytes([*a, *b])) % img.len();
        let n = rest.len().min(img.len() - at);
        img[at..at + n].copy_from_slice(&rest[..n]);
        // Make the checksum hold again, when the trailer is still there.
        let t = img.len() - 24;
        if &img[t..t + 8] == END_MAGIC {
            let crc = crc32fast::hash(&img[..t]);
            img[t + 16..t + 20].copy_from_slice(&crc.to_le_bytes());
        }
        check(&img);
    }
});

//! A whole ring copied at one moment as forge-top shows it: the frozen
//! image, and what a search looks through. Its slots are [`SlotView`]s
//! (fabric's copies with forge-top's verdict and the decoded frame); the
//! copy as fabric made it, for saving, is forge-record's
//! [`RingImage`](forge_record::image::RingImage), kept in `raw`.

use super::{SlotState, SlotView};

/// The whole ring copied at one moment, as forge-top shows it: every slot
/// validated, whole.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RingView {
    /// Slot `i` at index `i`.
    pub slots: Vec<SlotView>,
    /// Wall clock when copied, ns since the Unix epoch.
    pub unix_ns: u64,
    /// CLOCK_MONOTONIC ns when copied.
    pub mono_ns: u64,
    /// How long the copy took, ns.
    pub took_ns: u64,
    /// Slots not copied because the ring is larger than a copy may be.
    pub skipped: u32,
    /// The same copy as fabric made it, for saving as a `.forge` image
    /// (live rings copied whole only), without its bytes: those are in
    /// `payload`.
    pub raw: Option<std::sync::Arc<forge_record::image::RingImage>>,
    /// Every slot's bytes of a raw copy, back to back in one allocation,
    /// so a thaw gives the memory back to the system at once (thousands of
    /// small ones would stay with the allocator).
    pub payload: Vec<u8>,
    /// Where slot `i`'s bytes are in `payload`: start and length.
    pub spans: Vec<(usize, usize)>,
}

impl RingView {
    /// Slot `i` of the copy, with its bytes: kept in the row, or taken from
    /// the raw copy (a live copy keeps its bytes there only, once).
    pub fn slot(&self, i: u32) -> Option<SlotView> {
        let mut view = self.slots.get(i as usize)?.clone();
        if view.copy.bytes.is_empty() && !view.torn && view.copy.state != SlotState::Free {
            view.copy.bytes = self.bytes_of(i as usize).to_vec();
        }
        Some(view)
    }

    fn bytes_of(&self, i: usize) -> &[u8] {
        self.spans
            .get(i)
            .and_then(|&(at, len)| self.payload.get(at..at + len))
            .unwrap_or(&[])
    }

    /// The copy as fabric made it, bytes and all, for a `.forge` image.
    pub fn raw_image(&self) -> Option<forge_record::image::RingImage> {
        let raw = self.raw.as_ref()?;
        let mut image = forge_record::image::RingImage::clone(raw);
        for (i, slot) in image.slots.iter_mut().enumerate() {
            slot.bytes = self.bytes_of(i).to_vec();
        }
        Some(image)
    }

    /// Bytes of frames this copy holds (rows and raw copy), for saying
    /// what a freeze costs.
    pub fn bytes_held(&self) -> u64 {
        let rows: usize = self.slots.iter().map(|s| s.copy.bytes.len()).sum();
        (rows + self.payload.capacity() + self.slots.len() * std::mem::size_of::<SlotView>()) as u64
    }
}

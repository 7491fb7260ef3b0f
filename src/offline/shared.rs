//! What the image and the recording views of `--file` share.

use crate::model::*;

/// The selected slot and the first list row, following the newest frame
/// when asked.
pub(super) fn selection(s: &Sample, req: &SlotRequest) -> (Option<u32>, u32) {
    let n = s.slot_count();
    if req.follow {
        let newest = s.newest.map(|p| (p % u64::from(n.max(1))) as u32);
        let sel = newest.or(req.selected);
        let first = sel.map_or(req.first, |x| scroll_to(req.first, req.count, x, n));
        (sel, first)
    } else {
        (req.selected, req.first)
    }
}

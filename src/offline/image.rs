//! A ring image seen offline: the moment it was taken, every slot whole.

use forge_fabric::hist::Histogram;
use forge_fabric::Role;
use forge_record::image::{RingImage as Image, SlotVerdict};

use crate::model::*;
use crate::procfs;
use crate::source::{holder, sample_of, slot_view};

use super::shared::selection;

/// An image: the moment it was taken, every slot whole.
pub(super) fn image_observation(img: &Image, req: &SlotRequest, path: String) -> Observation {
    let s = img.snapshot.clone();
    let now = img.meta.taken_mono_ns;
    let holders = [Role::Producer, Role::Consumer].map(|role| {
        let line = s.side(role);
        holder(line, role, &img.holders[role.index()], None, now)
    });
    let sample = sample_of(s, holders, &Histogram::default());
    let gone = sample.header.producer.lock_held == Some(false);
    let capacity = img.payload_capacity();
    let views: Vec<SlotView> = img
        .slots
        .iter()
        .map(|c| {
            let mut view = slot_view(c.clone(), true, gone);
            if img.verdict(c) == SlotVerdict::Damaged {
                // Whatever the bytes decode to, the slot word lies.
                view.frame = None;
                view.frame_error = Some(format!(
                    "damaged: the slot word claims {} bytes, and a slot of this ring holds {capacity}",
                    c.len
                ));
            }
            view
        })
        .collect();
    let slots_of = |range: std::ops::Range<u32>| -> Vec<SlotView> {
        range
            .filter_map(|i| views.get(i as usize).cloned())
            .collect()
    };
    let (selected, first) = selection(&sample, req);
    let end = first.saturating_add(req.count).min(sample.slot_count());
    Observation {
        mono_ns: now,
        unix_ns: img.meta.taken_unix_ns,
        link: Link::Attached,
        reason: None,
        slots: slots_of(first..end),
        detail: selected.and_then(|i| views.get(i as usize).cloned()),
        notes: Vec::new(),
        ring: req.whole_ring.then(|| RingView {
            slots: views.clone(),
            unix_ns: img.meta.taken_unix_ns,
            mono_ns: now,
            took_ns: 0,
            skipped: 0,
            raw: None,
            payload: Vec::new(),
            spans: Vec::new(),
        }),
        me: procfs::self_info(),
        offline: Some(OfflineView {
            path,
            kind: OfflineKind::Image,
            frame: 0,
            frames: u64::from(sample.slot_count()),
            playing: false,
            speed: 1.0,
            range_unix_ns: (img.meta.taken_unix_ns, img.meta.taken_unix_ns),
            session: (0, 1),
            missed: 0,
        }),
        sample: Some(sample),
    }
}

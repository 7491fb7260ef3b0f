//! forge-top on live rings with no more slots than the producer's batch,
//! and on a damaged slot length (issue 21 (a)–(c); LAYOUT.md rules 6, 8 and
//! 9): the newest frame it selects is the newest frame, the newest consumed
//! frame of an idle ring shows whole, and a slot word claiming more than a
//! payload holds raises the damage alarm.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use forge_fabric::{Consumer, CreateOptions, Producer, Segment, SlotState};
use forge_frame::{encode, FrameKind};
use forge_top::app::{App, Config};
use forge_top::event::Event;
use forge_top::source::LiveSource;

/// A ring of `slots` slots of 64 bytes, unlinked on drop.
struct Ring {
    name: String,
    segment: Segment,
}

impl Ring {
    fn new(what: &str, slots: u32) -> Ring {
        let name = format!("/forge_test_top_small_{what}_{}", std::process::id());
        let opts = CreateOptions {
            slot_count: slots,
            payload_capacity: 64,
            ..Default::default()
        };
        let segment = Segment::create(&name, &opts).unwrap();
        Ring { name, segment }
    }

    /// `frames` telemetry frames written and read one at a time, `head`
    /// stored every `batch` commits, `tail` at every release; both sides
    /// hold their roles while the caller keeps them.
    fn lockstep(&self, batch: u64, frames: u64) -> (Producer, Consumer) {
        let mut producer = self.segment.producer().unwrap();
        let mut consumer = self.segment.consumer().unwrap();
        producer.set_index_batch(batch);
        for seq in 0..frames {
            let mut buf = [0u8; 64];
            let n = encode(&mut buf, seq, seq, 7, FrameKind::Metric, b"small ring").unwrap();
            producer.write_from(&buf[..n]).unwrap();
            consumer.read_with(|_| ()).unwrap().unwrap();
        }
        (producer, consumer)
    }

    /// forge-top after two looks at the ring, with the newest frame selected.
    fn top(&self) -> App {
        let mut live = LiveSource::new(&self.name);
        live.try_attach().unwrap();
        let mut app = App::new(Config::default(), (120, 40));
        app.observe(live.sample(&app.slot_request()));
        app.handle(Event::Key(KeyEvent::new(
            KeyCode::Char('h'),
            KeyModifiers::NONE,
        )));
        app.observe(live.sample(&app.slot_request()));
        app
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let _ = forge_fabric::segment::unlink(&self.name);
    }
}

#[test]
fn the_newest_frame_forge_top_selects_is_the_newest_on_rings_no_larger_than_the_batch() {
    for slots in [2u32, 32] {
        let ring = Ring::new(&format!("newest{slots}"), slots);
        let _sides = ring.lockstep(32, 40);
        let app = ring.top();
        let view = app.view();
        let sample = view.sample.as_ref().expect("attached");
        assert_eq!(
            (sample.header.head, sample.header.tail),
            (32, 40),
            "{slots} slots"
        );
        assert_eq!(sample.newest, Some(39), "{slots} slots");
        // The selected slot is the newest frame's: consumed, whole, decoded.
        let detail = view.detail.as_ref().expect("the newest is selected");
        assert_eq!(detail.copy.position, Some(39), "{slots} slots");
        assert_eq!(detail.copy.state, SlotState::Consumed, "{slots} slots");
        assert!(!detail.torn, "{slots} slots: the producer is idle");
        assert_eq!(detail.frame.as_ref().map(|f| f.sequence), Some(39));
    }
}

#[test]
fn a_slot_word_claiming_more_than_a_payload_raises_the_damage_alarm() {
    let ring = Ring::new("oversized", 2);
    let _sides = ring.lockstep(1, 3);
    let before = forge_top::export::json(&ring.top());
    assert!(!before.contains("segment damaged"), "{before}");
    // Slot 0 holds position 2: its word keeps the stamp, its length now
    // claims 72 bytes of a 64-byte payload.
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(forge_fabric::shm_path(&ring.name))
        .unwrap();
    let at = forge_fabric::layout::slot_offset(0, 64) as u64;
    file.write_all_at(&72u16.to_le_bytes(), at).unwrap();
    let after = forge_top::export::json(&ring.top());
    assert!(
        after.contains("slot 0 (position 2) claims a 72-byte frame, more than its 64-byte payload"),
        "{after}"
    );
}

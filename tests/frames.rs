//! Whole frames of forge-top, drawn on a `TestBackend` from synthetic
//! samples and compared with insta snapshots.

mod common;

use common::*;
use forge_top::model::*;

fn frame(steps: Vec<Step>) -> String {
    drive(steps).1
}

#[test]
fn an_empty_ring_shows_free_slots_and_no_alarms() {
    let text = frame(vec![
        Step::Tick(Tick::of(sample(0, 0))),
        Step::Tick(Tick::of(sample(0, 0))),
    ]);
    assert!(text.contains("no alarms"));
    insta::assert_snapshot!("empty_ring", text);
}

#[test]
fn a_half_full_ring_shows_rates_latency_and_the_newest_frame() {
    let text = frame(steady(100_000, 256, 10_000, 5));
    assert!(
        text.contains("100.0k fr/s"),
        "rate from head deltas:\n{text}"
    );
    assert!(text.contains("fill 50.0%"));
    insta::assert_snapshot!("half_full", text);
}

#[test]
fn a_ring_full_for_longer_than_the_threshold_raises_an_alarm() {
    let s = sample(50_000, 50_000 - 512);
    let text = frame(vec![
        Step::Tick(Tick::of(s.clone())),
        Step::Tick(Tick::of(s.clone()).after(800)),
        Step::Tick(Tick::of(s).after(800)),
    ]);
    assert!(text.contains("ring full for 1.6s"), "{text}");
    insta::assert_snapshot!("full", text);
}

#[test]
fn a_stalled_producer_raises_a_stale_heartbeat_alarm() {
    let mut s = sample(7_000, 7_000);
    s.producer.heartbeat_age_ns = Some(5_300_000_000);
    let text = frame(vec![
        Step::Tick(Tick::of(s.clone())),
        Step::Tick(Tick::of(s)),
    ]);
    assert!(
        text.contains("producer pid 4101 heartbeat is 5.3s old"),
        "{text}"
    );
    insta::assert_snapshot!("stalled_producer", text);
}

#[test]
fn a_dead_consumer_is_flagged_dead() {
    let mut s = sample(9_000, 8_900);
    s.consumer.alive = Some(false);
    s.consumer.proc = None;
    s.consumer.heartbeat_age_ns = Some(9_000_000_000);
    let text = frame(vec![Step::Tick(Tick::of(s))]);
    assert!(text.contains("consumer pid 4102 is dead"), "{text}");
    assert!(text.contains("✗ DEAD"));
    insta::assert_snapshot!("dead_consumer", text);
}

#[test]
fn a_daemon_of_another_session_raises_an_epoch_mismatch() {
    let mut s = sample(3_000, 2_990);
    s.header.producer.session = NEXT_SESSION;
    let text = frame(vec![Step::Tick(Tick::of(s))]);
    assert!(text.contains("epoch mismatch: producer pid 4101"), "{text}");
    insta::assert_snapshot!("epoch_mismatch", text);
}

#[test]
fn a_retired_segment_shows_old_and_new_session() {
    let mut retired = sample(20_000, 20_000);
    retired.header.identity.state = SegmentState::Retired.into();
    retired.header.identity.successor_session = NEXT_SESSION;
    let text = frame(vec![
        Step::Tick(Tick::of(sample(19_000, 19_000))),
        Step::Tick(Tick::of(retired).notes(vec![SourceNote::Retired {
            old: SESSION,
            new: NEXT_SESSION,
        }])),
    ]);
    assert!(text.contains("RETIRED"));
    assert!(
        text.contains("0x5eed0000cafef00d replaced by 0x7a110000beef0001"),
        "{text}"
    );
    insta::assert_snapshot!("retired_segment", text);
}

#[test]
fn a_reattach_after_force_reinit_reports_the_new_session() {
    let mut fresh = sample(10, 10);
    fresh.header.identity.session_id = NEXT_SESSION;
    fresh.header.producer.session = NEXT_SESSION;
    fresh.header.consumer.session = NEXT_SESSION;
    let text = frame(vec![
        Step::Tick(Tick::of(sample(19_000, 19_000))),
        Step::Tick(Tick::of(fresh).notes(vec![
            SourceNote::Retired {
                old: SESSION,
                new: NEXT_SESSION,
            },
            SourceNote::Reattached {
                old: SESSION,
                new: NEXT_SESSION,
            },
        ])),
    ]);
    assert!(text.contains("session 0x7a110000beef0001"), "{text}");
    assert!(text.contains("epoch changed: re-attached"), "{text}");
    insta::assert_snapshot!("reattached", text);
}

#[test]
fn a_torn_slot_is_shown_torn_never_as_bytes() {
    let s = sample(5_000, 4_900);
    // Slot 100 is well behind head (slot 392): tearing there is news.
    let text = frame(vec![
        Step::Tick(Tick::of(s.clone())),
        key('g'),
        Step::Key(crossterm::event::KeyCode::PageDown),
        Step::Key(crossterm::event::KeyCode::PageDown),
        Step::Key(crossterm::event::KeyCode::PageDown),
        Step::Key(crossterm::event::KeyCode::PageDown),
        Step::Key(crossterm::event::KeyCode::PageDown),
        Step::Tick(Tick::of(s).torn(vec![90])),
    ]);
    assert!(text.contains("TORN COPY"), "{text}");
    assert!(text.contains("torn read of slot 90"), "{text}");
    insta::assert_snapshot!("torn_slot", text);
}

#[test]
fn the_help_overlay_lists_every_key() {
    let (app, text, _) = drive(vec![Step::Tick(Tick::of(sample(1_000, 990))), key('?')]);
    assert!(app.help);
    for k in [
        "PgUp",
        "follow",
        "burst",
        "screenshot",
        "pause",
        "quit",
        "hex",
    ] {
        assert!(text.contains(k), "help lacks {k}:\n{text}");
    }
    insta::assert_snapshot!("help_overlay", text);
}

#[test]
fn a_missing_segment_shows_the_waiting_screen() {
    let text = frame(vec![Step::Tick(Tick::waiting(
        "/forge_shm does not exist yet (no /dev/shm/forge_shm); start forge-init, or run forge-top --demo",
    ))]);
    assert!(text.contains("waiting for /forge_shm"), "{text}");
    insta::assert_snapshot!("waiting", text);
}

#[test]
fn a_truncated_segment_keeps_the_last_good_view_and_says_so() {
    let text = frame(vec![
        Step::Tick(Tick::of(sample(8_000, 7_990))),
        Step::Tick(Tick {
            link: Link::Lost,
            reason: Some("segment was truncated under us: 4096 bytes, 2105344 mapped".into()),
            sample: None,
            notes: vec![SourceNote::Truncated {
                now: 4096,
                mapped: 2_105_344,
            }],
            torn: vec![],
            after_ms: 100,
        }),
    ]);
    assert!(text.contains("LOST: LAST GOOD VIEW"), "{text}");
    assert!(text.contains("head"), "last good view kept:\n{text}");
    insta::assert_snapshot!("lost", text);
}

#[test]
fn broken_invariants_are_alarms() {
    let mut s = sample(100, 400);
    s.violations = vec!["tail 400 is ahead of head 100 by more than the publish batch 1".into()];
    let text = frame(vec![Step::Tick(Tick::of(s))]);
    assert!(
        text.contains("segment damaged: tail 400 is ahead"),
        "{text}"
    );
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (w, h) in [(20, 10), (40, 12), (80, 24), (1, 1), (300, 100)] {
        let _ = drive_sized(steady(1_000, 10, 100, 3), w, h);
        let _ = drive_sized(vec![Step::Tick(Tick::waiting("missing")), key('?')], w, h);
    }
}

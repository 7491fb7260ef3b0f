//! Whole frames of forge-top, drawn on a `TestBackend` from synthetic
//! samples: every state at four sizes, compared with insta snapshots.

mod common;

use common::*;

#[test]
fn every_state_at_every_size() {
    for (name, steps) in states() {
        for (w, h) in SIZES {
            let (_, text, _) = drive_sized(steps.clone(), w, h);
            insta::assert_snapshot!(format!("{name}@{w}x{h}"), text);
        }
    }
}

#[test]
fn below_the_minimum_the_screen_says_so() {
    let (_, text, _) = drive_sized(steady(1_000, 10, 100, 3), 59, 20);
    assert!(
        text.contains("terminal too small: need at least 60×18, have 59×20"),
        "{text}"
    );
    let (_, text, _) = drive_sized(steady(1_000, 10, 100, 3), 100, 17);
    assert!(text.contains("have 100×17"), "{text}");
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (w, h) in [(20, 10), (40, 12), (1, 1), (300, 100)] {
        let _ = drive_sized(steady(1_000, 10, 100, 3), w, h);
        let _ = drive_sized(vec![Step::Tick(Tick::waiting("missing")), key('?')], w, h);
    }
}

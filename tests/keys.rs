//! Key handling, tested through the app loop on a `TestBackend`.

mod common;

use common::*;
use crossterm::event::{KeyCode, MouseEventKind};
use forge_top::app::{DetailMode, Effect};

fn ring() -> Vec<Step> {
    steady(10_000, 100, 1_000, 3)
}

fn with(mut steps: Vec<Step>, more: Vec<Step>) -> Vec<Step> {
    steps.extend(more);
    steps
}

fn tick(head: u64) -> Step {
    Step::Tick(Tick::of(sample(head, head - 100)))
}

#[test]
fn follow_is_on_at_start_and_selects_the_newest_frame() {
    let (app, _, _) = drive(ring());
    assert!(app.follow);
    // head 12_000 -> newest frame at position 11_999, slot 11_999 % 512.
    assert_eq!(app.selected, (11_999 % 512) as u32);
}

#[test]
fn stepping_moves_the_selection_and_stops_following() {
    let start = (11_999 % 512) as u32;
    let (app, text, _) = drive(with(
        ring(),
        vec![key('k'), key('k'), key('j'), tick(13_000)],
    ));
    assert!(!app.follow);
    assert_eq!(app.selected, start - 1);
    assert!(text.contains(&format!("Slot {}", start - 1)), "{text}");
}

#[test]
fn arrows_and_pages_wrap_around_the_ring() {
    let (app, _, _) = drive(with(ring(), vec![key('g'), Step::Key(KeyCode::Up)]));
    assert_eq!(app.selected, 511);
    let (app, _, _) = drive(with(ring(), vec![key('g'), Step::Key(KeyCode::PageDown)]));
    assert_eq!(app.selected, app.list_rows());
    let (app, _, _) = drive(with(ring(), vec![key('G')]));
    assert_eq!(app.selected, 511);
}

#[test]
fn t_and_h_jump_to_the_tail_and_head_slots() {
    let (app, text, _) = drive(with(ring(), vec![key('t')]));
    assert_eq!(app.selected, (11_900 % 512) as u32);
    assert!(text.contains("jumped to tail"), "{text}");
    let (app, _, _) = drive(with(ring(), vec![key('h')]));
    assert_eq!(app.selected, (12_000 % 512) as u32);
}

#[test]
fn f_turns_following_back_on() {
    let (app, _, _) = drive(with(ring(), vec![key('g'), key('f'), tick(12_345)]));
    assert!(app.follow);
    assert_eq!(app.selected, (12_344 % 512) as u32);
}

#[test]
fn x_switches_between_decoded_and_hex() {
    let (app, text, _) = drive(with(ring(), vec![key('x')]));
    assert_eq!(app.detail_mode, DetailMode::Hex);
    assert!(text.contains("0000  "), "hex offsets:\n{text}");
    let (app, _, _) = drive(with(ring(), vec![key('x'), key('x')]));
    assert_eq!(app.detail_mode, DetailMode::Decoded);
}

#[test]
fn space_freezes_the_view_while_sampling_goes_on() {
    let (app, text, _) = drive(with(ring(), vec![key(' '), tick(50_000), tick(60_000)]));
    assert!(app.paused());
    assert_eq!(app.view().sample.as_ref().unwrap().head(), 12_000);
    assert_eq!(app.live.sample.as_ref().unwrap().head(), 60_000);
    assert!(text.contains("PAUSED · 2 samples since"), "{text}");
    let (app, _, _) = drive(with(ring(), vec![key(' '), tick(50_000), key(' ')]));
    assert!(!app.paused());
    assert_eq!(app.view().sample.as_ref().unwrap().head(), 50_000);
}

#[test]
fn b_signals_a_live_producer_and_refuses_otherwise() {
    let (_, text, fx) = drive(with(ring(), vec![key('b')]));
    assert_eq!(fx.asked, vec![Effect::Burst(4101)]);
    assert!(text.contains("sent SIGUSR1 to producer pid 4101"), "{text}");

    let mut dead = sample(10_000, 9_990);
    dead.producer.alive = Some(false);
    let (_, text, fx) = drive(vec![Step::Tick(Tick::of(dead)), key('b')]);
    assert!(fx.asked.is_empty());
    assert!(
        text.contains("no burst: producer pid 4101 is not alive"),
        "{text}"
    );

    let (_, text, fx) = drive(vec![Step::Tick(Tick::waiting("missing")), key('b')]);
    assert!(fx.asked.is_empty());
    assert!(
        text.contains("no burst: there is no live producer"),
        "{text}"
    );
}

#[test]
fn s_saves_the_frame_on_screen() {
    let (_, _, fx) = drive(with(ring(), vec![key('s')]));
    assert_eq!(fx.asked, vec![Effect::Screenshot]);
    assert!(fx.screenshots[0].contains("forge-top"));
    assert!(fx.screenshots[0].contains("Slots"));
}

#[test]
fn question_mark_opens_help_and_escape_closes_it() {
    let (app, _, _) = drive(with(ring(), vec![key('?')]));
    assert!(app.help);
    let (app, _, _) = drive(with(ring(), vec![key('?'), Step::Key(KeyCode::Esc)]));
    assert!(!app.help);
}

#[test]
fn q_quits_before_later_events() {
    let (app, _, _) = drive(with(ring(), vec![key('q'), tick(99_000)]));
    assert!(app.quit);
    assert_eq!(app.live.sample.as_ref().unwrap().head(), 12_000);
}

#[test]
fn the_mouse_wheel_scrolls_and_a_click_selects() {
    let (app, _, _) = drive(with(
        ring(),
        vec![key('g'), Step::Mouse(MouseEventKind::ScrollDown, 10, 30)],
    ));
    assert_eq!(app.selected, 3);
    // The list's first row is at y = 22 (title, info, banner, 9, 6, border,
    // header row) on a 120x40 terminal.
    let first_row = forge_top::ui::areas(ratatui::layout::Rect::new(0, 0, 120, 40))
        .slot_list_inner()
        .y;
    let (app, _, _) = drive(with(
        ring(),
        vec![
            key('g'),
            Step::Mouse(
                MouseEventKind::Down(crossterm::event::MouseButton::Left),
                5,
                first_row + 4,
            ),
        ],
    ));
    assert_eq!(app.selected, 4);
}

#[test]
fn plus_and_minus_change_the_refresh_within_bounds() {
    let (app, _, _) = drive(with(ring(), vec![key('+')]));
    assert_eq!(app.refresh().as_millis(), 50);
    let (app, _, _) = drive(with(ring(), vec![key('-'); 10]));
    assert_eq!(app.refresh().as_secs(), 5);
}

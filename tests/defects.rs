//! Issue 22's defects, one test each (`issue22_N_…`), driven through the app
//! on a `TestBackend` with synthetic rings. Each failed on main before its
//! fix.

mod common;

use common::*;
use forge_top::model::*;

fn settle_at(steps: Vec<Step>) -> forge_top::app::App {
    settle(steps, 120, 40).0
}

#[test]
fn issue22_4_once_text_says_stopped_for_a_clean_stop_as_the_tui_and_json_do() {
    let mut s = sample(20_000, 20_000);
    stopped(&mut s, Role::Producer, 3_000_000_000);
    dead(&mut s, Role::Consumer, 3_000_000_000);
    let app = settle_at(then(s));
    let text = forge_top::export::text_report(&app);
    let producer = text.lines().find(|l| l.starts_with("producer")).unwrap();
    assert!(producer.contains(" stopped,"), "{producer}");
    assert!(!producer.contains("DEAD"), "{producer}");
    let consumer = text.lines().find(|l| l.starts_with("consumer")).unwrap();
    assert!(consumer.contains(" DEAD,"), "{consumer}");
    let json = forge_top::export::json(&app);
    assert!(
        json.contains(r#""liveness": "stopped""#) || json.contains(r#""liveness":"stopped""#),
        "{json}"
    );
}

#[test]
fn issue22_12_an_ordinary_user_error_prints_no_backtrace_even_when_asked() {
    let name = format!("/forge_test_nobt_{}", std::process::id());
    for args in [
        vec!["--once", "--no-wait", "--segment", name.as_str()],
        vec![
            "--once",
            "--no-wait",
            "--format",
            "json",
            "--segment",
            name.as_str(),
        ],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_forge-top"))
            .args(&args)
            .env("RUST_BACKTRACE", "1")
            .env("RUST_LIB_BACKTRACE", "1")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("does not exist") || err.contains("no segment"),
            "{err}"
        );
        assert!(
            !err.contains("backtrace") && !err.contains(" at "),
            "{args:?}: {err}"
        );
        assert!(err.lines().count() <= 2, "one paragraph: {err}");
    }
}

fn tick(head: u64) -> Step {
    Step::Tick(Tick::of(sample(head, head - 100)))
}

fn with(mut steps: Vec<Step>, more: Vec<Step>) -> Vec<Step> {
    steps.extend(more);
    steps
}

fn ring() -> Vec<Step> {
    steady(10_000, 100, 1_000, 3)
}

#[test]
fn issue22_2_a_freeze_holds_the_slot_image_only_and_the_panels_stay_live() {
    let mut stalled_at = sample(60_000, 59_900);
    stalled(&mut stalled_at, Role::Producer, 5_000_000_000);
    let (app, text, _) = drive(with(
        ring(),
        vec![
            key(' '),
            tick(50_000),
            Step::Tick(Tick::of(stalled_at.clone()).after(3_000)),
            Step::Tick(Tick::of(stalled_at).after(100)),
        ],
    ));
    assert!(app.paused());
    // The header, rates and daemons are of now…
    assert_eq!(app.view().sample.as_ref().unwrap().head(), 60_000);
    assert!(text.contains("producer 4101 ◐ STALLED"), "{text}");
    assert!(!text.contains("producer 4101 ● running"), "{text}");
    // … and only the slots are of the copy.
    let image = app.frozen.as_ref().unwrap().image.as_ref().unwrap();
    assert_eq!(image.slots[1].copy.position, Some(49_665));
    assert!(text.contains("frozen copy"), "{text}");
}

#[test]
fn issue22_6_the_frozen_detail_says_space_thaws_not_that_space_freezes() {
    // Select slot 1 live, let the producer lap it, then freeze.
    let (app, text, _) = drive_sized(
        with(
            ring(),
            vec![key('g'), key('j'), tick(40_000), key(' '), tick(41_000)],
        ),
        160,
        48,
    );
    assert!(app.paused());
    assert!(text.contains("overwritten"), "{text}");
    assert!(!text.to_lowercase().contains("space freezes"), "{text}");
    assert!(text.contains("space thaws"), "{text}");
}

#[test]
fn issue22_18_a_freeze_writes_no_file_reports_its_memory_and_gives_it_back_on_thaw() {
    let (app, _, fx) = drive(with(ring(), vec![key(' '), tick(50_000)]));
    assert!(app.paused());
    assert!(
        !fx.asked.iter().any(|e| format!("{e:?}").contains("Image")),
        "a freeze asked for a file: {:?}",
        fx.asked
    );
    let status = app
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(status.contains("KiB") || status.contains("MiB"), "{status}");
    let (app, _, _) = drive(with(
        ring(),
        vec![key(' '), tick(50_000), key(' '), tick(51_000)],
    ));
    assert!(app.frozen.is_none());
}

#[test]
fn issue22_3_a_live_search_is_found_again_as_the_ring_moves_on() {
    let mut steps = with(
        ring(),
        vec![key('/'), key('m'), key('e'), key('t'), key('r')],
    );
    steps.push(key('i'));
    steps.push(key('c'));
    steps.push(Step::Key(crossterm::event::KeyCode::Enter));
    steps.extend((0..15).map(|i| tick(13_000 + i * 1_000)));
    let (app, _, _) = drive(steps);
    let search = app.search.as_ref().unwrap();
    // The last tick's head is 27_000 and a tick is 100 ms: the matches come
    // from a copy no older than about a second (ten ticks).
    let newest = search
        .rows
        .iter()
        .filter_map(|r| r.copy.position)
        .max()
        .unwrap();
    assert!(
        newest >= 17_000,
        "matches from a stale copy: newest {newest}"
    );
}

#[test]
fn issue22_3_a_search_made_while_frozen_is_not_kept_after_thawing() {
    let mut steps = with(
        ring(),
        vec![key(' '), tick(50_000), key('/'), key('d'), key('o')],
    );
    steps.push(key('n'));
    steps.push(key('e'));
    steps.push(Step::Key(crossterm::event::KeyCode::Enter));
    steps.push(key(' '));
    steps.push(tick(90_000));
    let (app, text, _) = drive(steps);
    assert!(!app.paused());
    let search = app.search.as_ref().unwrap();
    let newest = search
        .rows
        .iter()
        .filter_map(|r| r.copy.position)
        .max()
        .unwrap_or(0);
    assert!(
        newest > 50_000,
        "frozen matches kept after thawing: newest {newest}\n{text}"
    );
}

#[test]
fn issue22_17_a_lapped_selection_says_how_fast_the_ring_laps() {
    let (_, text, _) = drive_sized(
        with(
            steady(1_000_000, 100, 100_000, 3),
            vec![key('g'), key('j'), tick(1_400_000), tick(1_500_000)],
        ),
        160,
        48,
    );
    assert!(text.contains("overwritten"), "{text}");
    assert!(text.contains("laps every"), "{text}");
}

fn log(app: &forge_top::app::App) -> Vec<String> {
    app.alarms.log.iter().map(|e| e.text.clone()).collect()
}

#[test]
fn issue22_14_a_burst_report_says_why_more_frames_went_out_than_were_asked() {
    let mut s = sample(10_000, 9_990);
    s.header.pace.burst = 3_000;
    s.header.pace.target_rate = 10_000;
    let mut steps = vec![Step::Tick(Tick::of(s.clone())), key('b')];
    for head in [11_000u64, 12_000, 15_800] {
        let mut t = s.clone();
        t.header.head = head;
        t.header.producer.index = head;
        steps.push(Step::Tick(Tick::of(t)));
    }
    let (app, _, _) = drive(steps);
    let done = log(&app)
        .into_iter()
        .find(|l| l.starts_with("burst of pid 4101 done"))
        .expect("burst reported");
    assert!(done.contains("5,800"), "{done}");
    assert!(done.contains("3,000 asked"), "{done}");
    assert!(done.contains("2,800 more"), "{done}");
}

#[test]
fn issue22_16_the_newest_most_severe_fact_leads_and_a_removed_segment_is_not_live() {
    let mut s = sample(20_000, 19_900);
    dead(&mut s, Role::Producer, 3_000_000_000);
    let mut steps = then(s.clone());
    steps.push(Step::Tick(Tick::of(s.clone()).after(500)));
    steps.push(Step::Tick(
        Tick::of(s.clone()).notes(vec![SourceNote::Unlinked { session: SESSION }]),
    ));
    steps.push(Step::Tick(Tick::of(s)));
    let (app, text, _) = drive(steps);
    let first = &app.alarms.active[0];
    assert!(
        first.text.contains("was removed"),
        "{:?}",
        app.alarms.active
    );
    let title = text.lines().next().unwrap();
    assert!(!title.contains("LIVE"), "{title}");
    assert!(title.contains("REMOVED"), "{title}");
    let banner = text.lines().find(|l| l.contains("ALARM")).unwrap();
    assert!(banner.contains("was removed"), "{banner}");
}

#[test]
fn issue22_7_a_long_message_keeps_its_useful_end_and_goes_to_the_log_whole() {
    let mut steps = steady(620_000_000, 100, 1_000, 3);
    steps.push(key(':'));
    for c in "12345".chars() {
        steps.push(key(c));
    }
    steps.push(Step::Key(crossterm::event::KeyCode::Enter));
    let (app, text, _) = drive_sized(steps, 80, 24);
    let status = text.lines().last().unwrap();
    assert!(
        status.contains("620001999"),
        "the end that matters: {status:?}"
    );
    let full = "sequence 12345 is not in the ring: the ring holds positions 620001488..620001999";
    assert!(
        app.alarms.log.iter().any(|e| e.text == full),
        "{:?}",
        app.alarms.log
    );
}

#[test]
fn issue22_11_the_waiting_screen_names_the_segment_it_waits_for_in_its_commands() {
    let mut script = Script::new(vec![Step::Tick(Tick::waiting("no such segment"))]);
    let mut app = forge_top::app::App::new(
        forge_top::app::Config {
            segment: "/forge_elsewhere".into(),
            ..forge_top::app::Config::default()
        },
        (160, 48),
    );
    use forge_top::run::events::EventSource;
    while let Some(e) = script.next(&app).unwrap() {
        app.handle(e);
    }
    let text = forge_top::export::buffer_text(&forge_top::run::render_buffer(&app));
    assert!(
        text.contains("forge-init --segment /forge_elsewhere"),
        "{text}"
    );
    assert!(
        text.contains("forge-core --segment /forge_elsewhere"),
        "{text}"
    );
}

/// Found in tmux: a producer restarted (pid A → B); then `forge-init
/// --force` replaced the ring (the role vacant again) and producer C took
/// it: the daemons panel said "restarted (was pid A)" next to C for the
/// rest of the minute. A restart is news only while the holder it names
/// (B) holds the role.
#[test]
fn a_restart_notice_names_only_the_holder_that_restarted() {
    let mut steps = then(sample(6_257_000, 6_256_744));
    let mut b = sample(6_257_010, 6_256_754);
    restarted(&mut b, Role::Producer, 5101);
    steps.push(Step::Tick(Tick::of(b.clone())));
    let (_, screen) = settle(steps.clone(), 120, 40);
    assert!(screen.contains("restarted (was pid 4101)"), "{screen}");
    let mut gone = b.clone();
    vacant(&mut gone, Role::Producer);
    steps.push(Step::Tick(Tick::of(gone)));
    let mut c = sample(6_257_020, 6_256_764);
    restarted(&mut c, Role::Producer, 6101);
    steps.push(Step::Tick(Tick::of(c)));
    let (_, screen) = settle(steps, 120, 40);
    let row = screen
        .lines()
        .find(|l| l.contains("producer 6101"))
        .unwrap_or_else(|| panic!("no producer row for pid 6101:\n{screen}"));
    assert!(!row.contains("restarted"), "{row}");
}

/// Found after issue 22: `--once` said "running" where the TUI said
/// "parked", and both showed "spin ×1" for a role nobody ever took (the
/// zeros of an untouched line). Every view now says one word, and no wait
/// for a vacant role.
#[test]
fn once_text_and_the_daemon_panel_agree_on_parked_and_show_no_wait_for_a_vacant_role() {
    let mut s = sample(20_000, 20_000);
    vacant(&mut s, Role::Producer);
    let (consumer, _) = role_mut(&mut s, Role::Consumer);
    consumer.wait_strategy = WaitStrategy::Park.into();
    consumer.sleeping = true;
    let (app, screen) = settle(then(s), 160, 48);
    let text = forge_top::export::text_report(&app);
    let producer = text.lines().find(|l| l.starts_with("producer")).unwrap();
    assert!(producer.contains(" vacant,"), "{producer}");
    assert!(producer.contains(", wait -,"), "{producer}");
    let consumer = text.lines().find(|l| l.starts_with("consumer")).unwrap();
    assert!(consumer.contains(" parked,"), "{consumer}");
    assert!(consumer.contains(", wait park ×"), "{consumer}");
    let row = |role: &str| {
        screen
            .lines()
            .find(|l| l.contains(&format!("│{role} ")))
            .unwrap_or_else(|| panic!("no {role} row:\n{screen}"))
            .to_owned()
    };
    assert!(row("consumer").contains("● parked"), "{screen}");
    assert!(!row("producer").contains("spin"), "{screen}");
}

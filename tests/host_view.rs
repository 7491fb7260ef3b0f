//! The host view (issue 23) from synthetic hosts: every state at four
//! sizes as insta snapshots, the keys (sort by any column, filter, Enter
//! and Esc), the event log (a ring that appears or disappears is one line;
//! an alarm on any ring shows), and the property the table rests on:
//! nothing shown is a cut piece of something else, at any size.

mod common;

use std::collections::HashSet;

use common::host::*;
use common::*;
use crossterm::event::KeyCode;
use forge_top::app::{HostColumn, Screen};
use forge_top::model::*;
use proptest::prelude::*;

fn chars(s: &str) -> Vec<Step> {
    s.chars().map(key).collect()
}

fn with(mut steps: Vec<Step>, more: Vec<Step>) -> Vec<Step> {
    steps.extend(more);
    steps
}

fn log(app: &forge_top::app::App) -> Vec<String> {
    app.host
        .as_ref()
        .unwrap()
        .events
        .log
        .iter()
        .map(|e| e.text.clone())
        .collect()
}

fn row_names(app: &forge_top::app::App) -> Vec<String> {
    let h = app.host.as_ref().unwrap();
    h.rows().iter().map(|r| r.name.clone()).collect()
}

/// Every host state the screen tests render, by name.
fn host_states() -> Vec<(&'static str, Vec<Step>)> {
    vec![
        ("host_mixed", mixed_host()),
        ("host_empty", vec![Step::Host(HostTick::of(Vec::new()))]),
        (
            "host_filtered_to_nothing",
            with(
                mixed_host(),
                with(
                    vec![key('/')],
                    with(chars("zzz"), vec![Step::Key(KeyCode::Enter)]),
                ),
            ),
        ),
        ("host_sorted_by_fill", with(mixed_host(), chars(">>>>>>>"))),
        (
            "host_events_focused",
            with(mixed_host(), vec![Step::Key(KeyCode::Tab)]),
        ),
        ("host_help", with(mixed_host(), vec![key('?')])),
    ]
}

#[test]
fn every_host_state_at_every_size() {
    for (name, steps) in host_states() {
        for (w, h) in SIZES {
            let (_, text, _) = drive_host(steps.clone(), w, h);
            insta::assert_snapshot!(format!("{name}@{w}x{h}"), text);
        }
    }
}

#[test]
fn below_the_minimum_the_host_view_says_so_with_the_size_it_needs() {
    let (_, text, _) = drive_host(mixed_host(), 59, 24);
    assert!(
        text.contains("terminal too small: need at least 60×18, have 59×24"),
        "{text}"
    );
    for (w, h) in [(1, 1), (20, 10), (300, 100)] {
        let _ = drive_host(mixed_host(), w, h);
    }
}

#[test]
fn liveness_and_alarms_are_the_ring_views_own() {
    let (app, text, _) = drive_host(mixed_host(), 220, 60);
    let h = app.host.as_ref().unwrap();
    let ring = |n: &str| h.rings.get(n).unwrap();
    let lidar = ring("/feed_lidar").sample().unwrap();
    assert_eq!(lidar.producer.liveness, Liveness::Dead);
    assert_eq!(
        ring("/feed_imu").sample().unwrap().consumer.liveness,
        Liveness::Stalled
    );
    // The ring view's alarm, word for word, on the ring it belongs to.
    let dead = ring("/feed_lidar").worst().unwrap();
    assert!(
        dead.text
            .starts_with("producer is dead: pid 4101 left the role active"),
        "{dead:?}"
    );
    assert!(text.contains("✗ DEAD 4101 forge-stream"), "{text}");
    assert!(text.contains("◐ STALLED 4102 forge-core"), "{text}");
    assert!(text.contains("▲ producer dead"), "{text}");
    // The full ring alarms once it stayed full past --full (1 s).
    assert!(ring("/bridge_far_ring")
        .alarms
        .active
        .iter()
        .any(|a| a.text.starts_with("ring full for 2.0s")));
    // The banner leads with the worst, named.
    assert!(
        text.lines()
            .nth(2)
            .unwrap()
            .contains("ALARMS  /feed_lidar: producer is dead"),
        "{text}"
    );
}

#[test]
fn enter_opens_the_selected_ring_in_the_ring_view_and_esc_comes_back() {
    // Sorted by name: /being_made, /bridge_far_ring, /feed_camera…, …
    let steps = with(
        mixed_host(),
        vec![key('j'), key('j'), Step::Key(KeyCode::Enter)],
    );
    let (app, text, _) = drive_host(with(steps.clone(), vec![key('x')]), 120, 40);
    assert_eq!(app.screen, Screen::Ring);
    assert_eq!(
        app.config.segment,
        "/feed_camera_front_left_2026_calibrated"
    );
    // The status bar says how to come back, with the Escape binding's key.
    assert!(text.contains(" Esc  host view"), "{text}");
    let (app, text, _) = drive_host(with(steps, vec![Step::Key(KeyCode::Esc)]), 120, 40);
    assert_eq!(app.screen, Screen::Host);
    assert!(text.contains(" HOST "), "{text}");
    assert_eq!(
        app.host.as_ref().unwrap().selected.as_deref(),
        Some("/feed_camera_front_left_2026_calibrated")
    );
}

#[test]
fn a_ring_not_readable_by_you_is_not_opened_and_says_whose_it_is() {
    let steps = with(
        mixed_host(),
        with(
            chars("/someone"),
            vec![Step::Key(KeyCode::Enter), Step::Key(KeyCode::Enter)],
        ),
    );
    let (app, text, _) = drive_host(steps, 160, 48);
    assert_eq!(app.screen, Screen::Host);
    assert!(
        text.contains("/someone_elses is not readable by you (owner alice uid 1001, mode 0600)"),
        "{text}"
    );
    assert!(text.contains("not readable by you"), "{text}");
}

#[test]
fn every_column_sorts_and_r_reverses() {
    for (steps, column) in HostColumn::ALL.iter().enumerate() {
        let keys = std::iter::repeat_n(key('>'), steps).collect();
        let (app, _) = settle_host(with(mixed_host(), keys), 220, 60);
        let h = app.host.as_ref().unwrap();
        assert_eq!(h.sort, *column);
        let names = row_names(&app);
        let (app, _) = settle_host(
            with(
                mixed_host(),
                std::iter::repeat_n(key('>'), steps)
                    .chain([key('r')])
                    .collect(),
            ),
            220,
            60,
        );
        let reversed = row_names(&app);
        assert_ne!(names, reversed, "{column:?} did not reverse");
        assert_eq!(names.len(), reversed.len());
    }
    // Largest first where it matters: the full ring leads by fill, the
    // dead producer by alarm.
    let by = |n: usize| {
        settle_host(
            with(mixed_host(), std::iter::repeat_n(key('>'), n).collect()),
            220,
            60,
        )
        .0
    };
    assert_eq!(row_names(&by(7))[0], "/bridge_far_ring");
    let alarms = row_names(&by(9));
    assert!(
        ["/feed_lidar", "/bridge_far_ring", "/feed_imu"].contains(&alarms[0].as_str()),
        "{alarms:?}"
    );
    assert_eq!(row_names(&by(0))[0], "/being_made");
    assert_eq!(
        row_names(&by(5))[0],
        "/feed_camera_front_left_2026_calibrated"
    );
    // `<` goes the other way round.
    assert_eq!(
        settle_host(with(mixed_host(), vec![key('<')]), 220, 60)
            .0
            .host
            .unwrap()
            .sort,
        HostColumn::Alarm
    );
}

#[test]
fn the_filter_narrows_as_it_is_typed_and_esc_clears_it() {
    let typing = with(mixed_host(), with(vec![key('/')], chars("feed")));
    let (app, text, _) = drive_host(typing.clone(), 120, 40);
    assert_eq!(
        row_names(&app),
        vec![
            "/feed_camera_front_left_2026_calibrated",
            "/feed_imu",
            "/feed_lidar",
            "/old_feed"
        ]
    );
    assert!(text.contains("/feed▏"), "{text}");
    // A program, a state, a pid, an alarm word find rings too.
    for (what, expect) in [
        ("forge-bridge", "/from_host_b"),
        ("retired", "/old_feed"),
        ("stalled", "/feed_imu"),
        ("not readable", "/someone_elses"),
    ] {
        let (app, _) = settle_host(
            with(
                mixed_host(),
                with(
                    vec![key('/')],
                    with(chars(what), vec![Step::Key(KeyCode::Enter)]),
                ),
            ),
            120,
            40,
        );
        assert_eq!(row_names(&app), vec![expect], "{what}");
    }
    // Esc in the prompt gives the typing up; Esc after Enter clears it.
    let (app, _) = settle_host(with(typing.clone(), vec![Step::Key(KeyCode::Esc)]), 120, 40);
    assert_eq!(row_names(&app).len(), 10);
    let (app, _) = settle_host(
        with(
            typing,
            vec![Step::Key(KeyCode::Enter), Step::Key(KeyCode::Esc)],
        ),
        120,
        40,
    );
    assert!(app.host.as_ref().unwrap().filter.is_empty());
    assert_eq!(row_names(&app).len(), 10);
}

#[test]
fn a_ring_that_appears_or_disappears_is_one_line_in_the_log() {
    let a = named("/a", sample(1_000, 990));
    let b = named("/b", sample(2_000, 1_990));
    let mut c_sample = sample(3_000, 2_990);
    dead(&mut c_sample, Role::Consumer, 5_000_000_000);
    let c = named("/c", c_sample);
    let first = vec![a.clone(), b.clone()];
    let steps = vec![
        Step::Host(HostTick::of(first.clone()).changes(appeared(&first))),
        // /b selected: when it goes, the ring that takes its row is.
        key('j'),
        Step::Host(
            HostTick::of(vec![a.clone(), b.clone(), c.clone()])
                .changes(vec![HostChange::Appeared { name: "/c".into() }]),
        ),
        Step::Host(
            HostTick::of(vec![a.clone(), c.clone()])
                .changes(vec![HostChange::Disappeared { name: "/b".into() }]),
        ),
        Step::Host(HostTick::of(vec![a, c])),
    ];
    let (app, text, _) = drive_host(steps, 160, 48);
    let log = log(&app);
    assert_eq!(log[0], "found 2 Forge rings in /dev/shm: 2 live", "{log:?}");
    let said = |what: &str| log.iter().filter(|l| l.contains(what)).count();
    assert_eq!(said("/c appeared"), 1, "{log:?}");
    assert_eq!(said("/b disappeared"), 1, "{log:?}");
    assert_eq!(said("/a"), 0, "{log:?}");
    // What a ring that appears is like, said at once: its alarm too.
    assert!(
        log.iter().any(|l| l.starts_with("/c appeared: live, producer running pid 4101, consumer DEAD pid 4102; alarm: consumer dead")),
        "{log:?}"
    );
    // Its first observation's own lines are not repeated.
    assert_eq!(said("/c: consumer"), 0, "{log:?}");
    assert!(text.contains("/c appeared"), "{text}");
    assert_eq!(app.host.as_ref().unwrap().rings.len(), 2);
    assert_eq!(app.host.as_ref().unwrap().selected.as_deref(), Some("/c"));
}

#[test]
fn an_alarm_raised_on_any_ring_shows_in_the_host_view_and_its_log() {
    let healthy = || named("/feed", sample(5_000, 4_990));
    let mut died = sample(6_000, 5_990);
    dead(&mut died, Role::Producer, 2_500_000_000);
    let first = vec![healthy(), named("/other", sample(10, 10))];
    let steps = vec![
        Step::Host(HostTick::of(first.clone()).changes(appeared(&first))),
        Step::Host(HostTick::of(vec![
            healthy(),
            named("/other", sample(10, 10)),
        ])),
        Step::Host(HostTick::of(vec![
            named("/feed", died),
            named("/other", sample(10, 10)),
        ])),
    ];
    let (app, text, _) = drive_host(steps, 160, 48);
    let log = log(&app);
    assert!(
        log.iter()
            .any(|l| l == "/feed: producer died without a clean stop (pid 4101)"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("/feed: producer is dead: pid 4101")),
        "{log:?}"
    );
    assert!(text.contains("▲ ALARM  /feed: producer is dead"), "{text}");
    assert!(text.contains(" 1 ALARM "), "{text}");
}

#[test]
fn a_re_initialized_ring_is_one_event_and_its_rates_start_over() {
    let old = named("/feed", sample(5_000, 4_990));
    let mut fresh = sample(0, 0);
    fresh.header.identity.session_id = NEXT_SESSION;
    vacant(&mut fresh, Role::Producer);
    vacant(&mut fresh, Role::Consumer);
    let mut fresh = named("/feed", fresh);
    fresh.session_changes = 1;
    let steps = vec![
        Step::Host(HostTick::of(vec![old.clone()]).changes(appeared(std::slice::from_ref(&old)))),
        Step::Host(HostTick::of(vec![named("/feed", sample(6_000, 5_990))])),
        Step::Host(
            HostTick::of(vec![fresh]).changes(vec![HostChange::Replaced {
                name: "/feed".into(),
                old: SESSION,
                new: NEXT_SESSION,
            }]),
        ),
    ];
    let (app, _, _) = drive_host(steps, 160, 48);
    let log = log(&app);
    let reinit: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("re-initialized"))
        .collect();
    assert_eq!(
        reinit,
        vec!["/feed: segment re-initialized: session 0x5eed0000cafef00d replaced by session 0x7a110000beef0001; re-attached"],
        "{log:?}"
    );
    let ring = app.host.as_ref().unwrap().rings.get("/feed").unwrap();
    assert_eq!(ring.rates.frames_per_s, 0.0);
    assert_eq!(ring.session_changes, 1);
}

#[test]
fn json_gives_the_same_rings_with_sessions_as_hex() {
    let (app, _) = settle_host(mixed_host(), 120, 40);
    let v: serde_json::Value = serde_json::from_str(&forge_top::export::host_json(&app)).unwrap();
    let rings = v["rings"].as_array().unwrap();
    assert_eq!(rings.len(), 10);
    let names: Vec<&str> = rings.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, row_names(&app));
    let shm = rings.iter().find(|r| r["name"] == "/forge_shm").unwrap();
    assert_eq!(shm["session"], "0x5eed0000cafef00d");
    assert_eq!(shm["state"], "live");
    assert_eq!(shm["producer"]["liveness"], "running");
    assert_eq!(shm["frames_per_s"], 1000.0);
    let old = rings.iter().find(|r| r["name"] == "/old_feed").unwrap();
    assert_eq!(old["state"], "retired");
    assert_eq!(old["successor"], "0x7a110000beef0001");
    let theirs = rings
        .iter()
        .find(|r| r["name"] == "/someone_elses")
        .unwrap();
    assert_eq!(theirs["state"], "unreadable");
    assert_eq!(theirs["unreadable"]["reason"], "permission");
    assert_eq!(theirs["unreadable"]["owner"], "alice");
    assert_eq!(theirs["unreadable"]["mode"], "0600");
    let lidar = rings.iter().find(|r| r["name"] == "/feed_lidar").unwrap();
    assert_eq!(lidar["alarm"]["key"]["alarm"], "dead", "{lidar}");
    assert_eq!(lidar["producer"]["liveness"], "dead");
    // The text table is the screen's columns, in the same order.
    let text = forge_top::ui::host::text(app.host.as_ref().unwrap());
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("name ▲"), "{text}");
    for (line, name) in lines[1..].iter().zip(row_names(&app)) {
        assert!(line.starts_with(&name), "{line} / {name}");
    }
    assert!(text.contains("producer is dead: pid 4101"), "{text}");
}

// ---- nothing is cut: the property test ----

fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || ".,:_@%µ…".contains(c)
}

fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !is_token_char(c))
        .map(|t| t.trim_end_matches([':', ',', '.']))
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

fn legit(reference: &str) -> HashSet<String> {
    legit_with(reference, &[])
}

/// The reference's tokens, and the ring names the model holds (the
/// reference may show a long name shortened too).
fn legit_with(reference: &str, names: &[String]) -> HashSet<String> {
    let mut set: HashSet<String> = tokens(reference).into_iter().collect();
    set.extend(names.iter().flat_map(|n| tokens(n)));
    for t in set.clone() {
        if let Ok(n) = t.parse::<u64>() {
            set.insert(human::si(n as f64));
        }
    }
    set
}

fn is_time(t: &str) -> bool {
    t.len() == 12
        && t.char_indices().all(|(i, c)| match i {
            2 | 5 => c == ':',
            8 => c == '.',
            _ => c.is_ascii_digit(),
        })
}

fn is_percentage(t: &str) -> bool {
    t.strip_suffix('%')
        .and_then(|n| n.parse::<f64>().ok())
        .is_some_and(|p| (0.0..=100.0).contains(&p))
}

/// A name shortened around an ellipsis keeps a real name's start and end.
fn is_shortened(t: &str, ok: &HashSet<String>) -> bool {
    let Some((a, b)) = t.split_once('…') else {
        return false;
    };
    // At least one character left out, between a real name's start and end.
    let kept = a.chars().count() + b.chars().count();
    ok.iter()
        .any(|l| l.chars().count() > kept && l.starts_with(a) && l.ends_with(b))
}

#[derive(Debug, Clone)]
struct HostState {
    rings: Vec<(u8, u16, u64)>,
    keys: Vec<char>,
}

fn host_state() -> impl Strategy<Value = HostState> {
    (
        proptest::collection::vec(
            (
                0u8..9,
                1u16..60,
                prop_oneof![
                    Just(0u64),
                    1u64..1_000,
                    1_000u64..100_000_000,
                    1_000_000_000u64..u64::MAX / 8
                ],
            ),
            0..30,
        ),
        proptest::collection::vec(
            proptest::sample::select(vec!['>', '<', 'r', 'j', 'k', 'G', 'g', '\t']),
            0..5,
        ),
    )
        .prop_map(|(rings, keys)| HostState { rings, keys })
}

fn host_of(st: &HostState, t: u64) -> Vec<RingObservation> {
    st.rings
        .iter()
        .enumerate()
        .map(|(i, &(kind, name_len, head))| {
            let name = format!("/r{i}_{}", "x".repeat(usize::from(name_len)));
            let head = head.saturating_add(t * (i as u64 + 1) * 997);
            let mut s = many(i as u64, 1);
            s.header.head = head;
            s.header.tail = head.saturating_sub(i as u64 % 600);
            s.header.producer.bytes = head.wrapping_mul(200);
            match kind {
                1 => dead(&mut s, Role::Producer, 4_000_000_000),
                2 => stalled(&mut s, Role::Consumer, 7_000_000_000),
                3 => {
                    vacant(&mut s, Role::Producer);
                    vacant(&mut s, Role::Consumer);
                }
                4 => return status(&name, RingStatus::Initializing { init_pid: 77 }),
                5 => {
                    return status(
                        &name,
                        RingStatus::Retired {
                            session: SESSION,
                            successor: NEXT_SESSION,
                        },
                    )
                }
                6 => {
                    return status(
                        &name,
                        RingStatus::Unreadable {
                            reason: UnreadableReason::Permission,
                            detail: "permission denied".into(),
                            owner: None,
                        },
                    )
                }
                7 => elsewhere(&mut s, Role::Producer),
                _ => {}
            }
            named(&name, s)
        })
        .collect()
}

fn host_steps(st: &HostState) -> Vec<Step> {
    let first = host_of(st, 0);
    let mut steps = vec![
        Step::Host(HostTick::of(first.clone()).changes(appeared(&first))),
        Step::Host(HostTick::of(host_of(st, 1))),
    ];
    steps.extend(st.keys.iter().map(|&c| match c {
        '\t' => Step::Key(KeyCode::Tab),
        c => key(c),
    }));
    steps.push(Step::Host(HostTick::of(host_of(st, 2))));
    steps
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn nothing_in_the_host_view_is_cut(st in host_state(), w in 40u16..=250, h in 10u16..=80) {
        let steps = host_steps(&st);
        let (_, small) = settle_host(steps.clone(), w, h);
        if small.contains("terminal too small") {
            let words = small.split_whitespace().collect::<Vec<_>>().join(" ");
            prop_assert!(words.contains(&format!("have {w}×{h}")), "{small}");
            return Ok(());
        }
        // Wide and tall enough for every column at its longest and every
        // row (a buffer holds at most 65,535 cells).
        let (app, reference) = settle_host(steps, 500, 128);
        let names: Vec<String> = app.host.as_ref().unwrap().rings.keys().cloned().collect();
        let ok = legit_with(&reference, &names);
        for t in tokens(&small) {
            prop_assert!(
                ok.contains(&t) || is_percentage(&t) || is_time(&t) || t.ends_with('…')
                    || is_shortened(&t, &ok),
                "{t:?} at {w}x{h} is not a value the model holds:\n{small}"
            );
        }
    }
}

#[test]
fn the_host_checker_catches_a_cut_number_and_a_cut_name() {
    let ok = legit("/forge_camera_2_front_left 6257000 0x5eed0000cafef00d 12.5%");
    assert!(ok.contains("6.26M"));
    assert!(!ok.contains("62570"));
    assert!(is_shortened("forge_ca…t_left", &ok));
    assert!(!is_shortened("forge_ca…t_lef", &ok));
    assert!(!ok.contains("0x5eed0000caf"));
}

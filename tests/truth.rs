//! The property the whole layout rests on: at any size, whatever the state,
//! nothing shown is a cut-off piece of something else.
//!
//! A random state is drawn at a random size and at a reference size large
//! enough for every longest form (400×560: every slot row and every column).
//! Every token holding a digit (a run of letters, digits and `.,:_@%µ`) on
//! the small screen must be a token of the reference screen, or the short
//! form (`6.26M`) of one of its integers, or a whole percentage (bars merge
//! at small sizes), or end in `…` (an announced shortening). A number cut by
//! the screen edge, `62570` for 6257000 or `×3` for `×32`, is none of these.

mod common;

use std::collections::HashSet;

use common::*;
use forge_top::model::{human, Role};
use proptest::prelude::*;

fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || ".,:_@%µ…".contains(c)
}

fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !is_token_char(c))
        // Sentence punctuation after a number is not part of it.
        .map(|t| t.trim_end_matches([':', ',', '.']))
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

fn legit(reference: &str, app: &forge_top::app::App) -> HashSet<String> {
    let mut set: HashSet<String> = tokens(reference).into_iter().collect();
    // The reference shows only so many slot rows: every slot's numbers are
    // values the model holds too.
    if let Some(s) = &app.live.sample {
        for i in 0..s.slot_count() {
            let v = slot(s, i, false);
            set.insert(i.to_string());
            if let Some(p) = v.copy.position {
                set.insert(p.to_string());
                set.insert(format!("@{p}"));
            }
        }
    }
    for t in set.clone() {
        if let Ok(n) = t.parse::<u64>() {
            set.insert(human::si(n as f64));
        }
    }
    set
}

/// A whole time of day (`12:00:00.200`): log lines depend on which slots a
/// screen sampled, and a time cut short would lose its milliseconds.
fn is_time(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 12
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

#[derive(Debug, Clone)]
struct State {
    head: u64,
    lag: u64,
    batch: u32,
    producer: u8,
    consumer: u8,
    ticks: u8,
    keys: Vec<char>,
    torn: Vec<u32>,
}

fn state() -> impl Strategy<Value = State> {
    (
        prop_oneof![
            Just(0u64),
            1u64..1_000,
            1_000u64..10_000_000,
            1_000_000_000u64..u64::MAX / 4
        ],
        0u64..=512,
        1u32..=64,
        0u8..6,
        0u8..6,
        1u8..4,
        proptest::collection::vec(
            proptest::sample::select(vec!['g', 'G', 'j', 'k', 't', 'h', 'f', ' ']),
            0..4,
        ),
        proptest::collection::vec(0u32..512, 0..3),
    )
        .prop_map(
            |(head, lag, batch, producer, consumer, ticks, keys, torn)| State {
                head,
                lag,
                batch,
                producer,
                consumer,
                ticks,
                keys,
                torn,
            },
        )
}

fn build(st: &State) -> Vec<Step> {
    let mut steps = Vec::new();
    for i in 0..u64::from(st.ticks) {
        let head = st.head.saturating_add(i * 997);
        let mut s = sample(head, head.saturating_sub(st.lag));
        s.header.producer.batch = st.batch;
        for (role, how) in [(Role::Producer, st.producer), (Role::Consumer, st.consumer)] {
            match how {
                1 => vacant(&mut s, role),
                2 => stopped(&mut s, role, 3_000_000_000),
                3 => dead(&mut s, role, 4_000_000_000),
                4 => stalled(&mut s, role, 6_000_000_000),
                5 => elsewhere(&mut s, role),
                _ => {}
            }
        }
        steps.push(Step::Tick(Tick::of(s).torn(st.torn.clone())));
        if i == 0 {
            steps.extend(st.keys.iter().map(|&c| key(c)));
        }
    }
    steps
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn nothing_shown_is_cut(st in state(), w in 40u16..=250, h in 10u16..=80) {
        let steps = build(&st);
        let (_, small) = settle(steps.clone(), w, h);
        if small.contains("terminal too small") {
            let words = small.split_whitespace().collect::<Vec<_>>().join(" ");
            prop_assert!(words.contains(&format!("have {w}×{h}")), "{small}");
            return Ok(());
        }
        let (app, reference) = settle(steps, 250, 262);
        let ok = legit(&reference, &app);
        for t in tokens(&small) {
            prop_assert!(
                ok.contains(&t) || is_percentage(&t) || is_time(&t) || t.ends_with('…'),
                "{t:?} at {w}x{h} is not a value the model holds:\n{small}"
            );
        }
    }
}

#[test]
fn the_checker_catches_a_cut_number() {
    let reference = "head 6257000  spin ×32  p99 1.9µs";
    let app = forge_top::app::App::new(forge_top::app::Config::default(), (80, 24));
    let ok = legit(reference, &app);
    assert!(ok.contains("6257000") && ok.contains("6.26M") && ok.contains("1.9µs"));
    assert!(!ok.contains("62570"));
    assert!(!ok.contains("3"));
    assert!(tokens("spin ×3").iter().all(|t| !ok.contains(t)));
}

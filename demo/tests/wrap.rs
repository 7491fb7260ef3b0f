//! Ring positions wrap at 2^64 (issue 19, case 6): the daemons stream and
//! verify across the wrap, and forge-top calls a sound ring whose tail is
//! just below 2^64 and head just past 0 sound.

mod common;

use std::time::Duration;

use common::{at, Bin, Rig};

const T: Duration = Duration::from_secs(60);

#[test]
fn the_daemons_stream_and_verify_across_2_64() {
    let mut rig = Rig::new("wrap_daemons");
    rig.init(&["--slots", "64"]);
    let start = u64::MAX - 99;
    rig.poke(at::TAIL, &start.to_le_bytes());
    rig.poke(at::HEAD, &start.to_le_bytes());
    let core = rig.spawn(
        Bin::Core,
        &[
            "--verify", "--count", "1000", "--wait", "yield", "--report", "json",
        ],
    );
    let stream = rig.spawn(Bin::Stream, &["--count", "1000", "--wait", "yield"]);
    rig.wait(stream, T).expect_code(0);
    let out = rig.wait(core, T);
    out.expect_code(0);
    let v = out.json();
    assert_eq!(v["frames"], 1000, "{v}");
    assert_eq!(v["first_sequence"].as_u64(), Some(start), "{v}");
    assert_eq!(v["next_sequence"].as_u64(), Some(start.wrapping_add(1000)));
    for k in ["gaps", "duplicates", "corrupt"] {
        assert_eq!(v[k], 0, "{k}: {v}");
    }
}

#[test]
fn forge_top_calls_a_sound_ring_across_the_wrap_sound() {
    let mut rig = Rig::new("wrap_top");
    rig.init(&["--slots", "64"]);
    // tail 2^64 - 3, then 8 frames nobody reads: head 5, 8 in flight.
    let start = u64::MAX - 2;
    rig.poke(at::TAIL, &start.to_le_bytes());
    rig.poke(at::HEAD, &start.to_le_bytes());
    rig.run(Bin::Stream, &["--count", "8", "--wait", "yield"], T)
        .expect_code(0);
    let snap = rig.snapshot();
    assert_eq!((snap.tail, snap.head), (start, 5));
    let out = rig.run(Bin::Top, &["--once", "--format", "json", "--no-wait"], T);
    out.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let alarms = v["alarms"].as_array().expect("alarms");
    assert!(alarms.is_empty(), "{alarms:?}");
    let text = rig.run(Bin::Top, &["--once", "--no-wait"], T);
    text.expect_code(0);
    assert!(text.stdout.contains("in flight 8/64"), "{}", text.stdout);
    assert!(!text.stdout.contains("damaged"), "{}", text.stdout);
}

//! SIGKILL at random points, with real processes: the producer (the
//! consumer must see a gap-free, duplicate-free, verified stream, and each
//! restarted producer must continue exactly where the frames committed so
//! far end) and the consumer (a restart resumes at the stored tail, reads
//! at most `--batch` frames twice, and skips none).
//!
//! CI runs `FORGE_KILL_POINTS` kill points per side (default 200 for the
//! producer, 100 for the consumer); the soak in TESTING.md sets it to 10,000.
//! `FORGE_KILL_SEED` replays a run (the seed is printed).

mod common;

use std::time::{Duration, Instant};

use common::{Bin, Output, Proc, Rig};
use forge_fabric::Observer;
use nix::sys::signal::Signal;

/// A small xorshift generator: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("FORGE_KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("FORGE_KILL_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn kill_points(default: u64) -> u64 {
    std::env::var("FORGE_KILL_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// SIGKILL, then collect what the process printed before it died.
fn kill_and_collect(rig: &mut Rig, p: Proc) -> Output {
    rig.signal(p, Signal::SIGKILL);
    rig.wait(p, Duration::from_secs(10))
}

/// The sequence a producer says it starts from ("… from sequence 1,234: …").
fn start_sequence(stderr: &str) -> Option<u64> {
    let rest = stderr.split(" from sequence ").nth(1)?;
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The end of what is committed: the first position at or after the shared
/// head whose slot does not hold that position's stamp. Computed from the
/// slot words through the read-only observer, independently of the
/// producer's own resume scan.
fn committed_end(obs: &Observer) -> u64 {
    let snap = obs.snapshot().expect("snapshot");
    let n = u64::from(snap.slot_count);
    let mut pos = snap.head;
    while pos < snap.tail + n {
        let slot = obs.read_slot((pos % n) as u32).expect("read_slot");
        if slot.position != Some(pos) {
            break;
        }
        pos += 1;
    }
    pos
}

/// Waits until `cond` holds on a fresh snapshot; false after `timeout`.
fn poll(obs: &Observer, timeout: Duration, cond: impl Fn(&forge_fabric::Snapshot) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond(&obs.snapshot().expect("snapshot")) {
            return true;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    false
}

#[test]
fn a_producer_killed_at_random_points_leaves_a_verified_gap_free_stream_and_each_restart_continues_it(
) {
    let points = kill_points(200);
    let mut rng = Rng::from_env();
    let mut rig = Rig::new("kill_producer");
    // A small ring laps often, so stale stamps of every lap are in play.
    rig.init(&["--slots", "64"]);
    let obs = rig.observer();
    let core = rig.spawn(
        Bin::Core,
        &["--verify", "--report", "json", "--wait", "park"],
    );
    let started = Instant::now();
    let (mut mid_stream, mut at_startup, mut checked_resumes) = (0u64, 0u64, 0u64);
    let mut expected_start = 0u64;
    for i in 0..points {
        let batch = rng.range(1, 65).to_string();
        let p = rig.spawn(
            Bin::Stream,
            &["--size", "32-256", "--wait", "park", "--batch", &batch],
        );
        let pid = rig.pid(p);
        if rng.range(0, 8) == 0 {
            // Anywhere in start-up: parsing, pinning, opening, claiming.
            std::thread::sleep(Duration::from_micros(rng.range(0, 8_000)));
            at_startup += 1;
        } else {
            assert!(
                poll(&obs, Duration::from_secs(30), |s| s.producer.pid == pid),
                "producer #{i} never took the role"
            );
            // Mid-stream: a random point in the per-frame loop.
            std::thread::sleep(Duration::from_micros(rng.range(0, 3_000)));
            mid_stream += 1;
        }
        let out = kill_and_collect(&mut rig, p);
        assert_eq!(
            out.code, None,
            "producer #{i} exited by itself:\n{}",
            out.stderr
        );
        if let Some(start) = start_sequence(&out.stderr) {
            assert_eq!(
                start, expected_start,
                "producer #{i} resumed at {start}, but the frames committed before it end at {expected_start}"
            );
            checked_resumes += 1;
        }
        expected_start = committed_end(&obs);
        assert!(
            rig.running(core),
            "the consumer stopped after kill #{i} (an integrity failure ends it)"
        );
    }
    // A last producer finishes cleanly; the consumer must then hold exactly
    // every frame ever committed, each once, each verified.
    let last = rig.spawn(
        Bin::Stream,
        &["--count", "20000", "--size", "32-256", "--wait", "park"],
    );
    let out = rig.wait(last, Duration::from_secs(60));
    out.expect_code(0);
    assert_eq!(start_sequence(&out.stderr), Some(expected_start));
    let head = rig
        .wait_for("the consumer to drain", Duration::from_secs(30), |s| {
            s.tail == s.head && s.producer.pid == 0
        })
        .head;
    assert_eq!(head, expected_start + 20_000);
    rig.signal(core, Signal::SIGTERM);
    let got = rig.wait(core, Duration::from_secs(10));
    got.expect_code(0);
    let report = got.json();
    eprintln!(
        "{points} producer kills ({mid_stream} mid-stream, {at_startup} during start-up; \
         {checked_resumes} resumes checked against the slot stamps) in {:.1} s: \
         {head} frames, gaps {}, duplicates {}, corrupt {}",
        started.elapsed().as_secs_f64(),
        report["gaps"],
        report["duplicates"],
        report["corrupt"]
    );
    assert_eq!(report["frames"], head, "{report}");
    assert_eq!(report["next_sequence"], head, "{report}");
    assert_eq!(report["gaps"], 0, "{report}");
    assert_eq!(report["duplicates"], 0, "{report}");
    assert_eq!(report["corrupt"], 0, "{report}");
}

#[test]
fn a_consumer_killed_at_random_points_resumes_at_tail_reads_at_most_batch_frames_twice_and_skips_none(
) {
    let points = kill_points(100);
    let mut rng = Rng::from_env();
    let mut rig = Rig::new("kill_consumer");
    rig.init(&["--slots", "256"]);
    let obs = rig.observer();
    let stream = rig.spawn(
        Bin::Stream,
        &["--size", "32-256", "--wait", "park", "--rate", "400000"],
    );
    let started = Instant::now();
    // Where the next consumer starts, and the shared sample count then: each
    // frame read adds one sample, so a consumer read positions
    // first .. first + (samples it added).
    let (mut first, mut samples_before, mut most_twice) = (0u64, 0u64, 0u64);
    for i in 0..points {
        let batch = rng.range(1, 65);
        let c = rig.spawn(
            Bin::Core,
            &["--verify", "--wait", "park", "--batch", &batch.to_string()],
        );
        let pid = rig.pid(c);
        assert!(
            poll(&obs, Duration::from_secs(30), |s| s.consumer.pid == pid),
            "consumer #{i} never took the role"
        );
        std::thread::sleep(Duration::from_micros(rng.range(0, 4_000)));
        let out = kill_and_collect(&mut rig, c);
        assert_eq!(
            out.code, None,
            "consumer #{i} exited by itself:\n{}",
            out.stderr
        );
        let snap = obs.snapshot().unwrap();
        let read_end = first + (snap.latency.count - samples_before);
        // It may have released one frame more than it recorded.
        assert!(
            snap.tail <= read_end + 1,
            "kill #{i}: tail {} is past the frames read (up to {read_end}): frames would be skipped",
            snap.tail
        );
        assert!(snap.tail >= first, "kill #{i}: tail went backwards");
        let twice = read_end.saturating_sub(snap.tail);
        assert!(
            twice <= batch,
            "kill #{i}: a restart reads {twice} frames again, more than --batch {batch}"
        );
        most_twice = most_twice.max(twice);
        first = snap.tail;
        samples_before = snap.latency.count;
    }
    // A last consumer reads on from the stored tail to the end, gap-free.
    let c = rig.spawn(
        Bin::Core,
        &["--verify", "--report", "json", "--wait", "park"],
    );
    rig.wait_for("frames after the restarts", Duration::from_secs(30), |s| {
        s.tail > first + 10_000
    });
    rig.signal(stream, Signal::SIGTERM);
    rig.wait(stream, Duration::from_secs(10)).expect_code(0);
    let head = rig.drained_head(Duration::from_secs(30));
    rig.signal(c, Signal::SIGTERM);
    let got = rig.wait(c, Duration::from_secs(10));
    got.expect_code(0);
    let report = got.json();
    eprintln!(
        "{points} consumer kills in {:.1} s: at most {most_twice} frames read twice; \
         the last consumer read {} .. {head} with gaps {}, duplicates {}, corrupt {}",
        started.elapsed().as_secs_f64(),
        report["first_sequence"],
        report["gaps"],
        report["duplicates"],
        report["corrupt"]
    );
    assert_eq!(
        report["first_sequence"], first,
        "resumed at the stored tail"
    );
    assert_eq!(report["next_sequence"], head);
    assert_eq!(report["frames"], head - first);
    assert_eq!(report["gaps"], 0);
    assert_eq!(report["duplicates"], 0);
    assert_eq!(report["corrupt"], 0);
}

//! A hostile writer: a second process with write access to the segment
//! scribbles random bytes over random header fields and slot words while
//! forge-stream, forge-core --verify and forge-top run. Beside it, every
//! round: a reader squats on the segment's role bytes with read locks, half
//! the rounds start with positions just below 2^64 (so they run across the
//! wrap), and some writes forge a role line naming an unrelated process
//! (pid, pid namespace and start time all true) while the burst path
//! forge-top's `b` takes (prove the producer, then SIGUSR1 through a pidfd)
//! runs in a loop. Round after round:
//!
//! - nothing panics, and nothing hangs past its timeout;
//! - every daemon ends with exit 3 or 4, or carries on with verified data
//!   (exit 0 on our SIGTERM, no gap, duplicate or corrupt frame);
//! - no frame is ever reported delivered that was not sent;
//! - the read locks keep no daemon out;
//! - the process a forged line names is never signalled;
//! - forge-top (headless, sampling throughout) raises alarms, and ends
//!   attached to the clean segment made after the last round.
//!
//! Short in `cargo test` (3 s of rounds); the documented long run is
//! `FORGE_HOSTILE_SECS=30 cargo test --release -p forge-demo --test hostile -- --nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::{at, noise, session_of, Bin, Proc, Rig};
use nix::sys::signal::Signal;

const SLOTS: u32 = 64;
/// The most any daemon may take to end after SIGTERM, however damaged its
/// segment: a hang is a failure.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// Header fields worth hitting: (offset, width). Identity, both side lines,
/// the latency block's first words.
fn targets() -> Vec<(u64, usize)> {
    let identity = [
        (0, 8),
        (8, 4),
        (12, 4),
        (16, 4),
        (20, 4),
        (24, 8),
        (32, 8),
        (40, 4),
        (44, 4),
        (48, 8),
        (64, 8),
        (72, 4),
    ];
    let side = [
        (0, 8),
        (8, 4),
        (12, 4),
        (16, 4),
        (20, 4),
        (24, 8),
        (32, 8),
        (40, 8),
        (56, 8),
        (64, 4),
        (68, 4),
        (80, 8),
        (88, 8),
        (104, 8),
    ];
    let mut out: Vec<(u64, usize)> = identity.to_vec();
    for base in [128u64, 256] {
        out.extend(side.iter().map(|&(o, w)| (base + o, w)));
    }
    out.extend((0..8).map(|k| (384 + 8 * k, 8)));
    out
}

/// Who a forged role line names: an unrelated process, by its true pid,
/// pid namespace and start time.
#[derive(Clone, Copy)]
struct Victim {
    pid: u32,
    pidns: u64,
    start_ticks: u64,
}

/// One hostile write: a header field or a slot word, with noise or with a
/// near-plausible value (an index nudged by a few frames), which is what
/// slips past the cheap checks; or a role line rewritten to name `victim`.
fn scribble(rig: &Rig, seed: &mut u64, fields: &[(u64, usize)], victim: Victim) -> String {
    let r = noise(seed);
    if r % 5 == 1 {
        let line = if noise(seed) % 2 == 0 { 128 } else { 256 };
        rig.poke(line + 16, &victim.pid.to_le_bytes());
        rig.poke(line + 80, &victim.pidns.to_le_bytes());
        rig.poke(line + 88, &victim.start_ticks.to_le_bytes());
        return format!("forged line at {line}");
    }
    if r % 3 == 0 {
        let slot = (noise(seed) % u64::from(SLOTS)) as u32;
        let word = noise(seed);
        rig.poke(at::slot_word(slot), &word.to_le_bytes());
        return format!("slot {slot} word");
    }
    let (offset, width) = fields[(noise(seed) % fields.len() as u64) as usize];
    let value = if matches!(offset, at::HEAD | at::TAIL) && r % 2 == 0 {
        let now = rig.peek_u64(offset);
        now.wrapping_add(noise(seed) % 9).wrapping_sub(4)
    } else {
        noise(seed)
    };
    rig.poke(offset, &value.to_le_bytes()[..width]);
    format!("header offset {offset}")
}

/// A process's start time, clock ticks after boot: field 22 of
/// `/proc/PID/stat`, counted after the command name's last `)`.
fn start_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace()
        .nth(22 - 3)
        .unwrap()
        .parse()
        .unwrap()
}

/// Read locks on the role bytes (128 and 256) of the segment, as any reader
/// may take: held while the returned file is open.
fn squat(path: &str) -> std::fs::File {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).expect("open the segment read-only");
    for start in [128, 256] {
        // SAFETY: flock is plain old data; all-zero is a valid value.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = libc::F_RDLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = start;
        fl.l_len = 1;
        nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_OFD_SETLK(&fl))
            .expect("a read lock on a role byte");
    }
    file
}

/// The path forge-top's `b` takes, in a loop until `stop`: prove the
/// producer, then SIGUSR1 through the proof's pidfd. Returns every pid it
/// signalled.
fn burst_path(
    name: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<u32>> {
    std::thread::spawn(move || {
        let mut signalled = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(obs) = forge_fabric::Observer::open(&name, Duration::ZERO) {
                if let Ok(pid) =
                    obs.signal_holder(forge_fabric::Role::Producer, Signal::SIGUSR1 as i32)
                {
                    signalled.push(pid);
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        signalled
    })
}

/// A daemon of the round, stopped (if still running) and checked.
struct Ended {
    code: i32,
    stdout: String,
    stderr: String,
}

fn stop(rig: &mut Rig, p: Proc) -> Ended {
    if rig.running(p) {
        rig.signal(p, Signal::SIGTERM);
    }
    let out = rig.wait(p, STOP_WITHIN);
    assert!(!out.stderr.contains("panicked"), "panic:\n{}", out.stderr);
    let code = out.code.expect("ended by a signal, not by itself");
    Ended {
        code,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// `(next N)` from forge-stream's report: the sequence after its last frame.
fn producer_next(stdout: &str) -> Option<u64> {
    let at = stdout.find("(next ")? + "(next ".len();
    let digits: String = stdout[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn a_hostile_writer_never_makes_a_daemon_hang_panic_or_report_a_frame_never_sent() {
    let secs: u64 = std::env::var("FORGE_HOSTILE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut rig = Rig::new("hostile");
    rig.init(&["--slots", &SLOTS.to_string()]);
    let dir = tempfile::tempdir().unwrap();
    let frame = dir.path().join("forge-top.json");
    let frame_arg = frame.to_string_lossy().into_owned();
    let after = format!("{}s", secs + 120);
    let top = rig.spawn(
        Bin::Top,
        &[
            "--snapshot",
            &frame_arg,
            "--after",
            &after,
            "--refresh",
            "20ms",
        ],
    );
    let fields = targets();
    let mut seed = 0x0bad_5eed_0000_0001u64 ^ u64::from(std::process::id());
    let sleeper = rig.spawn_raw_cmd("sleep", &["600"]);
    let victim = {
        use std::os::unix::fs::MetadataExt;
        let pid = rig.pid(sleeper);
        Victim {
            pid,
            pidns: std::fs::metadata("/proc/self/ns/pid").unwrap().ino(),
            start_ticks: start_ticks(pid),
        }
    };
    let stop_bursts = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bursts = burst_path(rig.segment.clone(), stop_bursts.clone());
    let mut wrapped_rounds = 0u32;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut rounds, mut writes) = (0u32, 0u64);
    let mut codes = std::collections::BTreeMap::<(&str, i32), u32>::new();
    while Instant::now() < deadline {
        rounds += 1;
        rig.run(
            Bin::Init,
            &["--force", "--slots", &SLOTS.to_string()],
            STOP_WITHIN,
        )
        .expect_code(0);
        // A reader in the way of both roles, all round long.
        let _squatter = squat(&rig.shm_path());
        // Half the rounds cross 2^64 a few hundred frames in.
        let start = if noise(&mut seed) % 2 == 0 {
            wrapped_rounds += 1;
            let start = u64::MAX - noise(&mut seed) % 300;
            rig.poke(at::TAIL, &start.to_le_bytes());
            rig.poke(at::HEAD, &start.to_le_bytes());
            start
        } else {
            0
        };
        let batch = (1 + noise(&mut seed) % 32).to_string();
        let core = rig.spawn(
            Bin::Core,
            &["--verify", "--wait", "yield", "--report", "json"],
        );
        let stream = rig.spawn(
            Bin::Stream,
            &["--rate", "50000", "--wait", "yield", "--batch", &batch],
        );
        let (sp, cp) = (rig.pid(stream), rig.pid(core));
        rig.wait_for("both roles", Duration::from_secs(20), |s| {
            s.producer.pid == sp
                && s.consumer.pid == cp
                && s.consumer.role_state == forge_fabric::RoleState::Active
                && s.producer.role_state == forge_fabric::RoleState::Active
        });
        let round_end = Instant::now() + Duration::from_millis(100 + noise(&mut seed) % 700);
        while Instant::now() < round_end && rig.running(stream) && rig.running(core) {
            scribble(&rig, &mut seed, &fields, victim);
            writes += 1;
            std::thread::sleep(Duration::from_micros(noise(&mut seed) % 5_000));
        }
        let produced = stop(&mut rig, stream);
        let consumed = stop(&mut rig, core);
        *codes.entry(("forge-stream", produced.code)).or_default() += 1;
        *codes.entry(("forge-core", consumed.code)).or_default() += 1;
        for (who, end) in [("forge-stream", &produced), ("forge-core", &consumed)] {
            assert!(
                [0, 3, 4].contains(&end.code),
                "round {rounds}: {who} exited {}:\n{}",
                end.code,
                end.stderr
            );
        }
        // What the consumer says it received, against what was sent.
        let sent_next = producer_next(&produced.stdout);
        if let Ok(report) = serde_json::from_str::<serde_json::Value>(consumed.stdout.trim()) {
            let n = |k: &str| report[k].as_u64().unwrap_or(0);
            let issues = n("gaps") + n("duplicates") + n("corrupt");
            // Positions wrap: distances are taken with wrapping.
            if consumed.code == 0 {
                assert_eq!(issues, 0, "round {rounds}: exit 0 with issues: {report}");
                assert_eq!(
                    n("frames"),
                    n("next_sequence").wrapping_sub(n("first_sequence")),
                    "round {rounds}: {report}"
                );
            }
            let good = n("frames").saturating_sub(n("corrupt") + n("duplicates"));
            if let Some(next) = sent_next {
                let sent = next.wrapping_sub(start);
                assert!(
                    good <= sent,
                    "round {rounds}: {good} frames delivered, {sent} sent: {report}\n{}",
                    produced.stdout
                );
                if consumed.code == 0 {
                    let read_past_sent = n("next_sequence").wrapping_sub(next) as i64 > 0;
                    assert!(!read_past_sent, "round {rounds}: {report}");
                }
            }
        } else {
            // No report: it refused to start (exit 4 from the attach
            // checks, 3 from a state that read "retired").
            assert_ne!(consumed.code, 0, "round {rounds}: exit 0 without a report");
        }
    }
    // The recovery a user would make: a fresh segment, a clean run.
    let init = rig.run(
        Bin::Init,
        &["--force", "--slots", &SLOTS.to_string()],
        STOP_WITHIN,
    );
    init.expect_code(0);
    let clean = session_of(&init.stdout);
    let core = rig.spawn(
        Bin::Core,
        &["--verify", "--wait", "yield", "--report", "json"],
    );
    let stream = rig.spawn(Bin::Stream, &["--rate", "50000", "--wait", "yield"]);
    let clean_producer = rig.pid(stream);
    std::thread::sleep(Duration::from_millis(800));
    // The burst path signalled only proven holders: never the process the
    // forged lines named, and the clean run's producer at least once.
    stop_bursts.store(true, std::sync::atomic::Ordering::Relaxed);
    let signalled = bursts.join().expect("the burst path");
    assert!(
        !signalled.contains(&victim.pid),
        "the forged line's process (pid {}) was signalled",
        victim.pid
    );
    assert!(rig.running(sleeper), "the forged line's process died");
    assert!(
        signalled.contains(&clean_producer),
        "the clean producer was never proven: {signalled:?}"
    );
    let produced = stop(&mut rig, stream);
    std::thread::sleep(Duration::from_millis(200));
    let consumed = stop(&mut rig, core);
    assert_eq!(
        (produced.code, consumed.code),
        (0, 0),
        "{}",
        consumed.stderr
    );
    rig.signal(top, Signal::SIGTERM);
    let top = rig.wait(top, Duration::from_secs(20));
    top.expect_code(0);
    let view: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&frame).unwrap()).unwrap();
    let alarms = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["severity"] != "info")
        .count();
    eprintln!(
        "{rounds} rounds ({wrapped_rounds} across 2^64), {writes} hostile writes in {secs} s; \
         exits {codes:?}; {} bursts sent to proven producers; forge-top logged {alarms} \
         warnings and alarms",
        signalled.len()
    );
    assert!(alarms > 0, "forge-top raised nothing: {}", view["events"]);
    assert_eq!(view["link"]["state"], "attached", "{}", view["link"]);
    assert_eq!(
        view["session_hex"].as_str().unwrap(),
        clean,
        "forge-top ends on the clean segment"
    );
}

//! Wall-clock jumps raise no false liveness alarm, and hide no live daemon:
//! heartbeats, ages and liveness all use CLOCK_MONOTONIC; the wall clock is
//! only displayed.
//!
//! libfaketime (Debian's `faketime` package) shifts the wall clock of one
//! process at a time, here by days and mid-run, while CLOCK_MONOTONIC stays
//! real (`FAKETIME_DONT_FAKE_MONOTONIC=1`), as with an NTP step or `date -s`
//! on a real host. Without libfaketime the test says so and passes; the
//! source-level check below runs everywhere.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Bin, Rig};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const T: Duration = Duration::from_secs(20);

/// `env … LD_PRELOAD=libfaketime BIN --segment SEG ARGS`, with the wall
/// clock read from `stamp` (re-read at every call) and the monotonic clock
/// left alone.
fn faked<'a>(stamp: &'a str, bin: Bin, segment: &'a str, args: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        format!("LD_PRELOAD={LIBFAKETIME}"),
        format!("FAKETIME_TIMESTAMP_FILE={stamp}"),
        "FAKETIME_NO_CACHE=1".into(),
        "FAKETIME_DONT_FAKE_MONOTONIC=1".into(),
        bin.path().into(),
        "--segment".into(),
        segment.into(),
    ];
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

fn year_of(text: &str) -> i32 {
    text[..4].parse().expect("a year")
}

#[test]
fn wall_clock_jumps_in_any_process_raise_no_liveness_alarm() {
    if !Path::new(LIBFAKETIME).exists() {
        eprintln!("libfaketime is not installed (apt-get install faketime): skipped");
        return;
    }
    let mut rig = Rig::new("clock");
    // libfaketime makes a shm object and a semaphore per process and removes
    // them at exit, which a SIGKILLed process never reaches.
    let mut faked_pids = FakedPids(Vec::new());
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().to_string_lossy().into_owned();
    let daemons_clock = format!("{dir}/daemons");
    let top_clock = format!("{dir}/top");
    // The daemons live 400 days ahead; forge-top starts on time.
    std::fs::write(&daemons_clock, "+400d\n").unwrap();
    std::fs::write(&top_clock, "+0\n").unwrap();
    let seg = rig.segment.clone();
    let mut run = |rig: &mut Rig, stamp: &str, bin: Bin, args: &[&str]| {
        let argv = faked(stamp, bin, &seg, args);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let p = rig.spawn_raw_cmd("env", &argv);
        // env execs the program: same pid.
        faked_pids.0.push(rig.pid(p));
        p
    };
    let init = run(&mut rig, &daemons_clock, Bin::Init, &[]);
    rig.wait(init, T).expect_code(0);
    let core = run(
        &mut rig,
        &daemons_clock,
        Bin::Core,
        &["--wait", "park", "--verify"],
    );
    let stream = run(
        &mut rig,
        &daemons_clock,
        Bin::Stream,
        &["--wait", "park", "--rate", "20000"],
    );
    rig.wait_for("frames to flow", T, |s| s.tail > 1_000);

    let json = format!("{dir}/top.json");
    let top = run(
        &mut rig,
        &top_clock,
        Bin::Top,
        &["--snapshot", &json, "--after", "3000ms"],
    );
    // Mid-run, forge-top's wall clock steps back three days, then a year
    // ahead; the daemons' steps back 800 days.
    std::thread::sleep(Duration::from_millis(1000));
    std::fs::write(&top_clock, "-3d\n").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    std::fs::write(&daemons_clock, "-400d\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&top_clock, "+365d\n").unwrap();
    rig.wait(top, T).expect_code(0);

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // The clocks really moved: forge-top rendered 365 days ahead, and the
    // segment was created 400 days ahead.
    assert_eq!(
        year_of(v["taken_utc"].as_str().unwrap()),
        year_of(&utc_year_in(365)),
        "{v}"
    );
    let created_s = v["sample"]["header"]["identity"]["created_unix_ns"]
        .as_u64()
        .unwrap()
        / 1_000_000_000;
    let real_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        created_s > real_s + 399 * 86_400,
        "created {created_s}, now {real_s}"
    );
    for side in ["producer", "consumer"] {
        let d = &v["sample"][side];
        assert_eq!(d["alive"], true, "{side}: {d}");
        let line = &v["sample"]["header"][side];
        assert_eq!(line["role_state"], "active", "{side}: {line}");
        let age = d["heartbeat_age_ns"].as_u64().unwrap();
        assert!(age < 1_000_000_000, "{side} heartbeat age {age} ns");
        let up = d["uptime_ns"].as_u64().unwrap();
        assert!(up < 60_000_000_000, "{side} uptime {up} ns");
    }
    let texts: Vec<String> = v["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["events"].as_array().unwrap())
        .map(|a| a["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    for t in &texts {
        assert!(
            !(t.contains("heartbeat") || t.contains("dead") || t.contains("stale")),
            "false liveness alarm: {t}\nall: {texts:#?}"
        );
    }
    // forge-init, its clock 10 days behind, still sees the daemons alive.
    std::fs::write(&daemons_clock, "-10d\n").unwrap();
    let refused = run(&mut rig, &daemons_clock, Bin::Init, &[]);
    let out = rig.wait(refused, T);
    out.expect_code(1);
    assert!(out.stderr.contains("is in use"), "{}", out.stderr);
    assert!(rig.running(core) && rig.running(stream));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Removes what libfaketime left in /dev/shm for these pids.
struct FakedPids(Vec<u32>);

impl Drop for FakedPids {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = std::fs::remove_file(format!("/dev/shm/faketime_shm_{pid}"));
            let _ = std::fs::remove_file(format!("/dev/shm/sem.faketime_sem_{pid}"));
        }
    }
}

/// The UTC year `days` from now, from date(1), without a date crate.
fn utc_year_in(days: u32) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("+{days} days"), "+%Y"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Nothing that decides liveness reads the wall clock: fabric's liveness
/// check asks the kernel for the role lock (no clock at all), and the
/// heartbeat writer and forge-top's ages use CLOCK_MONOTONIC. A wall-clock
/// read (`unix_ns`, `SystemTime`) in those paths would make a clock step
/// look like a dead or a resurrected daemon.
#[test]
fn liveness_paths_read_only_the_monotonic_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let segment = read("fabric/src/segment/mod.rs");
    let role = read("fabric/src/segment/role.rs");
    let body = |src: &str, start: &str| -> String {
        let at = src
            .find(start)
            .unwrap_or_else(|| panic!("{start} not found"));
        src[at..].lines().take(30).collect::<Vec<_>>().join("\n")
    };
    let holder = body(&segment, "pub fn live_holder(&self)");
    assert!(holder.contains("locks::state"), "{holder}");
    let beat = body(&role, "pub(crate) fn heartbeat(&self)");
    assert!(beat.contains("monotonic_ns()"), "{beat}");
    for f in [holder, beat] {
        assert!(!f.contains("unix_ns") && !f.contains("SystemTime"), "{f}");
    }
    let observe = read("fabric/src/observe/mod.rs");
    let snapshot = read("fabric/src/observe/snapshot.rs");
    assert!(body(&snapshot, "pub fn heartbeat_age(&self, now_ns: u64)").contains("heartbeat_ns"));
    let source = read("src/source.rs");
    // forge-top computes ages against the snapshot's monotonic time.
    assert!(source.contains("let now = s.taken_mono_ns;"));
    assert!(
        source.contains("taken_mono_ns: monotonic_ns()")
            || observe.contains("taken_mono_ns: monotonic_ns()")
    );
}

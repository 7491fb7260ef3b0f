//! forge-top against live segments: the real daemons, real fabric, real
//! processes. Serialized; each test owns its segment name and a guard that
//! kills its children and unlinks the segment on drop, even on failure.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use forge_top::app::{App, Config};
use forge_top::model::{Link, SlotRequest, SourceNote};
use forge_top::source::LiveSource;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forge-top"))
}

/// The daemons, next to forge-top; built first if this run did not build
/// them (`cargo test -p forge-top` builds only forge-top).
fn daemon(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = top().parent().unwrap().to_path_buf();
    BUILT.get_or_init(|| {
        if !dir.join("forge-core").is_file() || !dir.join("forge-stream").is_file() {
            let cargo = std::env::var("CARGO").unwrap_or("cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-p", "forge-demo", "--bins", "--target-dir"])
                .arg(dir.parent().unwrap())
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the demo daemons failed");
        }
    });
    dir.join(name)
}

/// Children and a segment, cleaned up on drop.
struct Rig {
    name: String,
    children: Vec<Child>,
    tmp: tempfile::TempDir,
}

impl Rig {
    fn new(what: &str) -> Rig {
        Rig {
            name: format!("/forge_test_top_{what}_{}", std::process::id()),
            children: Vec::new(),
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn init(&self, extra: &[&str]) -> Output {
        let out = Command::new(daemon("forge-init"))
            .args(["--segment", &self.name])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "forge-init: {out:?}");
        out
    }

    fn spawn(&mut self, bin: &str, args: &[&str]) -> usize {
        let child = Command::new(daemon(bin))
            .args(["--segment", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.children.push(child);
        self.children.len() - 1
    }

    fn pid(&self, i: usize) -> u32 {
        self.children[i].id()
    }

    fn wait(&mut self, i: usize, timeout: Duration) -> Output {
        let start = Instant::now();
        loop {
            if let Some(_status) = self.children[i].try_wait().unwrap() {
                break;
            }
            assert!(
                start.elapsed() < timeout,
                "child {i} did not exit in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let child = &mut self.children[i];
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        use std::io::Read;
        if let Some(mut o) = child.stdout.take() {
            o.read_to_end(&mut stdout).unwrap();
        }
        if let Some(mut e) = child.stderr.take() {
            e.read_to_end(&mut stderr).unwrap();
        }
        Output {
            status: child.wait().unwrap(),
            stdout,
            stderr,
        }
    }

    fn top(&self, args: &[&str]) -> Output {
        Command::new(top())
            .args(["--segment", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn shm(&self) -> String {
        format!("/dev/shm{}", self.name)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(self.shm());
        let _ = std::fs::remove_file(format!("{}.roles", self.shm()));
    }
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "forge-top failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn session_of(v: &serde_json::Value) -> u64 {
    let s = v.as_str().expect("session is a string");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("session is hex")
}

fn term(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

#[test]
fn once_json_agrees_with_what_the_daemons_report() {
    let _s = serial();
    let mut rig = Rig::new("once");
    rig.init(&[]);
    let core = rig.spawn("forge-core", &["--report", "json", "--wait", "park"]);
    let stream = rig.spawn("forge-stream", &["--rate", "20000", "--wait", "park"]);
    std::thread::sleep(Duration::from_millis(600));

    // While they run: pids, liveness and sessions agree.
    let live = json(&rig.top(&[
        "--once",
        "--format",
        "json",
        "--no-wait",
        "--after",
        "300ms",
    ]));
    let s = &live["sample"];
    assert_eq!(s["header"]["producer"]["pid"], rig.pid(stream));
    assert_eq!(s["header"]["consumer"]["pid"], rig.pid(core));
    assert_eq!(s["producer"]["alive"], true);
    assert_eq!(s["consumer"]["alive"], true);
    assert_eq!(
        s["header"]["producer"]["session"],
        s["header"]["identity"]["session_id"]
    );
    assert!(
        live["rates"]["frames_per_s"].as_f64().unwrap() > 1_000.0,
        "{live}"
    );
    assert!(
        live["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["severity"] != "critical"),
        "{live}"
    );

    // After they stop: the counters match their final reports.
    term(rig.pid(stream));
    let stream_out = rig.wait(stream, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    term(rig.pid(core));
    let core_out = rig.wait(core, Duration::from_secs(10));
    // forge-stream reports in text: "sent 12,345 frames (…)", "(next 12,345)".
    let stream_text = String::from_utf8_lossy(&stream_out.stdout).to_string();
    let number_after = |key: &str| -> u64 {
        let rest = &stream_text[stream_text
            .find(key)
            .unwrap_or_else(|| panic!("{key} in {stream_text}"))
            + key.len()..];
        rest.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '_' || *c == ' ')
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    let sent = number_after("sent ");
    let next = number_after("(next ");
    let cr: serde_json::Value = serde_json::from_slice(&core_out.stdout)
        .unwrap_or_else(|e| panic!("core report ({e}): {core_out:?}"));

    let done = json(&rig.top(&["--once", "--format", "json", "--no-wait"]));
    let s = &done["sample"];
    assert_eq!(
        s["header"]["producer"]["messages"], sent,
        "{done}\n{stream_text}"
    );
    assert_eq!(s["header"]["head"], next, "{done}\n{stream_text}");
    assert_eq!(
        s["header"]["consumer"]["messages"], cr["frames"],
        "{done}\n{cr}"
    );
    assert_eq!(s["header"]["tail"], cr["next_sequence"]);
    assert_eq!(
        session_of(&s["header"]["identity"]["session_id"]),
        session_of(&cr["session"])
    );
    assert_eq!(s["header"]["producer"]["role_state"], "stopped");
}

#[test]
fn snapshot_writes_a_valid_svg_and_the_mapping_is_read_only() {
    let _s = serial();
    let mut rig = Rig::new("svg");
    rig.init(&[]);
    rig.spawn("forge-core", &["--wait", "park"]);
    rig.spawn("forge-stream", &["--rate", "20000", "--wait", "park"]);
    let svg = rig.tmp.path().join("frame.svg");
    let mut top = Command::new(top())
        .args(["--segment", &rig.name, "--snapshot"])
        .arg(&svg)
        .args(["--after", "1500ms", "--size", "120x40"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // While it samples, the kernel says how it maps the segment.
    std::thread::sleep(Duration::from_millis(700));
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", top.id())).unwrap();
    let line = maps
        .lines()
        .find(|l| l.ends_with(&rig.shm()))
        .unwrap_or_else(|| panic!("no mapping of {} in\n{maps}", rig.shm()));
    let perms = line.split_whitespace().nth(1).unwrap();
    assert_eq!(
        perms, "r--s",
        "forge-top must map the segment read-only and shared: {line}"
    );
    // And the file behind it is open O_RDONLY, so not even mprotect could
    // make the mapping writable.
    let fd_dir = format!("/proc/{}/fd", top.id());
    let mut seen = false;
    for fd in std::fs::read_dir(&fd_dir).unwrap().flatten() {
        if std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy() == rig.shm()) {
            let info = std::fs::read_to_string(format!(
                "/proc/{}/fdinfo/{}",
                top.id(),
                fd.file_name().to_string_lossy()
            ))
            .unwrap();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
                .unwrap();
            assert_eq!(flags & 0o3, 0, "opened O_RDONLY: {info}");
            seen = true;
        }
    }
    assert!(seen, "forge-top holds the segment open");

    let status = top.wait().unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" xml:space=\"preserve\""));
    assert!(text.trim_end().ends_with("</svg>"));
    assert_eq!(
        text.matches("<text").count(),
        text.matches("</text>").count()
    );
    assert!(text.contains(&rig.name));
    assert!(text.contains("LIVE"));
    assert!(text.contains("fr/s"));
    assert!(
        !text.contains("<text x=\"0\" y=\"0\""),
        "text sits on a baseline"
    );
}

#[test]
fn forge_top_survives_a_forced_reinit_and_reports_the_new_session() {
    let _s = serial();
    let mut rig = Rig::new("force");
    let first = rig.init(&[]);
    let _ = first;
    let core = rig.spawn("forge-core", &["--wait", "park"]);
    let stream = rig.spawn("forge-stream", &["--rate", "20000", "--wait", "park"]);
    let out = rig.tmp.path().join("after.json");
    let top = Command::new(top())
        .args(["--segment", &rig.name, "--snapshot"])
        .arg(&out)
        .args(["--after", "2500ms"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(900));
    let before = forge_fabric_session(&rig);
    rig.init(&["--force"]);
    // The daemons of the old session exit with code 3.
    assert_eq!(
        rig.wait(stream, Duration::from_secs(5)).status.code(),
        Some(3)
    );
    assert_eq!(
        rig.wait(core, Duration::from_secs(5)).status.code(),
        Some(3)
    );
    let after = forge_fabric_session(&rig);
    assert_ne!(before, after);

    let status = top.wait_with_output().unwrap();
    assert!(status.status.success(), "{status:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        session_of(&v["sample"]["header"]["identity"]["session_id"]),
        after,
        "{v}"
    );
    let log: Vec<String> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect();
    // One event, and no alarm left: the new segment is sound.
    // Retired and replaced may be seen in one sample or two; either way one
    // re-init event names both sessions.
    let reinit: Vec<_> = log
        .iter()
        .filter(|l| l.contains("re-initialized"))
        .collect();
    assert_eq!(reinit.len(), 1, "{log:#?}");
    assert!(
        reinit[0].contains(&format!("session {before:#018x} ")),
        "{log:#?}"
    );
    assert!(
        reinit[0].contains(&format!("replaced by session {after:#018x}")),
        "{log:#?}"
    );
    // The old daemons left the retired segment cleanly: no death is claimed.
    assert!(!log.iter().any(|l| l.contains("died")), "{log:#?}");
    assert_eq!(v["alarms"].as_array().unwrap().len(), 0, "{v}");
}

fn forge_fabric_session(rig: &Rig) -> u64 {
    let mut source = LiveSource::new(&rig.name);
    let obs = source.sample(&SlotRequest::default());
    obs.sample.expect("segment readable").session_id()
}

fn observe(source: &mut LiveSource, app: &mut App) -> forge_top::model::Observation {
    let obs = source.sample(&app.slot_request());
    app.observe(obs.clone());
    obs
}

#[test]
fn truncation_garbage_unlink_and_recreation_are_survived() {
    let _s = serial();
    let rig = Rig::new("abuse");
    rig.init(&["--slots", "8"]);
    let mut source = LiveSource::new(&rig.name);
    let mut app = App::new(
        Config {
            segment: rig.name.clone(),
            ..Config::default()
        },
        (120, 40),
    );
    let obs = observe(&mut source, &mut app);
    assert_eq!(obs.link, Link::Attached);
    let good = obs.sample.unwrap().session_id();

    // Garbage over the magic: the view keeps the last good sample.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(rig.shm())
        .unwrap();
    f.write_all(b"GARBAGE!").unwrap();
    let obs = observe(&mut source, &mut app);
    assert_eq!(obs.link, Link::Lost);
    assert!(
        obs.notes
            .iter()
            .any(|n| matches!(n, SourceNote::Corrupt { .. })),
        "{obs:?}"
    );
    assert_eq!(app.view().sample.as_ref().unwrap().session_id(), good);
    let _ = forge_top::run::render_buffer(&app);

    // Truncated under the mapping: no SIGBUS, an alarm instead.
    f.set_len(4096).unwrap();
    let obs = observe(&mut source, &mut app);
    assert_eq!(obs.link, Link::Lost);
    assert!(app
        .alarms
        .active
        .iter()
        .any(|a| a.text.contains("lost the segment")));
    let _ = forge_top::run::render_buffer(&app);
    drop(f);

    // Unlinked: still lost, waiting by name.
    std::fs::remove_file(rig.shm()).unwrap();
    let obs = observe(&mut source, &mut app);
    assert_ne!(obs.link, Link::Attached);

    // A new segment at the name: re-attached, new session.
    rig.init(&["--slots", "8"]);
    let obs = observe(&mut source, &mut app);
    assert_eq!(obs.link, Link::Attached, "{obs:?}");
    let new = obs.sample.unwrap().session_id();
    assert_ne!(new, good);
    assert!(obs
        .notes
        .contains(&SourceNote::Reattached { old: good, new }));
    let text = forge_top::export::buffer_text(&forge_top::run::render_buffer(&app));
    assert!(text.contains(&format!("{new:#018x}")), "{text}");
}

#[test]
fn a_missing_segment_fails_fast_under_no_wait() {
    let _s = serial();
    let rig = Rig::new("missing");
    let out = rig.top(&["--once", "--no-wait"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
}

/// Writes `bytes` at `offset` of the segment file, as any process with
/// write access could.
fn poke(rig: &Rig, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new()
        .write(true)
        .open(rig.shm())
        .unwrap()
        .write_all_at(bytes, offset)
        .unwrap();
}

fn wait_for_producer(rig: &Rig, pid: u32) {
    let start = Instant::now();
    loop {
        if let Ok(obs) = forge_fabric::Observer::open(&rig.name, Duration::ZERO) {
            if obs.snapshot().is_ok_and(|s| s.producer.pid == pid) {
                return;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no producer");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `b` goes through `burst_producer`: it signals the producer only when
/// fabric proves which process holds the role, never whatever process has
/// the pid the header gives (reused, forged, or from another namespace).
#[test]
fn burst_signals_only_a_process_proven_to_hold_the_producer_role() {
    use forge_top::source::burst_producer;
    let _s = serial();
    let mut rig = Rig::new("burst");
    rig.init(&["--slots", "64"]);
    let stream = rig.spawn("forge-stream", &["--rate", "1000", "--wait", "park"]);
    let sp = rig.pid(stream);
    wait_for_producer(&rig, sp);
    let victim = Command::new("sleep").arg("30").spawn().unwrap();
    let vpid = victim.id();
    rig.children.push(victim);
    let victim_alive = |rig: &mut Rig| {
        rig.children
            .last_mut()
            .unwrap()
            .try_wait()
            .unwrap()
            .is_none()
    };

    let ok = burst_producer(&rig.name, sp).expect("the real holder is proven");
    assert_eq!(ok, sp, "the pid signalled");

    // The pid in the header now names another process (reused, or forged).
    poke(&rig, 144, &vpid.to_le_bytes());
    let refused = burst_producer(&rig.name, vpid).unwrap_err().to_string();
    assert!(refused.contains("is not the role holder"), "{refused}");
    assert!(victim_alive(&mut rig));

    // Forged completely (its start time and pid namespace too), by the
    // segment's owner's own process: the kernel says the victim holds no
    // lock of this segment's, so it is not proven.
    let start = |pid: u32| {
        procfs::process::Process::new(pid as i32)
            .unwrap()
            .stat()
            .unwrap()
            .starttime
    };
    poke(&rig, 128 + 88, &start(vpid).to_le_bytes());
    let refused = burst_producer(&rig.name, vpid).unwrap_err().to_string();
    assert!(
        refused.contains("is not the role holder") && refused.contains("holds no write lock"),
        "{refused}"
    );
    assert!(victim_alive(&mut rig));

    // The real holder again, on a segment handed (with its role-lock
    // object) to another user: proven, and still not signalled.
    poke(&rig, 144, &sp.to_le_bytes());
    poke(&rig, 128 + 88, &start(sp).to_le_bytes());
    if nix::unistd::geteuid().is_root() {
        let roles = format!("{}.roles", rig.shm());
        for path in [rig.shm(), roles.clone()] {
            std::os::unix::fs::chown(path, Some(65534), None).unwrap();
        }
        let refused = burst_producer(&rig.name, sp).unwrap_err().to_string();
        assert!(
            refused.contains("but the segment belongs to uid 65534"),
            "{refused}"
        );
        for path in [rig.shm(), roles] {
            std::os::unix::fs::chown(path, Some(0), None).unwrap();
        }
    }
    poke(&rig, 144, &vpid.to_le_bytes());
    poke(&rig, 128 + 88, &start(vpid).to_le_bytes());

    // The producer gone: nobody holds the role, whatever the header says.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sp as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = rig.wait(stream, Duration::from_secs(10));
    let refused = burst_producer(&rig.name, vpid).unwrap_err().to_string();
    assert!(
        refused.contains("no live process holds the role"),
        "{refused}"
    );
    assert!(victim_alive(&mut rig));
}

#[test]
fn thresholds_too_large_for_nanoseconds_are_refused_not_wrapped_into_false_alarms() {
    let _s = serial();
    let mut rig = Rig::new("thresholds");
    rig.init(&["--slots", "64"]);
    for flag in ["--stale", "--full"] {
        let out = rig.top(&["--once", "--no-wait", flag, "18446744073709551615ms"]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("at most 1d"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stream = rig.spawn("forge-stream", &["--rate", "1000", "--wait", "park"]);
    wait_for_producer(&rig, rig.pid(stream));
    let live = json(&rig.top(&[
        "--once",
        "--format",
        "json",
        "--no-wait",
        "--after",
        "300ms",
        "--stale",
        "1d",
        "--full",
        "1d",
    ]));
    let alarms = live["alarms"].as_array().unwrap();
    assert!(
        alarms
            .iter()
            .all(|a| !a["text"].as_str().unwrap_or("").contains("heartbeat")),
        "{live}"
    );
}

#[test]
fn defect_8_errors_for_scripts_are_one_plain_paragraph_and_json_modes_say_them_on_stdout() {
    let _s = serial();
    let rig = Rig::new("plain_errors");
    // stderr is a pipe here, not a terminal; no backtrace was asked for.
    let quiet = |args: &[&str]| {
        Command::new(top())
            .args(["--segment", &rig.name])
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .output()
            .unwrap()
    };
    let out = quiet(&["--once", "--no-wait"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("forge-top: segment /forge_test_top_plain_errors"),
        "{err}"
    );
    assert!(err.contains("does not exist"), "{err}");
    for noise in ["\x1b[", "Location", "src/", "BACKTRACE", "Backtrace"] {
        assert!(!err.contains(noise), "{noise:?} in {err}");
    }
    assert_eq!(err.trim_end().lines().count(), 1, "one paragraph: {err}");
    assert!(out.stdout.is_empty());

    let out = quiet(&["--once", "--no-wait", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["kind"], "missing", "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("does not exist"),
        "{v}"
    );

    // No backtrace even when asked for: a user error is not a bug (issue
    // 22 item 12; tests/defects.rs has the whole check).
    let out = Command::new(top())
        .args(["--once", "--no-wait", "--segment", &rig.name])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("Failure::new"),
        "{out:?}"
    );
}

/// Runs forge-top with `args`, sends `signal` after `delay`, and returns how
/// it ended (or panics if it ignored the signal for 3 s).
fn stopped_by(rig: &Rig, args: &[&str], signal: &str, delay: Duration) -> Output {
    let mut child = Command::new(top())
        .args(["--segment", &rig.name])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let sent = Instant::now();
    let _ = Command::new("kill")
        .arg(signal)
        .arg(child.id().to_string())
        .status();
    // Generous against a loaded machine; without the fix it takes 30 s.
    let deadline = sent + Duration::from_secs(3);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} ignored {signal}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("{args:?} ended {:?} after {signal}", sent.elapsed());
    child.wait_with_output().unwrap()
}

#[test]
fn stop_signals_end_every_headless_mode_at_once() {
    let _s = serial();
    let rig = Rig::new("stop_signals");
    // Not attached yet (no segment, waiting for one): nothing true to
    // show, so the signal is a failure to report.
    for signal in ["-TERM", "-INT"] {
        let out = stopped_by(
            &rig,
            &["--once", "--after", "30s"],
            signal,
            Duration::from_millis(300),
        );
        assert!(
            !out.status.success(),
            "waiting for a segment, then {signal}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("stopped by a signal"),
            "{out:?}"
        );
    }
    // Attached: `--after` is a longest wait; the signal says "now" and the
    // output is what was sampled so far.
    rig.init(&["--slots", "64"]);
    let svg = rig.tmp.path().join("now.svg");
    for (mode, signal) in [
        (
            &["--once", "--format", "json", "--after", "30s"][..],
            "-TERM",
        ),
        (
            &["--snapshot", svg.to_str().unwrap(), "--after", "30s"][..],
            "-INT",
        ),
        (
            &[
                "--once",
                "--format",
                "json",
                "--refresh",
                "60s",
                "--after",
                "50s",
            ][..],
            "-HUP",
        ),
    ] {
        let out = stopped_by(&rig, mode, signal, Duration::from_millis(600));
        if mode[0] == "--once" {
            let v = json(&out);
            assert_eq!(v["link"]["state"], "attached", "{v}");
            assert!(v["session_hex"].is_string(), "{v}");
        } else {
            assert!(out.status.success(), "{out:?}");
            let text = std::fs::read_to_string(&svg).unwrap();
            assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(80)]);
        }
    }
}

#[test]
fn list_finds_forge_segments_as_text_and_json() {
    let _s = serial();
    let mut rig = Rig::new("list");
    rig.init(&["--slots", "64"]);
    let stream = rig.spawn("forge-stream", &["--rate", "1000", "--wait", "park"]);
    wait_for_producer(&rig, rig.pid(stream));
    // Something that is not a segment is not listed.
    let other = format!("/dev/shm/forge_test_top_list_other_{}", std::process::id());
    std::fs::write(&other, b"not a segment").unwrap();
    let out = Command::new(top())
        .args(["--list", "--format", "json", "--after", "200ms"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&other);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == rig.name.as_str())
        .unwrap_or_else(|| panic!("{} not in {v}", rig.name));
    assert_eq!(ours["state"], "live", "{ours}");
    assert_eq!(ours["slot_count"], 64);
    assert_eq!(ours["roles"][0]["pid"], rig.pid(stream));
    assert_eq!(ours["roles"][0]["held"], true);
    assert!(!v.to_string().contains("list_other"), "{v}");
    let out = Command::new(top())
        .args(["--list", "--after", "100ms"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with(&rig.name))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("live") && line.contains(&rig.pid(stream).to_string()),
        "{line}"
    );
}

#[test]
fn durations_on_the_command_line_take_units() {
    let _s = serial();
    let rig = Rig::new("units");
    rig.init(&["--slots", "64"]);
    let out = rig.top(&[
        "--once",
        "--no-wait",
        "--refresh",
        "50ms",
        "--after",
        "0.2s",
        "--stale",
        "1.5s",
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = rig.top(&["--once", "--no-wait", "--refresh", "5ms"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of range"));
    // A bare number is refused, as in every Forge program.
    let out = rig.top(&["--once", "--no-wait", "--after", "300"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a unit"));
}

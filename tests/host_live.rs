//! The host view against a real host (issue 23): 200 rings in /dev/shm,
//! most idle, a few with paced, parked daemons; rings appearing and
//! disappearing while it watches; one ring not readable. The app is fed by
//! the real host source (what the TUI runs), and `forge-top --all --once`
//! is run as a script would run it, in text and JSON, while rings come and
//! go.
//!
//! The unreadable ring is mode 0000. A non-root user cannot open it, so the
//! in-process view sees it unreadable; root can, so as root `--all --once`
//! is also run as a user the test creates (and removes), for whom it is
//! another user's ring; without root that part is skipped, saying so.
//!
//! Every name is `/forge_test_hostview_<pid>_<n>` (what `.ci/run` cleans
//! up after a crash); children are killed and names unlinked on every
//! path; nothing waits without a deadline.

#[path = "common/user.rs"]
mod user;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use forge_fabric::{CreateOptions, Segment};
use forge_top::app::{App, Config, HostRing};
use forge_top::event::Event;
use forge_top::model::{Liveness, RingStatus, UnreadableReason};
use forge_top::source::HostSource;
use user::TestUser;

/// Rings on the host at the start.
const RINGS: usize = 200;

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

/// The test's rings and daemons, stopped and removed on drop, even when
/// the test fails.
struct Host {
    prefix: String,
    names: Vec<String>,
    children: Vec<Child>,
    next: usize,
}

impl Host {
    fn new() -> Host {
        Host {
            prefix: format!("/forge_test_hostview_{}_", std::process::id()),
            names: Vec::new(),
            children: Vec::new(),
            next: 0,
        }
    }

    /// A new ring: small and idle, or (`big`) room for a paced stream.
    fn ring(&mut self, big: bool, mode: u32) -> String {
        let name = format!("{}{}", self.prefix, self.next);
        self.next += 1;
        let opts = CreateOptions {
            slot_count: if big { 64 } else { 8 },
            payload_capacity: if big { 256 } else { 64 },
            mode,
        };
        Segment::create(&name, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        self.names.push(name.clone());
        name
    }

    fn remove(&mut self, name: &str) {
        forge_fabric::segment::unlink(name).unwrap();
        self.names.retain(|n| n != name);
    }

    fn spawn(&mut self, bin: &str, name: &str, args: &[&str]) -> u32 {
        let child = Command::new(daemon(bin))
            .args(["--segment", name, "--wait", "park", "--die-with-parent"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        self.children.push(child);
        pid
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in &self.names {
            let _ = forge_fabric::segment::unlink(n);
        }
    }
}

fn app() -> App {
    App::for_host(Config::default(), (220, 60), Duration::from_millis(500), "")
}

fn sample(app: &mut App, source: &mut HostSource) {
    app.handle(Event::Host(Box::new(source.sample())));
}

fn ring<'a>(app: &'a App, name: &str) -> &'a HostRing {
    app.host
        .as_ref()
        .unwrap()
        .rings
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not in the host view"))
}

fn log(app: &App) -> Vec<String> {
    app.host
        .as_ref()
        .unwrap()
        .events
        .log
        .iter()
        .map(|e| e.text.clone())
        .collect()
}

/// Samples every `step` until `ok` holds, for at most `within`.
fn until(
    app: &mut App,
    source: &mut HostSource,
    within: Duration,
    what: &str,
    ok: impl Fn(&App) -> bool,
) {
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        sample(app, source);
        if ok(app) {
            return;
        }
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
    }
}

fn run_top(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn rings_of(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["rings"].as_array().unwrap().clone()
}

#[test]
fn two_hundred_rings_come_and_go_and_the_host_view_and_all_once_say_so() {
    let root = nix::unistd::geteuid().is_root();
    let mut host = Host::new();
    // Four paced rings (three with both daemons, one producer alone, whose
    // ring fills), one mode 0000, and the rest idle: 200 in all, readable
    // by others (0644) so another user's view differs only in that one.
    let paced: Vec<String> = (0..4).map(|_| host.ring(true, 0o644)).collect();
    let shut = host.ring(false, 0o000);
    while host.names.len() < RINGS {
        host.ring(false, 0o644);
    }
    let mut pids = Vec::new();
    for (name, rate) in paced.iter().zip(["200", "500", "1000", "300"]) {
        let producer = host.spawn("forge-stream", name, &["--rate", rate, "--size", "64"]);
        pids.push(producer);
    }
    let consumers: Vec<u32> = paced[..3]
        .iter()
        .map(|name| host.spawn("forge-core", name, &[]))
        .collect();

    let mut app = app();
    let mut source = HostSource::with_prefix(&host.prefix);
    sample(&mut app, &mut source);
    assert_eq!(app.host.as_ref().unwrap().rings.len(), RINGS);
    let found = if root {
        format!("found {RINGS} Forge rings in /dev/shm: {RINGS} live")
    } else {
        format!(
            "found {RINGS} Forge rings in /dev/shm: {} live, 1 unreadable",
            RINGS - 1
        )
    };
    assert_eq!(log(&app)[0], found, "{:?}", log(&app));
    // The daemons take their roles; liveness is the ring view's.
    until(
        &mut app,
        &mut source,
        Duration::from_secs(10),
        "daemons running",
        |app| {
            paced.iter().enumerate().all(|(i, name)| {
                let s = ring(app, name).sample();
                s.is_some_and(|s| {
                    s.producer.liveness == Liveness::Running
                        && (i == 3 || s.consumer.liveness == Liveness::Running)
                })
            })
        },
    );
    // Rates over real intervals, and the lone producer's ring full past --full.
    until(
        &mut app,
        &mut source,
        Duration::from_secs(10),
        "rates and a full ring",
        |app| {
            paced[..3]
                .iter()
                .all(|name| ring(app, name).rates.frames_per_s > 0.0)
                && ring(app, &paced[3])
                    .alarms
                    .active
                    .iter()
                    .any(|a| a.text.starts_with("ring full"))
        },
    );
    let sample_of = |app: &App, name: &str| ring(app, name).sample().cloned().unwrap();
    assert_eq!(
        sample_of(&app, &paced[0]).producer.liveness,
        Liveness::Running
    );
    assert_eq!(
        sample_of(&app, &paced[3]).consumer.liveness,
        Liveness::Vacant
    );
    let idle = host.names[10].clone();
    assert_eq!(ring(&app, &idle).rates.frames_per_s, 0.0);
    // The mode 0000 ring: root reads it anyway; anyone else may not.
    match &ring(&app, &shut).status {
        RingStatus::Unreadable { reason, owner, .. } => {
            assert!(!root);
            assert_eq!(*reason, UnreadableReason::Permission);
            assert_eq!(owner.as_ref().unwrap().mode, "0000");
        }
        RingStatus::Sampled(_) => assert!(root, "a non-root user read a mode 0000 ring"),
        other => panic!("{shut}: {other:?}"),
    }
    // An alarm on any ring shows in the host view: banner and table.
    let text = |app: &App, w: u16, h: u16| {
        let mut a = app.clone();
        a.size = (w, h);
        forge_top::export::buffer_text(&forge_top::run::render_buffer(&a))
    };
    let wide = text(&app, 220, 60);
    assert!(
        wide.contains(&format!("{}: ring full for", paced[3])),
        "{wide}"
    );
    assert!(wide.contains(&format!("{RINGS} rings")), "{wide}");
    let small = text(&app, 80, 24);
    assert!(small.contains(" HOST ") && small.contains("▲"), "{small}");

    // Rings appear and disappear while it watches: one line each.
    let born: Vec<String> = (0..3).map(|_| host.ring(false, 0o644)).collect();
    let gone: Vec<String> = host.names[150..152].to_vec();
    for name in &gone {
        host.remove(name);
    }
    std::thread::sleep(Duration::from_millis(300));
    sample(&mut app, &mut source);
    let lines = log(&app);
    for name in &born {
        let said = lines
            .iter()
            .filter(|l| l.starts_with(&format!("{name} appeared")))
            .count();
        assert_eq!(said, 1, "{name}: {lines:?}");
    }
    for name in &gone {
        let said = lines
            .iter()
            .filter(|l| *l == &format!("{name} disappeared"))
            .count();
        assert_eq!(said, 1, "{name}: {lines:?}");
    }
    assert_eq!(app.host.as_ref().unwrap().rings.len(), RINGS + 1);

    // A consumer killed: the ring view's word for it, in the host's log.
    let victim = consumers[1];
    let child = host.children.iter_mut().find(|c| c.id() == victim).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    until(
        &mut app,
        &mut source,
        Duration::from_secs(5),
        "a dead consumer",
        |app| ring(app, &paced[1]).sample().unwrap().consumer.liveness == Liveness::Dead,
    );
    assert!(
        log(&app).iter().any(|l| *l
            == format!(
                "{}: consumer died without a clean stop (pid {victim})",
                paced[1]
            )),
        "{:?}",
        log(&app)
    );

    // `--all --once` for scripts, while rings come and go under it.
    let filter = host.prefix.clone();
    let mut once = Command::new(top());
    once.args([
        "--all", "--once", "--format", "json", "--after", "1s", "--filter", &filter,
    ])
    .env_remove("FORGE_SEGMENT");
    let running = once
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let churn: Vec<String> = (0..5).map(|_| host.ring(false, 0o644)).collect();
    for name in &churn[..3] {
        host.remove(name);
    }
    let out = running.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let rings = rings_of(&v);
    let names: Vec<&str> = rings.iter().map(|r| r["name"].as_str().unwrap()).collect();
    for name in host.names.iter().filter(|n| !churn.contains(n)) {
        assert!(names.contains(&name.as_str()), "{name} missing");
    }
    for name in &gone {
        assert!(!names.contains(&name.as_str()), "{name} is gone");
    }
    let find = |name: &str| rings.iter().find(|r| r["name"] == name).unwrap().clone();
    let p0 = find(&paced[0]);
    let session = p0["session"].as_str().unwrap();
    assert!(session.starts_with("0x") && session.len() == 18, "{p0}");
    assert_eq!(p0["state"], "live");
    assert_eq!(p0["producer"]["liveness"], "running", "{p0}");
    assert_eq!(p0["producer"]["program"], "forge-stream", "{p0}");
    assert!(p0["frames_per_s"].as_f64().unwrap() > 0.0, "{p0}");
    assert_eq!(find(&paced[1])["consumer"]["liveness"], "dead");
    assert_eq!(
        find(&paced[3])["alarm"]["key"]["alarm"],
        "ring_full",
        "{}",
        find(&paced[3])
    );
    assert_eq!(find(&idle)["frames_per_s"], 0.0);
    // The same table as text: a header and a line per ring.
    let out = run_top(
        Command::new(top())
            .args(["--all", "--once", "--filter", &filter])
            .env_remove("FORGE_SEGMENT"),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("name ▲"), "{text}");
    assert_eq!(lines.len(), host.names.len() + 1, "{text}");
    let p1 = lines
        .iter()
        .find(|l| l.starts_with(paced[1].as_str()))
        .unwrap();
    assert!(
        p1.contains("✗ DEAD") && p1.contains("consumer dead"),
        "{p1}"
    );

    // Another user's view: the mode 0000 ring is not readable by them,
    // every other ring is.
    if !root {
        eprintln!("skipped the other user's view of the mode 0000 ring: the test is not root (this user's own view above saw it unreadable)");
        return;
    }
    let Some(user) = TestUser::create("h") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let copy = dir.path().join("forge-top");
    std::fs::copy(top(), &copy).unwrap();
    let out = run_top(
        Command::new("runuser")
            .args(["-u", &user.0, "--"])
            .arg(&copy)
            .args([
                "--all", "--once", "--format", "json", "--after", "100ms", "--filter", &filter,
            ])
            .env_remove("FORGE_SEGMENT"),
    );
    let v = json(&out);
    let rings = rings_of(&v);
    let theirs = rings.iter().find(|r| r["name"] == shut.as_str()).unwrap();
    assert_eq!(theirs["state"], "unreadable", "{theirs}");
    assert_eq!(theirs["unreadable"]["reason"], "permission", "{theirs}");
    assert_eq!(theirs["unreadable"]["owner"], "root", "{theirs}");
    assert_eq!(theirs["unreadable"]["mode"], "0000", "{theirs}");
    let readable = rings.iter().filter(|r| r["state"] == "live").count();
    assert_eq!(readable, rings.len() - 1, "{v}");
}

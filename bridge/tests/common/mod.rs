//! The rig for real-process tests of forge-bridge, after demo's:
//!
//! - one rig at a time per test binary (a static mutex): several daemons
//!   and Zenoh's threads on a 2-core machine are enough load;
//! - each rig has its own segment names (`/forge_test_br_<what>_<tag>_<pid>`)
//!   and its own TCP ports on 127.0.0.1;
//! - dropping the rig — on success, failure or panic — SIGKILLs and reaps
//!   every child, unlinks its segments, deletes its network namespaces and
//!   its log files;
//! - every wait is bounded; a timeout fails the test (and the drop cleans up).
//!
//! Children write stdout and stderr to files, not pipes: a daemon that logs
//! more than a pipe holds must never block on it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use forge_fabric::{Observer, Snapshot};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

static SERIAL: Mutex<()> = Mutex::new(());

/// The programs a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    Bridge,
    Init,
    Stream,
    Core,
}

impl Bin {
    pub fn path(self) -> String {
        match self {
            Bin::Bridge => env!("CARGO_BIN_EXE_forge-bridge").to_owned(),
            Bin::Init => demo_bin("forge-init"),
            Bin::Stream => demo_bin("forge-stream"),
            Bin::Core => demo_bin("forge-core"),
        }
    }
}

/// forge-demo's daemons, next to forge-bridge (another package: `cargo test
/// --workspace` builds them; `cargo test -p forge-bridge` may not, so they
/// are built here once when missing).
fn demo_bin(name: &str) -> String {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_forge-bridge"))
        .parent()
        .unwrap()
        .to_path_buf();
    BUILT.get_or_init(|| {
        let missing = ["forge-init", "forge-stream", "forge-core"]
            .iter()
            .any(|b| !dir.join(b).is_file());
        if missing {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build.args(["build", "-p", "forge-demo", "--bins", "--target-dir"]);
            build.arg(dir.parent().unwrap());
            if dir.ends_with("release") {
                build.arg("--release");
            }
            assert!(
                build.status().expect("cargo runs").success(),
                "building forge-demo's daemons failed"
            );
        }
    });
    dir.join(name).to_string_lossy().into_owned()
}

/// A finished process.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; `None` if killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The last line of stdout as JSON (the final report or status).
    pub fn json(&self) -> serde_json::Value {
        let line = self.stdout.lines().last().unwrap_or("");
        serde_json::from_str(line).unwrap_or_else(|e| {
            panic!(
                "stdout does not end with a JSON line ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, showing both streams if it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the program panicked:\n{}",
            self.stderr
        );
        self
    }
}

/// A handle on a child the rig started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc(usize);

struct Running {
    child: Option<Child>,
    out: PathBuf,
    err: PathBuf,
    what: String,
}

pub struct Rig {
    what: String,
    segments: Vec<String>,
    files: Vec<PathBuf>,
    netns: Vec<String>,
    veths: Vec<String>,
    children: Vec<Running>,
    _serial: MutexGuard<'static, ()>,
}

impl Rig {
    /// Takes the rig lock for test `what`.
    pub fn new(what: &str) -> Rig {
        let serial = SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Rig {
            what: what.to_owned(),
            segments: Vec::new(),
            files: Vec::new(),
            netns: Vec::new(),
            veths: Vec::new(),
            children: Vec::new(),
            _serial: serial,
        }
    }

    /// A segment name of this test, unlinked now and on drop.
    pub fn segment(&mut self, tag: &str) -> String {
        let name = format!("/forge_test_br_{}_{tag}_{}", self.what, std::process::id());
        let _ = forge_fabric::segment::unlink(&name);
        self.segments.push(name.clone());
        name
    }

    /// A path for a file of this test (`tag`), removed now and on drop.
    pub fn file(&mut self, tag: &str) -> String {
        let path = std::env::temp_dir().join(format!(
            "forge_bridge_test_{}_{tag}_{}",
            self.what,
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        self.files.push(path.clone());
        path.to_string_lossy().into_owned()
    }

    /// A fresh key file made by `forge-bridge keygen`, removed on drop.
    pub fn keyfile(&mut self, tag: &str) -> String {
        let path = self.file(&format!("{tag}.key"));
        let out = self.run(Bin::Bridge, &["keygen", &path], Duration::from_secs(20));
        assert_eq!(out.code, Some(0), "keygen failed:\n{}", out.stderr);
        path
    }

    /// A loopback endpoint of this test: `base` is the test's own port
    /// block (distinct per test), `n` picks within it; the pid spreads
    /// concurrent runs of the suite apart.
    pub fn endpoint(base: u16, n: u16) -> String {
        let port = base + (std::process::id() % 50) as u16 * 20 + n;
        format!("tcp/127.0.0.1:{port}")
    }

    /// Starts `bin` with `args`.
    pub fn spawn(&mut self, bin: Bin, args: &[&str]) -> Proc {
        let mut cmd = Command::new(bin.path());
        cmd.args(args);
        self.start(cmd, &format!("{bin:?}"))
    }

    /// Starts `cmd`, outputs to files, no stdin, no inherited FORGE_SEGMENT.
    pub fn start(&mut self, mut cmd: Command, what: &str) -> Proc {
        let n = self.children.len();
        let base = std::env::temp_dir().join(format!(
            "forge_bridge_test_{}_{}_{n}",
            self.what,
            std::process::id()
        ));
        let out = base.with_extension("out");
        let err = base.with_extension("err");
        let child = cmd
            .env_remove("FORGE_SEGMENT")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        self.children.push(Running {
            child: Some(child),
            out,
            err,
            what: what.to_owned(),
        });
        Proc(n)
    }

    /// Runs `bin` to completion (at most `timeout`).
    pub fn run(&mut self, bin: Bin, args: &[&str], timeout: Duration) -> Output {
        let p = self.spawn(bin, args);
        self.wait(p, timeout)
    }

    pub fn pid(&self, p: Proc) -> u32 {
        self.children[p.0]
            .child
            .as_ref()
            .expect("process already reaped")
            .id()
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self, p: Proc) -> String {
        std::fs::read_to_string(&self.children[p.0].err).unwrap_or_default()
    }

    /// Waits until the process exits; fails the test after `timeout`.
    pub fn wait(&mut self, p: Proc, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let running = &mut self.children[p.0];
        let child = running.child.as_mut().expect("process already reaped");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                running.child = None;
                return Output {
                    code: status.code(),
                    stdout: std::fs::read_to_string(&running.out).unwrap_or_default(),
                    stderr: std::fs::read_to_string(&running.err).unwrap_or_default(),
                };
            }
            if Instant::now() >= deadline {
                let err = std::fs::read_to_string(&running.err).unwrap_or_default();
                panic!(
                    "{} (pid {}) did not exit within {timeout:?}; its stderr:\n{err}",
                    running.what,
                    child.id()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGINT, then the output (a clean stop prints the final status).
    pub fn stop(&mut self, p: Proc, timeout: Duration) -> Output {
        self.signal(p, Signal::SIGINT);
        self.wait(p, timeout)
    }

    /// Is the process still running?
    pub fn running(&mut self, p: Proc) -> bool {
        match self.children[p.0].child.as_mut() {
            Some(child) => child.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    pub fn signal(&self, p: Proc, sig: Signal) {
        kill(Pid::from_raw(self.pid(p) as i32), sig).expect("kill");
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self, p: Proc) {
        if let Some(mut child) = self.children[p.0].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A fresh snapshot of `segment`.
    pub fn snapshot(&self, segment: &str) -> Snapshot {
        Observer::open(segment, Duration::from_secs(5))
            .expect("observer")
            .snapshot()
            .expect("snapshot")
    }

    /// Polls `cond` on snapshots of `segment` until it holds; fails after
    /// `timeout`, or at once if one of `watch` exits meanwhile.
    pub fn wait_for(
        &mut self,
        what: &str,
        segment: &str,
        watch: &[Proc],
        timeout: Duration,
        mut cond: impl FnMut(&Snapshot) -> bool,
    ) -> Snapshot {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(obs) = Observer::open(segment, Duration::from_millis(100)) {
                if let Ok(snap) = obs.snapshot() {
                    if cond(&snap) {
                        return snap;
                    }
                }
            }
            for &p in watch {
                if !self.running(p) {
                    panic!(
                        "{} exited while waiting for {what}:\n{}",
                        self.children[p.0].what,
                        self.stderr(p)
                    );
                }
            }
            if Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Creates network namespace `name` (deleted on drop).
    pub fn netns(&mut self, name: &str) -> bool {
        let ok = sh(&["ip", "netns", "add", name]);
        if ok {
            self.netns.push(name.to_owned());
        }
        ok
    }

    /// Remembers a veth to delete on drop (deleting a namespace deletes its
    /// end too; this covers a failure before the move).
    pub fn veth(&mut self, name: &str) {
        self.veths.push(name.to_owned());
    }
}

/// Runs a command quietly; true on success.
pub fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for Rig {
    fn drop(&mut self) {
        for running in &mut self.children {
            if let Some(mut child) = running.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        for running in &self.children {
            let _ = std::fs::remove_file(&running.out);
            let _ = std::fs::remove_file(&running.err);
        }
        for name in &self.segments {
            let _ = forge_fabric::segment::unlink(name);
        }
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
        for veth in &self.veths {
            let _ = sh(&["ip", "link", "del", veth]);
        }
        for ns in &self.netns {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
    }
}

/// Asserts that `text` mentions every needle.
pub fn assert_says(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "expected {n:?} in:\n{text}");
    }
}

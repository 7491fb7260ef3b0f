//! The rig for real-process tests of forge-record and forge-replay, after
//! demo/tests/common/mod.rs:
//!
//! - one rig at a time per test binary (a static mutex): daemons share two
//!   cores;
//! - each rig has its own segment names, `/forge_test_rec_<what>_<pid>`, and
//!   a temporary directory for its files;
//! - dropping the rig — on success, failure or panic — SIGKILLs and reaps
//!   every child and unlinks every segment;
//! - every wait is bounded.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

static SERIAL: Mutex<()> = Mutex::new(());

/// The programs a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    Init,
    Stream,
    Core,
    Record,
    Replay,
}

impl Bin {
    pub fn path(self) -> PathBuf {
        match self {
            Bin::Record => env!("CARGO_BIN_EXE_forge-record").into(),
            Bin::Replay => env!("CARGO_BIN_EXE_forge-replay").into(),
            Bin::Init => demo_bin("forge-init"),
            Bin::Stream => demo_bin("forge-stream"),
            Bin::Core => demo_bin("forge-core"),
        }
    }
}

/// A forge-demo daemon, next to our binaries (`cargo test --workspace`
/// builds them; `cargo test -p forge-record` may not, so they are built
/// here when missing).
fn demo_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = Path::new(env!("CARGO_BIN_EXE_forge-record"))
        .parent()
        .unwrap()
        .to_owned();
    let path = dir.join(name);
    BUILT.get_or_init(|| {
        let all = ["forge-init", "forge-stream", "forge-core"];
        if all.iter().all(|b| dir.join(b).is_file()) {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "forge-demo", "--target-dir"]);
        build.arg(dir.parent().unwrap());
        for b in all {
            build.args(["--bin", b]);
        }
        if dir.ends_with("release") {
            build.arg("--release");
        }
        assert!(
            build.status().expect("cargo runs").success(),
            "building the forge-demo daemons failed"
        );
    });
    path
}

/// A finished process.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The stdout as JSON (`--report json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
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

/// A child and the threads draining its output (a report larger than a
/// pipe's buffer must not block the child until it is waited for).
struct Running {
    child: Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

fn drain(r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut r = r;
        let mut out = Vec::new();
        let _ = r.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
}

pub struct Rig {
    what: String,
    segments: Vec<String>,
    children: Vec<Option<Running>>,
    pub dir: tempfile::TempDir,
    _serial: MutexGuard<'static, ()>,
}

impl Rig {
    /// Takes the rig lock and makes a temporary directory for test `what`.
    pub fn new(what: &str) -> Rig {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        Rig {
            what: what.to_owned(),
            segments: Vec::new(),
            children: Vec::new(),
            dir: tempfile::tempdir().expect("temp dir"),
            _serial: serial,
        }
    }

    /// A segment name of this rig's (unlinked on drop).
    pub fn segment(&mut self, tag: &str) -> String {
        let name = format!("/forge_test_rec_{}_{tag}_{}", self.what, std::process::id());
        let _ = forge_fabric::segment::unlink(&name);
        self.segments.push(name.clone());
        name
    }

    /// A path in the rig's temporary directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `bin` with `args`, stdin closed, both outputs piped.
    pub fn spawn(&mut self, bin: Bin, args: &[&str]) -> Proc {
        self.spawn_cmd(&bin.path(), args)
    }

    /// Starts `program` with `args`, as [`spawn`](Self::spawn).
    pub fn spawn_cmd(&mut self, program: &Path, args: &[&str]) -> Proc {
        let mut child = Command::new(program)
            .args(args)
            .env_remove("FORGE_SEGMENT")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let stdout = drain(child.stdout.take().expect("piped"));
        let stderr = drain(child.stderr.take().expect("piped"));
        self.children.push(Some(Running {
            child,
            stdout,
            stderr,
        }));
        Proc(self.children.len() - 1)
    }

    /// Runs `bin` to completion (at most `timeout`).
    pub fn run(&mut self, bin: Bin, args: &[&str], timeout: Duration) -> Output {
        let p = self.spawn(bin, args);
        self.wait(p, timeout)
    }

    /// `forge-init` on `segment` with `slots` slots; must succeed.
    pub fn init(&mut self, segment: &str, slots: u32) {
        let slots = slots.to_string();
        self.run(
            Bin::Init,
            &["--segment", segment, "--slots", &slots],
            Duration::from_secs(20),
        )
        .expect_code(0);
    }

    pub fn pid(&self, p: Proc) -> u32 {
        self.children[p.0].as_ref().expect("reaped").child.id()
    }

    /// Waits for the process to exit; fails the test after `timeout`.
    pub fn wait(&mut self, p: Proc, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let running = self.children[p.0].as_mut().expect("process already reaped");
        loop {
            if let Some(status) = running.child.try_wait().expect("try_wait") {
                let running = self.children[p.0].take().unwrap();
                return Output {
                    code: status.code(),
                    stdout: running.stdout.join().unwrap_or_default(),
                    stderr: running.stderr.join().unwrap_or_default(),
                };
            }
            if Instant::now() >= deadline {
                panic!(
                    "process {} did not exit within {timeout:?}",
                    running.child.id()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Is it still running?
    pub fn running(&mut self, p: Proc) -> bool {
        match self.children[p.0].as_mut() {
            Some(r) => r.child.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    pub fn signal(&self, p: Proc, sig: Signal) {
        kill(Pid::from_raw(self.pid(p) as i32), sig).expect("kill");
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self, p: Proc) {
        if let Some(mut r) = self.children[p.0].take() {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }

    /// Polls `cond` until it holds; fails after `timeout`, or when a child
    /// exits with a failure meanwhile.
    pub fn wait_for(&mut self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}"
            );
            let failed = self.children.iter_mut().position(|r| {
                r.as_mut().is_some_and(
                    |r| matches!(r.child.try_wait(), Ok(Some(status)) if !status.success()),
                )
            });
            if let Some(i) = failed {
                let r = self.children[i].take().unwrap();
                let err = r.stderr.join().unwrap_or_default();
                panic!("child #{i} failed while waiting for {what}:\n{err}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The producer's `head` of `segment`.
    pub fn head(&self, segment: &str) -> u64 {
        forge_fabric::Observer::open(segment, Duration::from_secs(5))
            .expect("observer")
            .snapshot()
            .expect("snapshot")
            .head
    }

    /// Waits until a consumer attaches to `segment`.
    pub fn wait_for_consumer(&mut self, segment: &str) {
        let seg = segment.to_owned();
        self.wait_for("a consumer to attach", Duration::from_secs(20), || {
            forge_fabric::Observer::open(&seg, Duration::from_secs(5))
                .ok()
                .and_then(|o| o.snapshot().ok())
                .is_some_and(|s| {
                    s.consumer.pid != 0 && s.consumer.role_state == forge_fabric::RoleState::Active
                })
        });
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for mut r in self.children.iter_mut().filter_map(Option::take) {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
        for s in &self.segments {
            let _ = forge_fabric::segment::unlink(s);
        }
    }
}

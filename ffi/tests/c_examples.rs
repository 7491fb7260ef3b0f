//! examples/c/producer.c and consumer.c, compiled with the system `cc`
//! against the library cargo built for this test (the producer statically,
//! the consumer against the shared library) and the checked-in header,
//! then run against Forge's own daemons:
//!
//! - the C producer into a ring read by `forge-core --verify`: 0 gaps,
//!   exit 0, and forge-top names the C program;
//! - forge-stream into a ring read by the C consumer, which checks every
//!   frame, and ends with exit 4 on one that fails its check;
//! - the exit-code contract: a retired segment ends the C producer with 3,
//!   SIGTERM ends the C consumer with 0.
//!
//! One rig at a time, the daemons yielding their core when they wait (the
//! C producer yields, the C consumer parks), segments named
//! `/forge_test_ffi_<pid>_<n>`, every wait bounded, and the rig's drop
//! kills every child and unlinks the segment on every path.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use forge_fabric::{CreateOptions, LiveHolders, Observer, Segment, Snapshot};

static SERIAL: Mutex<()> = Mutex::new(());
static NEXT: AtomicU32 = AtomicU32::new(1);

/// Where cargo put this test: `<target>/<profile>/deps`. The library this
/// test binary links as an rlib was built in the same rustc run as
/// `libforge_ffi.a` and `libforge_ffi.so` beside it, so those are as fresh
/// as the test.
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent().expect("<target>/<profile>/deps").to_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The C library, checked to be there.
fn library() -> PathBuf {
    let deps = deps_dir();
    for file in ["libforge_ffi.a", "libforge_ffi.so"] {
        assert!(
            deps.join(file).is_file(),
            "{} was not built",
            deps.join(file).display()
        );
    }
    deps
}

/// The daemons and forge-top, in `<target>/<profile>`: `cargo test
/// --workspace` builds them; `cargo test -p forge-ffi` does not, so they
/// are built here when missing or older than a source they are built from
/// (a daemon of another layout than the library would fail these tests for
/// nothing), by the commands the record and demo tests use.
fn daemons() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = deps_dir().parent().unwrap().to_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let builds: [(&[&str], &[&str], &[&str]); 2] = [
            (
                &["forge-init", "forge-stream", "forge-core"],
                &["fabric", "frame", "holder", "cli", "demo"],
                &[
                    "-p",
                    "forge-demo",
                    "--bin",
                    "forge-init",
                    "--bin",
                    "forge-stream",
                    "--bin",
                    "forge-core",
                ],
            ),
            (
                &["forge-top"],
                &["fabric", "frame", "holder", "cli", "record", "src"],
                &["-p", "forge-top", "--bin", "forge-top"],
            ),
        ];
        for (bins, sources, args) in builds {
            let newest = sources
                .iter()
                .map(|d| newest_file(&repo().join(d)))
                .chain([newest_file(&repo().join("Cargo.lock"))])
                .max()
                .unwrap();
            let fresh = |b: &&str| {
                std::fs::metadata(dir.join(b))
                    .and_then(|m| m.modified())
                    .is_ok_and(|built| built >= newest)
            };
            if bins.iter().all(fresh) {
                continue;
            }
            let mut build = Command::new(&cargo);
            build
                .arg("build")
                .args(args)
                .arg("--target-dir")
                .arg(dir.parent().unwrap());
            if dir.ends_with("release") {
                build.arg("--release");
            }
            let status = build.status().expect("cargo runs");
            assert!(status.success(), "building {bins:?} failed");
        }
        dir
    })
}

/// The latest modification time of `path` or of any file under it.
fn newest_file(path: &Path) -> std::time::SystemTime {
    let meta = std::fs::metadata(path).expect("a source of the daemons");
    let mut newest = meta.modified().unwrap();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            newest = newest.max(newest_file(&entry.unwrap().path()));
        }
    }
    newest
}

/// One C example, compiled into `out`.
struct Program(PathBuf);

/// Compiles examples/c/`name`.c with `-Wall -Wextra -Werror`: statically
/// linked, or against the shared library (found again at run time through
/// its rpath).
fn compile(name: &str, out: &Path, statically: bool) -> Program {
    let lib = library();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let exe = out.join(name);
    let mut cmd = Command::new(&cc);
    cmd.args(["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(repo().join("ffi/include"))
        .arg(repo().join(format!("examples/c/{name}.c")))
        .arg("-o")
        .arg(&exe);
    if statically {
        // What `rustc --print native-static-libs` names for this library.
        cmd.arg(lib.join("libforge_ffi.a")).args([
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ]);
    } else {
        cmd.arg("-L")
            .arg(&lib)
            .arg("-lforge_ffi")
            .arg(format!("-Wl,-rpath,{}", lib.display()));
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(
        output.status.success(),
        "{cc} failed on examples/c/{name}.c:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Program(exe)
}

/// The programs a test runs.
enum Bin<'a> {
    C(&'a Program),
    Forge(&'static str),
}

/// A segment, the children run on it, and a scratch directory: the drop
/// kills and reaps every child and unlinks the segment.
struct Rig {
    name: String,
    children: Vec<Option<Child>>,
    scratch: tempfile::TempDir,
    _serial: MutexGuard<'static, ()>,
}

#[derive(Debug, Clone, Copy)]
struct Proc(usize);

impl Rig {
    /// A fresh segment of `slots` slots at `/forge_test_ffi_<pid>_<n>`.
    fn new(slots: u32) -> Rig {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let name = format!(
            "/forge_test_ffi_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let _ = forge_fabric::segment::unlink(&name);
        let opts = CreateOptions {
            slot_count: slots,
            ..CreateOptions::default()
        };
        drop(Segment::create(&name, &opts).expect("a test segment"));
        let scratch = tempfile::Builder::new()
            .prefix("forge_ffi_c")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("a scratch directory");
        Rig {
            name,
            children: Vec::new(),
            scratch,
            _serial: serial,
        }
    }

    fn dir(&self) -> &Path {
        self.scratch.path()
    }

    fn spawn(&mut self, bin: Bin<'_>, args: &[&str]) -> Proc {
        let mut cmd = match bin {
            Bin::C(p) => Command::new(&p.0),
            Bin::Forge(name) => Command::new(daemons().join(name)),
        };
        let child = cmd
            .args(args)
            .env_remove("FORGE_SEGMENT")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a child");
        self.children.push(Some(child));
        Proc(self.children.len() - 1)
    }

    fn pid(&self, p: Proc) -> i32 {
        self.children[p.0].as_ref().expect("not reaped").id() as i32
    }

    /// Waits for `p` to exit, at most `timeout` (then the test fails, and
    /// the drop kills it).
    fn wait(&mut self, p: Proc, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.children[p.0].as_mut().expect("not reaped");
            if child.try_wait().expect("try_wait").is_some() {
                return self.children[p.0]
                    .take()
                    .unwrap()
                    .wait_with_output()
                    .expect("output");
            }
            assert!(
                Instant::now() < deadline,
                "child {} did not exit within {timeout:?}",
                child.id()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Polls snapshots of the segment until `cond` holds, at most `timeout`;
    /// fails early if a child died.
    fn wait_for(&mut self, what: &str, timeout: Duration, cond: impl Fn(&Snapshot) -> bool) {
        let observer = Observer::open(&self.name, Duration::from_secs(2)).expect("observer");
        let deadline = Instant::now() + timeout;
        loop {
            let snap = observer.snapshot().expect("snapshot");
            if cond(&snap) {
                return;
            }
            for child in self.children.iter_mut().flatten() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("a child exited ({status}) while waiting for {what}");
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}: head {} tail {}, producer {:?} pid {}, consumer {:?} pid {}",
                snap.head,
                snap.tail,
                snap.producer.program,
                snap.producer.pid,
                snap.consumer.program,
                snap.consumer.pid
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for mut child in self.children.iter_mut().filter_map(Option::take) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = forge_fabric::segment::unlink(&self.name);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn expect_code(out: &Output, code: i32, who: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{who}: unexpected exit status\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("panicked"), "{who} panicked");
}

const FRAMES: u64 = 20_000;
const WAIT: Duration = Duration::from_secs(120);

#[test]
fn the_c_producer_feeds_forge_core_verify_without_a_gap_and_forge_top_names_it() {
    let mut rig = Rig::new(64);
    let producer = compile("producer", rig.dir(), true);
    let name = rig.name.clone();
    let frames = FRAMES.to_string();
    let p = rig.spawn(Bin::C(&producer), &[&name, &frames, "128"]);
    // No consumer yet: the producer fills the 64 slots and waits, holding
    // its role, so forge-top can be asked about it.
    rig.wait_for("the C producer to fill the ring", WAIT, |s| {
        s.producer.program == "c-producer" && s.head == 64
    });
    let top = rig.spawn(
        Bin::Forge("forge-top"),
        &["--once", "--format", "json", "--segment", &name],
    );
    let top = rig.wait(top, WAIT);
    expect_code(&top, 0, "forge-top");
    let json: serde_json::Value = serde_json::from_slice(&top.stdout).expect("forge-top's JSON");
    assert_eq!(
        json["sample"]["header"]["producer"]["program"],
        "c-producer",
        "forge-top names the C producer:\n{}",
        text(&top.stdout)
    );
    assert_eq!(
        json["sample"]["header"]["producer"]["pid"],
        rig.pid(p),
        "and its pid"
    );

    let core = rig.spawn(
        Bin::Forge("forge-core"),
        &[
            "--segment",
            &name,
            "--verify",
            "--count",
            &frames,
            "--report",
            "json",
            "--wait",
            "yield",
        ],
    );
    let core = rig.wait(core, WAIT);
    expect_code(&core, 0, "forge-core");
    let report: serde_json::Value =
        serde_json::from_slice(&core.stdout).expect("forge-core's JSON");
    assert_eq!(report["frames"], FRAMES, "{report}");
    assert_eq!(report["checked"], "sequence, length, checksum");
    for issue in ["gaps", "duplicates", "corrupt"] {
        assert_eq!(report[issue], 0, "{issue}: {report}");
    }
    let producer = rig.wait(p, WAIT);
    expect_code(&producer, 0, "the C producer");
    assert!(
        producer.stderr.is_empty(),
        "a run that succeeds says nothing: {}",
        text(&producer.stderr)
    );
}

#[test]
fn forge_stream_feeds_the_c_consumer_which_checks_every_frame() {
    let mut rig = Rig::new(512);
    let consumer = compile("consumer", rig.dir(), false);
    let name = rig.name.clone();
    let frames = FRAMES.to_string();
    let c = rig.spawn(Bin::C(&consumer), &[&name, &frames]);
    rig.wait_for("the C consumer to take its role", WAIT, |s| {
        s.consumer.program == "c-consumer"
    });
    let stream = rig.spawn(
        Bin::Forge("forge-stream"),
        &[
            "--segment",
            &name,
            "--count",
            &frames,
            "--size",
            "64-1024",
            "--wait",
            "yield",
        ],
    );
    let stream = rig.wait(stream, WAIT);
    expect_code(&stream, 0, "forge-stream");
    let out = rig.wait(c, WAIT);
    expect_code(&out, 0, "the C consumer");
    assert!(
        text(&out.stdout).starts_with(&format!("c-consumer: {FRAMES} frames checked")),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_c_consumer_ends_with_exit_4_at_a_frame_that_fails_its_check() {
    let mut rig = Rig::new(8);
    let consumer = compile("consumer", rig.dir(), false);
    let name = rig.name.clone();
    {
        // This test writes as a producer would: one sound frame, then one
        // whose body changed after its checksum was made.
        let segment = Segment::open(&name, Duration::from_secs(2)).unwrap();
        let mut producer = segment.producer().unwrap();
        for position in 0..2u64 {
            producer
                .write_with(|slot| {
                    let n = forge_frame::encode(
                        slot,
                        position,
                        1,
                        7,
                        forge_frame::FrameKind::Log,
                        b"hello",
                    )
                    .unwrap();
                    if position == 1 {
                        slot[n - 1] ^= 0x20;
                    }
                    n
                })
                .unwrap();
        }
    }
    let c = rig.spawn(Bin::C(&consumer), &[&name]);
    let out = rig.wait(c, WAIT);
    expect_code(&out, 4, "the C consumer");
    assert!(
        text(&out.stdout).starts_with("c-consumer: 1 frames checked"),
        "{}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("frame at position 1") && stderr.contains("checksum mismatch"),
        "says which frame and why:\n{stderr}"
    );
}

#[test]
fn the_c_producer_ends_with_exit_3_when_its_segment_is_retired() {
    let mut rig = Rig::new(8);
    let producer = compile("producer", rig.dir(), true);
    let name = rig.name.clone();
    let p = rig.spawn(Bin::C(&producer), &[&name, "1000"]);
    rig.wait_for("the C producer to fill the ring", WAIT, |s| {
        s.producer.program == "c-producer" && s.head == 8
    });
    // forge-init --force: the old session is retired under its producer.
    let (new, _) = Segment::replace(&name, &CreateOptions::default(), LiveHolders::Retire)
        .expect("replace the segment");
    drop(new);
    let out = rig.wait(p, WAIT);
    expect_code(&out, 3, "the C producer");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("c-producer: stopping: ") && stderr.contains("was retired"),
        "says why, as Forge's daemons do:\n{stderr}"
    );
}

#[test]
fn sigterm_stops_the_c_consumer_cleanly_with_exit_0() {
    let mut rig = Rig::new(8);
    let consumer = compile("consumer", rig.dir(), false);
    let name = rig.name.clone();
    let c = rig.spawn(Bin::C(&consumer), &[&name]);
    rig.wait_for("the C consumer to take its role", WAIT, |s| {
        s.consumer.program == "c-consumer"
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(rig.pid(c)),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let out = rig.wait(c, WAIT);
    expect_code(&out, 0, "the C consumer");
    assert!(
        out.stderr.is_empty(),
        "a stop asked for says nothing: {}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).starts_with("c-consumer: 0 frames checked"));
    // The role was released on the way out, not left to a dead process.
    let snap = Observer::open(&name, Duration::ZERO)
        .unwrap()
        .snapshot()
        .unwrap();
    assert_eq!(snap.consumer.pid, 0, "the consumer's line is released");
}

#[test]
fn the_header_compiles_as_pedantic_c99_and_as_cpp() {
    let scratch = tempfile::Builder::new()
        .prefix("forge_ffi_h")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let program = "#include \"forge.h\"\n\
        int main(void) {\n\
            ForgeClaim claim = forge_claim_default();\n\
            claim.wait = FORGE_WAIT_STRATEGY_PARK;\n\
            return forge_holder_exit_code(FORGE_STATUS_OK) + (int)claim.wait - 2;\n\
        }\n";
    for (compiler, file, std) in [
        (
            std::env::var("CC").unwrap_or_else(|_| "cc".into()),
            "h.c",
            "-std=c99",
        ),
        (
            std::env::var("CXX").unwrap_or_else(|_| "c++".into()),
            "h.cpp",
            "-std=c++11",
        ),
    ] {
        let source = scratch.path().join(file);
        std::fs::write(&source, program).unwrap();
        let out = Command::new(&compiler)
            .args([
                std,
                "-pedantic",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-fsyntax-only",
                "-I",
            ])
            .arg(repo().join("ffi/include"))
            .arg(&source)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
        assert!(
            out.status.success(),
            "{compiler} {std} rejects forge.h:\n{}",
            text(&out.stderr)
        );
    }
}

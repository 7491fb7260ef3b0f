//! A holder is proven by the kernel, or not at all (issue 19, case 1).
//!
//! Anyone who may write a segment can rewrite a role's line: its pid, pid
//! namespace and start time can name any process, and all three match that
//! process exactly. forge-top's `b` (a SIGUSR1 burst to the producer) and
//! its "verified" mark must then still refuse: the named process holds no
//! lock of this segment's, as its own `/proc/PID/fdinfo` says.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use forge_fabric::observe::HolderCheck;
use forge_fabric::{Observer, Role};
use forge_top::source::burst_producer;

/// The daemons, next to forge-top; built first if this run did not build
/// them (`cargo test -p forge-top` builds only forge-top).
fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let top = PathBuf::from(env!("CARGO_BIN_EXE_forge-top"));
    let dir = top.parent().unwrap().to_path_buf();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or("cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "forge-demo", "--bins", "--target-dir"])
            .arg(dir.parent().unwrap())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the demo daemons failed");
    });
    if name == "forge-top" {
        top
    } else {
        dir.join(name)
    }
}

/// A segment and the processes of one test, gone on drop.
struct Rig {
    name: String,
    children: Vec<Child>,
}

impl Rig {
    fn new(what: &str) -> Rig {
        let name = format!("/forge_test_proof_{what}_{}", std::process::id());
        let out = Command::new(bin("forge-init"))
            .args(["--segment", &name, "--slots", "64"])
            .output()
            .unwrap();
        assert!(out.status.success(), "forge-init: {out:?}");
        Rig {
            name,
            children: Vec::new(),
        }
    }

    fn spawn(&mut self, program: PathBuf, args: &[&str]) -> u32 {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
        self.children.last().unwrap().id()
    }

    fn alive(&mut self, pid: u32) -> bool {
        let c = self.children.iter_mut().find(|c| c.id() == pid).unwrap();
        c.try_wait().unwrap().is_none()
    }

    /// Writes `bytes` at `offset` of the segment, as any writer could.
    fn poke(&self, offset: u64, bytes: &[u8]) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/dev/shm{}", self.name))
            .unwrap()
            .write_all_at(bytes, offset)
            .unwrap();
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = forge_fabric::segment::unlink(&self.name);
    }
}

fn start_ticks(pid: u32) -> u64 {
    procfs::process::Process::new(pid as i32)
        .unwrap()
        .stat()
        .unwrap()
        .starttime
}

#[test]
fn burst_refuses_a_process_whose_pid_namespace_and_start_time_were_forged_into_the_producer_line() {
    let mut rig = Rig::new("forged");
    let segment = rig.name.clone();
    let producer = rig.spawn(
        bin("forge-stream"),
        &["--segment", &segment, "--rate", "1000", "--wait", "park"],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while Observer::open(&segment, Duration::ZERO)
        .ok()
        .and_then(|o| o.snapshot().ok())
        .is_none_or(|s| s.producer.pid != producer)
    {
        assert!(Instant::now() < deadline, "no producer");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The real holder is proven.
    let obs = Observer::open(&segment, Duration::ZERO).unwrap();
    assert_eq!(
        obs.verify_holder(Role::Producer),
        HolderCheck::Verified { pid: producer }
    );

    // The same user's `sleep` (so no owner check can save it), named in the
    // producer line with its true pid, pid namespace and start time: every
    // fact a line can give matches it. SIGUSR1 would kill it.
    let victim = rig.spawn("sleep".into(), &["30"]);
    rig.poke(144, &victim.to_le_bytes());
    rig.poke(216, &start_ticks(victim).to_le_bytes());
    let check = obs.verify_holder(Role::Producer);
    assert!(
        matches!(&check, HolderCheck::NotTheHolder { pid, why } if *pid == victim && why.contains("holds no write lock")),
        "{check:?}"
    );
    let refused = burst_producer(&segment, victim).unwrap_err().to_string();
    assert!(
        refused.contains("is not the role holder") && refused.contains("holds no write lock"),
        "{refused}"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(rig.alive(victim), "the forged line's process was signalled");
    assert!(rig.alive(producer));

    // forge-top does not show it as verified either, and says why.
    let out = Command::new(bin("forge-top"))
        .args([
            "--segment",
            &segment,
            "--once",
            "--format",
            "json",
            "--no-wait",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["sample"]["producer"];
    assert_eq!(p["verified"], false, "{p}");
    assert_eq!(p["alive"], true, "{p}");
    assert!(
        p["holder_note"]
            .as_str()
            .is_some_and(|n| n.contains("holds no write lock")),
        "{p}"
    );
}

//! Reading grants no power over roles, and nothing is retired that cannot be
//! replaced (issue 19, cases 2 and 3). Each test makes a second user for
//! itself (removed afterwards, even on failure), so they need root; without
//! it they say so and pass.

mod common;

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use common::{assert_says, session_of, Bin, Rig};
use nix::sys::signal::Signal;

const T: Duration = Duration::from_secs(30);

/// A system user made for one test and deleted on drop.
struct OtherUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl OtherUser {
    fn create(tag: &str) -> Option<OtherUser> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: making a second user for this test needs root");
            return None;
        }
        let name = format!("forge{tag}{}", std::process::id());
        let made = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                &name,
            ])
            .status();
        if !made.as_ref().is_ok_and(|s| s.success()) {
            eprintln!("SKIPPED: useradd {name} failed ({made:?})");
            return None;
        }
        // Deleted on drop from here on, whatever happens.
        let mut user = OtherUser {
            name,
            uid: 0,
            gid: 0,
        };
        let found = nix::unistd::User::from_name(&user.name)
            .unwrap()
            .expect("the user just made");
        user.uid = found.uid.as_raw();
        user.gid = found.gid.as_raw();
        Some(user)
    }

    /// `program args…` as this user.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .uid(self.uid)
            .gid(self.gid)
            .env_remove("FORGE_SEGMENT");
        cmd
    }
}

impl Drop for OtherUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// A `sleep` of `user`'s that holds open-file-description *read* locks on
/// bytes 128 and 256 of `path`, opened read-only as that user: what any
/// reader of the segment can do.
fn squat(rig: &mut Rig, user: &OtherUser, path: &str) -> common::Proc {
    let c_path = CString::new(path).unwrap();
    let mut cmd = user.command("sleep", &["60"]);
    // SAFETY: between fork and exec the closure only calls open and fcntl,
    // which are async-signal-safe, and allocates nothing (the path was made
    // before the fork). The descriptor is inherited by `sleep` on purpose.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(c_path.as_ptr(), libc::O_RDONLY);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for start in [128, 256] {
                let mut fl: libc::flock = std::mem::zeroed();
                fl.l_type = libc::F_RDLCK as libc::c_short;
                fl.l_whence = libc::SEEK_SET as libc::c_short;
                fl.l_start = start;
                fl.l_len = 1;
                if libc::fcntl(fd, libc::F_OFD_SETLK, &fl) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    rig.spawn_command(cmd)
}

/// Can `user` open `path` with `flags`? Tried in a child as that user.
fn can_open(user: &OtherUser, path: &str, flags: libc::c_int) -> std::io::Result<()> {
    let c_path = CString::new(path).unwrap();
    let mut cmd = user.command("true", &[]);
    // SAFETY: as in `squat`: open only, no allocation.
    unsafe {
        cmd.pre_exec(move || {
            if libc::open(c_path.as_ptr(), flags) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.status().map(|_| ())
}

/// The `/proc/locks` lines of read locks on the segment file.
fn read_locks_on(path: &str) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(path).unwrap().ino();
    std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .filter(|l| l.contains(" READ ") && l.contains(&format!(":{ino} ")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_user_who_may_only_read_a_segment_can_neither_block_nor_fake_its_roles() {
    let Some(reader) = OtherUser::create("rd") else {
        return;
    };
    let mut rig = Rig::new("roles_reader");
    rig.init(&["--slots", "64", "--mode", "644"]);
    let path = rig.shm_path();
    let roles = format!("{path}.roles");
    let squatter = squat(&mut rig, &reader, &path);
    let deadline = std::time::Instant::now() + T;
    while read_locks_on(&path).len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no read locks");
        assert!(rig.running(squatter), "the squatter could not lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The reader cannot even open the role-lock object, to read or write.
    for flags in [libc::O_RDONLY, libc::O_WRONLY] {
        let e = can_open(&reader, &roles, flags).expect_err("a reader opened the roles");
        assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
    }

    // Nobody holds a role: forge-top says so (no "pid 0 alive").
    let top = rig.run(Bin::Top, &["--once", "--format", "json", "--no-wait"], T);
    top.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&top.stdout).unwrap();
    for side in ["producer", "consumer"] {
        assert_eq!(
            v["sample"][side]["alive"], false,
            "{side}: {}",
            v["sample"][side]
        );
    }
    // Both daemons take their roles and stream, under the squatter.
    let core = rig.spawn(
        Bin::Core,
        &[
            "--verify", "--count", "500", "--wait", "yield", "--report", "json",
        ],
    );
    let stream = rig.run(Bin::Stream, &["--count", "500", "--wait", "yield"], T);
    stream.expect_code(0);
    let core = rig.wait(core, T);
    core.expect_code(0);
    assert_eq!(core.json()["frames"], 500);
    // And forge-init does not call the segment in use.
    let init = rig.run(Bin::Init, &["--slots", "64", "--mode", "644"], T);
    init.expect_code(0);
    assert!(rig.running(squatter));
}

#[test]
fn a_read_lock_squatter_on_an_older_segment_is_named_with_what_to_do() {
    let Some(reader) = OtherUser::create("sq") else {
        return;
    };
    let mut rig = Rig::new("roles_squatter");
    rig.init(&["--slots", "64", "--mode", "644"]);
    // What a forge-init of layout 3 made: the role locks on the segment.
    rig.poke(8, &3u32.to_le_bytes());
    rig.poke(80, &0u64.to_le_bytes());
    let path = rig.shm_path();
    let squatter = squat(&mut rig, &reader, &path);
    let deadline = std::time::Instant::now() + T;
    while read_locks_on(&path).len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no read locks");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = rig.pid(squatter);
    for bin in [Bin::Stream, Bin::Core] {
        let out = rig.run(bin, &["--count", "10", "--wait", "park"], T);
        out.expect_code(1);
        assert_says(
            &out,
            &[
                "blocked, not held",
                &format!("pid {pid} (uid {})", reader.uid),
                "read lock",
                "re-create",
            ],
        );
    }
    // A squatter is no holder: forge-init replaces the segment unforced,
    // with one whose role locks the squatter cannot reach.
    let init = rig.run(Bin::Init, &["--slots", "64", "--mode", "644"], T);
    init.expect_code(0);
    rig.run(Bin::Stream, &["--count", "10", "--wait", "park"], T)
        .expect_code(0);
}

#[test]
fn force_by_a_user_who_cannot_replace_the_segment_changes_nothing() {
    let Some(other) = OtherUser::create("fo") else {
        return;
    };
    let mut rig = Rig::new("roles_force");
    let made = rig.init(&["--slots", "64", "--mode", "666"]);
    let session = session_of(&made.stdout);
    let core = rig.spawn(Bin::Core, &["--wait", "park", "--report", "json"]);
    let stream = rig.spawn(Bin::Stream, &["--rate", "2000", "--wait", "park"]);
    let (cp, sp) = (rig.pid(core), rig.pid(stream));
    rig.wait_for("both roles", T, |s| {
        s.producer.pid == sp && s.consumer.pid == cp
    });
    let before = rig.snapshot();

    // Another user, who may write the 0666 segment but not remove it from
    // the sticky /dev/shm, asks to replace it under the daemons.
    let init = other
        .command(
            Bin::Init.path(),
            &["--segment", &rig.segment, "--force", "--slots", "64"],
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&init.stderr);
    assert_eq!(init.status.code(), Some(1), "{err}");
    for needle in [
        "cannot replace",
        "belongs to uid 0",
        "sticky",
        "nothing was changed",
    ] {
        assert!(err.contains(needle), "{needle:?} in:\n{err}");
    }
    // Nothing changed: live, same session, both daemons still streaming.
    std::thread::sleep(Duration::from_millis(300));
    let after = rig.snapshot();
    assert_eq!(after.identity.state, forge_fabric::SegmentState::Live);
    assert_eq!(after.identity.session_id, before.identity.session_id);
    assert_eq!(format!("{:#018x}", after.identity.session_id), session);
    assert!(after.head > before.head, "the producer went on");
    assert!(rig.running(stream) && rig.running(core));
    rig.signal(stream, Signal::SIGTERM);
    rig.wait(stream, T).expect_code(0);
    rig.signal(core, Signal::SIGTERM);
    rig.wait(core, T).expect_code(0);
}

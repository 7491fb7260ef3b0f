//! Issue 19 case 9 and issue 22 item 9: `forge-top --list` shows every
//! Forge object — a retired one marked retired, one this user may not read
//! marked "not readable by you" with its owner and mode, never "no Forge
//! segment" — and JSON gives sessions as hex strings, which `jq` cannot
//! round. The unreadable case runs forge-top as a user the test creates
//! (and removes); it is skipped, saying so, when not root.

#[path = "common/user.rs"]
mod user;

use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use user::TestUser;

fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forge-top"))
}

/// forge-init next to forge-top, built first if this run did not build it.
fn forge_init() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = top().parent().unwrap().to_path_buf();
    BUILT.get_or_init(|| {
        if !dir.join("forge-init").is_file() {
            let cargo = std::env::var("CARGO").unwrap_or("cargo".into());
            let status = Command::new(cargo)
                .args([
                    "build",
                    "-p",
                    "forge-demo",
                    "--bin",
                    "forge-init",
                    "--target-dir",
                ])
                .arg(dir.parent().unwrap())
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building forge-init failed");
        }
    });
    dir.join("forge-init")
}

/// Segments made for the test, unlinked on drop even when it fails.
struct Segments(Vec<String>);

impl Segments {
    fn init(&mut self, tag: &str) -> String {
        let name = format!("/forge_test_list9_{tag}_{}", std::process::id());
        let out = Command::new(forge_init())
            .args(["--segment", &name, "--slots", "64", "--force"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        self.0.push(name.clone());
        name
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = std::fs::remove_file(format!("/dev/shm{name}"));
            let _ = std::fs::remove_file(format!("/dev/shm{name}.roles"));
        }
    }
}

fn list(as_user: Option<(&TestUser, &Path)>, json: bool) -> Output {
    let mut cmd = match as_user {
        Some((user, copy)) => {
            let mut c = Command::new("runuser");
            c.args(["-u", &user.0, "--"]).arg(copy);
            c
        }
        None => Command::new(top()),
    };
    cmd.args(["--list", "--after", "10ms"]);
    if json {
        cmd.args(["--format", "json"]);
    }
    cmd.env_remove("FORGE_SEGMENT").output().unwrap()
}

fn text(o: &Output) -> String {
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn case_9_list_marks_retired_and_unreadable_segments_and_gives_sessions_in_hex() {
    let mut segs = Segments(Vec::new());
    let private = segs.init("private");
    let retired = segs.init("retired");
    // Left retired in place, as a forge-init --force that could not
    // unlink it leaves it: successor at byte 48, state 2 at byte 40.
    let successor: u64 = 0x158d_019c_4cd4_48f8;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm{retired}"))
        .unwrap();
    f.write_all_at(&successor.to_le_bytes(), 48).unwrap();
    f.write_all_at(&2u32.to_le_bytes(), 40).unwrap();
    drop(f);

    let listed = text(&list(None, false));
    let line = listed
        .lines()
        .find(|l| l.starts_with(&retired))
        .unwrap_or_else(|| panic!("{retired} is not listed:\n{listed}"));
    assert!(
        line.contains("retired") && line.contains("replaced by session 0x158d019c4cd448f8"),
        "{line}"
    );
    let v: serde_json::Value = serde_json::from_str(&text(&list(None, true))).unwrap();
    let entry = |name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in {v}"))
    };
    let r = entry(&retired);
    assert_eq!(r["state"], "retired", "{r}");
    assert_eq!(r["successor"], "0x158d019c4cd448f8", "{r}");
    let p = entry(&private);
    let session = p["session"].as_str().unwrap_or_else(|| panic!("{p}"));
    assert!(session.starts_with("0x") && session.len() == 18, "{p}");

    // Another user may read neither: both are listed, said so, with owner
    // and mode; never "no Forge segment".
    let Some(user) = TestUser::create("l") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.path().join("forge-top");
    std::fs::copy(top(), &copy).unwrap();
    let listed = text(&list(Some((&user, &copy)), false));
    assert!(!listed.contains("no Forge segment"), "{listed}");
    for name in [&private, &retired] {
        let line = listed
            .lines()
            .find(|l| l.starts_with(name.as_str()))
            .unwrap_or_else(|| panic!("{name} is not listed for {}:\n{listed}", user.0));
        assert!(
            line.contains("not readable by you: owner root (uid 0), mode 0600"),
            "{line}"
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&text(&list(Some((&user, &copy)), true))).unwrap();
    let p = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == private.as_str())
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(p["unreadable"]["uid"], 0, "{p}");
    assert_eq!(p["unreadable"]["owner"], "root", "{p}");
    assert_eq!(p["unreadable"]["mode"], "0600", "{p}");
}

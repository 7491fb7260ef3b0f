//! Issue 19 case 4 for forge-top: what it writes is created, never
//! followed — `--snapshot PATH`, and the `s` key's bundle in the screenshot
//! directory, which must be the user's own (OpenSSH's safe_path rule).
//! The interactive case runs the real TUI on a pseudo-terminal (`script`).

#[path = "common/user.rs"]
mod user;

use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use forge_fabric::observe::HolderCheck;
use forge_fabric::segment::IdentitySnapshot;
use forge_fabric::{SlotCopy, SlotState, Snapshot};
use forge_record::image::{ImageMeta, RingImage};
use user::TestUser;

const SESSION: u64 = 0x0123_4567_89ab_cdef;
/// 2024-02-29 12:00:00 UTC: the image's time, so its screenshot's name is
/// known in advance (as an attacker would know the next one).
const TAKEN_UNIX_NS: u64 = 1_709_208_000_000_000_000;
const STEM: &str = "forge-top-0123456789abcdef-20240229-120000";

fn top() -> PathBuf {
    env!("CARGO_BIN_EXE_forge-top").into()
}

/// A sound four-slot ring image.
fn image() -> RingImage {
    let slot_size = 8 + 4096;
    RingImage {
        meta: ImageMeta {
            taken_unix_ns: TAKEN_UNIX_NS,
            taken_mono_ns: 1,
            host: "test".into(),
            writer: "test".into(),
        },
        snapshot: Snapshot {
            name: "/forge_outputs".into(),
            slot_count: 4,
            file_size: 4096 + 4 * slot_size,
            identity: IdentitySnapshot {
                magic: forge_fabric::layout::MAGIC,
                layout_version: forge_fabric::layout::LAYOUT_VERSION,
                header_size: 4096,
                slot_size: slot_size as u32,
                slot_count: 4,
                segment_size: 4096 + 4 * slot_size,
                session_id: SESSION,
                payload_capacity: 4096,
                ..Default::default()
            },
            ..Default::default()
        },
        holders: [HolderCheck::NotHeld, HolderCheck::NotHeld],
        slots: (0..4)
            .map(|index| SlotCopy {
                index,
                position: None,
                state: SlotState::Free,
                len: 0,
                flags: 0,
                stamp: 0,
                bytes: Vec::new(),
                changed: false,
                overwritable: false,
                torn: false,
            })
            .collect(),
    }
}

fn write_image(path: &Path) {
    std::fs::write(path, image().to_bytes()).unwrap();
}

/// A child killed on drop.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs forge-top's TUI on `--file image` in a pseudo-terminal with
/// `TMPDIR=tmpdir`, presses `s`, then `q`; returns what it drew.
fn press_s(image: &Path, tmpdir: &Path) -> String {
    let cmd = format!(
        "stty cols 220 rows 50 2>/dev/null; exec {} --file {}",
        top().display(),
        image.display()
    );
    let child = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .env("TMPDIR", tmpdir)
        .env("TERM", "xterm")
        .env_remove("FORGE_SEGMENT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script runs");
    let mut running = Running(Some(child));
    let child = running.0.as_mut().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    stdin.write_all(b"s").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    stdin.write_all(b"q").unwrap();
    stdin.flush().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "forge-top did not quit on q");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    let out = reader.join().unwrap();
    // The screen without its escape sequences, good enough to search.
    let text = String::from_utf8_lossy(&out).into_owned();
    strip_escapes(&text)
}

fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() || d == '~' {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn case_4_a_screenshot_directory_planted_by_another_user_is_refused_and_nothing_is_written() {
    let Some(mallory) = TestUser::create("s") else {
        return;
    };
    // A world-writable, sticky temporary directory, like /tmp.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let img = tmp.path().join("ring.forge");
    write_image(&img);
    let precious = tmp.path().join("precious");
    std::fs::write(&precious, b"root's file").unwrap();
    std::fs::set_permissions(&precious, std::fs::Permissions::from_mode(0o644)).unwrap();

    // Mallory makes $TMPDIR/forge-top before root's forge-top does, open to
    // all, and plants links named like the next screenshot.
    let planted = tmp.path().join("forge-top");
    mallory.sh(&format!(
        "mkdir -m 777 {dir} && for e in svg txt json forge; do ln -s {precious} {dir}/{STEM}.$e; done",
        dir = planted.display(),
        precious = precious.display()
    ));
    let before = names(&planted);
    let screen = press_s(&img, tmp.path());
    assert!(
        screen.contains("refusing directory") && screen.contains(&planted.display().to_string()),
        "forge-top did not say it refused {}:\n{screen}",
        planted.display()
    );
    assert_eq!(std::fs::read(&precious).unwrap(), b"root's file");
    assert_eq!(names(&planted), before, "something was written into it");
}

#[test]
fn case_4_screenshots_go_into_a_private_directory_and_never_through_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("ring.forge");
    write_image(&img);
    let precious = tmp.path().join("precious");
    std::fs::write(&precious, b"keep me").unwrap();
    // The directory is ours and private, but a link holds the next name.
    let dir = tmp.path().join("forge-top");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    symlink(&precious, dir.join(format!("{STEM}.svg"))).unwrap();
    let screen = press_s(&img, tmp.path());
    assert!(screen.contains("saved"), "{screen}");
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
    assert_eq!(
        names(&dir),
        [
            format!("{STEM}-2.json"),
            format!("{STEM}-2.svg"),
            format!("{STEM}-2.txt"),
            format!("{STEM}.svg"),
        ]
    );

    // Without one, it is made 0700; one open to others is refused.
    std::fs::remove_dir_all(&dir).unwrap();
    press_s(&img, tmp.path());
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert_eq!(names(&dir).len(), 3);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let screen = press_s(&img, tmp.path());
    assert!(screen.contains("refusing directory"), "{screen}");
    assert_eq!(names(&dir).len(), 3);
}

#[test]
fn case_4_a_snapshot_never_writes_through_a_link_and_replaces_only_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("ring.forge");
    write_image(&img);
    let precious = tmp.path().join("precious");
    std::fs::write(&precious, b"keep me").unwrap();
    let link = tmp.path().join("shot.svg");
    symlink(&precious, &link).unwrap();
    let run = |extra: &[&str]| {
        Command::new(top())
            .arg("--file")
            .arg(&img)
            .arg("--snapshot")
            .arg(&link)
            .args(extra)
            .env_remove("FORGE_SEGMENT")
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("shot.svg already exists (a symbolic link)") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
    let out = run(&["--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
    assert!(!std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&link).unwrap().starts_with("<svg"));
}

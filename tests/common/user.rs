//! A second user for a test, made with `useradd` and removed on drop even
//! when the test fails. Included with `#[path = "common/user.rs"] mod user;`
//! by the tests that need one, so they do not take all of `common`.
#![allow(dead_code)]

use std::process::Command;

/// A user made for one test: `forge{tag}{pid}`, no home, no shell.
pub struct TestUser(pub String);

impl TestUser {
    /// None (and a note saying why) when this is not root or `useradd`
    /// fails.
    pub fn create(tag: &str) -> Option<TestUser> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: creating a second user needs root");
            return None;
        }
        let name = format!("forge{tag}{}", std::process::id());
        let ok = Command::new("useradd")
            .args([
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "--user-group",
            ])
            .arg(&name)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: useradd {name} failed");
            return None;
        }
        Some(TestUser(name))
    }

    /// Runs `sh -c script` as this user; panics, with its stderr, when it
    /// fails.
    pub fn sh(&self, script: &str) {
        let out = Command::new("runuser")
            .args(["-u", &self.0, "--", "sh", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "as {}: {script}: {}",
            self.0,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).status();
    }
}

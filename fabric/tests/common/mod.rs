//! Helpers shared by fabric's integration tests.

/// A unique segment name, `/forge_test_<suite>_<what>_<pid>_<n>`, unlinked on
/// drop even when the test fails.
pub struct Name(pub String);

impl Name {
    pub fn new(suite: &str, what: &str) -> Name {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Name(format!(
            "/forge_test_{suite}_{what}_{}_{n}",
            std::process::id()
        ))
    }

    pub fn path(&self) -> String {
        format!("/dev/shm{}", self.0)
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path());
        // Its role-lock object, if a segment was made at the name.
        let _ = std::fs::remove_file(format!("{}.roles", self.path()));
    }
}

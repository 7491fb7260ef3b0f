//! Files Forge writes: created, never followed.
//!
//! Every output a Forge program writes — a recording and its rolled parts,
//! a `.forge` image, a screenshot, a benchmark's results, a key — goes
//! through here, so that a path planted by someone else (a symbolic link
//! named like the next output, a file in a shared directory) is never
//! written through:
//!
//! - a new file is opened `O_CREAT | O_EXCL | O_NOFOLLOW`: if anything is
//!   at the name, a dangling link included, the kernel refuses;
//! - an existing output is replaced only when asked ([`Output::replace`],
//!   a program's `--force`), and then by renaming a fresh file over the
//!   name: the rename replaces a symbolic link itself, never its target,
//!   and refuses a directory;
//! - a whole file ([`Output::write`]) is written to a temporary file beside
//!   its name, synced, then renamed into place, so a crash never leaves half
//!   of it under the name;
//! - the directory is opened once and every name is resolved relative to
//!   that descriptor, so swapping the directory after it was checked
//!   changes nothing;
//! - a private directory ([`Dir::private`], forge-top's screenshots) is
//!   created `0700` and refused — naming it and saying why — unless it is a
//!   real directory (not a link) that belongs to the user and that nobody
//!   else may write, as OpenSSH's `safe_path` refuses key directories.
//!
//! ```
//! use forge_cli::output::{Dir, Output, OutputError};
//!
//! let tmp = std::env::temp_dir().join(format!("forge-output-doc-{}", std::process::id()));
//! let dir = Dir::private(&tmp)?;
//! dir.write("a.txt", b"first", &Output::new())?;
//! // Refused: the name is taken, and nobody asked to replace it.
//! let again = dir.write("a.txt", b"second", &Output::new());
//! assert!(matches!(again, Err(OutputError::Exists { .. })));
//! // Asked: replaced whole.
//! dir.write("a.txt", b"second", &Output::new().replace(true))?;
//! assert_eq!(std::fs::read(tmp.join("a.txt")).unwrap(), b"second");
//! # std::fs::remove_dir_all(&tmp).unwrap();
//! # Ok::<(), OutputError>(())
//! ```

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, CWD};
use rustix::io::Errno;

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Something is already at the name, and replacing it was not asked for.
    #[error("{} already exists ({what}); not replacing it", .path.display())]
    Exists {
        /// The output's path.
        path: PathBuf,
        /// What is there: `a file`, `a symbolic link`, …
        what: &'static str,
    },
    /// What is at the name is not a file, so it is not replaced even when
    /// asked (a directory).
    #[error("{} is {what}, not a file: not replacing it", .path.display())]
    NotAFile {
        /// The output's path.
        path: PathBuf,
        /// What is there.
        what: &'static str,
    },
    /// The path does not end in a file name (`/`, `..`, empty).
    #[error("{} does not name a file", .path.display())]
    NoFileName {
        /// The path given.
        path: PathBuf,
    },
    /// A directory that must be private is not: it is a link, someone
    /// else's, or writable by others.
    #[error("refusing directory {}: {why}", .path.display())]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong, with the owner and mode found.
        why: String,
    },
    /// A system call failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What we were doing (`create`, `write`, `rename into place`, …).
        action: &'static str,
        /// The path it was about.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl OutputError {
    /// The hint a program gives for this error, `force` being its option
    /// that replaces outputs (`--force`).
    pub fn hint(&self, force: &str) -> Option<String> {
        match self {
            OutputError::Exists { what, .. } if *what == "a symbolic link" => Some(format!(
                "remove the link or pick another name; with {force} the link itself is replaced, \
                 never what it points to"
            )),
            OutputError::Exists { .. } => {
                Some(format!("pick another name, or pass {force} to replace it"))
            }
            OutputError::UnsafeDir { .. } => Some(
                "remove it (it may have been planted by another user), or pick another directory"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// How to write an output: whether an existing one may be replaced, and
/// the permission bits of a new file (before the umask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    replace: bool,
    mode: u32,
}

impl Default for Output {
    fn default() -> Self {
        Output::new()
    }
}

impl Output {
    /// Refuse an existing output; new files `0666` less the umask.
    pub const fn new() -> Self {
        Output {
            replace: false,
            mode: 0o666,
        }
    }

    /// Replace an existing file (the user asked: `--force`). A symbolic
    /// link at the name is replaced itself, never followed; a directory is
    /// never replaced.
    pub const fn replace(self, replace: bool) -> Self {
        Output { replace, ..self }
    }

    /// Permission bits for a new file, before the umask (`0o600` for a
    /// key).
    pub const fn mode(self, mode: u32) -> Self {
        Output { mode, ..self }
    }

    /// Does it replace existing outputs?
    pub const fn replaces(&self) -> bool {
        self.replace
    }

    /// Creates `path` to be written as a stream (a recording). The name
    /// holds the new, empty file as soon as this returns.
    pub fn create(&self, path: &Path) -> Result<File, OutputError> {
        let (dir, name) = Dir::parent_of(path)?;
        dir.create(name, self)
    }

    /// Writes `bytes` as the whole of `path`: a temporary file beside it,
    /// synced, then renamed into place.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
        let (dir, name) = Dir::parent_of(path)?;
        dir.write(name, bytes, self)
    }
}

/// A directory outputs are created in, held open: every name is resolved
/// relative to it.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(Errno) -> OutputError + 'a {
    move |e| OutputError::Io {
        action,
        path: path.to_owned(),
        source: e.into(),
    }
}

/// What a file type is, in words.
fn kind(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "a file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "something",
    }
}

/// What is at `path`, without following a link: `a file`, `a symbolic
/// link`, `a directory`, …; `None` when nothing is.
pub fn what_is(path: &Path) -> Option<&'static str> {
    rustix::fs::statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(|st| kind(FileType::from_raw_mode(st.st_mode)))
}

/// A user id with its name when it has one: `1001 (mallory)`.
fn user(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("{uid} ({})", u.name),
        _ => uid.to_string(),
    }
}

/// A name no other output uses: `.NAME.PID.N.partial`.
fn temporary_name(name: &OsStr) -> Vec<u8> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // SYNC: a counter that only has to differ between calls; nothing is
    // published with it.
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut t = b".".to_vec();
    t.extend_from_slice(name.as_bytes());
    t.extend_from_slice(format!(".{}.{n}.partial", std::process::id()).as_bytes());
    t
}

impl Dir {
    /// The directory `path` names, opened as it is: the user chose it, so
    /// links in its own path are followed; files are then created in it
    /// without following anything.
    pub fn open(path: &Path) -> Result<Dir, OutputError> {
        let at = if path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            path
        };
        let fd = rustix::fs::openat(
            CWD,
            at,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_error("open the directory", path))?;
        Ok(Dir {
            fd,
            path: path.to_owned(),
        })
    }

    /// A directory only this user may write, created `0700` if missing. It
    /// is refused unless it is a directory itself (not a symbolic link),
    /// belongs to the effective user, and is not writable by its group or
    /// others — whoever made it.
    pub fn private(path: &Path) -> Result<Dir, OutputError> {
        let refuse = |why: String| OutputError::UnsafeDir {
            path: path.to_owned(),
            why,
        };
        match rustix::fs::mkdirat(CWD, path, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(io_error("create the directory", path)(e)),
        }
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::LOOP => refuse("it is a symbolic link".into()),
            Errno::NOTDIR => match rustix::fs::statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => refuse(format!(
                    "it is {}, not a directory",
                    kind(FileType::from_raw_mode(st.st_mode))
                )),
                Err(_) => refuse("it is not a directory".into()),
            },
            e => io_error("open the directory", path)(e),
        })?;
        let st = rustix::fs::fstat(&fd).map_err(io_error("look at the directory", path))?;
        let me = rustix::process::geteuid().as_raw();
        let mode = st.st_mode & 0o7777;
        if st.st_uid != me {
            return Err(refuse(format!(
                "it belongs to uid {}, not to you (uid {}); mode {mode:04o}",
                user(st.st_uid),
                user(me)
            )));
        }
        if mode & 0o022 != 0 {
            return Err(refuse(format!(
                "it is writable by {} (mode {mode:04o}); expected 0700",
                match (mode & 0o020 != 0, mode & 0o002 != 0) {
                    (true, true) => "its group and everyone",
                    (true, false) => "its group",
                    _ => "everyone",
                }
            )));
        }
        Ok(Dir {
            fd,
            path: path.to_owned(),
        })
    }

    /// The directory holding `path`, and `path`'s file name.
    fn parent_of(path: &Path) -> Result<(Dir, &OsStr), OutputError> {
        let name = path
            .file_name()
            .filter(|_| !path.as_os_str().as_bytes().ends_with(b"/"))
            .ok_or_else(|| OutputError::NoFileName {
                path: path.to_owned(),
            })?;
        let parent = path.parent().unwrap_or(Path::new(""));
        Ok((Dir::open(parent)?, name))
    }

    /// The directory's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_name<'a>(&self, name: &'a OsStr) -> Result<&'a OsStr, OutputError> {
        let b = name.as_bytes();
        if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
            return Err(OutputError::NoFileName {
                path: self.path.join(name),
            });
        }
        Ok(name)
    }

    /// What is at `name` in this directory, without following a link.
    pub fn what_is(&self, name: impl AsRef<OsStr>) -> Option<&'static str> {
        rustix::fs::statat(&self.fd, name.as_ref(), AtFlags::SYMLINK_NOFOLLOW)
            .ok()
            .map(|st| kind(FileType::from_raw_mode(st.st_mode)))
    }

    /// Opens a new file at `name` exclusively: fails if anything is there.
    fn create_new(&self, name: &OsStr, mode: u32) -> Result<File, Errno> {
        rustix::fs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode & 0o777),
        )
        .map(File::from)
    }

    /// A fresh temporary file beside `name`, and its name.
    fn temporary(&self, name: &OsStr, mode: u32) -> Result<(File, Vec<u8>), OutputError> {
        loop {
            let tmp = temporary_name(name);
            match self.create_new(OsStr::from_bytes(&tmp), mode) {
                Ok(f) => return Ok((f, tmp)),
                // Left by a crash, or planted: take another name.
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(io_error("create", &self.path.join(name))(e)),
            }
        }
    }

    fn exists(&self, name: &OsStr) -> OutputError {
        OutputError::Exists {
            path: self.path.join(name),
            what: self.what_is(name).unwrap_or("something"),
        }
    }

    /// Refuses to replace a directory (or anything but a file or a link).
    fn replaceable(&self, name: &OsStr) -> Result<(), OutputError> {
        match self.what_is(name) {
            None | Some("a file" | "a symbolic link") => Ok(()),
            Some(what) => Err(OutputError::NotAFile {
                path: self.path.join(name),
                what,
            }),
        }
    }

    /// Moves temporary file `tmp` to `name`: over what is there only if
    /// `replace`. The temporary file is removed if it cannot be moved.
    fn put_in_place(&self, tmp: &[u8], name: &OsStr, replace: bool) -> Result<(), OutputError> {
        let tmp = OsStr::from_bytes(tmp);
        let moved = if replace {
            rustix::fs::renameat(&self.fd, tmp, &self.fd, name)
        } else {
            match rustix::fs::renameat_with(&self.fd, tmp, &self.fd, name, RenameFlags::NOREPLACE) {
                // A file system without RENAME_NOREPLACE: a hard link is
                // just as exclusive.
                Err(Errno::INVAL | Errno::NOSYS) => {
                    rustix::fs::linkat(&self.fd, tmp, &self.fd, name, AtFlags::empty()).and_then(
                        |()| rustix::fs::unlinkat(&self.fd, tmp, AtFlags::empty()).or(Ok(())),
                    )
                }
                other => other,
            }
        };
        moved.map_err(|e| {
            let _ = rustix::fs::unlinkat(&self.fd, tmp, AtFlags::empty());
            match e {
                Errno::EXIST => self.exists(name),
                Errno::ISDIR | Errno::NOTEMPTY => OutputError::NotAFile {
                    path: self.path.join(name),
                    what: "a directory",
                },
                e => io_error("rename into place", &self.path.join(name))(e),
            }
        })
    }

    /// Creates `name` in this directory to be written as a stream; see
    /// [`Output::create`].
    pub fn create(&self, name: impl AsRef<OsStr>, out: &Output) -> Result<File, OutputError> {
        let name = self.check_name(name.as_ref())?;
        if !out.replace {
            return self.create_new(name, out.mode).map_err(|e| match e {
                Errno::EXIST => self.exists(name),
                e => io_error("create", &self.path.join(name))(e),
            });
        }
        self.replaceable(name)?;
        let (file, tmp) = self.temporary(name, out.mode)?;
        self.put_in_place(&tmp, name, true)?;
        Ok(file)
    }

    /// Writes `bytes` as the whole of `name` in this directory; see
    /// [`Output::write`].
    pub fn write(
        &self,
        name: impl AsRef<OsStr>,
        bytes: &[u8],
        out: &Output,
    ) -> Result<(), OutputError> {
        let name = self.check_name(name.as_ref())?;
        if out.replace {
            self.replaceable(name)?;
        } else if self.what_is(name).is_some() {
            // Said before the work; the rename below decides for real.
            return Err(self.exists(name));
        }
        let (mut file, tmp) = self.temporary(name, out.mode)?;
        let path = self.path.join(name);
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|source| OutputError::Io {
                action: "write",
                path: path.clone(),
                source,
            });
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(&self.fd, OsStr::from_bytes(&tmp), AtFlags::empty());
            return Err(e);
        }
        drop(file);
        self.put_in_place(&tmp, name, out.replace)
    }

    /// The directory's descriptor, for callers that need more than files.
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn a_new_output_is_created_and_an_existing_one_is_refused() {
        let d = tmp();
        let path = d.path().join("out.mcap");
        Output::new()
            .create(&path)
            .unwrap()
            .write_all(b"x")
            .unwrap();
        let e = Output::new().create(&path).unwrap_err();
        assert!(
            matches!(e, OutputError::Exists { what: "a file", .. }),
            "{e}"
        );
        assert!(e.hint("--force").unwrap().contains("--force"));
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    }

    #[test]
    fn a_symbolic_link_at_the_name_is_never_written_through() {
        let d = tmp();
        let target = d.path().join("precious");
        std::fs::write(&target, b"keep me").unwrap();
        let link = d.path().join("link.mcap");
        symlink(&target, &link).unwrap();
        let dangling = d.path().join("dangling.mcap");
        symlink(d.path().join("nowhere"), &dangling).unwrap();

        for out in [&link, &dangling] {
            let e = Output::new().create(out).unwrap_err();
            assert!(
                matches!(
                    e,
                    OutputError::Exists {
                        what: "a symbolic link",
                        ..
                    }
                ),
                "{e}"
            );
            let e = Output::new().write(out, b"new").unwrap_err();
            assert!(matches!(e, OutputError::Exists { .. }), "{e}");
        }
        assert!(!d.path().join("nowhere").exists());
        // Asked to replace: the link goes, its target stays.
        let mut f = Output::new().replace(true).create(&link).unwrap();
        f.write_all(b"recording").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
        assert!(!std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&link).unwrap(), b"recording");
        Output::new()
            .replace(true)
            .write(&dangling, b"whole")
            .unwrap();
        assert!(!d.path().join("nowhere").exists());
        assert_eq!(std::fs::read(&dangling).unwrap(), b"whole");
    }

    #[test]
    fn a_directory_is_never_replaced() {
        let d = tmp();
        let sub = d.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        for replace in [false, true] {
            let out = Output::new().replace(replace);
            assert!(out.create(&sub).is_err());
            assert!(out.write(&sub, b"x").is_err());
        }
        assert!(sub.is_dir());
        let e = Output::new().create(Path::new("/")).unwrap_err();
        assert!(matches!(e, OutputError::NoFileName { .. }), "{e}");
    }

    #[test]
    fn whole_writes_leave_no_temporary_file_behind() {
        let d = tmp();
        let path = d.path().join("img.forge");
        Output::new().write(&path, b"one").unwrap();
        assert!(Output::new().write(&path, b"two").is_err());
        Output::new().replace(true).write(&path, b"three").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["img.forge"]);
    }

    #[test]
    fn modes_are_the_ones_asked_for() {
        let d = tmp();
        let path = d.path().join("key");
        Output::new().mode(0o600).write(&path, b"k").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_private_directory_is_made_0700_and_a_shared_one_is_refused() {
        let d = tmp();
        let private = d.path().join("forge-top");
        Dir::private(&private).unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // Opening it again is fine.
        Dir::private(&private).unwrap();

        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = Dir::private(&private).unwrap_err().to_string();
        assert!(
            e.contains(&private.display().to_string())
                && e.contains("writable by its group and everyone")
                && e.contains("0777"),
            "{e}"
        );

        let link = d.path().join("link");
        let real = d.path().join("real");
        std::fs::create_dir(&real).unwrap();
        symlink(&real, &link).unwrap();
        let e = Dir::private(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");

        let file = d.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let e = Dir::private(&file).unwrap_err().to_string();
        assert!(e.contains("it is a file, not a directory"), "{e}");
    }

    #[test]
    fn names_that_are_not_file_names_are_refused() {
        let d = tmp();
        let dir = Dir::open(d.path()).unwrap();
        for bad in ["", ".", "..", "a/b"] {
            assert!(
                matches!(
                    dir.create(bad, &Output::new()),
                    Err(OutputError::NoFileName { .. })
                ),
                "{bad:?}"
            );
        }
    }
}

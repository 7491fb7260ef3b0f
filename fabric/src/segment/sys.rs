//! The system calls of segments, in one place: opening, creating, sizing
//! and removing the object, the initializers' lock, the role locks, and what
//! `fstat` and `stat` say about the name.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::error::SegmentError;
use crate::vocab::Role;

/// Where `shm_open` puts object `name` on Linux.
pub fn shm_path(name: &str) -> String {
    format!("/dev/shm{name}")
}

/// What the file system says is at a name, in words, for messages.
pub(crate) fn file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

fn err(name: &str, action: &'static str, e: Errno) -> SegmentError {
    let source = std::io::Error::from(e);
    match e {
        Errno::ENOENT => SegmentError::Missing {
            name: name.to_owned(),
        },
        Errno::EACCES | Errno::EPERM => SegmentError::PermissionDenied {
            name: name.to_owned(),
            source,
        },
        Errno::EEXIST => SegmentError::Exists {
            name: name.to_owned(),
        },
        _ => match std::fs::symlink_metadata(shm_path(name)) {
            // Say what is in the way rather than what the call said (EISDIR,
            // ELOOP, ENXIO, EINVAL…).
            Ok(meta) if !meta.file_type().is_file() => SegmentError::NotRegular {
                name: name.to_owned(),
                what: file_kind(&meta.file_type()),
            },
            _ => SegmentError::Io {
                name: name.to_owned(),
                action,
                source,
            },
        },
    }
}

/// Opens an existing object. `O_NONBLOCK`: a FIFO at the name must not block
/// the open (it is refused right after, by type); `O_NOFOLLOW`: a symbolic
/// link is refused, not followed.
pub(crate) fn open(name: &str, write: bool) -> Result<File, SegmentError> {
    let flags = if write {
        OFlag::O_RDWR
    } else {
        OFlag::O_RDONLY
    };
    nix::sys::mman::shm_open(
        name,
        flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .map(File::from)
    .map_err(|e| err(name, "shm_open", e))
}

/// Creates a new object, failing if the name exists, with exactly `mode`
/// (the umask may have cleared bits; they are set again).
pub(crate) fn create_exclusive(name: &str, mode: u32) -> Result<File, SegmentError> {
    let flags =
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    let perms = Mode::from_bits_truncate(mode & 0o777);
    let fd = nix::sys::mman::shm_open(name, flags, perms).map_err(|e| err(name, "shm_open", e))?;
    nix::sys::stat::fchmod(fd.as_raw_fd(), perms).map_err(|e| {
        let _ = nix::sys::mman::shm_unlink(name);
        err(name, "fchmod", e)
    })?;
    Ok(File::from(fd))
}

/// Reserves the pages now: on a full `/dev/shm` this fails cleanly with
/// `ENOSPC` instead of a SIGBUS while zeroing.
pub(crate) fn fallocate(file: &File, size: usize) -> std::io::Result<()> {
    nix::fcntl::posix_fallocate(file.as_raw_fd(), 0, size as i64).map_err(std::io::Error::from)
}

/// The initializers' lock: an exclusive `flock` on the `/dev/shm` directory,
/// released when the returned handle drops (or the process dies, so a killed
/// forge-init never leaves it held). Also says whether another initializer
/// held it when we first asked.
pub(crate) fn lock_init(
    name: &str,
    wait: std::time::Duration,
) -> Result<(nix::fcntl::Flock<File>, bool), SegmentError> {
    use nix::fcntl::{Flock, FlockArg};
    let io = |source: std::io::Error| SegmentError::Io {
        name: name.to_owned(),
        action: "locking /dev/shm for initialization",
        source,
    };
    let deadline = std::time::Instant::now() + wait;
    let mut dir = File::open("/dev/shm").map_err(io)?;
    let mut waited = false;
    loop {
        match Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok((lock, waited)),
            Err((back, Errno::EWOULDBLOCK)) if std::time::Instant::now() < deadline => {
                dir = back;
                waited = true;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err((_, Errno::EWOULDBLOCK)) => {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!("another forge-init has held the lock for {wait:?}; is it stuck?"),
                )))
            }
            Err((_, e)) => return Err(io(e.into())),
        }
    }
}

/// `shm_unlink(name)`.
pub(crate) fn unlink(name: &str) -> Result<(), SegmentError> {
    nix::sys::mman::shm_unlink(name).map_err(|e| err(name, "shm_unlink", e))
}

/// Removes whatever has the name so it can be created anew: any file (a
/// segment, a FIFO, a socket, a symbolic link — never what it points to), or
/// an empty directory. A directory with entries is left alone.
pub(crate) fn remove(name: &str) -> Result<(), SegmentError> {
    let path = shm_path(name);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_dir() => {
            std::fs::remove_dir(&path).map_err(|_| SegmentError::InTheWay {
                name: name.to_owned(),
                what: "a directory that is not empty",
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        _ => match unlink(name) {
            Err(SegmentError::Missing { .. }) => Ok(()),
            other => other,
        },
    }
}

/// Proves this process may remove what is at `name` from `/dev/shm`
/// before anything is changed: it may write the directory, and when the
/// directory is sticky (as `/dev/shm` is) it owns the object or the
/// directory, or has `CAP_FOWNER`. Nothing at the name is fine.
pub(crate) fn check_removable(name: &str) -> Result<(), SegmentError> {
    let path = shm_path(name);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SegmentError::Io {
                name: name.to_owned(),
                action: "stat",
                source,
            })
        }
    };
    let refuse = |why: String| {
        Err(SegmentError::CannotReplace {
            name: name.to_owned(),
            path: path.clone(),
            why,
        })
    };
    let dir = match std::fs::metadata(SHM_DIR) {
        Ok(d) => d,
        Err(e) => return refuse(format!("{SHM_DIR} cannot be looked at: {e}")),
    };
    let access = nix::unistd::faccessat(
        None,
        SHM_DIR,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    );
    if access.is_err() {
        return refuse(format!(
            "this user (uid {}) may not write {SHM_DIR} (mode {:04o}, owner uid {})",
            euid(),
            dir.mode() & 0o7777,
            dir.uid()
        ));
    }
    let me = euid();
    let sticky = dir.mode() & libc::S_ISVTX != 0;
    if sticky && meta.uid() != me && dir.uid() != me && !crate::process::has_cap_fowner() {
        return refuse(format!(
            "it belongs to uid {}, and {SHM_DIR} is sticky (mode {:04o}): only its owner, the \
             directory's owner or root may remove it, not uid {me}",
            meta.uid(),
            dir.mode() & 0o7777,
        ));
    }
    Ok(())
}

/// Where POSIX shared memory lives on Linux.
pub(crate) const SHM_DIR: &str = "/dev/shm";

/// Our effective uid.
pub(crate) fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

pub(crate) fn role_flock(role: Role, kind: libc::c_short) -> libc::flock {
    // SAFETY: flock is plain old data; all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = role.lock_offset() as libc::off_t;
    fl.l_len = 1;
    fl
}

/// Takes `role`'s lock on `file` without waiting: `Ok(false)` when another
/// open file holds it. An OFD lock belongs to the open file, so it is dropped
/// when the holder's last descriptor closes, which the kernel does when the
/// holder dies, in whatever pid namespace.
pub(crate) fn lock_role(file: &File, role: Role) -> std::io::Result<bool> {
    let fl = role_flock(role, libc::F_WRLCK as libc::c_short);
    match nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_OFD_SETLK(&fl)) {
        Ok(_) => Ok(true),
        Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Drops `role`'s lock taken on `file`.
pub(crate) fn unlock_role(file: &File, role: Role) {
    let fl = role_flock(role, libc::F_UNLCK as libc::c_short);
    let _ = nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_OFD_SETLK(&fl));
}

/// What `fstat` says about a segment file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileFacts {
    pub(crate) size: u64,
    pub(crate) uid: u32,
    pub(crate) mode: u32,
    /// `(st_dev, st_ino)`: which object this is, whatever its name.
    pub(crate) file_id: (u64, u64),
}

impl FileFacts {
    /// `fstat`s an opened segment; anything but a regular file is refused.
    pub(crate) fn of(name: &str, file: &File) -> Result<FileFacts, SegmentError> {
        let meta = file.metadata().map_err(|source| SegmentError::Io {
            name: name.to_owned(),
            action: "fstat",
            source,
        })?;
        if !meta.file_type().is_file() {
            return Err(SegmentError::NotRegular {
                name: name.to_owned(),
                what: file_kind(&meta.file_type()),
            });
        }
        Ok(FileFacts {
            size: meta.len(),
            uid: meta.uid(),
            mode: meta.mode() & 0o7777,
            file_id: (meta.dev(), meta.ino()),
        })
    }

    /// A warning when the object is not owned by us or others may write it.
    pub(crate) fn owner_warning(&self, name: &str) -> Option<String> {
        let me = euid();
        if self.uid != me {
            Some(format!(
                "{name} is owned by uid {}, not by this user (uid {me}); mode {:04o}",
                self.uid, self.mode
            ))
        } else if self.mode & 0o022 != 0 {
            Some(format!(
                "{name} has mode {:04o}: users other than its owner may write it",
                self.mode
            ))
        } else {
            None
        }
    }
}

/// Is the object at a name still the one we map?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameStatus {
    /// The name leads to our object.
    Same,
    /// The name leads to another object (re-created).
    Replaced,
    /// Nothing has the name.
    Unlinked,
}

/// Does `name` still lead to the object `file_id`? One `stat`.
pub(crate) fn name_status(name: &str, file_id: (u64, u64)) -> NameStatus {
    match std::fs::symlink_metadata(shm_path(name)) {
        Ok(m) if (m.dev(), m.ino()) == file_id => NameStatus::Same,
        Ok(_) => NameStatus::Replaced,
        Err(_) => NameStatus::Unlinked,
    }
}

/// The size of the object at `name` now, if it is still `file_id`.
pub(crate) fn size_now(name: &str, file_id: (u64, u64)) -> Option<u64> {
    let meta = std::fs::metadata(shm_path(name)).ok()?;
    ((meta.dev(), meta.ino()) == file_id).then_some(meta.len())
}

//! What the kernel says about processes: the one `/proc` reader of Forge,
//! and signals sent through a pidfd.
//!
//! A pid alone names nothing for long: it is reused after the process dies,
//! and it means another process (or none) in another pid namespace. A role
//! holder therefore writes three facts about itself into its line of the
//! header — its pid, the inode of its pid namespace and its start time — and
//! a process is taken for the holder only when all three match what `/proc`
//! says now. See [`Identity`].
//!
//! Every reader here is best effort: a process that exits between two reads
//! yields `None`, never a panic.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

/// Who a process is, as far as a pid can be trusted: the pid, the pid
/// namespace it is valid in, and the start time that tells it apart from a
/// later process given the same pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Identity {
    /// The pid, as seen in `pidns`.
    pub pid: u32,
    /// Inode of the pid namespace (`/proc/PID/ns/pid`), 0 if unknown.
    pub pidns: u64,
    /// Start time in clock ticks after boot (`/proc/PID/stat` field 22),
    /// 0 if unknown.
    pub start_ticks: u64,
}

impl Identity {
    /// This process.
    pub fn current() -> Identity {
        Identity {
            pid: std::process::id(),
            pidns: namespace_inode("self").unwrap_or(0),
            start_ticks: read_stat("self").map_or(0, |s| s.start_ticks),
        }
    }

    /// Is every part known? A holder that could not read `/proc` writes
    /// zeros, and such an identity can never be proven.
    pub fn is_complete(&self) -> bool {
        self.pid != 0 && self.pidns != 0 && self.start_ticks != 0
    }
}

/// The pid namespace this process lives in, if `/proc` tells.
pub fn own_pid_namespace() -> Option<u64> {
    namespace_inode("self")
}

/// The pid namespace of process `pid` (in ours), if `/proc` tells.
pub fn pid_namespace(pid: u32) -> Option<u64> {
    (pid != 0)
        .then(|| namespace_inode(&pid.to_string()))
        .flatten()
}

fn namespace_inode(who: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{who}/ns/pid"))
        .ok()
        .map(|m| m.ino())
}

/// Fields of `/proc/PID/stat` that Forge uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stat {
    /// One-letter state: R, S, D, T (stopped), t, Z (zombie), X, I.
    pub state: char,
    /// User CPU time, clock ticks.
    pub utime: u64,
    /// System CPU time, clock ticks.
    pub stime: u64,
    /// Start time, clock ticks after boot.
    pub start_ticks: u64,
    /// The core it last ran on.
    pub processor: u32,
}

/// Parses one `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces or parentheses itself, so fields are
/// counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `fields[0]` is field 3 (state), so field N is at N - 3.
    let field = |n: usize| fields.get(n - 3).copied();
    Some(Stat {
        state: field(3)?.chars().next()?,
        utime: field(14)?.parse().ok()?,
        stime: field(15)?.parse().ok()?,
        start_ticks: field(22)?.parse().ok()?,
        processor: field(39)?.parse().ok()?,
    })
}

/// `/proc/PID/stat` of a pid (or `"self"`).
fn read_stat(who: &str) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{who}/stat")).ok()?)
}

/// `/proc/PID/stat` of `pid`, if it exists in our pid namespace.
pub fn stat(pid: u32) -> Option<Stat> {
    (pid != 0).then(|| read_stat(&pid.to_string())).flatten()
}

/// Fields of `/proc/PID/status` that Forge uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// `Name:` (the kernel's `comm`, at most 15 bytes).
    pub name: String,
    /// `State:`, its letter.
    pub state: String,
    /// The effective uid (second number of `Uid:`).
    pub euid: Option<u32>,
    /// The real uid (first number of `Uid:`).
    pub ruid: Option<u32>,
    /// `Cpus_allowed_list:` as the kernel prints it (`1`, `0-3`).
    pub cpus_allowed: String,
    /// `VmRSS:`, KiB.
    pub rss_kib: u64,
}

/// Parses `/proc/PID/status`.
pub fn parse_status(text: &str) -> Status {
    let mut out = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let mut words = value.split_whitespace();
        match key {
            "Name" => out.name = value.to_owned(),
            "State" => out.state = words.next().unwrap_or("").to_owned(),
            "Uid" => {
                out.ruid = words.next().and_then(|v| v.parse().ok());
                out.euid = words.next().and_then(|v| v.parse().ok());
            }
            "Cpus_allowed_list" => out.cpus_allowed = value.to_owned(),
            "VmRSS" => out.rss_kib = words.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            _ => {}
        }
    }
    out
}

/// `/proc/PID/status` of `pid`, if it exists in our pid namespace.
pub fn status(pid: u32) -> Option<Status> {
    if pid == 0 {
        return None;
    }
    Some(parse_status(
        &std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
    ))
}

/// `/proc/self/status`.
pub fn self_status() -> Option<Status> {
    Some(parse_status(
        &std::fs::read_to_string("/proc/self/status").ok()?,
    ))
}

/// Does a process with this pid exist (and is it not a zombie)? Pids that
/// cannot be real are dead. Only meaningful in our own pid namespace.
pub fn pid_alive(pid: u32) -> bool {
    // 0 and values above i32::MAX would address process groups.
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        // A zombie has exited; only its parent has not reaped it yet.
        Ok(()) | Err(nix::errno::Errno::EPERM) => {
            !stat(pid).is_some_and(|s| matches!(s.state, 'Z' | 'X'))
        }
        Err(_) => false,
    }
}

/// A process handle that cannot be confused with a later process given the
/// same pid: signals sent through it reach the process it was opened for,
/// or fail with `ESRCH`.
#[derive(Debug)]
pub struct Pidfd {
    fd: OwnedFd,
}

impl Pidfd {
    /// `pidfd_open(pid)`.
    pub fn open(pid: u32) -> io::Result<Pidfd> {
        let raw = i32::try_from(pid)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
        // it touches no memory of ours.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, raw, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(Pidfd { fd })
    }

    /// Sends `signal` (0 only checks that the process still exists).
    pub fn send(&self, signal: i32) -> io::Result<()> {
        // SAFETY: pidfd_send_signal with a valid pidfd, a null siginfo and
        // no flags reads no memory of ours.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// Does this process have `CAP_FOWNER` in effect (root's right to remove
/// another user's file from a sticky directory)? From `CapEff:` of
/// `/proc/self/status`; `false` when it cannot be read.
pub(crate) fn has_cap_fowner() -> bool {
    const CAP_FOWNER: u32 = 3;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            let hex = text.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_FOWNER) != 0)
}

/// Which object a lock is on, as the kernel names it in `/proc/locks` and
/// `/proc/PID/fdinfo`: the device's major and minor numbers and the inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct LockedObject {
    pub(crate) major: u32,
    pub(crate) minor: u32,
    pub(crate) ino: u64,
}

impl LockedObject {
    /// The object of an `fstat`/`stat` result: `st_dev` as glibc encodes it,
    /// and `st_ino`.
    pub(crate) fn of(dev: u64, ino: u64) -> LockedObject {
        LockedObject {
            major: (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as u32,
            minor: ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32,
            ino,
        }
    }
}

/// One granted lock, as a line of `/proc/locks` or a `lock:` line of
/// `/proc/PID/fdinfo/N` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KernelLock {
    /// An open-file-description lock (`OFDLCK`), as Forge's role locks
    /// are; otherwise a classic POSIX record lock.
    pub(crate) ofd: bool,
    /// A write lock: only a descriptor open for writing can take one.
    pub(crate) write: bool,
    pub(crate) object: LockedObject,
    pub(crate) start: u64,
    /// Last byte, `None` for "to the end of the file".
    pub(crate) end: Option<u64>,
}

impl KernelLock {
    /// Does it cover `byte` of `object`?
    pub(crate) fn covers(&self, object: LockedObject, byte: u64) -> bool {
        self.object == object && self.start <= byte && self.end.is_none_or(|e| e >= byte)
    }
}

/// Parses one lock line: `1: OFDLCK  ADVISORY  WRITE -1 fe:00:1234 128 128`
/// (an fdinfo line starts with `lock:`). Only byte-range locks that are
/// granted: a waiter (`->`), a `flock`, a lease or garbage is `None`.
pub(crate) fn parse_lock_line(line: &str) -> Option<KernelLock> {
    let line = line.strip_prefix("lock:").unwrap_or(line);
    let mut words = line.split_whitespace();
    let id = words.next()?;
    if !id.ends_with(':') {
        return None;
    }
    let class = words.next()?;
    let ofd = match class {
        "OFDLCK" => true,
        "POSIX" => false,
        // A waiter ("->"), FLOCK (does not conflict with these), LEASE, …
        _ => return None,
    };
    let _mode = words.next()?; // ADVISORY or MANDATORY
    let write = match words.next()? {
        "WRITE" => true,
        "READ" => false,
        _ => return None,
    };
    let _pid = words.next()?;
    let mut object = words.next()?.split(':');
    let major = u32::from_str_radix(object.next()?, 16).ok()?;
    let minor = u32::from_str_radix(object.next()?, 16).ok()?;
    let ino = object.next()?.parse().ok()?;
    let start = words.next()?.parse().ok()?;
    let end = match words.next()? {
        "EOF" => None,
        n => Some(n.parse().ok()?),
    };
    Some(KernelLock {
        ofd,
        write,
        object: LockedObject { major, minor, ino },
        start,
        end,
    })
}

/// Every granted byte-range lock of the host, from `/proc/locks`, which
/// anyone may read (and which lists OFD locks whatever pid namespace their
/// holders live in). `None` if it cannot be read.
pub(crate) fn host_locks() -> Option<Vec<KernelLock>> {
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    Some(text.lines().filter_map(parse_lock_line).collect())
}

/// The locks held through the open files of process `pid`, from the
/// `lock:` lines of `/proc/PID/fdinfo/*`. Reading another user's needs the
/// right to trace it (root, or the same user): the error says when not.
pub(crate) fn process_locks(pid: u32) -> io::Result<Vec<KernelLock>> {
    if pid == 0 || i32::try_from(pid).is_err() {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    let dir = format!("/proc/{pid}/fdinfo");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        // An fd closed since the listing is simply gone.
        let text = match std::fs::read_to_string(entry.path()) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.extend(
            text.lines()
                .filter(|l| l.starts_with("lock:"))
                .filter_map(parse_lock_line),
        );
    }
    Ok(out)
}

/// Processes whose open files hold a read lock on `byte` of `object`, with
/// their effective uid, as far as this process may look (`/proc/PID/fdinfo`
/// of others' processes needs root). For naming a squatter.
pub(crate) fn read_lockers(object: LockedObject, byte: u64) -> Vec<(u32, Option<u32>)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pid in dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        let holds = process_locks(pid)
            .map(|locks| locks.iter().any(|l| !l.write && l.covers(object, byte)))
            .unwrap_or(false);
        if holds {
            out.push((pid, status(pid).and_then(|s| s.euid)));
        }
    }
    out
}

/// The name this program was started as (its file name), for the header's
/// `program` field.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .or_else(|| self_status().map(|s| s.name))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "42 (we ird) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 \
                    100 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!((s.state, s.utime, s.stime, s.processor), ('S', 7, 3, 1));
        assert_eq!(s.start_ticks, 100);
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1"), None);
    }

    #[test]
    fn status_gives_names_uids_and_memory() {
        let s = parse_status("Name:\tforge-core\nState:\tS (sleeping)\nUid:\t1000\t1001\t1001\t1001\nVmRSS:\t  2048 kB\nCpus_allowed_list:\t1\n");
        assert_eq!(s.name, "forge-core");
        assert_eq!(s.state, "S");
        assert_eq!((s.ruid, s.euid), (Some(1000), Some(1001)));
        assert_eq!(s.rss_kib, 2048);
        assert_eq!(s.cpus_allowed, "1");
    }

    #[test]
    fn lock_lines_of_proc_locks_and_fdinfo_parse_and_others_do_not() {
        let l = parse_lock_line("1: OFDLCK  ADVISORY  WRITE -1 fe:00:10010740 128 128").unwrap();
        let object = LockedObject {
            major: 0xfe,
            minor: 0,
            ino: 10010740,
        };
        assert!(l.ofd && l.write && l.covers(object, 128) && !l.covers(object, 129));
        let l = parse_lock_line("lock:\t2: POSIX  ADVISORY  READ 4242 00:1a:77 0 EOF").unwrap();
        assert!(!l.ofd && !l.write && l.end.is_none());
        assert!(l.covers(
            LockedObject {
                major: 0,
                minor: 0x1a,
                ino: 77
            },
            1 << 40
        ));
        for not in [
            "3: -> OFDLCK ADVISORY WRITE -1 fe:00:1 128 128",
            "4: FLOCK  ADVISORY  WRITE 99 fe:00:1 0 EOF",
            "5: LEASE  ACTIVE    READ 99 fe:00:1 0 EOF",
            "pos:\t0",
            "",
        ] {
            assert_eq!(parse_lock_line(not), None, "{not}");
        }
        // glibc's st_dev encoding of major 254, minor 0 and of 259:65536.
        assert_eq!(
            LockedObject::of(0xfe00, 5),
            LockedObject {
                major: 254,
                minor: 0,
                ino: 5
            }
        );
        let dev = (0x103u64 << 8) | ((0x10000u64 & !0xff) << 12);
        assert_eq!(LockedObject::of(dev, 1).minor, 0x10000);
        assert_eq!(LockedObject::of(dev, 1).major, 0x103);
    }

    #[test]
    #[cfg_attr(miri, ignore = "takes a lock and reads /proc")]
    fn our_own_ofd_write_lock_shows_in_proc_locks_and_in_our_fdinfo() {
        use std::os::fd::AsRawFd;
        let file = tempfile::tempfile().unwrap();
        let meta = file.metadata().unwrap();
        let object = LockedObject::of(meta.dev(), meta.ino());
        // SAFETY: flock is plain old data; all-zero is a valid value.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = libc::F_WRLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = 256;
        fl.l_len = 1;
        nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_OFD_SETLK(&fl)).unwrap();
        let host = host_locks().unwrap();
        assert!(
            host.iter()
                .any(|l| l.ofd && l.write && l.covers(object, 256)),
            "{host:?}"
        );
        let ours = process_locks(std::process::id()).unwrap();
        assert!(
            ours.iter()
                .any(|l| l.ofd && l.write && l.covers(object, 256)),
            "{ours:?}"
        );
        assert!(!ours.iter().any(|l| l.covers(object, 128)));
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc and signals processes")]
    fn our_own_identity_is_complete_and_matches_proc() {
        let me = Identity::current();
        assert!(me.is_complete(), "{me:?}");
        assert_eq!(stat(me.pid).unwrap().start_ticks, me.start_ticks);
        assert_eq!(own_pid_namespace(), Some(me.pidns));
        assert!(pid_alive(me.pid));
        assert!(!pid_alive(0) && !pid_alive(u32::MAX));
    }

    #[test]
    #[cfg_attr(miri, ignore = "spawns a process and opens a pidfd")]
    fn a_pidfd_reaches_its_process_and_only_it() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let fd = Pidfd::open(child.id()).unwrap();
        fd.send(0).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        // Reaped: the pid may be reused, the pidfd still names the dead one.
        assert_eq!(fd.send(0).unwrap_err().raw_os_error(), Some(libc::ESRCH));
    }
}

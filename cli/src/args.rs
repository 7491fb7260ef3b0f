//! Command-line pieces the three daemons share, and their start-up steps:
//! opening the segment, dying with the parent.

use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{eyre, Result, WrapErr};
use color_eyre::Section;
use forge_fabric::{Claim, Role, RoleError, Segment, SegmentError, WaitStrategy, DEFAULT_SEGMENT};

use forge_holder::signals::Control;
use forge_holder::{Holder, Side};

/// `--segment NAME`, defaulting to `$FORGE_SEGMENT`, then `/forge_shm`.
#[derive(Debug, Clone, clap::Args)]
pub struct SegmentArg {
    /// Shared-memory segment: one leading '/', no other '/'.
    #[arg(long, value_name = "NAME", env = "FORGE_SEGMENT", default_value = DEFAULT_SEGMENT,
          value_parser = SegmentName)]
    pub segment: String,
}

/// Parses `--segment`: a name fabric accepts, checked before anything else
/// sees it, so that no message ever prints a name holding control
/// characters raw (clap's own error would quote the value as it came).
#[derive(Debug, Clone, Copy)]
pub struct SegmentName;

impl clap::builder::TypedValueParser for SegmentName {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<String, clap::Error> {
        let invalid = |message: String| {
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, message + "\n")
        };
        let name = value.to_str().ok_or_else(|| {
            invalid(format!(
                "invalid segment name {value:?}: it is not valid UTF-8"
            ))
        })?;
        forge_fabric::segment::validate_name(name).map_err(|e| invalid(e.to_string()))?;
        Ok(name.to_owned())
    }
}

/// How a daemon waits when the ring is full (producer) or empty (consumer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WaitArg {
    /// Busy-spin with the CPU's pause hint: lowest latency, burns the core.
    #[default]
    Spin,
    /// Spin briefly, then sched_yield between polls.
    Yield,
    /// Spin briefly, then sched_yield between polls for about 50 µs, then
    /// sleep on a futex until the peer wakes us.
    Park,
}

impl From<WaitArg> for WaitStrategy {
    fn from(w: WaitArg) -> Self {
        match w {
            WaitArg::Spin => WaitStrategy::Spin,
            WaitArg::Yield => WaitStrategy::Yield,
            WaitArg::Park => WaitStrategy::Park,
        }
    }
}

/// `--report`: how a tool prints its final report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Lines for people.
    Text,
    /// One JSON object on stdout.
    Json,
}

/// `--die-with-parent`: stop (SIGTERM) when the process that started us dies.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ParentArg {
    /// Receive SIGTERM when the parent process dies (used by forge-top --demo).
    #[arg(long)]
    pub die_with_parent: bool,
}

/// How long a daemon waits for a segment that forge-init is still writing:
/// the holder's [`forge_holder::INIT_WAIT`].
pub const INIT_WAIT: Duration = forge_holder::INIT_WAIT;

/// Opens `name` read-write for a daemon as [`forge_holder::open_segment`]
/// does (a segment caught between being retired and unlinked by a
/// concurrent `forge-init --force` is retried until [`INIT_WAIT`]), with
/// the hint that fits its error.
pub fn open_segment(name: &str) -> Result<Segment> {
    forge_holder::open_segment(name).map_err(|e| {
        let hint = match &e {
            SegmentError::Missing { .. } => Some(format!("create it with: forge-init --segment {name}")),
            SegmentError::NotForge { .. }
            | SegmentError::Malformed { .. }
            | SegmentError::TooLong { .. } => Some(format!(
                "replace it with: forge-init --force --segment {name}"
            )),
            SegmentError::NotRegular { what, .. } if *what == "a directory" => Some(format!(
                "remove it (rmdir /dev/shm{name}) or pick another --segment; \
                 forge-init --force removes it if it is empty"
            )),
            SegmentError::NotRegular { .. } => Some(format!(
                "remove it, pick another --segment, or replace it with: forge-init --force --segment {name}"
            )),
            SegmentError::Version { .. } => Some(format!(
                "re-create it with this build: forge-init --force --segment {name}"
            )),
            _ => None,
        };
        let report = color_eyre::Report::new(e).wrap_err(format!("cannot open segment {name}"));
        match hint {
            Some(h) => report.suggestion(h),
            None => report,
        }
    })
}

/// Pins a daemon to `requested`, or to its role's default (saying why when
/// the original design's core does not exist here), and returns the core.
pub fn pin_daemon(
    program: &str,
    role: &str,
    requested: Option<u32>,
    default: fn() -> forge_holder::pin::DefaultCore,
) -> Result<u32> {
    let core = match requested {
        Some(core) => core,
        None => {
            let default = default();
            if let Some(note) = &default.note {
                eprintln!("{program}: note: {note}");
            }
            default.core
        }
    };
    forge_holder::pin::pin_to(core)
        .wrap_err_with(|| format!("cannot pin the {role}"))
        .with_suggestion(|| {
            format!(
                "pick one of this machine's cores with --core: {:?}",
                forge_holder::pin::available_cores()
            )
        })?;
    Ok(core)
}

/// The `main` of a ring daemon: the signal flags first (until they are in,
/// SIGTERM or SIGHUP would end it with no report and no clean release of its
/// role), then error reports, the command line, and `run`; an error ends it
/// as `PROGRAM: error: …` with the exit code its kind calls for.
pub fn daemon_main<C: clap::Parser>(
    program: &'static str,
    run: impl FnOnce(C, Control) -> Result<forge_holder::exit::Exit>,
) -> std::process::ExitCode {
    let control = match Control::from_signals() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{program}: error: cannot install the signal handlers: {e}");
            return forge_holder::exit::Exit::Error.into();
        }
    };
    crate::report::install_reports();
    match run(C::parse(), control) {
        Ok(code) => code.into(),
        Err(report) => crate::report::fail(program, &report).into(),
    }
}

/// The `main` of a tool that holds no role (forge-init): error reports,
/// the command line, and `run`; an error ends it as `PROGRAM: error: …`
/// with the exit code its kind calls for, as [`daemon_main`] does. A bad
/// command line is clap's usage error, exit 2, in both.
pub fn tool_main<C: clap::Parser>(
    program: &'static str,
    run: impl FnOnce(C) -> Result<forge_holder::exit::Exit>,
) -> std::process::ExitCode {
    crate::report::install_reports();
    match run(C::parse()) {
        Ok(code) => code.into(),
        Err(report) => crate::report::fail(program, &report).into(),
    }
}

/// A ring daemon after start-up: the role it holds, and its core.
#[derive(Debug)]
pub struct Daemon<S: Side> {
    /// The role, held with the holder's duties (signals, the watch thread,
    /// the SIGBUS guard, the checks); its segment is `holder.segment()`.
    pub holder: Holder<S>,
    /// The core the daemon is pinned to.
    pub core: u32,
}

/// Who is starting, for [`start_daemon`].
#[derive(Debug, Clone)]
pub struct DaemonStart<'a> {
    /// The program's name, for messages and the role line.
    pub program: &'static str,
    /// The segment's name.
    pub name: &'a str,
    /// The largest frame it will write (0 for a consumer): a ring whose
    /// slots hold less is refused before the role is taken.
    pub largest_frame: usize,
    /// `--core`.
    pub core: Option<u32>,
    /// `--die-with-parent`.
    pub parent: ParentArg,
    /// How it claims the role (its wait strategy); the program name and
    /// the pinned core are added here.
    pub claim: Claim,
    /// Another way to do the job when the role is held, added to that hint
    /// (`record read-only with --tap`).
    pub instead: Option<&'static str>,
}

/// The start-up steps every ring daemon shares, in this order:
/// `--die-with-parent`, pinning (to `core` or the role's default), opening
/// `name` (warning about a foreign owner, refusing a ring whose slots hold
/// less than `largest_frame` bytes), then [`Holder::take`]: the SIGBUS
/// reporter, the watch thread and the role, claimed on the pinned core
/// (its error gets the hint that fits). `control` comes from
/// [`Control::from_signals`], called first thing in `main`.
pub fn start_daemon<S: Side>(start: DaemonStart<'_>, control: Control) -> Result<Daemon<S>> {
    let DaemonStart {
        program,
        name,
        largest_frame,
        core,
        parent,
        claim,
        instead,
    } = start;
    let role = S::ROLE;
    if parent.die_with_parent {
        die_with_parent()?;
    }
    let default_core = match role {
        Role::Producer => forge_holder::pin::default_producer_core,
        Role::Consumer => forge_holder::pin::default_consumer_core,
    };
    let core = pin_daemon(program, role.name(), core, default_core)?;
    let segment = Arc::new(open_segment(name)?);
    if let Some(warning) = segment.owner_warning() {
        eprintln!("{program}: warning: {warning}");
    }
    let capacity = segment.payload_capacity();
    if largest_frame > capacity {
        return Err(eyre!(
            "{name} holds frames of up to {capacity} bytes, and this run writes frames of up to \
             {largest_frame}"
        ))
        .suggestion(format!(
            "{}, or write smaller frames",
            larger_slots_hint(name, largest_frame)
        ));
    }
    let claim = claim.program(program).pinned_core(core);
    let holder = match Holder::<S>::take(segment, &claim, control) {
        Ok(holder) => holder,
        Err(forge_holder::Error::Role(e)) => {
            let verb = match role {
                Role::Producer => "stream into",
                Role::Consumer => "consume from",
            };
            let hint = role_hint(role, name, &e).map(|h| match instead {
                Some(other) if matches!(e, RoleError::Held { .. }) => format!("{h}; or {other}"),
                _ => h,
            });
            let report = color_eyre::Report::new(e).wrap_err(format!("cannot {verb} {name}"));
            return Err(match hint {
                Some(h) => report.suggestion(h),
                None => report,
            });
        }
        Err(e) => return Err(color_eyre::Report::new(e)),
    };
    Ok(Daemon { holder, core })
}

/// How to make ring `name` hold frames of `bytes` bytes: the one wording
/// for every program that finds its frames larger than a ring's slots.
pub fn larger_slots_hint(name: &str, bytes: usize) -> String {
    format!(
        "re-create the ring with room for {bytes}-byte frames: forge-init --segment {name} \
         --payload-capacity {} --force",
        bytes.next_multiple_of(8)
    )
}

/// Asks the kernel to send us SIGTERM when our parent dies, so daemons that
/// `forge-top --demo` started never outlive it. The signal then takes the
/// normal clean-stop path. If the parent died before the request took
/// effect, we raise SIGTERM ourselves.
pub fn die_with_parent() -> Result<()> {
    use nix::sys::signal::{raise, Signal};
    let parent = nix::unistd::getppid();
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).wrap_err("prctl(PR_SET_PDEATHSIG) failed")?;
    if nix::unistd::getppid() != parent {
        raise(Signal::SIGTERM).wrap_err("raising SIGTERM after the parent died")?;
    }
    Ok(())
}

/// The hint for a role that could not be taken, by error kind.
pub fn role_hint(role: Role, name: &str, e: &RoleError) -> Option<String> {
    match e {
        // Name the holder the header names, which need not be another
        // `program` (forge-record finds forge-core there, say).
        RoleError::Held {
            program: holder, ..
        } => Some(format!(
            "stop the {} that holds it first; a segment has exactly one {}",
            if holder.is_empty() { "process" } else { holder },
            role.name()
        )),
        RoleError::Corrupt(_) => Some(format!(
            "the ring cannot be trusted; start over with: forge-init --force --segment {name} \
             (the frames it holds are discarded)"
        )),
        RoleError::Blocked { .. } => Some(format!(
            "nobody holds the role: a process that may read the segment is in the way. \
             Re-create it with: forge-init --segment {name} (its role locks then live where \
             readers cannot reach them), or stop that process"
        )),
        _ => None,
    }
}

/// Writes a report to stdout. A reader that went away (`forge-core | head
/// -1`) is not worth a panic or an error exit: the report is just unread.
pub fn print_report(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Parses an octal file mode like `600` or `0o640`.
pub fn parse_mode(s: &str) -> std::result::Result<u32, String> {
    let digits = s
        .strip_prefix("0o")
        .or_else(|| s.strip_prefix("0O"))
        .unwrap_or(s);
    let mode = u32::from_str_radix(digits, 8).map_err(|_| {
        format!("{s:?} is not an octal mode: expected digits 0-7, like 600 or 0640")
    })?;
    if mode > 0o777 {
        return Err(format!(
            "mode {s} has bits above 0777: expected permission bits only, like 600"
        ));
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_as_octal_permission_bits() {
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert_eq!(parse_mode("0640"), Ok(0o640));
        assert_eq!(parse_mode("0o644"), Ok(0o644));
        assert!(parse_mode("800").is_err());
        assert!(parse_mode("7777").is_err());
        assert!(parse_mode("rw").is_err());
    }

    #[test]
    fn a_held_role_hint_names_the_holder_the_header_names() {
        // forge-record or forge-bridge asking for a role forge-core holds
        // must not be told to stop "the other forge-record".
        let held = |program: &str| RoleError::Held {
            role: Role::Consumer,
            pid: 7,
            program: program.into(),
        };
        let hint = role_hint(Role::Consumer, "/s", &held("forge-core")).unwrap();
        assert_eq!(
            hint,
            "stop the forge-core that holds it first; a segment has exactly one consumer"
        );
        let hint = role_hint(Role::Consumer, "/s", &held("")).unwrap();
        assert!(
            hint.starts_with("stop the process that holds it first"),
            "{hint}"
        );
        let message = held("forge-core").to_string();
        assert!(
            message.contains("(forge-core, pid 7 as its header says)"),
            "{message}"
        );
    }

    #[test]
    fn wait_args_map_to_fabric_strategies() {
        assert_eq!(WaitStrategy::from(WaitArg::Spin), WaitStrategy::Spin);
        assert_eq!(WaitStrategy::from(WaitArg::Yield), WaitStrategy::Yield);
        assert_eq!(WaitStrategy::from(WaitArg::Park), WaitStrategy::Park);
    }
}

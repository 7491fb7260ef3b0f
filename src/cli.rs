//! Command-line options, and the one mode they select.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, CommandFactory, FromArgMatches, Parser, ValueEnum};

/// forge-top: a read-only live inspector for Forge shared-memory rings.
///
/// With no segment chosen (no --segment, no FORGE_SEGMENT, no --demo or
/// --file), or with --all, it shows every Forge ring of the host in one
/// table; Enter opens one, Esc comes back. With a segment it watches that
/// ring. It maps segments O_RDONLY / PROT_READ: it cannot write and never
/// takes a role. Press ? inside for every key. Durations need a unit
/// (250ms, 2.5s, 1m30s), as in every Forge program.
#[derive(Debug, Clone, Parser)]
#[command(version, about, long_about = None, after_help = WHICH_VIEW)]
#[command(group(ArgGroup::new("mode").args(["once", "snapshot", "list"])))]
pub struct Cli {
    /// Segment to watch. Without it (and without FORGE_SEGMENT, --demo or
    /// --file) forge-top shows every ring of the host, as with --all.
    #[arg(long, env = "FORGE_SEGMENT", value_parser = segment_name)]
    pub segment: Option<String>,

    /// Every Forge ring of the host in one table, live, even when
    /// FORGE_SEGMENT names one; with --once or --snapshot, that table.
    #[arg(long, conflicts_with_all = ["demo", "file", "list"])]
    pub all: bool,

    /// In the host view: show only the rings whose name, state, program,
    /// pid or alarm holds TEXT (`/` changes it inside).
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,

    /// Sampling period (10ms to 60s) [default: 100ms for one ring, 1s for
    /// the host view].
    #[arg(long, value_name = "DURATION",
          value_parser = |s: &str| duration_in(s, MIN_REFRESH, MAX_REFRESH))]
    pub refresh: Option<Duration>,

    /// Set when --segment came from the command line rather than
    /// FORGE_SEGMENT (see [`Cli::parse_args`]).
    #[arg(skip)]
    pub segment_given: bool,

    /// Open a recording (.mcap, from forge-record) or a ring image (.forge,
    /// from forge-top's freeze and save, or forge-record --image) instead of
    /// a live segment: the same panels, offline, with a time cursor for a
    /// recording.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["demo", "list"])]
    pub file: Option<PathBuf>,

    /// With --file: read a recording cut short (a killed recorder) up to its
    /// last complete chunk.
    #[arg(long, requires = "file")]
    pub recover: bool,

    /// Exit with an error if the segment does not exist, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,

    /// Start forge-init, forge-stream and forge-core (found next to this
    /// executable) on a private segment, watch it, and clean up on exit.
    #[arg(long, conflicts_with = "list")]
    pub demo: bool,

    /// With --demo: the producer's rate in frames per second. The default,
    /// one million, keeps the ring near empty so the latency panel shows
    /// transit time rather than queueing; `b` still fills it with a burst.
    /// 0 streams as fast as the ring allows (the ring then stays full).
    #[arg(
        long,
        value_name = "MSGS_PER_S",
        default_value_t = 1_000_000,
        requires = "demo"
    )]
    pub demo_rate: u64,

    /// Render one frame headless to PATH (.svg, .json, anything else: text)
    /// and exit.
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,

    /// List every Forge segment in /dev/shm (state, session, geometry,
    /// holders, rate) and exit.
    #[arg(long)]
    pub list: bool,

    /// With --snapshot, --once or --list: sample this long first, so rates
    /// are real (default 1s for --snapshot, 250ms otherwise). SIGINT or
    /// SIGTERM once attached ends the wait early: the output is taken then.
    #[arg(long, value_name = "DURATION",
          value_parser = |s: &str| duration_in(s, Duration::ZERO, MAX_AFTER))]
    pub after: Option<Duration>,

    /// With --snapshot: replace PATH if it exists (a symbolic link there is
    /// itself replaced, never followed). Without it an existing PATH is
    /// refused.
    #[arg(long, requires = "snapshot")]
    pub force: bool,

    /// With --snapshot: the terminal size to render at.
    #[arg(long, value_name = "COLSxROWS", default_value = "120x40", value_parser = terminal_size)]
    pub size: (u16, u16),

    /// Print the decoded state once and exit (with the host view: the
    /// table of every ring).
    #[arg(long)]
    pub once: bool,

    /// With --once or --list: output format. With json, a failure is
    /// printed on stdout too, as {"error": …, "kind": …}.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Where the `s` key writes screenshot bundles (default: forge-top in
    /// the temporary directory, never the current directory). It is created
    /// 0700, and refused unless it is yours and writable by you alone.
    #[arg(long, value_name = "DIR")]
    pub screenshot_dir: Option<PathBuf>,

    /// Pin forge-top itself to this core (keep it off the daemons' cores).
    #[arg(long, value_name = "N")]
    pub core: Option<usize>,

    /// A heartbeat older than this marks a daemon stalled (up to one day).
    #[arg(long, value_name = "DURATION", default_value = "2s",
          value_parser = threshold)]
    pub stale: Duration,

    /// The ring full for longer than this raises an alarm (up to one day).
    #[arg(long, value_name = "DURATION", default_value = "1s",
          value_parser = threshold)]
    pub full: Duration,

    /// Internal: the --demo cleanup guard.
    #[arg(long, hide = true, value_name = "SEGMENT")]
    pub demo_guard: Option<String>,

    /// Internal: pids the --demo cleanup guard stops.
    #[arg(long, hide = true, value_delimiter = ',')]
    pub guard_pids: Vec<u32>,
}

/// Which view, after the options in `--help`.
const WHICH_VIEW: &str = "\
Which view:
  forge-top                      every ring of the host (no --segment, no FORGE_SEGMENT)
  forge-top --all                the same, even when FORGE_SEGMENT names a ring
  forge-top --segment NAME       one ring (so does FORGE_SEGMENT=NAME forge-top)
  forge-top --all --once --format json   the host's table for scripts
In the host view Enter opens the selected ring and Esc there comes back.";

/// What forge-top was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The live terminal view.
    Live,
    /// Print the state once.
    Once,
    /// Render one frame to a file.
    Snapshot(PathBuf),
    /// List the segments.
    List,
    /// The demo's cleanup guard (internal).
    Guard {
        /// The demo's segment.
        segment: String,
        /// The daemons to stop.
        pids: Vec<u32>,
    },
}

impl Cli {
    /// The command line, knowing whether `--segment` was given on it or
    /// came from FORGE_SEGMENT (`--all` overrides the variable, not the
    /// option).
    pub fn parse_args() -> Cli {
        Self::from_matches(Self::command().get_matches()).unwrap_or_else(|e| e.exit())
    }

    /// The same from `args`, for tests.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::from_matches(Self::command().try_get_matches_from(args)?)
    }

    fn from_matches(matches: clap::ArgMatches) -> Result<Cli, clap::Error> {
        let mut cli = Self::from_arg_matches(&matches)?;
        cli.segment_given =
            matches.value_source("segment") == Some(clap::parser::ValueSource::CommandLine);
        if cli.all && cli.segment_given {
            return Err(Self::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--all shows every ring and --segment watches one: give one of them \
                 (in the host view, Enter opens a ring)",
            ));
        }
        Ok(cli)
    }

    /// Is forge-top about the host (every ring) rather than one ring? With
    /// --all, or when nothing chose a segment or a file.
    pub fn host(&self) -> bool {
        self.all || (self.segment.is_none() && !self.demo && self.file.is_none() && !self.list)
    }

    /// The ring view's sampling period: `--refresh`, else 100 ms.
    pub fn refresh(&self) -> Duration {
        self.refresh.unwrap_or(DEFAULT_REFRESH)
    }

    /// The host view's: `--refresh`, else 1 s (every ring costs a few
    /// system calls).
    pub fn host_refresh(&self) -> Duration {
        self.refresh.unwrap_or(crate::app::host::HOST_REFRESH)
    }

    /// The mode the options select (clap has refused any two at once).
    pub fn mode(&self) -> Mode {
        if let Some(segment) = &self.demo_guard {
            Mode::Guard {
                segment: segment.clone(),
                pids: self.guard_pids.clone(),
            }
        } else if let Some(path) = &self.snapshot {
            Mode::Snapshot(path.clone())
        } else if self.once {
            Mode::Once
        } else if self.list {
            Mode::List
        } else {
            Mode::Live
        }
    }

    /// Does a failure belong on stdout as JSON too?
    pub fn json_errors(&self) -> bool {
        self.format == Format::Json && matches!(self.mode(), Mode::Once | Mode::List)
    }
}

/// The ring view's sampling period unless `--refresh` says otherwise.
pub const DEFAULT_REFRESH: Duration = Duration::from_millis(100);
/// The largest alarm threshold: one day. Longer would be no alarm at all,
/// and the nanoseconds the alarms compare must fit.
pub const MAX_THRESHOLD: Duration = Duration::from_secs(86_400);
/// The fastest sampling allowed.
pub const MIN_REFRESH: Duration = Duration::from_millis(10);
/// The slowest sampling allowed.
pub const MAX_REFRESH: Duration = Duration::from_secs(60);
/// The longest `--after`.
pub const MAX_AFTER: Duration = Duration::from_secs(3600);

/// `--output` and `--list` format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A few human-readable lines.
    Text,
    /// Everything, as JSON.
    Json,
}

/// A segment name fabric accepts, checked before anything prints it: a name
/// holding control characters is refused with the name escaped (clap's own
/// message would quote it as it came, escape sequences and all).
fn segment_name(value: &str) -> Result<String, clap::Error> {
    crate::source::validate_name(value)
        .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{e}\n")))?;
    Ok(value.to_owned())
}

fn duration_in(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    forge_cli::units::duration_in(s, min, max)
}

fn threshold(s: &str) -> Result<Duration, String> {
    duration_in(s, Duration::from_millis(1), MAX_THRESHOLD)
}

/// `--size COLSxROWS`: a terminal size, not a byte count.
fn terminal_size(s: &str) -> Result<(u16, u16), String> {
    let (c, r) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected COLSxROWS like 120x40, found {s:?}"))?;
    let c: u16 = c
        .trim()
        .parse()
        .map_err(|_| format!("columns {c:?} is not a number"))?;
    let r: u16 = r
        .trim()
        .parse()
        .map_err(|_| format!("rows {r:?} is not a number"))?;
    if !(20..=1000).contains(&c) || !(10..=1000).contains(&r) {
        return Err(format!(
            "size {c}x{r} is out of range: 20..1000 columns, 10..1000 rows"
        ));
    }
    Ok((c, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_bad_ones_say_why() {
        assert_eq!(terminal_size("120x40"), Ok((120, 40)));
        assert!(terminal_size("120").unwrap_err().contains("COLSxROWS"));
        assert!(terminal_size("5x5").unwrap_err().contains("out of range"));
    }

    #[test]
    fn durations_need_a_unit_and_stay_in_their_range() {
        let ms = Duration::from_millis;
        assert_eq!(duration_in("250ms", MIN_REFRESH, MAX_REFRESH), Ok(ms(250)));
        assert_eq!(duration_in("2.5s", MIN_REFRESH, MAX_REFRESH), Ok(ms(2500)));
        assert!(duration_in("100", MIN_REFRESH, MAX_REFRESH)
            .unwrap_err()
            .contains("needs a unit"));
        assert!(duration_in("5ms", MIN_REFRESH, MAX_REFRESH)
            .unwrap_err()
            .contains("out of range: at least 10ms"));
        assert!(threshold("18446744073709551615ms")
            .unwrap_err()
            .contains("at most 1d"));
        assert!(threshold("99999999999999999999999s")
            .unwrap_err()
            .contains("at most 1d"));
    }

    #[test]
    fn modes_exclude_each_other() {
        use clap::Parser;
        let mode = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("forge-top").chain(args.iter().copied()))
                .map(|c| c.mode())
        };
        assert_eq!(mode(&[]).unwrap(), Mode::Live);
        assert_eq!(mode(&["--list"]).unwrap(), Mode::List);
        assert!(mode(&["--list", "--once"]).is_err());
        assert!(mode(&["--once", "--snapshot", "x.svg"]).is_err());
        assert!(mode(&["--demo", "--list"]).is_err());
        assert!(mode(&["--demo-rate", "5"]).is_err());
    }

    #[test]
    fn no_segment_chosen_means_the_host_and_all_overrides_only_the_variable() {
        let cli = |args: &[&str]| {
            Cli::try_parse_args(std::iter::once("forge-top").chain(args.iter().copied()))
        };
        // What FORGE_SEGMENT chooses is the docs test's (it sets it).
        if std::env::var_os("FORGE_SEGMENT").is_none() {
            assert!(cli(&[]).unwrap().host());
            assert!(cli(&["--once"]).unwrap().host());
            assert_eq!(cli(&[]).unwrap().host_refresh(), Duration::from_secs(1));
        }
        assert!(!cli(&["--segment", "/x"]).unwrap().host());
        assert!(!cli(&["--demo"]).unwrap().host());
        assert!(!cli(&["--list"]).unwrap().host());
        assert!(cli(&["--all", "--once"]).unwrap().host());
        let both = cli(&["--all", "--segment", "/x"]).unwrap_err().to_string();
        assert!(both.contains("give one of them"), "{both}");
        assert!(cli(&["--all", "--demo"]).is_err());
        assert_eq!(
            cli(&["--segment", "/x"]).unwrap().refresh(),
            Duration::from_millis(100)
        );
        let given = cli(&["--all", "--refresh", "250ms"]).unwrap();
        assert_eq!(given.refresh(), Duration::from_millis(250));
        assert_eq!(given.host_refresh(), Duration::from_millis(250));
    }
}

//! Command-line options.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// forge-top: a read-only live inspector for Forge shared-memory rings.
///
/// Maps the segment O_RDONLY / PROT_READ: it cannot write and never takes a
/// role. Press ? inside for every key.
#[derive(Debug, Clone, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Segment to watch.
    #[arg(long, env = "FORGE_SEGMENT", default_value = crate::source::DEFAULT_SEGMENT,
          value_parser = segment_name)]
    pub segment: String,

    /// Sampling period in milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub refresh: u64,

    /// Exit with an error if the segment does not exist, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,

    /// Start forge-init, forge-stream and forge-core (found next to this
    /// executable) on a private segment, watch it, and clean up on exit.
    #[arg(long)]
    pub demo: bool,

    /// With --demo: the producer's rate in frames per second. The default,
    /// one million, keeps the ring near empty so the latency panel shows
    /// transit time rather than queueing; `b` still fills it with a burst.
    /// 0 streams as fast as the ring allows (the ring then stays full).
    #[arg(long, value_name = "MSGS_PER_S", default_value_t = 1_000_000)]
    pub demo_rate: u64,

    /// Render one frame headless to PATH (.svg, .json, anything else: text)
    /// and exit.
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,

    /// With --snapshot or --once: sample this long first, so rates are real
    /// (default 1000 ms for --snapshot, 250 ms for --once).
    #[arg(long, value_name = "MS")]
    pub after: Option<u64>,

    /// With --snapshot: the terminal size to render at.
    #[arg(long, value_name = "COLSxROWS", default_value = "120x40", value_parser = parse_size)]
    pub size: (u16, u16),

    /// Print the decoded state once and exit.
    #[arg(long)]
    pub once: bool,

    /// With --once: output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Where the `s` key writes screenshot bundles.
    #[arg(long, value_name = "DIR", default_value = "screenshots")]
    pub screenshot_dir: PathBuf,

    /// Pin forge-top itself to this core (keep it off the daemons' cores).
    #[arg(long, value_name = "N")]
    pub core: Option<usize>,

    /// A heartbeat older than this raises a stale-heartbeat alarm (ms, up to
    /// one day).
    #[arg(long, value_name = "MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..=MAX_THRESHOLD_MS))]
    pub stale_ms: u64,

    /// The ring full for longer than this raises an alarm (ms, up to one
    /// day).
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=MAX_THRESHOLD_MS))]
    pub full_ms: u64,

    /// Internal: the --demo cleanup guard.
    #[arg(long, hide = true, value_name = "SEGMENT")]
    pub demo_guard: Option<String>,

    /// Internal: pids the --demo cleanup guard stops.
    #[arg(long, hide = true, value_delimiter = ',')]
    pub guard_pids: Vec<u32>,
}

/// The largest alarm threshold, ms: one day. Longer would be no alarm at
/// all, and ms × 10^6 must fit the nanoseconds the alarms compare.
pub const MAX_THRESHOLD_MS: u64 = 86_400_000;

/// `--once` output format.
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

fn parse_size(s: &str) -> Result<(u16, u16), String> {
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
        assert_eq!(parse_size("120x40"), Ok((120, 40)));
        assert!(parse_size("120").unwrap_err().contains("COLSxROWS"));
        assert!(parse_size("5x5").unwrap_err().contains("out of range"));
    }
}

//! Command-line values of a replay: its speed and where it starts. Each
//! parser says what it expected when it refuses; durations and times are
//! read by `forge_cli::units`, as in every Forge program.

use std::time::Duration;

use forge_cli::units::{duration_in, parse_utc};

/// The longest offset `--from +DURATION` takes: a recording's frames span
/// at most the 584 years a u64 of ns holds, and no one records for 100.
pub const MAX_OFFSET: Duration = Duration::from_secs(100 * 365 * 86_400);

/// How fast a replay goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// The recorded pace times this factor (1 = as recorded).
    Factor(f64),
    /// As fast as the ring takes them.
    Max,
}

impl std::str::FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        let factor = s
            .trim()
            .trim_end_matches('x')
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f > 0.0)
            .ok_or_else(|| {
                format!("{s:?} is not a speed: expected max or a factor above 0, like 1, 0.5 or 10")
            })?;
        if !(MIN_SPEED..=MAX_SPEED).contains(&factor) {
            return Err(format!(
                "{s} is out of range: a factor from {MIN_SPEED} to {MAX_SPEED}, or max"
            ));
        }
        Ok(Speed::Factor(factor))
    }
}

/// The slowest `--speed`: a second of recording replayed in about 17 minutes.
pub const MIN_SPEED: f64 = 0.001;
/// The fastest `--speed` short of `max`.
pub const MAX_SPEED: f64 = 1_000_000.0;

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// At the first frame with this telemetry sequence.
    Sequence(u64),
    /// This long after the first frame.
    Offset(Duration),
    /// At the first frame at or after this wall-clock time, ns since the
    /// Unix epoch.
    Time(u64),
}

impl std::str::FromStr for From {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Some(offset) = t.strip_prefix('+') {
            return duration_in(offset, Duration::ZERO, MAX_OFFSET).map(From::Offset);
        }
        if let Ok(seq) = t.parse::<u64>() {
            return Ok(From::Sequence(seq));
        }
        if let Some(ns) = t.strip_prefix('@') {
            return ns
                .parse::<u64>()
                .map(From::Time)
                .map_err(|_| format!("{s:?}: expected @ and Unix ns, a whole number below 2^64"));
        }
        if t.len() >= 19 && t.as_bytes()[4] == b'-' {
            return parse_utc(t).map(From::Time);
        }
        Err(format!(
            "{s:?} is not a start point: expected a sequence number (1234), an offset from the \
             first frame (+2.5s), a UTC time (2026-11-30T18:05:00.25Z) or @ and Unix ns"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_and_start_points_parse() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("10".parse::<Speed>(), Ok(Speed::Factor(10.0)));
        assert_eq!("0.5x".parse::<Speed>(), Ok(Speed::Factor(0.5)));
        assert!("0".parse::<Speed>().is_err());
        assert!("1e-300"
            .parse::<Speed>()
            .unwrap_err()
            .contains("out of range"));
        assert_eq!("1234".parse::<From>(), Ok(From::Sequence(1234)));
        assert_eq!(
            "+2.5s".parse::<From>(),
            Ok(From::Offset(Duration::from_millis(2_500)))
        );
        assert_eq!("@17".parse::<From>(), Ok(From::Time(17)));
        assert_eq!(
            "1970-01-02T00:00:01.5Z".parse::<From>(),
            Ok(From::Time(86_401_500_000_000))
        );
        assert_eq!(
            "2000-03-01 00:00:00".parse::<From>(),
            Ok(From::Time(951_868_800_000_000_000))
        );
        let e = "+100000000000000000000s".parse::<From>().unwrap_err();
        assert!(e.contains("out of range: at most 36500d"), "{e}");
        assert!("+1e20s"
            .parse::<From>()
            .unwrap_err()
            .contains("not a duration"));
        assert!("+10".parse::<From>().unwrap_err().contains("needs a unit"));
        assert!("9999-01-01T00:00:00Z"
            .parse::<From>()
            .unwrap_err()
            .contains("out of range"));
        assert!("yesterday"
            .parse::<From>()
            .unwrap_err()
            .contains("UTC time"));
    }
}

//! Command-line values with units: sizes, durations, replay speeds and
//! start points. Each parser says what it expected when it refuses.

use std::time::Duration;

/// A byte count: `1048576`, `64K`, `100M`, `2G` (powers of 1024; a trailing
/// `B` or `iB` is allowed).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 10),
        Some('M' | 'm') => (&t[..t.len() - 1], 20),
        Some('G' | 'g') => (&t[..t.len() - 1], 30),
        Some('T' | 't') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            format!(
                "{s:?} is not a size: expected a positive number of bytes, like 64K, 100M or 2G"
            )
        })
}

/// A duration: `500ms`, `10s`, `1.5s`, `5m`, `2h`, `100us`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let units: [(&str, f64); 6] = [
        ("ms", 1e-3),
        ("us", 1e-6),
        ("ns", 1e-9),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
    ];
    units
        .iter()
        .find_map(|(u, scale)| {
            let n: f64 = t.strip_suffix(u)?.trim().parse().ok()?;
            (n.is_finite() && n >= 0.0).then(|| Duration::from_secs_f64(n * scale))
        })
        .ok_or_else(|| {
            format!(
                "{s:?} is not a duration: expected a number with a unit, like 500ms, 10s, 5m or 2h"
            )
        })
}

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
        s.trim_end_matches('x')
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f > 0.0)
            .map(Speed::Factor)
            .ok_or_else(|| {
                format!("{s:?} is not a speed: expected max or a factor above 0, like 1, 0.5 or 10")
            })
    }
}

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
            return parse_duration(offset).map(From::Offset);
        }
        if let Ok(seq) = t.parse::<u64>() {
            return Ok(From::Sequence(seq));
        }
        if let Some(ns) = t.strip_prefix('@').and_then(|n| n.parse::<u64>().ok()) {
            return Ok(From::Time(ns));
        }
        parse_utc(t).map(From::Time).ok_or_else(|| {
            format!(
                "{s:?} is not a start point: expected a sequence number (1234), an offset from the \
                 first frame (+2.5s), a UTC time (2026-11-30T18:05:00.25Z) or @ and Unix ns"
            )
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (or a space for the `T`) as ns since
/// the Unix epoch.
pub fn parse_utc(s: &str) -> Option<u64> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-');
    let (y, mo, da): (i64, u32, u32) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let (h, mi, se): (u64, u64, u64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    if frac.len() > 9 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanos: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let days = days_from_civil(y, mo, da);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + se;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").unwrap_err().contains("like 64K"));
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1_500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7_200)));
        assert!(parse_duration("10").unwrap_err().contains("with a unit"));
    }

    #[test]
    fn speeds_and_start_points_parse() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("10".parse::<Speed>(), Ok(Speed::Factor(10.0)));
        assert_eq!("0.5x".parse::<Speed>(), Ok(Speed::Factor(0.5)));
        assert!("0".parse::<Speed>().is_err());
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
            parse_utc("2000-03-01T00:00:00Z"),
            Some(951_868_800_000_000_000)
        );
        assert!("yesterday"
            .parse::<From>()
            .unwrap_err()
            .contains("UTC time"));
    }
}

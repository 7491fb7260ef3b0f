//! Durations, sizes and times on the command line: one rule for every
//! Forge program.
//!
//! - A **duration** is a number with a unit, as humantime spells them:
//!   `250ms`, `2.5s`, `1m30s`, `10min`, `2h`, `100us`, `1d`. A bare number
//!   is refused: `10` could be seconds or milliseconds, and a tool that
//!   guesses wrong waits a thousand times too long.
//! - A **size** is a number of bytes, with an optional binary unit: `4096`,
//!   `64K` (or `64KiB`, `64k`), `100M`, `2G`, `1T` (powers of 1024). A bare
//!   number is bytes.
//! - A **time** is UTC, RFC 3339: `2026-11-30T18:05:00.25Z` (a space may
//!   stand for the `T`, the `Z` may be left out).
//!
//! Each option has its own range ([`duration_in`], [`size_in`]); a value
//! outside it, or too large to be represented at all, is refused with the
//! limit named, never wrapped or saturated into something else. Every
//! parser returns `Err(String)`, so it is a clap `value_parser` as it is
//! (clap then exits 2, a usage error).
//!
//! ```
//! use std::time::Duration;
//! use forge_cli::units::{duration_in, parse_duration, size_in};
//!
//! assert_eq!(parse_duration("2.5s"), Ok(Duration::from_millis(2500)));
//! assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
//! let e = duration_in("100000000000000000000s", Duration::from_secs(1), Duration::from_secs(86_400));
//! assert!(e.unwrap_err().contains("at most 1d"));
//! assert_eq!(size_in("64K", 1, 1 << 30), Ok(65_536));
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What every duration error ends with.
const DURATION_FORMS: &str = "a number with a unit, like 250ms, 2.5s, 1m30s or 2h";
/// What every size error ends with.
const SIZE_FORMS: &str =
    "bytes, or a number with K, M, G or T (powers of 1024), like 4096, 64K or 100M";

/// A duration: a number with a unit (humantime's: `ns`, `us`, `ms`, `s`,
/// `m`/`min`, `h`, `d`, …), or several (`1m30s`). No range is applied; see
/// [`duration_in`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!(
            "{s:?} needs a unit: {t}ms? {t}s? (expected {DURATION_FORMS})"
        ));
    }
    humantime::parse_duration(t).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => {
            format!("{s:?} is too large to be a duration (or finer than 1ns)")
        }
        e => format!("{s:?} is not a duration ({e}): expected {DURATION_FORMS}"),
    })
}

/// A duration from `min` to `max`, both included. Zero is refused unless
/// `min` is zero.
pub fn duration_in(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let range = || format!("from {} to {}", spell(min), spell(max));
    let d = parse_duration(s).map_err(|e| {
        if e.contains("too large") {
            format!(
                "{s:?} is out of range: at most {} ({})",
                spell(max),
                range()
            )
        } else {
            e
        }
    })?;
    if d > max {
        return Err(format!(
            "{s} is out of range: at most {} ({})",
            spell(max),
            range()
        ));
    }
    if d < min {
        return Err(if d.is_zero() {
            format!("{s} makes no sense here: expected {}", range())
        } else {
            format!("{s} is out of range: at least {} ({})", spell(min), range())
        });
    }
    Ok(d)
}

/// A duration as the shortest exact spelling [`parse_duration`] reads
/// back: `1d`, `90s`, `250ms`, `0s`.
pub fn spell(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    const UNITS: [(u128, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    let (per, unit) = UNITS
        .iter()
        .find(|(per, _)| ns % per == 0)
        .copied()
        .unwrap_or((1, "ns"));
    format!("{}{unit}", ns / per)
}

/// A byte count: bytes, or a number with `K`, `M`, `G` or `T` (powers of
/// 1024; `KiB`, `k`, `KB` are read the same). No range is applied; see
/// [`size_in`].
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(digits_end);
    let not_size = || format!("{s:?} is not a size: expected {SIZE_FORMS}");
    if digits.is_empty() {
        return Err(not_size());
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(not_size()),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{s:?} is too large to be a size (at most 16E bytes)"))
}

/// A size from `min` to `max` bytes, both included. Zero is refused unless
/// `min` is zero.
pub fn size_in(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let range = || format!("from {} to {}", spell_size(min), spell_size(max));
    let n = parse_size(s).map_err(|e| {
        if e.contains("too large") {
            format!(
                "{s:?} is out of range: at most {} ({})",
                spell_size(max),
                range()
            )
        } else {
            e
        }
    })?;
    if n > max {
        return Err(format!(
            "{s} is out of range: at most {} ({})",
            spell_size(max),
            range()
        ));
    }
    if n < min {
        return Err(if n == 0 {
            format!("{s} makes no sense here: expected {}", range())
        } else {
            format!(
                "{s} is out of range: at least {} ({})",
                spell_size(min),
                range()
            )
        });
    }
    Ok(n)
}

/// A size as the shortest exact spelling [`parse_size`] reads back:
/// `64K`, `1G`, `4097`.
pub fn spell_size(n: u64) -> String {
    for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if n != 0 && n % (1 << shift) == 0 {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// A UTC time, RFC 3339 (`2026-11-30T18:05:00.25Z`; a space for the `T`
/// and no `Z` are accepted), as ns since the Unix epoch.
pub fn parse_utc(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let time = humantime::parse_rfc3339_weak(t).map_err(|e| {
        format!("{s:?} is not a UTC time ({e}): expected one like 2026-11-30T18:05:00.25Z")
    })?;
    unix_ns(time).ok_or_else(|| format!("{s} is out of range: expected a time from 1970 to 2554"))
}

/// `HH:MM[:SS[.fraction]]`, UTC, on the day of `day_unix_ns`, as ns since
/// the Unix epoch (forge-top's "go to time" on a recording's cursor day).
pub fn parse_time_of_day(text: &str, day_unix_ns: u64) -> Option<u64> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let two = |p: &str| match p.len() {
        1 => Some(format!("0{p}")),
        2 => Some(p.to_owned()),
        _ => None,
    };
    let seconds = match parts.get(2) {
        None => "00".to_owned(),
        Some(s) => match s.split_once('.') {
            Some((whole, fraction)) => format!("{}.{fraction}", two(whole)?),
            None => two(s)?,
        },
    };
    let date = &rfc3339_ns(day_unix_ns)[..10];
    parse_utc(&format!(
        "{date}T{}:{}:{seconds}Z",
        two(parts[0])?,
        two(parts[1])?
    ))
    .ok()
}

/// ns since the Unix epoch, if it fits.
fn unix_ns(t: SystemTime) -> Option<u64> {
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(d.as_nanos()).ok()
}

/// `unix_ns` as RFC 3339 with nanoseconds: `2024-02-29T12:00:00.005000000Z`.
pub fn rfc3339_ns(unix_ns: u64) -> String {
    humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(unix_ns)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);
    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn durations_take_humantime_units_and_never_a_bare_number() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration("2.5s"), Ok(ms(2500)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("10min"), Ok(ms(600_000)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration(" 2h "), Ok(Duration::from_secs(7200)));
        for bare in ["10", "2500", "0", "1.5"] {
            let e = parse_duration(bare).unwrap_err();
            assert!(e.contains("needs a unit"), "{bare}: {e}");
        }
        for bad in ["", "fast", "1e20s", "-1s", "2 parsecs", "nan s"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("not a duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn out_of_range_durations_name_the_limit_and_never_panic() {
        let e = duration_in("100000000000000000000s", S, DAY).unwrap_err();
        assert!(e.contains("out of range: at most 1d"), "{e}");
        let e = duration_in("999999999999999999999999999h", S, DAY).unwrap_err();
        assert!(e.contains("at most 1d"), "{e}");
        let e = duration_in("2d", S, DAY).unwrap_err();
        assert!(
            e.contains("2d is out of range: at most 1d (from 1s to 1d)"),
            "{e}"
        );
        let e = duration_in("0s", S, DAY).unwrap_err();
        assert!(
            e.contains("0s makes no sense here: expected from 1s to 1d"),
            "{e}"
        );
        let e = duration_in("5ms", S, DAY).unwrap_err();
        assert!(e.contains("at least 1s"), "{e}");
        assert_eq!(duration_in("0s", Duration::ZERO, S), Ok(Duration::ZERO));
        assert_eq!(duration_in("1d", S, DAY), Ok(DAY));
    }

    #[test]
    fn limits_are_spelled_so_they_read_back() {
        for d in [
            DAY,
            S,
            Duration::from_millis(10),
            Duration::from_secs(90),
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&spell(d)).ok(), Some(d), "{}", spell(d));
        }
        assert_eq!(spell(Duration::from_secs(90)), "90s");
        for n in [1u64, 4096, 65_536, 1 << 30, 3 << 40, 4097] {
            assert_eq!(parse_size(&spell_size(n)), Ok(n));
        }
        assert_eq!(spell_size(64 << 10), "64K");
    }

    #[test]
    fn sizes_are_bytes_with_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1TB"), Ok(1 << 40));
        for bad in ["", "lots", "1.5M", "-1", "12Q", "M"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains("not a size"), "{bad}: {e}");
        }
        let e = size_in("99999999999999999999", 1, 1 << 30).unwrap_err();
        assert!(e.contains("at most 1G"), "{e}");
        let e = size_in("16777216T", 1, 1 << 30).unwrap_err();
        assert!(e.contains("at most 1G"), "{e}");
        let e = size_in("0", 1024, 1 << 30).unwrap_err();
        assert!(e.contains("makes no sense"), "{e}");
        let e = size_in("2G", 1024, 1 << 30).unwrap_err();
        assert!(e.contains("2G is out of range: at most 1G"), "{e}");
    }

    #[test]
    fn utc_times_are_rfc3339() {
        assert_eq!(parse_utc("1970-01-02T00:00:01.5Z"), Ok(86_401_500_000_000));
        assert_eq!(
            parse_utc("2000-03-01 00:00:00"),
            Ok(951_868_800_000_000_000)
        );
        assert!(parse_utc("yesterday")
            .unwrap_err()
            .contains("not a UTC time"));
        assert!(parse_utc("2024-02-30T00:00:00Z").is_err());
        assert!(parse_utc("9999-01-01T00:00:00Z")
            .unwrap_err()
            .contains("out of range"));
        assert_eq!(rfc3339_ns(5_000_000), "1970-01-01T00:00:00.005000000Z");
        let day = 86_400_000_000_000 + 5;
        assert_eq!(parse_time_of_day("00:01", day), Some(86_460_000_000_000));
        assert_eq!(parse_time_of_day("0:0:1.5", day), Some(86_401_500_000_000));
        for bad in ["12", "24:00", "12:60", "1:2:3:4", "ab:cd", "123:00"] {
            assert_eq!(parse_time_of_day(bad, day), None, "{bad}");
        }
    }
}

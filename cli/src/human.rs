//! Numbers, sizes, durations and times for people, spelled the same in every
//! Forge program: forge-top's panels, the daemons' reports, forge-bench's
//! tables. Never used on the per-message path.
//!
//! ```
//! use forge_cli::human;
//!
//! assert_eq!(human::count(1_234_567), "1,234,567");
//! assert_eq!(human::si(4_560_000.0), "4.56M");
//! assert_eq!(human::duration_ns(12_340), "12.3µs");
//! assert_eq!(human::bytes(2_105_344), "2.01 MiB");
//! assert_eq!(human::session(0xab), "0x00000000000000ab");
//! ```

use humansize::{format_size, BINARY};

/// A count with digit groups: `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number with an SI suffix, short: `999`, `12.3k`, `4.56M`, `7.89G`, up
/// to `E`. The mantissa stays below 1000 after rounding (`999.96k` is
/// `1.00M`, never `1000.0k`).
pub fn si(v: f64) -> String {
    const UNITS: [(&str, f64, usize); 7] = [
        ("", 1.0, 0),
        ("k", 1e3, 1),
        ("M", 1e6, 2),
        ("G", 1e9, 2),
        ("T", 1e12, 2),
        ("P", 1e15, 2),
        ("E", 1e18, 2),
    ];
    let a = v.abs();
    for (i, (unit, scale, decimals)) in UNITS.iter().enumerate() {
        let m = v / scale;
        let shown = format!("{m:.decimals$}");
        let rounded: f64 = shown.parse().unwrap_or(m);
        if rounded.abs() < 1000.0 || i + 1 == UNITS.len() || !a.is_finite() {
            return format!("{shown}{unit}");
        }
    }
    unreachable!("the last unit always returns")
}

/// Bytes in binary units: `2.01 MiB`, `512 B`.
pub fn bytes(n: u64) -> String {
    format_size(n, BINARY)
}

/// Bytes per second, binary units, one decimal: `45.7 MiB/s`.
pub fn bytes_rate(per_s: f64) -> String {
    format!(
        "{}/s",
        format_size(per_s.max(0.0) as u64, BINARY.decimal_places(1))
    )
}

/// A duration in ns, short, in the unit that fits: `850ns`, `12.3µs`,
/// `4.6ms`, `2.1s`, `3m12s`, `2h05m`, `3d04h`.
pub fn duration_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{:.1}µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}ms", ns as f64 / 1e6),
        _ => {
            let s = ns / 1_000_000_000;
            match s {
                0..60 => format!("{:.1}s", ns as f64 / 1e9),
                60..3600 => format!("{}m{:02}s", s / 60, s % 60),
                3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
                _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
            }
        }
    }
}

/// A duration in ns as a number and its unit, with 2 to 4 significant
/// digits, for tables that put one unit after several numbers: `("316",
/// "ns")`, `("12.3", "µs")`, `("4.56", "ms")`; `("—", "")` for no number.
pub fn duration_parts(ns: f64) -> (String, &'static str) {
    if !ns.is_finite() {
        ("—".into(), "")
    } else if ns < 10_000.0 {
        (format!("{ns:.0}"), "ns")
    } else if ns < 1e6 {
        (format!("{:.1}", ns / 1e3), "µs")
    } else if ns < 1e9 {
        (format!("{:.2}", ns / 1e6), "ms")
    } else {
        (format!("{:.2}", ns / 1e9), "s")
    }
}

/// A duration in whole units, for axis labels: `500ns`, `2µs`, `10ms`.
pub fn duration_label(ns: u64) -> String {
    match ns {
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", n / 1_000),
        n => format!("{}ms", n / 1_000_000),
    }
}

/// A number with an SI suffix and a unit: `43.10M/s`, `20.0kB/s`; `—` for
/// no number.
pub fn si_unit(v: f64, unit: &str) -> String {
    if v.is_finite() {
        format!("{}{unit}", si(v))
    } else {
        "—".into()
    }
}

/// An optional duration: `-` when there is none.
pub fn maybe_duration_ns(ns: Option<u64>) -> String {
    ns.map_or_else(|| "-".into(), duration_ns)
}

/// A session id as everyone prints it: `0x0123456789abcdef`.
pub fn session(id: u64) -> String {
    format!("{id:#018x}")
}

/// `unix_ns` as RFC 3339 with nanoseconds, UTC: the one date formatter
/// (humantime's) every spelling below is cut from.
fn rfc3339(unix_ns: u64) -> String {
    crate::units::rfc3339_ns(unix_ns)
}

/// Wall-clock time of day, UTC, with milliseconds: `12:34:56.789`.
pub fn time_of_day(unix_ns: u64) -> String {
    rfc3339(unix_ns)[11..23].to_owned()
}

/// Date and time, UTC: `2024-05-01 12:34:56`.
pub fn date_time(unix_ns: u64) -> String {
    let t = rfc3339(unix_ns);
    format!("{} {}", &t[..10], &t[11..19])
}

/// `20240501-123456`, for file names.
pub fn file_stamp(unix_ns: u64) -> String {
    let t = rfc3339(unix_ns);
    let digits = |r: std::ops::Range<usize>| t[r].replace(['-', ':'], "");
    format!("{}-{}", digits(0..10), digits(11..19))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(100_000_000), "100,000,000");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration_ns(850), "850ns");
        assert_eq!(duration_ns(12_340), "12.3µs");
        assert_eq!(duration_ns(2_100_000_000), "2.1s");
        assert_eq!(duration_ns(192_000_000_000), "3m12s");
        assert_eq!(maybe_duration_ns(None), "-");
    }

    #[test]
    fn table_and_label_spellings_share_the_units() {
        assert_eq!(duration_parts(316.4), ("316".into(), "ns"));
        assert_eq!(duration_parts(12_345.0), ("12.3".into(), "µs"));
        assert_eq!(duration_parts(f64::NAN), ("—".into(), ""));
        assert_eq!(duration_label(500), "500ns");
        assert_eq!(duration_label(2_000), "2µs");
        assert_eq!(si_unit(43_100_000.0, "/s"), "43.10M/s");
    }

    #[test]
    fn rates_and_sizes_read_naturally() {
        assert_eq!(si(1_950_000.0), "1.95M");
        assert_eq!(si(12.0), "12");
        assert_eq!(si(999.6), "1.0k");
        assert_eq!(si(999_960.0), "1.00M");
        assert_eq!(si(364_946_904_976_496_430.0), "364.95P");
        assert_eq!(si(u64::MAX as f64), "18.45E");
        assert_eq!(bytes(2_105_344), "2.01 MiB");
        assert_eq!(bytes_rate(47_923_200.0), "45.7 MiB/s");
    }

    #[test]
    fn dates_are_civil_utc() {
        // 2024-02-29 12:00:00 UTC
        let ns = 1_709_208_000 * 1_000_000_000;
        assert_eq!(date_time(ns), "2024-02-29 12:00:00");
        assert_eq!(time_of_day(ns + 5_000_000), "12:00:00.005");
        assert_eq!(file_stamp(ns), "20240229-120000");
        assert_eq!(date_time(u64::MAX), "2554-07-21 23:34:33");
        assert_eq!(time_of_day(0), "00:00:00.000");
    }
}

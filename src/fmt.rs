//! Number and time formatting shared by the renderers and the exports.

/// A session id as 16 hex digits.
pub fn hex_session(s: u64) -> String {
    format!("{s:#018x}")
}

/// A duration in ns, short: `850ns`, `12.3µs`, `4.56ms`, `2.1s`, `3m12s`,
/// `2h05m`, `3d04h`.
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

/// An optional latency.
pub fn latency(ns: Option<u64>) -> String {
    ns.map_or_else(|| "-".into(), duration_ns)
}

/// A count with an SI suffix: `999`, `12.3k`, `4.56M`, `7.89G`.
pub fn si(v: f64) -> String {
    let a = v.abs();
    if a < 1e3 {
        format!("{v:.0}")
    } else if a < 1e6 {
        format!("{:.1}k", v / 1e3)
    } else if a < 1e9 {
        format!("{:.2}M", v / 1e6)
    } else {
        format!("{:.2}G", v / 1e9)
    }
}

/// Bytes in binary units: `2 MiB`, `4.01 KiB`.
pub fn bytes(v: u64) -> String {
    humansize::format_size(v, humansize::BINARY)
}

/// Bytes per second, in binary units, one decimal.
pub fn bytes_rate(v: f64) -> String {
    format!(
        "{}/s",
        humansize::format_size(v.max(0.0) as u64, humansize::BINARY.decimal_places(1))
    )
}

/// Wall-clock time of day, UTC, with milliseconds: `12:34:56.789`.
pub fn time_of_day(unix_ns: u64) -> String {
    let ms = unix_ns / 1_000_000;
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600 % 24,
        s / 60 % 60,
        s % 60,
        ms % 1000
    )
}

/// Date and time, UTC: `2024-05-01 12:34:56`.
pub fn date_time(unix_ns: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(unix_ns);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
}

/// `20240501-123456`, for file names.
pub fn file_stamp(unix_ns: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(unix_ns);
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

/// UTC year, month, day, hour, minute, second.
fn civil(unix_ns: u64) -> (i64, u32, u32, u64, u64, u64) {
    let s = unix_ns / 1_000_000_000;
    let (y, m, d) = civil_from_days((s / 86_400) as i64);
    (y, m, d, s / 3600 % 24, s / 60 % 60, s % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration_ns(850), "850ns");
        assert_eq!(duration_ns(12_340), "12.3µs");
        assert_eq!(duration_ns(2_100_000_000), "2.1s");
        assert_eq!(duration_ns(192_000_000_000), "3m12s");
    }

    #[test]
    fn dates_are_civil_utc() {
        // 2024-02-29 12:00:00 UTC
        let ns = 1_709_208_000 * 1_000_000_000;
        assert_eq!(date_time(ns), "2024-02-29 12:00:00");
        assert_eq!(time_of_day(ns + 5_000_000), "12:00:00.005");
        assert_eq!(file_stamp(ns), "20240229-120000");
    }
}

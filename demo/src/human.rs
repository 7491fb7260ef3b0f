//! Numbers for people: sizes and rates with humansize, counts with digit
//! groups, durations with a unit that fits. Only used in reports, never on
//! the per-message path.

use humansize::{format_size, BINARY};

/// `1234567` → `1,234,567`.
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

/// Bytes, binary units: `2.01 MiB`.
pub fn bytes(n: u64) -> String {
    format_size(n, BINARY)
}

/// Bytes per second: `238.42 MiB/s`.
pub fn bytes_rate(per_s: f64) -> String {
    format!("{}/s", format_size(per_s.max(0.0) as u64, BINARY))
}

/// A rate with an SI prefix: `1.95 M`.
pub fn si(x: f64) -> String {
    let (v, unit) = match x {
        x if x >= 1e9 => (x / 1e9, " G"),
        x if x >= 1e6 => (x / 1e6, " M"),
        x if x >= 1e3 => (x / 1e3, " k"),
        x => (x, " "),
    };
    format!("{v:.2}{unit}")
}

/// Nanoseconds with the unit that fits: `812 ns`, `1.25 µs`, `3.40 ms`.
pub fn nanos(ns: u64) -> String {
    match ns {
        n if n < 1_000 => format!("{n} ns"),
        n if n < 1_000_000 => format!("{:.2} µs", n as f64 / 1e3),
        n if n < 1_000_000_000 => format!("{:.2} ms", n as f64 / 1e6),
        n => format!("{:.3} s", n as f64 / 1e9),
    }
}

/// A session id as everyone prints it: `0x0123456789abcdef`.
pub fn session(id: u64) -> String {
    format!("{id:#018x}")
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
    fn durations_pick_a_unit() {
        assert_eq!(nanos(812), "812 ns");
        assert_eq!(nanos(1_250), "1.25 µs");
        assert_eq!(nanos(3_400_000), "3.40 ms");
        assert_eq!(nanos(2_000_000_000), "2.000 s");
    }

    #[test]
    fn rates_and_sizes_read_naturally() {
        assert_eq!(si(1_950_000.0), "1.95 M");
        assert_eq!(si(12.0), "12.00 ");
        assert_eq!(bytes(2_105_344), "2.01 MiB");
        assert_eq!(session(0xab), "0x00000000000000ab");
    }
}

//! The bench's report: a Markdown table and an SVG chart.

use super::{Report, Row, CALIBRATION_FRAMES};

impl Report {
    pub(super) fn markdown(&self) -> String {
        let us = |ns: u64| format!("{:.1}", ns as f64 / 1000.0);
        let k = |x: f64| format!("{:.0}k", x / 1000.0);
        let mut s = format!(
            "## Forge -> Zenoh -> Forge vs Zenoh pub/sub (TCP on loopback)\n\n\
             Machine: {}. Median of {} repeats; throughput runs of {} frames, latency runs of {} \
             frames at {} frames/s. Ratios, and the bridge's p50 less Zenoh's and two hops', are the \
             median of each repeat's own.\n\n\
             | payload | Zenoh frames/s | bridge frames/s | bridge / Zenoh (target ≥ 1.0 to 1 KiB, ≥ 0.9 at 4 KiB) | Zenoh p50 / p99 µs | bridge p50 / p99 µs | added p50 (target ≤ 10 %) | one ring hop p50 / p99 µs | bridge p50 less Zenoh's and two hops', µs | CPU µs per frame, Zenoh / bridge |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
            self.machine, self.repeats, self.frames, self.latency_frames, self.rate
        );
        for r in &self.rows {
            s += &format!(
                "| {} B | {} | {} | {:.2}× | {} / {} | {} / {} | {:+.0} % | {} / {} | {:+.1} | {:.2} / {:.2} |\n",
                r.payload,
                k(r.zenoh_frames_per_s),
                k(r.bridge_frames_per_s),
                r.throughput_ratio,
                us(r.zenoh_p50_ns),
                us(r.zenoh_p99_ns),
                us(r.bridge_p50_ns),
                us(r.bridge_p99_ns),
                r.added_p50_percent,
                us(r.hop_p50_ns),
                us(r.hop_p99_ns),
                r.beyond_hops_ns as f64 / 1000.0,
                r.zenoh_cpu_ns_per_frame / 1000.0,
                r.bridge_cpu_ns_per_frame / 1000.0,
            );
        }
        s += &format!(
            "\nCPU per frame: user + system time of every process of the path \
             (getrusage of the reaped children) over a throughput run, less the same \
             path's cost for a {CALIBRATION_FRAMES}-frame run (start-up and shutdown: {}), \
             divided by the frames.\n",
            self.rows
                .iter()
                .map(|r| format!(
                    "{} B: Zenoh {:.0} ms, bridge {:.0} ms",
                    r.payload,
                    r.fixed_cpu_ns.0 as f64 / 1e6,
                    r.fixed_cpu_ns.1 as f64 / 1e6
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        s += "\nOne ring hop: the latency runs' frames from forge-stream straight to \
              forge-core through one ring, with the same wait. The bridge adds two such \
              hops to Zenoh's path (forge-stream to `out`, `in` to forge-core); what is \
              left of its p50 after raw Zenoh's and those two is its own work (packing, \
              the MAC, the sequencer).\n";
        s += &format!(
            "\nThe bridge path runs four processes (forge-stream, out, in, forge-core) and the \
             raw path two; on a 2-core machine they share the cores with Zenoh's threads. \
             The bridge packs frames into samples and authenticates each (keyed BLAKE3); \
             raw Zenoh puts one message per frame, unauthenticated. Whole run: {:.0} s.\n",
            self.seconds
        );
        s
    }
}

impl Report {
    /// Two grouped bar charts side by side: throughput and p50 latency,
    /// raw Zenoh next to the bridge, per payload.
    pub(super) fn svg(&self) -> String {
        const W: f64 = 760.0;
        const H: f64 = 300.0;
        const TOP: f64 = 40.0;
        const BOTTOM: f64 = 250.0;
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
             font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n"
        );
        type Pick = fn(&Row) -> (f64, f64);
        let panels: [(&str, Pick, &str); 2] = [
            (
                "throughput, frames/s",
                |r| (r.zenoh_frames_per_s, r.bridge_frames_per_s),
                "k",
            ),
            (
                "one-way latency p50, µs",
                |r| (r.zenoh_p50_ns as f64, r.bridge_p50_ns as f64),
                "µs",
            ),
        ];
        for (i, (title, value, unit)) in panels.iter().enumerate() {
            let x0 = 50.0 + i as f64 * W / 2.0;
            let width = W / 2.0 - 80.0;
            let max = self
                .rows
                .iter()
                .map(|r| {
                    let (a, b) = value(r);
                    a.max(b)
                })
                .fold(1.0, f64::max);
            s += &format!("<text x=\"{x0}\" y=\"20\" font-weight=\"bold\">{title}</text>\n");
            s += &format!(
                "<line x1=\"{x0}\" y1=\"{BOTTOM}\" x2=\"{}\" y2=\"{BOTTOM}\" stroke=\"black\"/>\n",
                x0 + width
            );
            let group = width / self.rows.len().max(1) as f64;
            for (j, r) in self.rows.iter().enumerate() {
                let (a, b) = value(r);
                let gx = x0 + j as f64 * group + group * 0.15;
                let bar = group * 0.35;
                for (k, (v, color)) in [(a, "#8888cc"), (b, "#cc6633")].iter().enumerate() {
                    let h = (BOTTOM - TOP) * v / max;
                    let x = gx + k as f64 * bar;
                    let label = if *unit == "k" {
                        format!("{:.0}k", v / 1000.0)
                    } else {
                        format!("{:.0}", v / 1000.0)
                    };
                    s += &format!(
                        "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{color}\"/>\n\
                         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">{label}</text>\n",
                        BOTTOM - h,
                        bar - 2.0,
                        x + bar / 2.0,
                        BOTTOM - h - 3.0
                    );
                }
                s += &format!(
                    "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{} B</text>\n",
                    gx + bar,
                    BOTTOM + 16.0,
                    r.payload
                );
            }
        }
        s += &format!(
            "<rect x=\"50\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"#8888cc\"/>\
             <text x=\"66\" y=\"{t}\">Zenoh pub/sub, 2 processes</text>\
             <rect x=\"260\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"#cc6633\"/>\
             <text x=\"276\" y=\"{t}\">stream → ring → bridge out → Zenoh → bridge in → ring → core</text>\n</svg>\n",
            y = H - 26.0,
            t = H - 16.0
        );
        s
    }
}

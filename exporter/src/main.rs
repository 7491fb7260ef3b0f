//! forge-exporter: serves every Forge ring of the host to Prometheus.
#![deny(unsafe_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use color_eyre::eyre::{eyre, Result, WrapErr};
use forge_cli::units::duration_in;
use forge_exporter::judge::Thresholds;
use forge_exporter::metrics::{Format, RESOLUTIONS};
use forge_exporter::sampler::Sampler;
use forge_exporter::serve::{self, ServeOptions};
use forge_fabric::observe::host::HostScanner;

/// Serve every Forge ring of this host as Prometheus metrics (OpenMetrics
/// text on /metrics). Read-only: it maps rings PROT_READ and takes no role.
#[derive(Debug, Parser)]
#[command(
    name = "forge-exporter",
    version,
    after_help = "Examples:\n  forge-exporter                              # http://127.0.0.1:9464/metrics\n  forge-exporter --listen 0.0.0.0:9464 --prefix /forge_\n  forge-exporter --once --format prometheus | promtool check metrics\n\nExit codes: 0 stopped by SIGINT/SIGTERM (or --once done), 1 bad arguments or cannot listen."
)]
struct Cli {
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9464")]
    listen: SocketAddr,
    /// Only rings whose name starts with this (with its leading '/').
    #[arg(long, value_name = "PREFIX", default_value = "/", value_parser = parse_prefix)]
    prefix: String,
    /// A heartbeat older than this makes a live holder "stalled" (1ms to 1d;
    /// durations need a unit).
    #[arg(long, value_name = "DURATION", default_value = "2s",
          value_parser = |s: &str| duration_in(s, MS, DAY))]
    stale: Duration,
    /// A ring full for longer than this raises the ring_full alarm (1ms to
    /// 1d).
    #[arg(long, value_name = "DURATION", default_value = "1s",
          value_parser = |s: &str| duration_in(s, MS, DAY))]
    full: Duration,
    /// Scrapes within this of the last pass over the rings share it (0s to
    /// 1h; 0s: every scrape reads the rings).
    #[arg(long, value_name = "DURATION", default_value = "500ms",
          value_parser = |s: &str| duration_in(s, Duration::ZERO, HOUR))]
    max_age: Duration,
    /// A client that does not take its response within this is dropped
    /// (1ms to 1h).
    #[arg(long, value_name = "DURATION", default_value = "10s",
          value_parser = |s: &str| duration_in(s, MS, HOUR))]
    write_timeout: Duration,
    /// Latency buckets written per power of two: 16 is every bucket of the
    /// ring (337 series a ring); 8, 4, 2 or 1 merge neighbours into fewer
    /// series, each written bucket's count still exact.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = parse_resolution)]
    latency_resolution: u32,
    /// Threads answering HTTP requests.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
    /// Print one exposition to stdout and exit.
    #[arg(long)]
    once: bool,
    /// The format --once prints (the server follows each client's Accept).
    #[arg(long, value_enum, default_value_t = FormatArg::Openmetrics, requires = "once")]
    format: FormatArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    /// OpenMetrics 1.0 text.
    Openmetrics,
    /// The Prometheus text format 0.0.4 (what promtool check metrics reads).
    Prometheus,
}

const MS: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

fn parse_resolution(s: &str) -> std::result::Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .filter(|n| RESOLUTIONS.contains(n))
        .ok_or_else(|| format!("expected 16, 8, 4, 2 or 1 buckets per power of two, found {s:?}"))
}

fn parse_prefix(s: &str) -> std::result::Result<String, String> {
    if s.starts_with('/') && !s[1..].contains('/') {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "expected the start of a segment name, with its leading '/' and no other '/' (like /forge_), found {s:?}"
        ))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if color_eyre::install().is_err() {
        eprintln!("forge-exporter: could not install the error reporter");
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forge-exporter: {e:?}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    let thresholds = Thresholds {
        stale: cli.stale,
        full: cli.full,
    };
    let scanner = HostScanner::new().with_prefix(&cli.prefix);
    let sampler = Sampler::start(scanner, thresholds, cli.latency_resolution)
        .wrap_err("starting the sampler thread")?;
    if cli.once {
        let exposition = sampler
            .get(Duration::ZERO, Duration::from_secs(60))
            .ok_or_else(|| eyre!("no sample of the host's rings within 60 s"))?;
        let mut out = std::io::stdout().lock();
        let format = match cli.format {
            FormatArg::Openmetrics => Format::OpenMetrics,
            FormatArg::Prometheus => Format::Prometheus,
        };
        out.write_all(exposition.text(format).as_bytes())
            .and_then(|()| out.flush())
            .wrap_err("writing to stdout")?;
        return Ok(());
    }
    let opts = ServeOptions {
        max_age: cli.max_age,
        write_timeout: cli.write_timeout,
        workers: usize::from(cli.threads),
        ..ServeOptions::default()
    };
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .wrap_err("installing the SIGINT/SIGTERM handlers")?;
    let running = serve::start(cli.listen, sampler, opts).wrap_err_with(|| {
        format!(
            "cannot listen on {}: is another exporter running there? Pick another with --listen ADDR:PORT",
            cli.listen
        )
    })?;
    eprintln!(
        "forge-exporter: serving rings {}* on http://{}/metrics",
        cli.prefix,
        running.addr()
    );
    // The main thread waits for a signal; the workers and the sampler run.
    let _ = signals.forever().next();
    running.stop();
    Ok(())
}

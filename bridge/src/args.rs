//! The command line, and the Zenoh configuration it makes.
//!
//! The Zenoh flags are the ones Zenoh's own examples take (`--config`,
//! `--mode`, `--listen`, `--connect`, `--no-multicast-scouting`), so a Zenoh
//! user reads them as usual. Only the defaults differ, on purpose: Zenoh's
//! default peer listens on every interface and scouts by multicast, which
//! would expose a telemetry stream to the whole LAN by surprise. Without
//! `--config` the bridge listens on loopback only and does not scout.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use color_eyre::eyre::{eyre, Result, WrapErr};
use color_eyre::Section;
use forge_cli::{ParentArg, SegmentArg, WaitArg};
use forge_holder::exit::EXIT_CODES_HELP;
use zenoh::key_expr::KeyExpr;
use zenoh::Config;

/// Where `out` listens, and `in` connects, when nothing else is said.
pub const DEFAULT_ENDPOINT: &str = "tcp/127.0.0.1:7447";

/// Frames the sender keeps for receivers that missed some.
pub const DEFAULT_HISTORY_FRAMES: usize = 65_536;
/// Bytes the sender keeps at most for that history.
pub const DEFAULT_HISTORY_BYTES: usize = 64 << 20;

fn after_help() -> String {
    format!(
        "\
Defaults (no --config): `out` listens on {DEFAULT_ENDPOINT} (loopback only) and `in`
connects to it; multicast scouting is off. To reach another host, say where:
  host A:  forge-bridge out --segment /forge_shm --key forge/a --listen tcp/10.0.0.1:7447
  host B:  forge-bridge in  --key forge/a --segment /forge_b --init --connect tcp/10.0.0.1:7447
  host B:  forge-core --segment /forge_b --verify
TLS, authentication and access control are Zenoh's: write them in a Zenoh
config file (JSON5) and pass it with --config (see docs/beyond-one-host.md).

{EXIT_CODES_HELP}
     (`in`: 4 also when frames were lost for good: a gap the history could not fill)"
    )
}

/// Relay a Forge ring to other hosts over Zenoh, and back into a ring there.
///
/// `out` is the consumer of a local ring and publishes every frame, bytes
/// unchanged, on a Zenoh key; `in` subscribes to that key and writes the
/// frames into a local ring as its producer, marked as relayed, so forge-core
/// and forge-top work unchanged on the far host. Each bridge publishes a
/// JSON status on KEY/@status once a second.
#[derive(Debug, Parser)]
#[command(name = "forge-bridge", version, after_help = after_help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Consume a local ring and publish every frame on KEY.
    Out(OutArgs),
    /// Subscribe to KEY and write every frame into a local ring.
    In(InArgs),
    /// Measure Forge -> Zenoh -> Forge against Zenoh's own pub/sub.
    Bench(crate::bench::BenchArgs),
    /// One side of the benchmark's raw Zenoh baseline.
    #[command(hide = true)]
    BenchPeer(crate::bench::PeerArgs),
}

/// `forge-bridge out`.
#[derive(Debug, Args)]
#[command(after_help = after_help())]
pub struct OutArgs {
    #[command(flatten)]
    pub segment: SegmentArg,
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub zenoh: ZenohArgs,
    /// Frames kept for receivers that missed some (a restarted `in`, a
    /// dropped link); a receiver further behind gets a reported gap.
    #[arg(long, value_name = "FRAMES", default_value_t = DEFAULT_HISTORY_FRAMES)]
    pub history: usize,
    /// Most bytes the history holds, whatever --history says.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_HISTORY_BYTES)]
    pub history_bytes: usize,
    /// Publish even when no subscriber matches KEY. By default the bridge
    /// stops consuming while nobody listens, so the ring fills and the
    /// producer waits instead of frames going nowhere.
    #[arg(long)]
    pub no_wait_for_subscribers: bool,
    #[command(flatten)]
    pub ring: RingArgs,
}

/// `forge-bridge in`.
#[derive(Debug, Args)]
#[command(after_help = after_help())]
pub struct InArgs {
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub segment: SegmentArg,
    /// Create the segment if it does not exist; and when the origin ring is
    /// re-initialized (its sequence restarts), replace it with a fresh one
    /// as forge-init --force would, instead of exiting with code 3.
    #[arg(long)]
    pub init: bool,
    /// Slots of a segment created by --init (a power of two).
    #[arg(long, value_name = "N", default_value_t = forge_fabric::DEFAULT_SLOT_COUNT)]
    pub slots: u32,
    /// Permission bits of a segment created by --init, octal (forge-init
    /// calls this --mode, which here is Zenoh's session mode).
    #[arg(long, value_name = "MODE", default_value = "600", value_parser = forge_cli::parse_mode)]
    pub segment_mode: u32,
    #[command(flatten)]
    pub zenoh: ZenohArgs,
    #[command(flatten)]
    pub ring: RingArgs,
}

/// `--key KEY`.
#[derive(Debug, Clone, Args)]
pub struct KeyArg {
    /// Zenoh key the frames travel on (no wildcards); the status goes to
    /// KEY/@status and the history answers on KEY/@history.
    #[arg(long, value_name = "KEY")]
    pub key: String,
}

impl KeyArg {
    /// The key, checked: a valid key expression without wildcards, so that
    /// exactly one stream travels on it.
    pub fn key_expr(&self) -> Result<KeyExpr<'static>> {
        let key = KeyExpr::try_from(self.key.clone())
            .map_err(|e| eyre!("--key {:?} is not a Zenoh key expression: {e}", self.key))
            .suggestion("use '/'-separated words, like forge/rack1/telemetry")?;
        if key.is_wild() {
            return Err(eyre!(
                "--key {:?} has a wildcard: expected one exact key, like forge/rack1/telemetry",
                self.key
            ));
        }
        if key.as_str().split('/').any(|chunk| chunk.starts_with('@')) {
            return Err(eyre!(
                "--key {:?} has a chunk starting with '@': those are reserved (KEY/@status, KEY/@history)",
                self.key
            ));
        }
        Ok(key)
    }
}

/// How the bridge uses its ring.
#[derive(Debug, Clone, Args)]
pub struct RingArgs {
    /// CPU core for the thread that touches the ring (`out`: its loop;
    /// `in`: Zenoh's receive threads, which write the frames). Unpinned by
    /// default: the rest of the work is Zenoh's, on threads of its own.
    #[arg(long, value_name = "N")]
    pub core: Option<u32>,
    /// How to wait when the ring is empty (`out`) or full (`in`).
    #[arg(long, value_enum, default_value_t = WaitArg::Yield)]
    pub wait: WaitArg,
    #[command(flatten)]
    pub parent: ParentArg,
}

/// Zenoh's session mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Talk to other peers directly (and to routers).
    Peer,
    /// Talk through one router (or peer) only.
    Client,
}

/// The Zenoh flags, as Zenoh's examples spell them.
#[derive(Debug, Clone, Default, Args)]
pub struct ZenohArgs {
    /// A Zenoh configuration file (JSON5). It replaces the bridge's safe
    /// defaults entirely (Zenoh's own defaults fill what it leaves out);
    /// the flags below still override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Zenoh session mode [default: peer].
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Endpoint to listen on, like tcp/10.0.0.1:7447 (repeatable)
    /// [default for `out`: tcp/127.0.0.1:7447; `in`: none].
    #[arg(long, value_name = "ENDPOINT")]
    pub listen: Vec<String>,
    /// Endpoint to connect to, like tcp/10.0.0.1:7447 (repeatable)
    /// [default for `in`: tcp/127.0.0.1:7447; `out`: none].
    #[arg(long, value_name = "ENDPOINT")]
    pub connect: Vec<String>,
    /// Turn multicast scouting off (the default without --config; this
    /// also turns it off when the config file turns it on).
    #[arg(long, conflicts_with = "multicast_scouting")]
    pub no_multicast_scouting: bool,
    /// Turn multicast scouting on: find peers on the LAN by UDP multicast.
    #[arg(long)]
    pub multicast_scouting: bool,
}

/// Which end of the bridge a configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The publisher: listens by default.
    Out,
    /// The subscriber: connects by default.
    In,
}

impl ZenohArgs {
    /// The Zenoh configuration: the file or the bridge's defaults, then the
    /// flags.
    pub fn config(&self, end: End) -> Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)
                .map_err(|e| eyre!("{e}"))
                .wrap_err_with(|| format!("cannot use {} as a Zenoh configuration", path.display()))
                .suggestion("expected a Zenoh JSON5 configuration file, as zenohd takes")?,
            None => {
                let mut c = Config::default();
                set(&mut c, "scouting/multicast/enabled", "false")?;
                let (listen, connect) = match end {
                    End::Out => (vec![DEFAULT_ENDPOINT], vec![]),
                    End::In => (vec![], vec![DEFAULT_ENDPOINT]),
                };
                set(&mut c, "listen/endpoints", &json(&listen))?;
                set(&mut c, "connect/endpoints", &json(&connect))?;
                c
            }
        };
        if let Some(mode) = self.mode {
            let mode = match mode {
                ModeArg::Peer => "peer",
                ModeArg::Client => "client",
            };
            set(&mut config, "mode", &json(&mode))?;
        }
        if !self.listen.is_empty() {
            set(&mut config, "listen/endpoints", &json(&self.listen))
                .wrap_err("bad --listen")
                .suggestion("an endpoint looks like tcp/10.0.0.1:7447")?;
        }
        if !self.connect.is_empty() {
            set(&mut config, "connect/endpoints", &json(&self.connect))
                .wrap_err("bad --connect")
                .suggestion("an endpoint looks like tcp/10.0.0.1:7447")?;
        }
        if self.no_multicast_scouting {
            set(&mut config, "scouting/multicast/enabled", "false")?;
        }
        if self.multicast_scouting {
            set(&mut config, "scouting/multicast/enabled", "true")?;
        }
        Ok(config)
    }
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("strings and lists of strings encode")
}

fn set(config: &mut Config, key: &str, value: &str) -> Result<()> {
    config
        .insert_json5(key, value)
        .map_err(|e| eyre!("Zenoh configuration {key} = {value}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    fn get(c: &Config, key: &str) -> String {
        c.get_json(key).unwrap()
    }

    #[test]
    fn without_a_config_out_listens_on_loopback_only_and_does_not_scout() {
        let c = ZenohArgs::default().config(End::Out).unwrap();
        assert_eq!(get(&c, "listen/endpoints"), r#"["tcp/127.0.0.1:7447"]"#);
        assert_eq!(get(&c, "scouting/multicast/enabled"), "false");
        let c = ZenohArgs::default().config(End::In).unwrap();
        assert_eq!(get(&c, "listen/endpoints"), "[]");
        assert_eq!(get(&c, "connect/endpoints"), r#"["tcp/127.0.0.1:7447"]"#);
    }

    #[test]
    fn flags_override_the_defaults() {
        let args = ZenohArgs {
            mode: Some(ModeArg::Client),
            listen: vec!["tcp/127.0.0.1:7999".into()],
            connect: vec!["tcp/127.0.0.1:7998".into()],
            multicast_scouting: true,
            ..ZenohArgs::default()
        };
        let c = args.config(End::Out).unwrap();
        assert_eq!(get(&c, "mode"), r#""client""#);
        assert_eq!(get(&c, "listen/endpoints"), r#"["tcp/127.0.0.1:7999"]"#);
        assert_eq!(get(&c, "connect/endpoints"), r#"["tcp/127.0.0.1:7998"]"#);
        assert_eq!(get(&c, "scouting/multicast/enabled"), "true");
    }

    #[test]
    fn a_bad_endpoint_or_config_file_is_an_error_not_a_panic() {
        let args = ZenohArgs {
            listen: vec!["not an endpoint".into()],
            ..ZenohArgs::default()
        };
        assert!(args.config(End::Out).is_err());
        let args = ZenohArgs {
            config: Some("/nonexistent/zenoh.json5".into()),
            ..ZenohArgs::default()
        };
        let e = args.config(End::Out).unwrap_err();
        assert!(format!("{e:?}").contains("/nonexistent/zenoh.json5"));
    }

    #[test]
    fn the_access_control_example_in_the_readme_is_a_valid_zenoh_config() {
        let args = ZenohArgs {
            config: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/zenoh-acl.example.json5").into()),
            ..ZenohArgs::default()
        };
        let c = args.config(End::Out).unwrap();
        assert_eq!(get(&c, "access_control/enabled"), "true");
        assert_eq!(get(&c, "listen/endpoints"), r#"["tcp/10.254.0.1:7447"]"#);
    }

    #[test]
    fn keys_must_be_exact_and_free_of_reserved_chunks() {
        let key = |k: &str| KeyArg { key: k.into() }.key_expr();
        assert!(key("forge/rack1").is_ok());
        assert!(key("forge/*").is_err());
        assert!(key("forge/**").is_err());
        assert!(key("forge/@status").is_err());
        assert!(key("").is_err());
        assert!(key("a//b").is_err());
    }
}

//! The command line, and the Zenoh configuration it makes.
//!
//! The Zenoh flags are the ones Zenoh's own examples take (`--config`,
//! `--mode`, `--listen`, `--connect`, `--no-multicast-scouting`), so a Zenoh
//! user reads them as usual. Only the defaults differ, on purpose: Zenoh's
//! default peer listens on every interface and scouts by multicast, which
//! would expose a telemetry stream to the whole LAN by surprise. Without
//! `--config` the bridge listens on loopback only and does not scout.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use color_eyre::eyre::{eyre, Result, WrapErr};
use color_eyre::Section;
use forge_cli::{ParentArg, SegmentArg, WaitArg};
use forge_holder::exit::EXIT_CODES_HELP;
use zenoh::key_expr::KeyExpr;
use zenoh::Config;

use forge_bridge::auth::AuthKey;

/// Where `out` listens, and `in` connects, when nothing else is said.
pub const DEFAULT_ENDPOINT: &str = "tcp/127.0.0.1:7447";

/// Frames the sender keeps for receivers that missed some.
pub const DEFAULT_HISTORY_FRAMES: usize = 65_536;
/// Bytes the sender keeps at most for that history.
pub const DEFAULT_HISTORY_BYTES: usize = 64 << 20;
/// Bytes of frames `in` keeps at most while they wait beyond a hole: as
/// much as the sender's history holds, since a hole older than that is gone.
pub const DEFAULT_MAX_PENDING: usize = 64 << 20;

fn after_help() -> String {
    format!(
        "\
Defaults (no --config): `out` listens on {DEFAULT_ENDPOINT} (loopback only) and `in`
connects to it; multicast scouting is off. To reach another host, give both ends
the same key (every sample carries a MAC under it) and say where:
  both:    forge-bridge keygen forge.key   (then copy it to host B, mode 0600)
  host A:  forge-bridge out --segment /forge_shm --key forge/a --auth-key forge.key --listen tcp/10.0.0.1:7447
  host B:  forge-bridge in  --key forge/a --auth-key forge.key --segment /forge_b --init --connect tcp/10.0.0.1:7447
  host B:  forge-core --segment /forge_b --verify
Without --auth-key, both ends refuse anything but loopback and Unix sockets
(exit 2) unless told --insecure. TLS and access control are Zenoh's: write them
in a Zenoh config file (JSON5) and pass it with --config (see
docs/beyond-one-host.md).

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
    /// Write a new key file: 32 random bytes, mode 0600 (never overwrites).
    Keygen(KeygenArgs),
    /// Measure Forge -> Zenoh -> Forge against Zenoh's own pub/sub.
    Bench(crate::bench::BenchArgs),
    /// One side of the benchmark's raw Zenoh baseline.
    #[command(hide = true)]
    BenchPeer(crate::bench::PeerArgs),
}

/// `forge-bridge keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the key (created with O_EXCL|O_NOFOLLOW, mode 0600).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
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
    pub auth: AuthArgs,
    #[command(flatten)]
    pub zenoh: ZenohArgs,
    /// Largest sample, header and MAC included: every frame the ring holds
    /// right now goes into one sample up to this bound (at least one frame
    /// per sample, whatever its size).
    #[arg(long, value_name = "BYTES", default_value_t = forge_bridge::wire::DEFAULT_PACK_BYTES as u32,
          value_parser = clap::value_parser!(u32).range(128..=(forge_bridge::wire::MAX_MESSAGE as i64)))]
    pub pack_bytes: u32,
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
    /// Most bytes of frames kept in memory while they wait beyond a hole
    /// for the history to fill it; later ones are asked for again.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_PENDING)]
    pub max_pending: usize,
    #[command(flatten)]
    pub auth: AuthArgs,
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
                "--key {:?} has a chunk starting with '@': those are reserved (KEY/@status, KEY/@history, KEY/@session)",
                self.key
            ));
        }
        Ok(key)
    }
}

/// The stream's secret.
#[derive(Debug, Clone, Default, Args)]
pub struct AuthArgs {
    /// The stream's key file (32 bytes, mode 0600; `forge-bridge keygen`
    /// makes one). Every sample, status and history reply carries a MAC
    /// under it, and `in` drops what fails. Give both ends the same file.
    #[arg(long, value_name = "FILE")]
    pub auth_key: Option<PathBuf>,
    /// Without --auth-key, listen on and connect to other hosts anyway
    /// (anyone who reaches the link can then inject frames).
    #[arg(long)]
    pub insecure: bool,
}

impl AuthArgs {
    /// The key: the file's, or the public one.
    pub fn key(&self) -> Result<AuthKey> {
        match &self.auth_key {
            Some(path) => AuthKey::load(path)
                .map_err(|e| eyre!(e))
                .with_suggestion(|| key_hint(path)),
            None => Ok(AuthKey::public()),
        }
    }
}

fn key_hint(path: &Path) -> String {
    format!(
        "make one with: forge-bridge keygen {0} (and copy it to the other host with \
         mode 0600); a key others can read is refused: chmod 600 {0}",
        path.display()
    )
}

/// Why a configuration is refused without a key: one line.
pub fn check_exposure(config: &Config, auth: &AuthArgs, end: End) -> Result<(), String> {
    if auth.auth_key.is_some() || auth.insecure {
        return Ok(());
    }
    let why = "anyone who reaches it could inject frames into the far ring; give both ends \
               --auth-key FILE (forge-bridge keygen FILE), or say --insecure";
    let verb = |what: &str| match what {
        "listen" => "listen on",
        _ => "connect to",
    };
    for what in ["listen", "connect"] {
        let endpoints = config
            .get_json(&format!("{what}/endpoints"))
            .ok()
            .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
            .unwrap_or(serde_json::Value::Null);
        let mut all = Vec::new();
        strings(&endpoints, &mut all);
        if let Some(bad) = all.iter().find(|e| !is_local_endpoint(e)) {
            return Err(format!(
                "forge-bridge {}: refusing to {} {bad} without --auth-key: {why}",
                end.name(),
                verb(what)
            ));
        }
    }
    if config
        .get_json("scouting/multicast/enabled")
        .is_ok_and(|v| v == "true")
    {
        return Err(format!(
            "forge-bridge {}: refusing multicast scouting without --auth-key: {why}",
            end.name()
        ));
    }
    Ok(())
}

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Is a Zenoh endpoint (`proto/address[?…][#…]`) a Unix socket or a
/// loopback address? Host names other than `localhost` are not taken on
/// trust: they may resolve anywhere.
pub fn is_local_endpoint(endpoint: &str) -> bool {
    let Some((proto, rest)) = endpoint.split_once('/') else {
        return false;
    };
    if proto == "unixsock-stream" {
        return true;
    }
    let address = rest.split(['?', '#']).next().unwrap_or("");
    let host = match address.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => return false,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host == "localhost" {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
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

/// Zenoh settings the bridge's defaults change, for a stream of packed
/// samples (a `--config` file replaces them, as it replaces every default).
///
/// - `tx/queue/size/data`: Zenoh's default queue holds 2 batches per
///   priority, so a publisher of full 64 KiB samples blocks in `put` as
///   soon as two are in flight, and is woken by the transmit thread after
///   each one leaves: a sleep and a wake per sample. 16 (Zenoh's maximum)
///   lets `out` run ahead of the socket by up to 1 MiB, nearly halving the
///   context switches and the CPU time per frame (see docs/performance.md).
pub const TUNING: [(&str, &str); 1] = [("transport/link/tx/queue/size/data", "16")];

/// Which end of the bridge a configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The publisher: listens by default.
    Out,
    /// The subscriber: connects by default.
    In,
}

impl End {
    /// "out" or "in".
    pub fn name(self) -> &'static str {
        match self {
            End::Out => "out",
            End::In => "in",
        }
    }
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
                for (key, value) in TUNING {
                    set(&mut c, key, value)?;
                }
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
    fn without_a_config_the_bridge_tuning_applies_and_a_config_file_replaces_it() {
        for end in [End::Out, End::In] {
            let c = ZenohArgs::default().config(end).unwrap();
            for (key, value) in TUNING {
                assert_eq!(get(&c, key), value, "{key}");
            }
        }
        let file = ZenohArgs {
            config: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/zenoh-acl.example.json5").into()),
            ..ZenohArgs::default()
        };
        let c = file.config(End::Out).unwrap();
        assert_eq!(get(&c, "transport/link/tx/queue/size/data"), "2");
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
    fn only_loopback_and_unix_sockets_count_as_local() {
        for ok in [
            "tcp/127.0.0.1:7447",
            "tcp/127.3.4.5:1",
            "tcp/[::1]:7447",
            "tcp/localhost:7447",
            "unixsock-stream//tmp/forge.sock",
            "tcp/127.0.0.1:7447#iface=lo",
        ] {
            assert!(is_local_endpoint(ok), "{ok}");
        }
        for bad in [
            "tcp/10.254.0.1:7447",
            "tcp/0.0.0.0:7447",
            "tcp/[::]:0",
            "tcp/example.org:7447",
            "tcp/127.0.0.1",
            "udp/192.168.1.1:7447",
            "nonsense",
        ] {
            assert!(!is_local_endpoint(bad), "{bad}");
        }
    }

    #[test]
    fn without_a_key_only_local_endpoints_pass_unless_insecure() {
        let no_key = AuthArgs::default();
        let c = ZenohArgs::default().config(End::Out).unwrap();
        assert!(check_exposure(&c, &no_key, End::Out).is_ok());
        let remote = ZenohArgs {
            connect: vec!["tcp/10.254.0.1:7447".into()],
            ..ZenohArgs::default()
        };
        let c = remote.config(End::In).unwrap();
        let e = check_exposure(&c, &no_key, End::In).unwrap_err();
        assert!(
            e.contains("connect to tcp/10.254.0.1:7447") && e.contains("--auth-key"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        let insecure = AuthArgs {
            insecure: true,
            ..AuthArgs::default()
        };
        assert!(check_exposure(&c, &insecure, End::In).is_ok());
        let keyed = AuthArgs {
            auth_key: Some("k".into()),
            ..AuthArgs::default()
        };
        assert!(check_exposure(&c, &keyed, End::In).is_ok());
        let scouting = ZenohArgs {
            multicast_scouting: true,
            ..ZenohArgs::default()
        };
        let c = scouting.config(End::Out).unwrap();
        assert!(check_exposure(&c, &no_key, End::Out)
            .unwrap_err()
            .contains("scouting"));
        // A config file without endpoints gets Zenoh's defaults: every
        // interface for a peer.
        let acl = ZenohArgs {
            config: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/zenoh-acl.example.json5").into()),
            ..ZenohArgs::default()
        };
        let c = acl.config(End::Out).unwrap();
        assert!(check_exposure(&c, &no_key, End::Out).is_err());
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

//! The hidden `--child SPEC` mode: the peer side of a cross-process figure.
//! The parent passes a JSON [`ChildSpec`] (see [`crate::spec`]); the child pins itself, asks the
//! kernel to kill it if the parent dies, opens its transport, says "ready"
//! on stdout where it has one, and does its part.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::Duration;

use forge_fabric::{Claim, Segment};

use crate::harness::{err, set_first_word, touched_buffer, Result, Spinner};
use crate::spec::{ready, ChildSpec, Role};

/// Entry point of `forge-bench --child SPEC`.
pub fn main(json: &str) -> ExitCode {
    match run(json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forge-bench child: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(json: &str) -> Result<()> {
    let spec: ChildSpec =
        serde_json::from_str(json).map_err(|e| err!("bad child spec {json:?}: {e}"))?;
    // Never outlive the parent, even if it is killed with SIGKILL.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    if nix::unistd::getppid().as_raw() as u32 != spec.parent {
        return Err(err!("the parent {} is gone", spec.parent));
    }
    crate::harness::pin(spec.core, spec.pair)?;
    let mut spin = Spinner::new(
        spec.policy,
        Duration::from_millis(spec.budget_ms),
        "serving the parent",
    );
    // Only roles whose stdout is our line to the parent report; for the
    // pipe peers stdout is the transport itself.
    let reports = !matches!(spec.role, Role::PipeEcho { .. } | Role::PipeFlood { .. });
    let out = serve(spec, &mut spin);
    if reports && out.is_ok() {
        if let Some(n) = crate::harness::preemptions() {
            println!("preempted {n}");
        }
    }
    out
}

fn serve(spec: ChildSpec, spin: &mut Spinner) -> Result<()> {
    match spec.role {
        Role::ForgeEcho { ping, pong, copy } => {
            let ping = Segment::open(&ping, Duration::from_secs(5))?;
            let pong = Segment::open(&pong, Duration::from_secs(5))?;
            let mut rx = ping.consumer_with(&Claim::new().pinned_core(spec.core))?;
            let mut tx = pong.producer_with(&Claim::new().pinned_core(spec.core))?;
            ready()?;
            crate::forge::echo(&mut rx, &mut tx, copy, spin)
        }
        Role::ForgeFlood {
            ring,
            payload,
            frames,
            publish_batch,
        } => {
            let seg = Segment::open(&ring, Duration::from_secs(5))?;
            let mut tx = seg.producer_with(&Claim::new().pinned_core(spec.core))?;
            tx.set_index_batch(publish_batch);
            ready()?;
            crate::forge::flood(&mut tx, payload, frames, spin)
        }
        Role::ForgePaced {
            ring,
            payload,
            frames,
            pace_ns,
        } => {
            let seg = Segment::open(&ring, Duration::from_secs(5))?;
            let mut tx = seg.producer_with(&Claim::new().pinned_core(spec.core))?;
            ready()?;
            crate::forge::paced(&mut tx, payload, frames, pace_ns, spin)
        }
        Role::UdsEcho { payload } => {
            let sock = UnixStream::from(std::io::stdin().as_fd().try_clone_to_owned()?);
            echo_stream(&mut &sock, &mut &sock, payload)
        }
        Role::UdsFlood { payload, frames } => {
            let sock = UnixStream::from(std::io::stdin().as_fd().try_clone_to_owned()?);
            flood_stream(&mut &sock, payload, frames)
        }
        Role::PipeEcho { payload } => {
            let mut input = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
            let mut output = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
            echo_stream(&mut input, &mut output, payload)
        }
        Role::PipeFlood { payload, frames } => {
            let mut output = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
            flood_stream(&mut output, payload, frames)
        }
        #[cfg(feature = "iceoryx2")]
        Role::IceEcho {
            prefix,
            ping,
            pong,
            payload,
        } => crate::ice::child_echo(&prefix, &ping, &pong, payload, spin),
        #[cfg(feature = "iceoryx2")]
        Role::IceFlood {
            prefix,
            ring,
            payload,
            frames,
        } => crate::ice::child_flood(&prefix, &ring, payload, frames, spin),
    }
}

/// Echoes fixed-size messages until the parent closes its end.
fn echo_stream(input: &mut impl Read, output: &mut impl Write, payload: usize) -> Result<()> {
    let mut buf = touched_buffer(payload, 0);
    loop {
        match input.read_exact(&mut buf) {
            Ok(()) => output.write_all(&buf)?,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes `frames` fixed-size messages, one `write` each.
fn flood_stream(output: &mut impl Write, payload: usize, frames: u64) -> Result<()> {
    let mut buf = touched_buffer(payload, 0x5A);
    for i in 0..frames {
        set_first_word(&mut buf, i);
        output.write_all(&buf)?;
    }
    Ok(())
}

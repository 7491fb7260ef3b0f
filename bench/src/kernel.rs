//! The kernel path Forge set out to remove: a Unix domain socket pair and a
//! pair of pipes between two processes, with blocking reads and writes (what
//! a user reaching for them would write). One `write` per message; the
//! reader asks for exactly one message.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::Duration;

use nix::fcntl::OFlag;

use crate::harness::{
    err, first_word, rate_repeats, set_first_word, time_repeats, touched_buffer, Percentiles, Rate,
    Result,
};
use crate::plan::Ctx;
use crate::proc::ChildProc;
use crate::spec::Role;

const EXIT_WAIT: Duration = Duration::from_secs(10);

/// The two kernel transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `socketpair(AF_UNIX, SOCK_STREAM)`.
    Uds,
    /// Two `pipe2` pipes.
    Pipe,
}

/// The parent's ends and the child's, ready to spawn with.
struct Wires {
    reader: std::fs::File,
    writer: Option<std::fs::File>,
    child_stdin: Stdio,
    child_stdout: Stdio,
}

fn wires(kind: Kind, budget: Duration) -> Result<Wires> {
    match kind {
        Kind::Uds => {
            let (mine, theirs) = UnixStream::pair()?;
            mine.set_read_timeout(Some(budget))?;
            let mine = OwnedFd::from(mine);
            let writer = std::fs::File::from(mine.try_clone()?);
            Ok(Wires {
                reader: std::fs::File::from(mine),
                writer: Some(writer),
                child_stdin: Stdio::from(OwnedFd::from(theirs)),
                child_stdout: Stdio::null(),
            })
        }
        Kind::Pipe => {
            // CLOEXEC, so the child inherits only the ends it gets as
            // stdin/stdout and sees EOF when we close ours.
            let (ping_r, ping_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
            let (pong_r, pong_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
            Ok(Wires {
                reader: std::fs::File::from(pong_r),
                writer: Some(std::fs::File::from(ping_w)),
                child_stdin: Stdio::from(ping_r),
                child_stdout: Stdio::from(pong_w),
            })
        }
    }
}

/// Round trip: write one message, block until the echo is back.
pub fn rtt(ctx: &Ctx, kind: Kind, payload: usize) -> Result<Vec<Percentiles>> {
    let plan = &ctx.plan;
    let mut w = wires(kind, plan.figure_budget())?;
    let role = match kind {
        Kind::Uds => Role::UdsEcho { payload },
        Kind::Pipe => Role::PipeEcho { payload },
    };
    let child = ChildProc::spawn(&ctx.child(role), w.child_stdin, w.child_stdout)?;
    let mut src = touched_buffer(payload, 0xA5);
    let mut buf = touched_buffer(payload, 0);
    let mut writer = w.writer.take().expect("writer is set");
    let out = time_repeats(
        plan.kernel_warmup(plan.kernel_rtt_samples),
        plan.kernel_rtt_samples,
        plan.repeats,
        |seq| {
            set_first_word(&mut src, seq);
            writer.write_all(&src)?;
            w.reader.read_exact(&mut buf)?;
            match first_word(&buf) {
                got if got == seq => Ok(()),
                got => Err(err!("echo returned message {got}, expected {seq}")),
            }
        },
    );
    // Closing our ends is the child's stop signal.
    drop(writer);
    drop(w.reader);
    let out = out?;
    child.finish(EXIT_WAIT)?;
    Ok(out)
}

/// Throughput: the child writes as fast as the kernel takes it.
pub fn rate(ctx: &Ctx, kind: Kind, payload: usize) -> Result<Vec<Rate>> {
    let plan = &ctx.plan;
    let frames = plan.kernel_tput_frames;
    let warmup = plan.kernel_warmup(frames);
    let total = warmup + frames * plan.repeats as u64;
    let mut w = wires(kind, plan.figure_budget())?;
    let role = match kind {
        Kind::Uds => Role::UdsFlood {
            payload,
            frames: total,
        },
        Kind::Pipe => Role::PipeFlood {
            payload,
            frames: total,
        },
    };
    let child = ChildProc::spawn(&ctx.child(role), w.child_stdin, w.child_stdout)?;
    drop(w.writer.take());
    let mut buf = touched_buffer(payload, 0);
    let out = rate_repeats(payload, warmup, frames, plan.repeats, || {
        w.reader.read_exact(&mut buf)?;
        std::hint::black_box(&mut buf);
        Ok(())
    });
    drop(w.reader);
    let out = out?;
    child.finish(EXIT_WAIT)?;
    Ok(out)
}

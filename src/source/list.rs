//! `--list` and the picker: every Forge object in `/dev/shm`, live,
//! retired, or not readable by this user.

use std::time::Duration;

use forge_fabric::{Observer, Snapshot};

use crate::model::*;

use super::validate_name;

/// Every Forge segment in `/dev/shm`, sampled twice `interval` apart for a
/// rate. A retired one is listed as retired with its successor; one this
/// user may not open is listed as unreadable with its owner and mode when
/// its size is one a ring can have; Forge segments that cannot be used
/// (another layout version, damage) are listed with why. Objects that are
/// not Forge segments are left out.
pub fn list_segments(interval: Duration) -> Result<Vec<SegmentSummary>, ListError> {
    let dir = std::fs::read_dir("/dev/shm")?;
    let mut names: Vec<String> = dir
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .map(|n| format!("/{n}"))
        .filter(|n| validate_name(n).is_ok())
        .collect();
    names.sort();
    type Opened = Result<(Observer, Snapshot), SegmentError>;
    let mut open: Vec<(String, Opened)> = names
        .into_iter()
        .map(|name| {
            let first = Observer::open(&name, Duration::ZERO).and_then(|o| {
                o.snapshot().map(|s| (o, s)).map_err(|e| SegmentError::Io {
                    name: name.clone(),
                    action: "snapshot",
                    source: std::io::Error::other(e.to_string()),
                })
            });
            (name, first)
        })
        .filter(|(name, r)| match r {
            // Forge's: it carries the magic, or is being written by forge-init.
            Ok(_)
            | Err(
                SegmentError::Retired { .. }
                | SegmentError::Version { .. }
                | SegmentError::Malformed { .. }
                | SegmentError::TooLong { .. },
            ) => true,
            // Unknown to us: listed when its size is one a ring can have,
            // so that a segment this user may not read is not "no segment".
            Err(SegmentError::PermissionDenied { .. } | SegmentError::Initializing { .. }) => {
                std::fs::metadata(shm_path(name)).is_ok_and(|m| ring_sized(m.len()))
            }
            Err(_) => false,
        })
        .collect();
    if open.iter().any(|(_, r)| r.is_ok()) {
        std::thread::sleep(interval);
    }
    Ok(open
        .drain(..)
        .map(|(name, first)| match first {
            Err(SegmentError::Retired {
                session, successor, ..
            }) => SegmentSummary {
                size: std::fs::metadata(shm_path(&name)).map_or(0, |m| m.len()),
                name,
                state: Some(SegmentState::Retired.into()),
                session,
                successor: Some(successor),
                ..SegmentSummary::default()
            },
            Err(e @ SegmentError::PermissionDenied { .. }) => {
                let meta = std::fs::metadata(shm_path(&name)).ok();
                let unreadable = meta.as_ref().map(|m| {
                    use std::os::unix::fs::MetadataExt;
                    Unreadable {
                        uid: m.uid(),
                        owner: nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(m.uid()))
                            .ok()
                            .flatten()
                            .map(|u| u.name),
                        mode: format!("{:04o}", m.mode() & 0o7777),
                    }
                });
                SegmentSummary {
                    name,
                    error: Some(e.to_string()),
                    size: meta.map_or(0, |m| m.len()),
                    unreadable,
                    ..SegmentSummary::default()
                }
            }
            Err(e) => SegmentSummary {
                name,
                error: Some(e.to_string()),
                ..SegmentSummary::default()
            },
            Ok((observer, s)) => {
                let later = observer.snapshot().ok();
                let frames_per_s = later.as_ref().and_then(|l| {
                    let dt = l.taken_mono_ns.saturating_sub(s.taken_mono_ns) as f64 / 1e9;
                    let sent = RingPosition::new(l.head).since(RingPosition::new(s.head));
                    (dt > 0.0).then(|| sent as f64 / dt)
                });
                let s = later.unwrap_or(s);
                SegmentSummary {
                    name,
                    error: None,
                    state: Some(s.identity.state),
                    session: s.identity.session_id,
                    successor: None,
                    unreadable: None,
                    slot_count: s.slot_count,
                    size: s.file_size,
                    head: s.head,
                    tail: s.tail,
                    roles: Role::ALL
                        .into_iter()
                        .map(|role| {
                            let line = s.side(role);
                            RoleSummary {
                                role,
                                pid: line.pid,
                                program: line.program.clone(),
                                held: line.lock_held,
                                state: line.role_state,
                            }
                        })
                        .collect(),
                    frames_per_s,
                }
            }
        })
        .collect())
}

/// Can a segment be `bytes` long: a header and a power of two of slots of
/// a payload capacity some layout allows?
fn ring_sized(bytes: u64) -> bool {
    use forge_fabric::layout::{is_payload_capacity, HEADER_SIZE, MAX_SLOT_COUNT, MIN_SLOT_COUNT};
    let Some(slots_bytes) = bytes.checked_sub(HEADER_SIZE as u64) else {
        return false;
    };
    (MIN_SLOT_COUNT.trailing_zeros()..=MAX_SLOT_COUNT.trailing_zeros()).any(|shift| {
        let n = 1u64 << shift;
        slots_bytes % n == 0
            && (slots_bytes / n)
                .checked_sub(8)
                .is_some_and(|c| is_payload_capacity(c as usize))
    })
}

//! The mapping a segment handle owns: the memory the ring points into, and
//! the open file the role locks are taken on.

use std::fs::File;
use std::sync::atomic::AtomicBool;

use super::locks::RoleLocks;
use crate::layout::{Header, HEADER_SIZE};

/// A mapping of a whole segment file. Owns the memory the ring points into,
/// and the open file the role locks are taken on.
pub(crate) struct Mapping {
    pub(crate) map: memmap2::MmapRaw,
    pub(crate) len: usize,
    pub(crate) file: File,
    /// Where the role locks are taken (see [`super::locks`]).
    pub(crate) locks: RoleLocks,
    /// Roles held through this mapping by this process: OFD locks taken on
    /// one open file do not conflict with each other, so a second claim
    /// through the same segment handle is refused here.
    pub(crate) claimed: [AtomicBool; 2],
}

impl Mapping {
    pub(crate) fn new(map: memmap2::MmapRaw, len: usize, file: File, locks: RoleLocks) -> Self {
        Mapping {
            map,
            len,
            file,
            locks,
            claimed: Default::default(),
        }
    }

    /// The open file role locks are taken on: the role-lock object, or the
    /// segment itself (layouts 2 and 3).
    pub(crate) fn lock_file(&self) -> &File {
        self.locks.file.as_ref().unwrap_or(&self.file)
    }

    pub(crate) fn header(&self) -> &Header {
        debug_assert!(self.len >= HEADER_SIZE);
        // SAFETY: the mapping is page-aligned, at least HEADER_SIZE long, and
        // every byte of Header is an atomic (no padding, no plain reserved
        // bytes: layout's asserts), valid for any bytes and for stores by
        // other processes while the reference lives.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }
}

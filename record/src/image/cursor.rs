//! Fields read off a byte slice, naming what did not fit.

use super::format::ImageError;

/// Reads fields off a byte slice, naming what did not fit.
pub(super) struct Cursor<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ImageError> {
        match self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
        {
            Some(end) => {
                let out = &self.bytes[self.at..end];
                self.at = end;
                Ok(out)
            }
            None => Err(ImageError::Truncated {
                what: what.to_owned(),
                offset: self.at as u64,
                needed: n as u64,
                len: self.bytes.len() as u64,
            }),
        }
    }

    pub(super) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ImageError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    pub(super) fn u8(&mut self, what: &str) -> Result<u8, ImageError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(super) fn u16(&mut self, what: &str) -> Result<u16, ImageError> {
        self.array(what).map(u16::from_le_bytes)
    }

    pub(super) fn u32(&mut self, what: &str) -> Result<u32, ImageError> {
        self.array(what).map(u32::from_le_bytes)
    }

    pub(super) fn u64(&mut self, what: &str) -> Result<u64, ImageError> {
        self.array(what).map(u64::from_le_bytes)
    }

    pub(super) fn align8(&mut self) {
        self.at = self.at.next_multiple_of(8).min(self.bytes.len());
    }
}

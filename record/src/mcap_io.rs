//! MCAP records read defensively, both found by the `recording` fuzz target:
//!
//! - every length prefix is checked against the bytes present before the
//!   mcap crate parses a record, because its parser reserves a string's or
//!   map's claimed length up front (a record claiming a 4 GiB string would
//!   allocate 4 GiB);
//! - chunks are decompressed and walked here, not by the mcap crate's
//!   streaming reader, which overflows (a panic in debug builds) on an
//!   uncompressed chunk whose inner record claims more than the chunk.

use std::borrow::Cow;
use std::io::Read;

use mcap::records::{op, ChunkHeader, Record};

use crate::read::mcap_message;

/// Walks a record body, checking lengths without allocating.
struct Walk<'a> {
    b: &'a [u8],
    at: usize,
}

impl Walk<'_> {
    fn skip(&mut self, n: u64, what: &str) -> Result<(), String> {
        let left = (self.b.len() - self.at) as u64;
        if n > left {
            return Err(format!(
                "{what} claims {n} bytes, only {left} remain in the record"
            ));
        }
        self.at += n as usize;
        Ok(())
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let at = self.at;
        self.skip(4, what)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(&self.b[at..at + 4]);
        Ok(u32::from_le_bytes(a))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let at = self.at;
        self.skip(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.b[at..at + 8]);
        Ok(u64::from_le_bytes(a))
    }

    /// A u32 length and that many bytes (strings, schema data).
    fn bytes32(&mut self, what: &str) -> Result<(), String> {
        let n = self.u32(what)?;
        self.skip(u64::from(n), what)
    }

    /// A u32 byte length, then entries filling exactly that many bytes.
    fn map(
        &mut self,
        what: &str,
        mut entry: impl FnMut(&mut Walk<'_>) -> Result<(), String>,
    ) -> Result<(), String> {
        let n = self.u32(what)? as usize;
        let start = self.at;
        self.skip(n as u64, what)?;
        let mut inner = Walk {
            b: &self.b[start..start + n],
            at: 0,
        };
        while inner.at < n {
            entry(&mut inner)?;
        }
        Ok(())
    }
}

/// Checks the variable-length fields of a record Forge reads.
fn check(opcode: u8, body: &[u8]) -> Result<(), String> {
    let w = &mut Walk { b: body, at: 0 };
    match opcode {
        op::HEADER => {
            w.bytes32("the profile")?;
            w.bytes32("the library")
        }
        op::FOOTER => w.skip(20, "the footer"),
        op::SCHEMA => {
            w.skip(2, "the schema id")?;
            w.bytes32("the schema name")?;
            w.bytes32("the schema encoding")?;
            w.bytes32("the schema data")
        }
        op::CHANNEL => {
            w.skip(4, "the channel ids")?;
            w.bytes32("the topic")?;
            w.bytes32("the message encoding")?;
            w.map("the channel metadata", |e| {
                e.bytes32("a metadata key")?;
                e.bytes32("a metadata value")
            })
        }
        op::MESSAGE => w.skip(22, "the message header"),
        op::CHUNK => {
            w.skip(28, "the chunk header")?;
            w.bytes32("the compression name")?;
            let n = w.u64("the compressed records")?;
            w.skip(n, "the compressed records")
        }
        op::STATISTICS => {
            w.skip(42, "the statistics")?;
            w.map("the channel message counts", |e| e.skip(10, "a count"))
        }
        op::METADATA => {
            w.bytes32("the metadata name")?;
            w.map("the metadata", |e| {
                e.bytes32("a metadata key")?;
                e.bytes32("a metadata value")
            })
        }
        op::DATA_END => w.skip(4, "the data-end record"),
        _ => Ok(()),
    }
}

/// Parses a record Forge reads, once its lengths are checked; `None` for
/// the kinds it has no use for (indexes, attachments, summary offsets,
/// unknown opcodes), which are skipped unparsed.
pub(crate) fn parse(opcode: u8, body: &[u8]) -> Result<Option<Record<'_>>, String> {
    match opcode {
        op::HEADER
        | op::FOOTER
        | op::SCHEMA
        | op::CHANNEL
        | op::MESSAGE
        | op::CHUNK
        | op::STATISTICS
        | op::METADATA
        | op::DATA_END => {
            check(opcode, body)?;
            mcap::parse_record(opcode, body)
                .map(Some)
                .map_err(|e| mcap_message(&e))
        }
        _ => Ok(None),
    }
}

/// Decompresses a chunk's records (at most `limit` bytes), checks them
/// against the header's size and CRC, and hands each record inside to `f`.
pub(crate) fn for_each_in_chunk(
    header: &ChunkHeader,
    compressed: &[u8],
    limit: u64,
    mut f: impl FnMut(Record<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let size = header.uncompressed_size;
    if size > limit {
        return Err(format!(
            "it claims {size} uncompressed bytes, more than the {limit} this reader accepts"
        ));
    }
    let records: Cow<'_, [u8]> = match header.compression.as_str() {
        "" => Cow::Borrowed(compressed),
        "zstd" => zstd::bulk::decompress(compressed, size as usize)
            .map(Cow::Owned)
            .map_err(|e| format!("zstd: {e}"))?,
        "lz4" => {
            let mut out = Vec::with_capacity(size as usize);
            lz4::Decoder::new(compressed)
                .and_then(|d| d.take(size + 1).read_to_end(&mut out))
                .map_err(|e| format!("lz4: {e}"))?;
            Cow::Owned(out)
        }
        other => return Err(format!("compression {other:?}: expected zstd, lz4 or none")),
    };
    if records.len() as u64 != size {
        return Err(format!(
            "its records are {} bytes, its header says {size}",
            records.len()
        ));
    }
    if header.uncompressed_crc != 0 {
        let found = crc32fast::hash(&records);
        if found != header.uncompressed_crc {
            return Err(format!(
                "CRC mismatch: the header says {:#010x}, the records hash to {found:#010x}",
                header.uncompressed_crc
            ));
        }
    }
    let mut w = Walk { b: &records, at: 0 };
    while w.at < records.len() {
        let start = w.at;
        w.skip(1, "a record's opcode")?;
        let len = w.u64("a record's length")?;
        let body_at = w.at;
        w.skip(len, "a record")?;
        let opcode = records[start];
        let body = &records[body_at..w.at];
        match opcode {
            op::SCHEMA | op::CHANNEL | op::MESSAGE => {
                if let Some(record) = parse(opcode, body)? {
                    f(record)?;
                }
            }
            other => return Err(format!("a record with opcode {other:#04x} inside a chunk")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_longer_than_its_record_is_refused_before_it_is_parsed() {
        // A metadata record whose name claims 4 GiB.
        let mut body = vec![0xff, 0xff, 0xff, 0xfe];
        body.extend_from_slice(b"name");
        let e = parse(op::METADATA, &body).unwrap_err();
        assert!(
            e.contains("the metadata name claims 4278190079 bytes, only 4 remain"),
            "{e}"
        );
    }

    #[test]
    fn records_forge_does_not_read_are_skipped_unparsed() {
        assert!(parse(op::ATTACHMENT, &[0xff; 3]).unwrap().is_none());
        assert!(parse(0x80, &[]).unwrap().is_none());
    }
}

//! MCAP records read defensively, both found by the `recording` fuzz target:
//!
//! - every length prefix is checked against the bytes present before the
//!   mcap crate parses a record, because its parser reserves a string's or
//!   map's claimed length up front (a record claiming a 4 GiB string would
//!   allocate 4 GiB);
//! - chunks are decompressed and walked here, not by the mcap crate's
//!   streaming reader, which overflows (a panic in debug builds) on an
//!   uncompressed chunk whose inner record claims more than the chunk;
//! - a chunk may decompress to at most [`chunk_limit`] bytes: what Forge
//!   writes always fits, and a crafted chunk cannot make a reader allocate
//!   more than a small multiple of what it occupies in the file.
//!
//! Nothing here knows what a Forge recording is; `read` does.

use std::borrow::Cow;
use std::io::Read;

use mcap::records::{op, ChunkHeader, Record};

/// The largest uncompressed chunk read whatever its compressed size: more
/// than any chunk forge-record writes (`--chunk-size` is at most 4 MiB,
/// and a chunk closes one message past it).
pub const CHUNK_FLOOR: u64 = 8 << 20;
/// Beyond [`CHUNK_FLOOR`], a chunk may decompress to at most this many
/// times its compressed size.
pub const CHUNK_RATIO: u64 = 16;

/// The largest uncompressed chunk read at all.
pub const MAX_CHUNK_BYTES: u64 = 256 << 20;

/// The most bytes a chunk of `compressed` bytes may decompress to.
pub fn chunk_limit(compressed: u64) -> u64 {
    CHUNK_FLOOR
        .max(compressed.saturating_mul(CHUNK_RATIO))
        .min(MAX_CHUNK_BYTES)
}

/// Why MCAP bytes cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McapIoError {
    /// A length reaches past the bytes it is inside of.
    #[error("{what} claims {claims} bytes, only {left} remain in the {within}")]
    Short {
        /// The field (`the metadata name`, `a record`).
        what: &'static str,
        /// Bytes it claims.
        claims: u64,
        /// Bytes there are.
        left: u64,
        /// What it is inside of: `record` or `chunk`.
        within: &'static str,
    },
    /// The mcap crate refused a record whose lengths were sound.
    #[error("{0}")]
    Parse(String),
    /// A compression this reader does not know.
    #[error("compression {0:?}: expected zstd, lz4 or none")]
    Compression(String),
    /// A chunk claims to decompress to more than it may.
    #[error("it claims {size} uncompressed bytes from {compressed}, more than the {limit} this reader accepts")]
    TooLarge {
        /// The chunk header's uncompressed size.
        size: u64,
        /// Its compressed size.
        compressed: u64,
        /// [`chunk_limit`] of that.
        limit: u64,
    },
    /// Decompression failed.
    #[error("{codec}: {message}")]
    Decompress {
        /// `zstd` or `lz4`.
        codec: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// The decompressed records are not the size the chunk header says.
    #[error("its records are {found} bytes, its header says {header}")]
    SizeMismatch {
        /// Bytes decompressed.
        found: u64,
        /// Bytes the header declares.
        header: u64,
    },
    /// The chunk's CRC does not match its records.
    #[error("CRC mismatch: the header says {header:#010x}, the records hash to {found:#010x}")]
    Crc {
        /// The header's CRC.
        header: u32,
        /// The records' CRC.
        found: u32,
    },
    /// A kind of record that has no place inside a chunk.
    #[error("a record with opcode {0:#04x} inside a chunk")]
    NotInChunk(u8),
}

/// The message of an MCAP error with its causes (the mcap crate's I/O
/// errors keep the reason in their source).
pub fn mcap_message(e: &mcap::McapError) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text += &format!(": {c}");
        cause = c.source();
    }
    text
}

/// Walks a record body, checking lengths without allocating.
struct Walk<'a> {
    b: &'a [u8],
    at: usize,
    within: &'static str,
}

impl Walk<'_> {
    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), McapIoError> {
        let left = (self.b.len() - self.at) as u64;
        if n > left {
            return Err(McapIoError::Short {
                what,
                claims: n,
                left,
                within: self.within,
            });
        }
        self.at += n as usize;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], McapIoError> {
        let at = self.at;
        self.skip(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&self.b[at..at + N]);
        Ok(a)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, McapIoError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, McapIoError> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A u32 length and that many bytes (strings, schema data).
    fn bytes32(&mut self, what: &'static str) -> Result<(), McapIoError> {
        let n = self.u32(what)?;
        self.skip(u64::from(n), what)
    }

    /// A u32 byte length, then entries filling exactly that many bytes.
    fn map(
        &mut self,
        what: &'static str,
        mut entry: impl FnMut(&mut Walk<'_>) -> Result<(), McapIoError>,
    ) -> Result<(), McapIoError> {
        let n = self.u32(what)? as usize;
        let start = self.at;
        self.skip(n as u64, what)?;
        let mut inner = Walk {
            b: &self.b[start..start + n],
            at: 0,
            within: self.within,
        };
        while inner.at < n {
            entry(&mut inner)?;
        }
        Ok(())
    }
}

/// Checks the variable-length fields of a record Forge reads.
fn check(opcode: u8, body: &[u8]) -> Result<(), McapIoError> {
    let w = &mut Walk {
        b: body,
        at: 0,
        within: "record",
    };
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
pub fn parse(opcode: u8, body: &[u8]) -> Result<Option<Record<'_>>, McapIoError> {
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
                .map_err(|e| McapIoError::Parse(mcap_message(&e)))
        }
        _ => Ok(None),
    }
}

/// Decompresses a chunk's records (at most [`chunk_limit`] of its
/// compressed size), checks them against the header's size and CRC, and
/// hands each record inside to `f`, whose own errors end the walk too.
pub fn for_each_in_chunk<E: From<McapIoError>>(
    header: &ChunkHeader,
    compressed: &[u8],
    mut f: impl FnMut(Record<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let size = header.uncompressed_size;
    let limit = chunk_limit(compressed.len() as u64);
    if size > limit {
        return Err(McapIoError::TooLarge {
            size,
            compressed: compressed.len() as u64,
            limit,
        }
        .into());
    }
    let records: Cow<'_, [u8]> = match header.compression.as_str() {
        "" => Cow::Borrowed(compressed),
        "zstd" => zstd::bulk::decompress(compressed, size as usize)
            .map(Cow::Owned)
            .map_err(|e| McapIoError::Decompress {
                codec: "zstd",
                message: e.to_string(),
            })?,
        "lz4" => {
            let mut out = Vec::with_capacity(size as usize);
            lz4::Decoder::new(compressed)
                .and_then(|d| d.take(size + 1).read_to_end(&mut out))
                .map_err(|e| McapIoError::Decompress {
                    codec: "lz4",
                    message: e.to_string(),
                })?;
            Cow::Owned(out)
        }
        other => return Err(McapIoError::Compression(other.to_owned()).into()),
    };
    if records.len() as u64 != size {
        return Err(McapIoError::SizeMismatch {
            found: records.len() as u64,
            header: size,
        }
        .into());
    }
    if header.uncompressed_crc != 0 {
        let found = crc32fast::hash(&records);
        if found != header.uncompressed_crc {
            return Err(McapIoError::Crc {
                header: header.uncompressed_crc,
                found,
            }
            .into());
        }
    }
    let mut w = Walk {
        b: &records,
        at: 0,
        within: "chunk",
    };
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
            other => return Err(McapIoError::NotInChunk(other).into()),
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
        assert_eq!(
            e,
            McapIoError::Short {
                what: "the metadata name",
                claims: 4_278_190_079,
                left: 4,
                within: "record"
            }
        );
        assert!(e
            .to_string()
            .contains("the metadata name claims 4278190079 bytes, only 4 remain"));
    }

    #[test]
    fn records_forge_does_not_read_are_skipped_unparsed() {
        assert!(parse(op::ATTACHMENT, &[0xff; 3]).unwrap().is_none());
        assert!(parse(0x80, &[]).unwrap().is_none());
    }

    #[test]
    fn a_chunk_may_not_claim_more_than_a_small_multiple_of_its_size() {
        assert_eq!(chunk_limit(0), CHUNK_FLOOR);
        assert_eq!(chunk_limit(1 << 20), CHUNK_FLOOR.max(16 << 20));
        assert_eq!(chunk_limit(u64::MAX), MAX_CHUNK_BYTES);
        let header = ChunkHeader {
            message_start_time: 0,
            message_end_time: 0,
            uncompressed_size: 1 << 30,
            uncompressed_crc: 0,
            compression: "zstd".into(),
            compressed_size: 100,
        };
        let e = for_each_in_chunk::<McapIoError>(&header, &[0; 100], |_| Ok(())).unwrap_err();
        assert!(matches!(e, McapIoError::TooLarge { .. }), "{e}");
    }
}

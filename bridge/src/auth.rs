//! The shared secret and the MAC every sample carries.
//!
//! `out` and every `in` of a stream read the same 32-byte key file
//! (`--auth-key FILE`, made by `forge-bridge keygen FILE`). Every message
//! they exchange carries a keyed-BLAKE3 tag over the message's bytes (its
//! header, which states the kind, the origin session, the sequence range
//! and the query nonce, and its body) under the *stream's* key: a key
//! derived from the file's key and the stream's key expression (keyed
//! BLAKE3 of the expression, length first). So a peer without the key can
//! neither forge a message nor move one to another stream, kind, session,
//! range or query.
//!
//! Why the key expression goes into the key rather than in front of the
//! message: BLAKE3 hashes 1 KiB chunks side by side in SIMD lanes only
//! from a chunk boundary on. With 27 bytes of key expression in front, a
//! pack's bytes started a chunk late and the first chunks went through
//! one, two, four… at a time: 4.5 µs for a 4 KiB pack here, 1.6 µs with the
//! pack's first byte at the chunk's start, and 17 µs against 13 µs for a
//! full 64 KiB pack (docs/performance.md).
//!
//! Why keyed BLAKE3 rather than HMAC-SHA256: both are sound MACs with a
//! 32-byte key; BLAKE3 is one pass (HMAC hashes twice) and hashes a pack's
//! 1 KiB chunks in parallel SIMD lanes, so a 64 KiB pack costs a fraction
//! of what SHA-256 costs on the same core, which matters when every byte
//! of the stream is hashed twice (by `out` and by `in`). Its `Hash`
//! compares in constant time.
//!
//! Without `--auth-key` the bridge uses [`AuthKey::public`], a key that
//! everybody knows: the tag still catches damaged or foreign bytes, but it
//! proves nothing about who sent them. That is why, without a key, both
//! ends refuse anything but loopback unless told `--insecure`.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Bytes of a key file.
pub const KEY_LEN: usize = 32;
/// Bytes of a tag.
pub const MAC_LEN: usize = 32;

/// The MAC key is derived from the file's bytes for this one purpose, so
/// the same file could key something else without the two meeting.
const CONTEXT: &str = "forge-bridge 2025 sample authentication v3";

/// A stream's secret, ready to tag and check messages.
#[derive(Clone)]
pub struct AuthKey {
    mac_key: [u8; KEY_LEN],
    secret: bool,
    /// The stream key of the first key expression used, kept: a bridge
    /// tags every message of its one stream under it.
    stream: OnceLock<(Box<str>, [u8; KEY_LEN])>,
}

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthKey")
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// Why a key file cannot be made or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be opened (missing, a symbolic link, no access).
    #[error("cannot open key file {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a regular file.
    #[error("key file {path} is not a regular file")]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// Readable or writable by group or others.
    #[error(
        "key file {path} has mode {mode:04o}: group and others must have no access (expected 0600 or 0400)"
    )]
    Mode {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Owned by another user.
    #[error("key file {path} belongs to uid {owner}, not to you (uid {me})")]
    Owner {
        /// The file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        me: u32,
    },
    /// Not exactly [`KEY_LEN`] bytes.
    #[error("key file {path} holds {len} bytes, expected exactly {KEY_LEN}")]
    Length {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// `keygen` found something at the path.
    #[error("{path} already exists: keygen never overwrites a file")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Reading, writing or the random source failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl AuthKey {
    /// The key everybody knows, used without `--auth-key`: integrity, no
    /// authenticity.
    pub fn public() -> AuthKey {
        AuthKey::from_bytes(&[0; KEY_LEN], false)
    }

    /// A secret key from its bytes.
    pub fn secret(bytes: &[u8; KEY_LEN]) -> AuthKey {
        AuthKey::from_bytes(bytes, true)
    }

    fn from_bytes(bytes: &[u8; KEY_LEN], secret: bool) -> AuthKey {
        AuthKey {
            mac_key: blake3::derive_key(CONTEXT, bytes),
            secret,
            stream: OnceLock::new(),
        }
    }

    /// Was it read from a key file?
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// Reads a key file, as OpenSSH reads a private key: not through a
    /// symbolic link, a regular file, ours, no access for group or others,
    /// exactly [`KEY_LEN`] bytes.
    pub fn load(path: &Path) -> Result<AuthKey, KeyError> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(
                nix::fcntl::OFlag::O_NOFOLLOW.bits() | nix::fcntl::OFlag::O_CLOEXEC.bits(),
            )
            .open(path)
            .map_err(|source| KeyError::Open {
                path: path.into(),
                source,
            })?;
        let meta = file.metadata().map_err(|source| KeyError::Io {
            what: "cannot inspect",
            path: path.into(),
            source,
        })?;
        if !meta.is_file() {
            return Err(KeyError::NotAFile { path: path.into() });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Mode {
                path: path.into(),
                mode,
            });
        }
        let me = nix::unistd::geteuid().as_raw();
        if meta.uid() != me {
            return Err(KeyError::Owner {
                path: path.into(),
                owner: meta.uid(),
                me,
            });
        }
        if meta.len() != KEY_LEN as u64 {
            return Err(KeyError::Length {
                path: path.into(),
                len: meta.len(),
            });
        }
        let mut bytes = [0u8; KEY_LEN];
        file.read_exact(&mut bytes).map_err(|source| KeyError::Io {
            what: "cannot read",
            path: path.into(),
            source,
        })?;
        Ok(AuthKey::secret(&bytes))
    }

    /// The key of stream `key_expr`: keyed BLAKE3 of the expression,
    /// length first, under the MAC key. Distinct expressions give
    /// unrelated keys, so a tag made for one stream holds on no other.
    fn stream_key(&self, key_expr: &str) -> [u8; KEY_LEN] {
        if let Some((kept, key)) = self.stream.get() {
            if **kept == *key_expr {
                return *key;
            }
        }
        let mut h = blake3::Hasher::new_keyed(&self.mac_key);
        let len = u16::try_from(key_expr.len()).unwrap_or(u16::MAX);
        h.update(&len.to_le_bytes());
        h.update(key_expr.as_bytes());
        let key = *h.finalize().as_bytes();
        // The first stream is kept; another (tests, a hostile peer's
        // forgeries) is derived each time.
        let _ = self.stream.set((key_expr.into(), key));
        key
    }

    /// The tag of `parts` (concatenated) sent on stream `key_expr`.
    pub fn tag(&self, key_expr: &str, parts: &[&[u8]]) -> [u8; MAC_LEN] {
        // The message's first byte starts BLAKE3's first chunk (see the
        // module's comment).
        let mut h = blake3::Hasher::new_keyed(&self.stream_key(key_expr));
        for p in parts {
            h.update(p);
        }
        *h.finalize().as_bytes()
    }

    /// Does `tag` authenticate `parts` on `key_expr`? Constant time.
    pub fn check(&self, key_expr: &str, parts: &[&[u8]], tag: &[u8]) -> bool {
        let Ok(tag) = <[u8; MAC_LEN]>::try_from(tag) else {
            return false;
        };
        // `blake3::Hash`'s equality is constant-time.
        blake3::Hash::from_bytes(self.tag(key_expr, parts)) == blake3::Hash::from_bytes(tag)
    }
}

/// Writes a new key file: [`KEY_LEN`] random bytes, mode 0600, created with
/// `O_CREAT | O_EXCL | O_NOFOLLOW` (an existing file or link is refused,
/// never overwritten or followed).
pub fn keygen(path: &Path) -> Result<(), KeyError> {
    let mut bytes = [0u8; KEY_LEN];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Io {
        what: "no random bytes for",
        path: path.into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits() | nix::fcntl::OFlag::O_CLOEXEC.bits())
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists { path: path.into() },
            _ => KeyError::Open {
                path: path.into(),
                source,
            },
        })?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|source| KeyError::Io {
            what: "cannot write",
            path: path.into(),
            source,
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn a_generated_key_is_private_random_and_loads() {
        let d = dir();
        let (a, b) = (d.path().join("a.key"), d.path().join("b.key"));
        keygen(&a).unwrap();
        keygen(&b).unwrap();
        let meta = std::fs::metadata(&a).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), KEY_LEN as u64);
        assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let key = AuthKey::load(&a).unwrap();
        assert!(key.is_secret());
        let t = key.tag("k", &[b"abc"]);
        assert!(key.check("k", &[b"abc"], &t));
        assert!(!AuthKey::load(&b).unwrap().check("k", &[b"abc"], &t));
    }

    #[test]
    fn keygen_never_overwrites_or_follows_a_link() {
        let d = dir();
        let path = d.path().join("k");
        std::fs::write(&path, b"precious").unwrap();
        assert!(matches!(keygen(&path), Err(KeyError::Exists { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(d.path().join("target"), &link).unwrap();
        assert!(keygen(&link).is_err());
        assert!(!d.path().join("target").exists());
    }

    #[test]
    fn keys_others_can_read_links_and_wrong_sizes_are_refused() {
        let d = dir();
        let path = d.path().join("k");
        keygen(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            AuthKey::load(&path),
            Err(KeyError::Mode { mode: 0o644, .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(AuthKey::load(&path).is_ok());
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(matches!(AuthKey::load(&link), Err(KeyError::Open { .. })));
        let short = d.path().join("short");
        std::fs::write(&short, [1u8; 31]).unwrap();
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            AuthKey::load(&short),
            Err(KeyError::Length { len: 31, .. })
        ));
        assert!(matches!(
            AuthKey::load(d.path()),
            Err(KeyError::NotAFile { .. })
        ));
    }

    #[test]
    fn a_tag_binds_the_stream_key_and_every_byte() {
        let key = AuthKey::secret(&[7; KEY_LEN]);
        let t = key.tag("forge/a", &[b"hello", b"world"]);
        assert!(key.check("forge/a", &[b"helloworld"], &t));
        assert!(!key.check("forge/b", &[b"helloworld"], &t));
        assert!(!key.check("forge/a", &[b"helloworle"], &t));
        assert!(!key.check("forge/a", &[b"helloworld"], &t[..31]));
        assert!(!AuthKey::public().check("forge/a", &[b"helloworld"], &t));
    }

    #[test]
    fn the_kept_stream_key_never_tags_another_stream() {
        let key = AuthKey::secret(&[9; KEY_LEN]);
        let a = key.tag("forge/a", &[b"x"]);
        let b = key.tag("forge/b", &[b"x"]);
        assert_ne!(a, b);
        // Asked again in either order, each stream gets its own tag.
        assert_eq!(key.tag("forge/b", &[b"x"]), b);
        assert_eq!(key.tag("forge/a", &[b"x"]), a);
        assert_eq!(AuthKey::secret(&[9; KEY_LEN]).tag("forge/b", &[b"x"]), b);
    }
}

//! The per-node digest of version 2 (Java's `DigestCalculator`): CRC32 of the path bytes, the data
//! and a 60-byte stat in the order czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion,
//! ephemeralOwner. The tree digest is the wrapping sum over all nodes not under `/zookeeper/`.

use jute::data::StatPersisted;

use super::path;

/// The digest version carried in `TxnDigest` / `ZxidDigest`.
pub const DIGEST_VERSION: i32 = 2;

/// CRC32 of one node; `key` is its map key (the root is `""`). Excluded paths yield 0.
pub(crate) fn node_digest(key: &str, data: Option<&[u8]>, stat: &StatPersisted) -> i64 {
    if path::digest_excluded(key) {
        return 0;
    }
    let mut b = [0u8; 60];
    b[0..8].copy_from_slice(&stat.czxid.to_be_bytes());
    b[8..16].copy_from_slice(&stat.mzxid.to_be_bytes());
    b[16..24].copy_from_slice(&stat.pzxid.to_be_bytes());
    b[24..32].copy_from_slice(&stat.ctime.to_be_bytes());
    b[32..40].copy_from_slice(&stat.mtime.to_be_bytes());
    b[40..44].copy_from_slice(&stat.version.to_be_bytes());
    b[44..48].copy_from_slice(&stat.cversion.to_be_bytes());
    b[48..52].copy_from_slice(&stat.aversion.to_be_bytes());
    b[52..60].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(path::key(key).as_bytes());
    if let Some(d) = data {
        h.update(d);
    }
    h.update(&b);
    i64::from(h.finalize())
}

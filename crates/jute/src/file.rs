//! Headers of the on-disk files.

use crate::jute_record;

/// "ZKLG": txn log magic.
pub const TXNLOG_MAGIC: i32 = 0x5A4B_4C47;
/// "ZKSN": snapshot magic.
pub const SNAPSHOT_MAGIC: i32 = 0x5A4B_534E;
/// The only file format version ZooKeeper 3.x writes.
pub const FILE_VERSION: i32 = 2;

jute_record! {
    /// The 16-byte header of `log.*` and `snapshot.*` files.
    pub struct FileHeader { pub magic: i32, pub version: i32, pub dbid: i64 }
}

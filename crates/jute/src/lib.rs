//! ZooKeeper's jute binary encoding and every record ferrokeeper exchanges with clients, peers and
//! disk. Decoding is total: any byte string yields a record or a [`DecodeError`], never a panic, and
//! every length is bounded by `jute.maxbuffer` before anything is allocated.
//!
//! Map:
//! - [`codec`]: the [`Reader`], the [`Jute`] trait for field types, and the record macro.
//! - [`data`]: `Id`, `ACL`, `Stat`, `StatPersisted`, `ClientInfo`.
//! - [`proto`]: client protocol records, [`proto::Request`] (one variant per opcode) and multi.
//! - [`txn`]: txn records and [`txn::Txn`], the body of a log entry / proposal.
//! - [`quorum`]: `QuorumPacket`, `LearnerInfo` and the ZAB packet types.
//! - [`file`]: file headers of txn logs and snapshots.
//! - [`consts`]: opcodes, error codes, permissions, event types, create flags.

pub mod codec;
pub mod consts;
pub mod data;
pub mod file;
pub mod proto;
pub mod quorum;
pub mod txn;

pub use codec::{decode_exact, encode_to_bytes, DecodeError, Jute, Reader, DEFAULT_MAX_BUFFER};

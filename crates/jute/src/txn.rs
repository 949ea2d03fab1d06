//! Txn records (`org.apache.zookeeper.txn`): what the leader proposes, every log entry holds and the
//! data tree applies. [`TxnEntry`] is the payload of one log entry / PROPOSAL:
//! `TxnHeader` + the txn record for its type + an optional `TxnDigest`.

use bytes::{Bytes, BytesMut};

use crate::codec::{encode_to_bytes, DecodeError, Jute, Reader};
use crate::consts::op;
use crate::data::Acl;
use crate::jute_record;

jute_record! {
    /// Who, which request, which zxid, when (leader wall clock, ms) and what type.
    pub struct TxnHeader {
        pub client_id: i64,
        pub cxid: i32,
        pub zxid: i64,
        pub time: i64,
        pub txn_type: i32,
    }
    /// Digest of the whole tree after the txn (version 2).
    pub struct TxnDigest { pub version: i32, pub tree_digest: i64 }
    pub struct CreateTxnV0 { pub path: String, pub data: Option<Bytes>, pub acl: Vec<Acl>, pub ephemeral: bool }
    pub struct CreateTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
        pub parent_cversion: i32,
    }
    pub struct CreateTtlTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
        pub ttl: i64,
    }
    pub struct CreateContainerTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
    }
    pub struct DeleteTxn { pub path: String }
    /// `version` is the node's new version.
    pub struct SetDataTxn { pub path: String, pub data: Option<Bytes>, pub version: i32 }
    pub struct CheckVersionTxn { pub path: String, pub version: i32 }
    /// `version` is the node's new aversion.
    pub struct SetAclTxn { pub path: String, pub acl: Vec<Acl>, pub version: i32 }
    pub struct CreateSessionTxn { pub time_out: i32 }
    pub struct CloseSessionTxn { pub paths2_delete: Vec<String> }
    pub struct ErrorTxn { pub err: i32 }
    /// One sub-txn of a multi: its type and its serialized record.
    pub struct SubTxn { pub txn_type: i32, pub data: Bytes }
    pub struct MultiTxn { pub txns: Vec<SubTxn> }
}

/// The record of a txn, by its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    CreateSession(CreateSessionTxn),
    /// `None` for logs written without the paths list.
    CloseSession(Option<CloseSessionTxn>),
    /// create / create2 (the header type says which).
    Create(CreateTxn),
    CreateTtl(CreateTtlTxn),
    CreateContainer(CreateContainerTxn),
    /// delete / deleteContainer.
    Delete(DeleteTxn),
    /// setData / reconfig.
    SetData(SetDataTxn),
    SetAcl(SetAclTxn),
    Check(CheckVersionTxn),
    Error(ErrorTxn),
    Multi(Vec<(i32, TxnBody)>),
    /// A type with no record (e.g. an unknown type read from an old log), kept as raw bytes.
    Other(Bytes),
}

impl TxnBody {
    /// Writes the record alone (no header).
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            TxnBody::CreateSession(t) => t.write(out),
            TxnBody::CloseSession(Some(t)) => t.write(out),
            TxnBody::CloseSession(None) => {}
            TxnBody::Create(t) => t.write(out),
            TxnBody::CreateTtl(t) => t.write(out),
            TxnBody::CreateContainer(t) => t.write(out),
            TxnBody::Delete(t) => t.write(out),
            TxnBody::SetData(t) => t.write(out),
            TxnBody::SetAcl(t) => t.write(out),
            TxnBody::Check(t) => t.write(out),
            TxnBody::Error(t) => t.write(out),
            TxnBody::Multi(subs) => {
                let txns = subs
                    .iter()
                    .map(|(ty, b)| {
                        let mut buf = BytesMut::new();
                        b.write(&mut buf);
                        SubTxn {
                            txn_type: *ty,
                            data: buf.freeze(),
                        }
                    })
                    .collect();
                MultiTxn { txns }.write(out)
            }
            TxnBody::Other(b) => out.extend_from_slice(b),
        }
    }

    /// Reads the record of a txn of type `txn_type`, with Java's fallbacks for old formats.
    pub fn read(txn_type: i32, r: &mut Reader) -> Result<TxnBody, DecodeError> {
        Self::read_inner(txn_type, r, false)
    }

    fn read_inner(txn_type: i32, r: &mut Reader, nested: bool) -> Result<TxnBody, DecodeError> {
        Ok(match txn_type {
            op::CREATE_SESSION => TxnBody::CreateSession(CreateSessionTxn::read(r)?),
            op::CLOSE_SESSION => {
                if r.is_empty() {
                    TxnBody::CloseSession(None)
                } else {
                    let save = r.clone();
                    match CloseSessionTxn::read(r) {
                        Ok(t) => TxnBody::CloseSession(Some(t)),
                        Err(e) if e.is_eof() => {
                            *r = save;
                            TxnBody::CloseSession(None)
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            // Java falls back to the pre-3.3 CreateTxnV0 layout only for `create` (1), only at the
            // top level (never inside a multi), and only when the record ends early.
            op::CREATE2 => TxnBody::Create(CreateTxn::read(r)?),
            op::CREATE => {
                let save = r.clone();
                match CreateTxn::read(r) {
                    Ok(t) => TxnBody::Create(t),
                    Err(e) if e.is_eof() && !nested => {
                        *r = save;
                        let v0 = CreateTxnV0::read(r)?;
                        TxnBody::Create(CreateTxn {
                            path: v0.path,
                            data: v0.data,
                            acl: v0.acl,
                            ephemeral: v0.ephemeral,
                            parent_cversion: -1,
                        })
                    }
                    Err(e) => return Err(e),
                }
            }
            op::CREATE_TTL => TxnBody::CreateTtl(CreateTtlTxn::read(r)?),
            op::CREATE_CONTAINER => TxnBody::CreateContainer(CreateContainerTxn::read(r)?),
            op::DELETE | op::DELETE_CONTAINER => TxnBody::Delete(DeleteTxn::read(r)?),
            op::SET_DATA | op::RECONFIG => TxnBody::SetData(SetDataTxn::read(r)?),
            op::SET_ACL => TxnBody::SetAcl(SetAclTxn::read(r)?),
            op::CHECK => TxnBody::Check(CheckVersionTxn::read(r)?),
            op::ERROR => TxnBody::Error(ErrorTxn::read(r)?),
            op::MULTI => {
                let m = MultiTxn::read(r)?;
                let mut subs = Vec::with_capacity(m.txns.len());
                for s in m.txns {
                    if s.txn_type == op::MULTI {
                        return Err(DecodeError::Invalid("nested multi txn".into()));
                    }
                    let mut sr = Reader::with_limit(s.data, r.limit());
                    subs.push((s.txn_type, TxnBody::read_inner(s.txn_type, &mut sr, true)?));
                }
                TxnBody::Multi(subs)
            }
            _ => TxnBody::Other(r.take(r.remaining())?),
        })
    }
}

/// One txn as logged and proposed: header, record, and the tree digest after it (if computed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    pub header: TxnHeader,
    pub body: TxnBody,
    pub digest: Option<TxnDigest>,
}

impl TxnEntry {
    pub fn zxid(&self) -> i64 {
        self.header.zxid
    }

    /// Serializes header + record + digest, the bytes of a log entry payload or PROPOSAL data.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(64);
        self.write_to(&mut out);
        out.freeze()
    }

    pub fn write_to(&self, out: &mut BytesMut) {
        self.header.write(out);
        self.body.write(out);
        if let Some(d) = &self.digest {
            d.write(out);
        }
    }

    /// Parses a payload; a trailing digest is read if present (its absence is not an error).
    pub fn decode(buf: Bytes) -> Result<TxnEntry, DecodeError> {
        Self::decode_with_limit(buf, crate::DEFAULT_MAX_BUFFER * 2)
    }

    pub fn decode_with_limit(buf: Bytes, limit: usize) -> Result<TxnEntry, DecodeError> {
        let mut r = Reader::with_limit(buf, limit);
        let header = TxnHeader::read(&mut r)?;
        let body = TxnBody::read(header.txn_type, &mut r)?;
        let digest = if r.remaining() >= 12 {
            Some(TxnDigest::read(&mut r)?)
        } else {
            None
        };
        Ok(TxnEntry {
            header,
            body,
            digest,
        })
    }
}

/// Serializes a record into its own buffer (for `SubTxn.data`).
pub fn record_bytes<T: Jute>(t: &T) -> Bytes {
    encode_to_bytes(t)
}

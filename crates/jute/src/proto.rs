//! Client protocol records (`org.apache.zookeeper.proto`), the [`Request`] enum with one variant per
//! opcode, and the hand-framed multi encoding.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::{DecodeError, Jute, Reader};
use crate::consts::op;
use crate::data::{Acl, ClientInfo, Stat};
use crate::jute_record;

jute_record! {
    /// The response to a connect; the optional trailing read-only byte is handled by the caller.
    pub struct ConnectResponse {
        pub protocol_version: i32,
        pub time_out: i32,
        pub session_id: i64,
        pub passwd: Bytes,
    }

    pub struct SetWatches {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }

    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }

    pub struct RequestHeader { pub xid: i32, pub op_type: i32 }

    /// Header of every server → client frame.
    pub struct ReplyHeader { pub xid: i32, pub zxid: i64, pub err: i32 }

    pub struct MultiHeader { pub op_type: i32, pub done: bool, pub err: i32 }

    pub struct AuthPacket { pub auth_type: i32, pub scheme: String, pub auth: Bytes }

    pub struct GetDataRequest { pub path: String, pub watch: bool }
    pub struct GetDataResponse { pub data: Option<Bytes>, pub stat: Stat }
    pub struct SetDataRequest { pub path: String, pub data: Option<Bytes>, pub version: i32 }
    pub struct SetDataResponse { pub stat: Stat }
    pub struct ReconfigRequest {
        pub joining_servers: Option<String>,
        pub leaving_servers: Option<String>,
        pub new_members: Option<String>,
        pub cur_config_id: i64,
    }
    pub struct GetSaslRequest { pub token: Option<Bytes> }
    pub struct SetSaslResponse { pub token: Option<Bytes> }
    pub struct CreateRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub flags: i32,
    }
    pub struct CreateTtlRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub flags: i32,
        pub ttl: i64,
    }
    pub struct CreateResponse { pub path: String }
    pub struct Create2Response { pub path: String, pub stat: Stat }
    pub struct DeleteRequest { pub path: String, pub version: i32 }
    pub struct ExistsRequest { pub path: String, pub watch: bool }
    pub struct ExistsResponse { pub stat: Stat }
    pub struct GetChildrenRequest { pub path: String, pub watch: bool }
    pub struct GetChildrenResponse { pub children: Vec<String> }
    pub struct GetChildren2Request { pub path: String, pub watch: bool }
    pub struct GetChildren2Response { pub children: Vec<String>, pub stat: Stat }
    pub struct GetAllChildrenNumberRequest { pub path: String }
    pub struct GetAllChildrenNumberResponse { pub total_number: i32 }
    pub struct CheckVersionRequest { pub path: String, pub version: i32 }
    pub struct SyncRequest { pub path: String }
    pub struct SyncResponse { pub path: String }
    pub struct GetAclRequest { pub path: String }
    pub struct GetAclResponse { pub acl: Vec<Acl>, pub stat: Stat }
    pub struct SetAclRequest { pub path: String, pub acl: Vec<Acl>, pub version: i32 }
    pub struct SetAclResponse { pub stat: Stat }
    pub struct AddWatchRequest { pub path: String, pub mode: i32 }
    pub struct WatcherEvent { pub event_type: i32, pub state: i32, pub path: String }
    pub struct ErrorResponse { pub err: i32 }
    pub struct CheckWatchesRequest { pub path: String, pub watcher_type: i32 }
    pub struct RemoveWatchesRequest { pub path: String, pub watcher_type: i32 }
    pub struct GetEphemeralsRequest { pub prefix_path: String }
    pub struct GetEphemeralsResponse { pub ephemerals: Vec<String> }
    pub struct WhoAmIResponse { pub client_info: Vec<ClientInfo> }
}

impl ConnectResponse {
    /// Writes the response and, when `read_only` is `Some` (the client sent its readOnly byte), the
    /// trailing readOnly boolean: 37 bytes with it, 36 without.
    pub fn write_with_read_only(&self, read_only: Option<bool>, out: &mut BytesMut) {
        self.write(out);
        if let Some(ro) = read_only {
            ro.write(out);
        }
    }

    /// Reads a response and the optional trailing readOnly byte (`None` when absent).
    pub fn read_with_read_only(
        r: &mut Reader,
    ) -> Result<(ConnectResponse, Option<bool>), DecodeError> {
        let resp = ConnectResponse::read(r)?;
        let read_only = if r.is_empty() {
            None
        } else {
            Some(r.read_bool()?)
        };
        Ok((resp, read_only))
    }
}

/// The first frame of a connection. The trailing `readOnly` byte is optional (old clients omit it)
/// and must be echoed in the response only when it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    /// `None` when the client did not send the byte.
    pub read_only: Option<bool>,
}

impl Jute for ConnectRequest {
    fn write(&self, out: &mut BytesMut) {
        self.protocol_version.write(out);
        self.last_zxid_seen.write(out);
        self.time_out.write(out);
        self.session_id.write(out);
        self.passwd.write(out);
        if let Some(ro) = self.read_only {
            ro.write(out);
        }
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        let protocol_version = r.read_i32()?;
        let last_zxid_seen = r.read_i64()?;
        let time_out = r.read_i32()?;
        let session_id = r.read_i64()?;
        let passwd = Bytes::read(r)?;
        let read_only = if r.is_empty() {
            None
        } else {
            Some(r.read_bool()?)
        };
        Ok(ConnectRequest {
            protocol_version,
            last_zxid_seen,
            time_out,
            session_id,
            passwd,
            read_only,
        })
    }
}

/// One operation inside a multi / multiRead request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// create, create2 or createContainer (the opcode says which).
    Create(i32, CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(GetChildrenRequest),
    GetData(GetDataRequest),
}

impl MultiOp {
    pub fn op_code(&self) -> i32 {
        match self {
            MultiOp::Create(code, _) => *code,
            MultiOp::CreateTtl(_) => op::CREATE_TTL,
            MultiOp::Delete(_) => op::DELETE,
            MultiOp::SetData(_) => op::SET_DATA,
            MultiOp::Check(_) => op::CHECK,
            MultiOp::GetChildren(_) => op::GET_CHILDREN,
            MultiOp::GetData(_) => op::GET_DATA,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(_, r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }
}

/// A multi request body: ops terminated by `MultiHeader{-1, true, -1}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    pub ops: Vec<MultiOp>,
}

impl Jute for MultiRequest {
    fn write(&self, out: &mut BytesMut) {
        for o in &self.ops {
            MultiHeader {
                op_type: o.op_code(),
                done: false,
                err: -1,
            }
            .write(out);
            match o {
                MultiOp::Create(_, r) => r.write(out),
                MultiOp::CreateTtl(r) => r.write(out),
                MultiOp::Delete(r) => r.write(out),
                MultiOp::SetData(r) => r.write(out),
                MultiOp::Check(r) => r.write(out),
                MultiOp::GetChildren(r) => r.write(out),
                MultiOp::GetData(r) => r.write(out),
            }
        }
        MultiHeader {
            op_type: -1,
            done: true,
            err: -1,
        }
        .write(out);
    }

    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        let mut ops = Vec::new();
        loop {
            let h = MultiHeader::read(r)?;
            if h.done {
                return Ok(MultiRequest { ops });
            }
            let o = match h.op_type {
                op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => {
                    MultiOp::Create(h.op_type, CreateRequest::read(r)?)
                }
                op::CREATE_TTL => MultiOp::CreateTtl(CreateTtlRequest::read(r)?),
                // Java's MultiOperationRecord accepts only `delete` (2) here, not deleteContainer.
                op::DELETE => MultiOp::Delete(DeleteRequest::read(r)?),
                op::SET_DATA => MultiOp::SetData(SetDataRequest::read(r)?),
                op::CHECK => MultiOp::Check(CheckVersionRequest::read(r)?),
                op::GET_CHILDREN => MultiOp::GetChildren(GetChildrenRequest::read(r)?),
                op::GET_DATA => MultiOp::GetData(GetDataRequest::read(r)?),
                other => return Err(DecodeError::Invalid(format!("multi op type {other}"))),
            };
            ops.push(o);
        }
    }
}

/// One result inside a multi / multiRead response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// create (opcode 1): the created path.
    Create(String),
    /// create2 / createTTL / createContainer (sent as opcode 15).
    Create2(String, Stat),
    Delete,
    SetData(Stat),
    Check,
    GetChildren(Vec<String>),
    GetData(Option<Bytes>, Stat),
    /// A failed (or rolled back) op: the code appears in the header and in an ErrorResponse.
    Error(i32),
}

/// A multi response body, terminated by `MultiHeader{-1, true, -1}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    pub results: Vec<OpResult>,
}

impl Jute for MultiResponse {
    fn write(&self, out: &mut BytesMut) {
        for res in &self.results {
            let (op_type, err) = match res {
                OpResult::Create(_) => (op::CREATE, 0),
                OpResult::Create2(..) => (op::CREATE2, 0),
                OpResult::Delete => (op::DELETE, 0),
                OpResult::SetData(_) => (op::SET_DATA, 0),
                OpResult::Check => (op::CHECK, 0),
                OpResult::GetChildren(_) => (op::GET_CHILDREN, 0),
                OpResult::GetData(..) => (op::GET_DATA, 0),
                OpResult::Error(e) => (-1, *e),
            };
            MultiHeader {
                op_type,
                done: false,
                err,
            }
            .write(out);
            match res {
                OpResult::Create(p) => p.write(out),
                OpResult::Create2(p, s) => {
                    p.write(out);
                    s.write(out)
                }
                OpResult::Delete | OpResult::Check => {}
                OpResult::SetData(s) => s.write(out),
                OpResult::GetChildren(c) => c.write(out),
                OpResult::GetData(d, s) => {
                    d.write(out);
                    s.write(out)
                }
                OpResult::Error(e) => ErrorResponse { err: *e }.write(out),
            }
        }
        MultiHeader {
            op_type: -1,
            done: true,
            err: -1,
        }
        .write(out);
    }

    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        let mut results = Vec::new();
        loop {
            let h = MultiHeader::read(r)?;
            if h.done {
                return Ok(MultiResponse { results });
            }
            let res = match h.op_type {
                op::CREATE => OpResult::Create(String::read(r)?),
                // Java's MultiResponse knows exactly these types (createTTL / createContainer
                // results are sent as create2); anything else is an error, as in Java.
                op::CREATE2 => OpResult::Create2(String::read(r)?, Stat::read(r)?),
                op::DELETE => OpResult::Delete,
                op::SET_DATA => OpResult::SetData(Stat::read(r)?),
                op::CHECK => OpResult::Check,
                op::GET_CHILDREN => OpResult::GetChildren(Vec::<String>::read(r)?),
                op::GET_DATA => OpResult::GetData(Option::<Bytes>::read(r)?, Stat::read(r)?),
                -1 => OpResult::Error(ErrorResponse::read(r)?.err),
                other => return Err(DecodeError::Invalid(format!("multi result type {other}"))),
            };
            results.push(res);
        }
    }
}

/// A decoded client request body, one variant per opcode the server understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    Exists(ExistsRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(GetAclRequest),
    SetAcl(SetAclRequest),
    GetChildren(GetChildrenRequest),
    GetChildren2(GetChildren2Request),
    Sync(SyncRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(MultiRequest),
    MultiRead(MultiRequest),
    Reconfig(ReconfigRequest),
    CheckWatches(CheckWatchesRequest),
    RemoveWatches(RemoveWatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(GetSaslRequest),
    GetEphemerals(GetEphemeralsRequest),
    GetAllChildrenNumber(GetAllChildrenNumberRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
    /// deleteContainer: its body is the raw UTF-8 path, not jute.
    DeleteContainer(String),
}

impl Request {
    /// Decodes the body that follows a `RequestHeader` with opcode `op_type`. `Ok(None)` means the
    /// opcode is not one the server accepts from clients (answer UNIMPLEMENTED and close).
    pub fn decode(op_type: i32, r: &mut Reader) -> Result<Option<Request>, DecodeError> {
        let req = match op_type {
            op::CREATE => Request::Create(CreateRequest::read(r)?),
            op::CREATE2 => Request::Create2(CreateRequest::read(r)?),
            op::CREATE_CONTAINER => Request::CreateContainer(CreateRequest::read(r)?),
            op::CREATE_TTL => Request::CreateTtl(CreateTtlRequest::read(r)?),
            op::DELETE => Request::Delete(DeleteRequest::read(r)?),
            op::EXISTS => Request::Exists(ExistsRequest::read(r)?),
            op::GET_DATA => Request::GetData(GetDataRequest::read(r)?),
            op::SET_DATA => Request::SetData(SetDataRequest::read(r)?),
            op::GET_ACL => Request::GetAcl(GetAclRequest::read(r)?),
            op::SET_ACL => Request::SetAcl(SetAclRequest::read(r)?),
            op::GET_CHILDREN => Request::GetChildren(GetChildrenRequest::read(r)?),
            op::GET_CHILDREN2 => Request::GetChildren2(GetChildren2Request::read(r)?),
            op::SYNC => Request::Sync(SyncRequest::read(r)?),
            op::PING => Request::Ping,
            op::CHECK => Request::Check(CheckVersionRequest::read(r)?),
            op::MULTI => Request::Multi(MultiRequest::read(r)?),
            op::MULTI_READ => Request::MultiRead(MultiRequest::read(r)?),
            op::RECONFIG => Request::Reconfig(ReconfigRequest::read(r)?),
            op::CHECK_WATCHES => Request::CheckWatches(CheckWatchesRequest::read(r)?),
            op::REMOVE_WATCHES => Request::RemoveWatches(RemoveWatchesRequest::read(r)?),
            op::AUTH => Request::Auth(AuthPacket::read(r)?),
            op::SET_WATCHES => Request::SetWatches(SetWatches::read(r)?),
            op::SET_WATCHES2 => Request::SetWatches2(SetWatches2::read(r)?),
            op::SASL => Request::Sasl(GetSaslRequest::read(r)?),
            op::GET_EPHEMERALS => Request::GetEphemerals(GetEphemeralsRequest::read(r)?),
            op::GET_ALL_CHILDREN_NUMBER => {
                Request::GetAllChildrenNumber(GetAllChildrenNumberRequest::read(r)?)
            }
            op::ADD_WATCH => Request::AddWatch(AddWatchRequest::read(r)?),
            op::WHO_AM_I => Request::WhoAmI,
            op::CLOSE_SESSION => Request::CloseSession,
            op::DELETE_CONTAINER => {
                let rest = r.take(r.remaining())?;
                Request::DeleteContainer(String::from_utf8_lossy(&rest).into_owned())
            }
            _ => return Ok(None),
        };
        Ok(Some(req))
    }

    /// The opcode of this request.
    pub fn op_code(&self) -> i32 {
        match self {
            Request::Create(_) => op::CREATE,
            Request::Create2(_) => op::CREATE2,
            Request::CreateContainer(_) => op::CREATE_CONTAINER,
            Request::CreateTtl(_) => op::CREATE_TTL,
            Request::Delete(_) => op::DELETE,
            Request::Exists(_) => op::EXISTS,
            Request::GetData(_) => op::GET_DATA,
            Request::SetData(_) => op::SET_DATA,
            Request::GetAcl(_) => op::GET_ACL,
            Request::SetAcl(_) => op::SET_ACL,
            Request::GetChildren(_) => op::GET_CHILDREN,
            Request::GetChildren2(_) => op::GET_CHILDREN2,
            Request::Sync(_) => op::SYNC,
            Request::Ping => op::PING,
            Request::Check(_) => op::CHECK,
            Request::Multi(_) => op::MULTI,
            Request::MultiRead(_) => op::MULTI_READ,
            Request::Reconfig(_) => op::RECONFIG,
            Request::CheckWatches(_) => op::CHECK_WATCHES,
            Request::RemoveWatches(_) => op::REMOVE_WATCHES,
            Request::Auth(_) => op::AUTH,
            Request::SetWatches(_) => op::SET_WATCHES,
            Request::SetWatches2(_) => op::SET_WATCHES2,
            Request::Sasl(_) => op::SASL,
            Request::GetEphemerals(_) => op::GET_EPHEMERALS,
            Request::GetAllChildrenNumber(_) => op::GET_ALL_CHILDREN_NUMBER,
            Request::AddWatch(_) => op::ADD_WATCH,
            Request::WhoAmI => op::WHO_AM_I,
            Request::CloseSession => op::CLOSE_SESSION,
            Request::DeleteContainer(_) => op::DELETE_CONTAINER,
        }
    }

    /// Encodes the body (without the RequestHeader), as a client sends it.
    pub fn write_body(&self, out: &mut BytesMut) {
        match self {
            Request::Create(x) | Request::Create2(x) | Request::CreateContainer(x) => x.write(out),
            Request::CreateTtl(x) => x.write(out),
            Request::Delete(x) => x.write(out),
            Request::Exists(x) => x.write(out),
            Request::GetData(x) => x.write(out),
            Request::SetData(x) => x.write(out),
            Request::GetAcl(x) => x.write(out),
            Request::SetAcl(x) => x.write(out),
            Request::GetChildren(x) => x.write(out),
            Request::GetChildren2(x) => x.write(out),
            Request::Sync(x) => x.write(out),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
            Request::Check(x) => x.write(out),
            Request::Multi(x) | Request::MultiRead(x) => x.write(out),
            Request::Reconfig(x) => x.write(out),
            Request::CheckWatches(x) => x.write(out),
            Request::RemoveWatches(x) => x.write(out),
            Request::Auth(x) => x.write(out),
            Request::SetWatches(x) => x.write(out),
            Request::SetWatches2(x) => x.write(out),
            Request::Sasl(x) => x.write(out),
            Request::GetEphemerals(x) => x.write(out),
            Request::GetAllChildrenNumber(x) => x.write(out),
            Request::AddWatch(x) => x.write(out),
            Request::DeleteContainer(p) => out.put_slice(p.as_bytes()),
        }
    }
}

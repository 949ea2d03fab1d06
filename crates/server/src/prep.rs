//! Request → txn: Java's `PrepRequestProcessor`. Runs on the leader (and standalone) only, in one
//! task, validating each write against the data tree *plus* the changes of writes already proposed
//! but not yet applied (the outstanding change records), so pipelined writes see each other.
//! A write that fails validation still becomes a txn (an `ErrorTxn`) and consumes a zxid.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use jute::consts::{create_mode, ephemeral_owner, err, op, perms};
use jute::data::{Acl, Id, StatPersisted};
use jute::proto::{CreateRequest, MultiOp, Request};
use jute::txn::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, DeleteTxn, ErrorTxn, SetAclTxn, SetDataTxn, TxnBody, TxnEntry, TxnHeader,
};

use crate::auth::{check_acl, fixup_acl, AclPolicy};
use crate::data_tree::DataTree;
use crate::path_utils::{is_special, parent_of, tree_key, validate_path};

/// What prep needs to know about a node: Java's `ChangeRecord`.
#[derive(Debug, Clone)]
struct ChangeRecord {
    zxid: i64,
    /// `None` once the node is deleted by an outstanding txn.
    stat: Option<StatPersisted>,
    child_count: i32,
    acl: Arc<Vec<Acl>>,
    data: Option<Bytes>,
}

/// Settings that change validation.
#[derive(Debug, Clone, Default)]
pub struct PrepSettings {
    pub acl: AclPolicy,
    /// `zookeeper.extendedTypesEnabled`: TTL nodes allowed.
    pub extended_types: bool,
    /// `zookeeper.closeSessionTxn.enabled` (default true): closeSession lists its ephemerals.
    pub close_session_txn: bool,
    /// `reconfigEnabled`.
    pub reconfig_enabled: bool,
}

/// One request to turn into a txn.
pub struct PrepInput<'a> {
    pub session_id: i64,
    pub cxid: i32,
    pub auth: &'a [Id],
    pub request: &'a Request,
    /// Leader wall-clock time stamped into the txn.
    pub time_ms: i64,
}

/// The prep stage's state: the next zxid and the outstanding change records.
pub struct Prep {
    settings: PrepSettings,
    last_zxid: i64,
    outstanding: HashMap<String, ChangeRecord>,
}

type PrepResult<T> = Result<T, i32>;

impl Prep {
    pub fn new(settings: PrepSettings, last_zxid: i64) -> Prep {
        Prep {
            settings,
            last_zxid,
            outstanding: HashMap::new(),
        }
    }

    /// The zxid of the last txn handed out.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Restarts numbering (new epoch on a leader).
    pub fn reset(&mut self, last_zxid: i64) {
        self.last_zxid = last_zxid;
        self.outstanding.clear();
    }

    fn next_zxid(&mut self) -> i64 {
        self.last_zxid += 1;
        self.last_zxid
    }

    /// Drops change records already reflected in the tree (the tree has applied their zxid).
    pub fn gc(&mut self, applied_zxid: i64) {
        if self.outstanding.len() > 1024 {
            self.outstanding.retain(|_, r| r.zxid > applied_zxid);
        }
    }

    fn record(&self, tree: &DataTree, path: &str) -> PrepResult<ChangeRecord> {
        if let Some(r) = self.outstanding.get(path) {
            if r.zxid > tree.last_processed_zxid() {
                return match r.stat {
                    Some(_) => Ok(r.clone()),
                    None => Err(err::NO_NODE),
                };
            }
        }
        let node = tree.node(tree_key(path)).ok_or(err::NO_NODE)?;
        Ok(ChangeRecord {
            zxid: -1,
            stat: Some(node.stat.clone()),
            child_count: node.num_children(),
            acl: tree.acl_checked(node).unwrap_or_default(),
            data: node.data().map(Bytes::copy_from_slice),
        })
    }

    /// Turns a write request (or createSession / closeSession) into a txn with the next zxid.
    /// `session_ok` reports whether the session may still issue requests.
    pub fn prepare(
        &mut self,
        tree: &DataTree,
        input: &PrepInput<'_>,
        session_ok: bool,
    ) -> TxnEntry {
        let req = input.request;
        let zxid = self.next_zxid();
        let mut header = TxnHeader {
            client_id: input.session_id,
            cxid: input.cxid,
            zxid,
            time: input.time_ms,
            txn_type: req.op_code(),
        };
        let body = match req {
            Request::Multi(m) => match normalize_multi(&m.ops) {
                Ok(ops) => self.prepare_multi(tree, input, zxid, &ops, session_ok),
                Err(_) => {
                    // Java fails to deserialize the multi (MultiOperationRecord) and logs an
                    // ErrorTxn(MARSHALLINGERROR) under a fresh zxid.
                    header.txn_type = op::ERROR;
                    TxnBody::Error(ErrorTxn {
                        err: err::MARSHALLING_ERROR,
                    })
                }
            },
            _ => {
                let r = if session_ok || matches!(req, Request::CloseSession) {
                    self.prepare_one(tree, input, zxid, req)
                } else {
                    Err(err::SESSION_EXPIRED)
                };
                match r {
                    Ok(b) => b,
                    Err(code) => {
                        header.txn_type = op::ERROR;
                        TxnBody::Error(ErrorTxn { err: code })
                    }
                }
            }
        };
        TxnEntry {
            header,
            body,
            digest: None,
        }
    }

    /// A createSession txn for a new session.
    pub fn create_session(&mut self, session_id: i64, timeout_ms: i32, time_ms: i64) -> TxnEntry {
        let zxid = self.next_zxid();
        TxnEntry {
            header: TxnHeader {
                client_id: session_id,
                cxid: 0,
                zxid,
                time: time_ms,
                txn_type: op::CREATE_SESSION,
            },
            body: TxnBody::CreateSession(CreateSessionTxn {
                time_out: timeout_ms,
            }),
            digest: None,
        }
    }

    fn prepare_multi(
        &mut self,
        tree: &DataTree,
        input: &PrepInput<'_>,
        zxid: i64,
        ops: &[MultiOp],
        session_ok: bool,
    ) -> TxnBody {
        // Remember the records this multi may overwrite, to restore them if it fails.
        let mut saved: HashMap<String, ChangeRecord> = HashMap::new();
        for o in ops {
            let p = o.path();
            if let Some(r) = self.outstanding.get(p) {
                saved.insert(p.to_string(), r.clone());
            }
            if let Some(parent) = parent_of(p) {
                if !p.contains('\0') {
                    if let Some(r) = self.outstanding.get(parent) {
                        saved.insert(parent.to_string(), r.clone());
                    }
                }
            }
        }
        let mut subs = Vec::with_capacity(ops.len());
        let mut failed = false;
        for o in ops {
            if failed {
                subs.push((
                    op::ERROR,
                    TxnBody::Error(ErrorTxn {
                        err: err::RUNTIME_INCONSISTENCY,
                    }),
                ));
                continue;
            }
            let r = if !session_ok {
                Err(err::SESSION_EXPIRED)
            } else {
                let single = match o {
                    MultiOp::Create(code, c) => match *code {
                        op::CREATE => Request::Create(c.clone()),
                        op::CREATE2 => Request::Create2(c.clone()),
                        _ => Request::CreateContainer(c.clone()),
                    },
                    MultiOp::CreateTtl(c) => Request::CreateTtl(c.clone()),
                    MultiOp::Delete(d) => Request::Delete(d.clone()),
                    MultiOp::SetData(s) => Request::SetData(s.clone()),
                    MultiOp::Check(c) => Request::Check(c.clone()),
                    MultiOp::GetChildren(_) | MultiOp::GetData(_) => {
                        unreachable_read_op();
                        continue;
                    }
                };
                self.prepare_one(tree, input, zxid, &single)
            };
            match r {
                Ok(body) => subs.push((o.op_code(), body)),
                Err(code) => {
                    subs.push((op::ERROR, TxnBody::Error(ErrorTxn { err: code })));
                    failed = true;
                    self.rollback(zxid, &saved);
                }
            }
        }
        TxnBody::Multi(subs)
    }

    fn rollback(&mut self, zxid: i64, saved: &HashMap<String, ChangeRecord>) {
        self.outstanding.retain(|_, r| r.zxid != zxid);
        for (p, r) in saved {
            self.outstanding.insert(p.clone(), r.clone());
        }
    }

    fn add(&mut self, path: &str, rec: ChangeRecord) {
        self.outstanding.insert(path.to_string(), rec);
    }

    fn prepare_one(
        &mut self,
        tree: &DataTree,
        input: &PrepInput<'_>,
        zxid: i64,
        req: &Request,
    ) -> PrepResult<TxnBody> {
        let policy = &self.settings.acl;
        match req {
            Request::Create(c) => self.create(tree, input, zxid, op::CREATE, c, -1),
            Request::Create2(c) => self.create(tree, input, zxid, op::CREATE2, c, -1),
            Request::CreateContainer(c) => {
                self.create(tree, input, zxid, op::CREATE_CONTAINER, c, -1)
            }
            Request::CreateTtl(t) => {
                let c = CreateRequest {
                    path: t.path.clone(),
                    data: t.data.clone(),
                    acl: t.acl.clone(),
                    flags: t.flags,
                };
                self.create(tree, input, zxid, op::CREATE_TTL, &c, t.ttl)
            }
            Request::Delete(d) => {
                let parent = parent_for_delete(&d.path)?;
                let parent_rec = self.record(tree, parent)?;
                check_acl(policy, &parent_rec.acl, perms::DELETE, input.auth)?;
                let node = self.record(tree, &d.path)?;
                let stat = node.stat.as_ref().ok_or(err::NO_NODE)?;
                check_version(stat.version, d.version)?;
                if node.child_count > 0 {
                    return Err(err::NOT_EMPTY);
                }
                self.record_delete(parent, parent_rec, &d.path, zxid);
                Ok(TxnBody::Delete(DeleteTxn {
                    path: d.path.clone(),
                }))
            }
            Request::DeleteContainer(path) => {
                let parent = parent_for_delete(path)?;
                let node = self.record(tree, path)?;
                if node.child_count > 0 {
                    return Err(err::NOT_EMPTY);
                }
                let owner = node.stat.as_ref().map(|s| s.ephemeral_owner).unwrap_or(0);
                if self.is_normal_ephemeral(owner) || owner == 0 {
                    return Err(err::BAD_VERSION);
                }
                let parent_rec = self.record(tree, parent)?;
                self.record_delete(parent, parent_rec, path, zxid);
                Ok(TxnBody::Delete(DeleteTxn { path: path.clone() }))
            }
            Request::SetData(s) => {
                validate(&s.path)?;
                let mut rec = self.record(tree, &s.path)?;
                check_acl(policy, &rec.acl, perms::WRITE, input.auth)?;
                let stat = rec.stat.as_mut().ok_or(err::NO_NODE)?;
                let new_version = check_version(stat.version, s.version)?;
                stat.version = new_version;
                stat.mtime = input.time_ms;
                stat.mzxid = zxid;
                rec.zxid = zxid;
                rec.data = s.data.clone();
                self.add(&s.path, rec);
                Ok(TxnBody::SetData(SetDataTxn {
                    path: s.path.clone(),
                    data: s.data.clone(),
                    version: new_version,
                }))
            }
            Request::SetAcl(s) => {
                validate(&s.path)?;
                let acl = fixup_acl(input.auth, &s.acl)?;
                let mut rec = self.record(tree, &s.path)?;
                check_acl(policy, &rec.acl, perms::ADMIN, input.auth)?;
                let stat = rec.stat.as_mut().ok_or(err::NO_NODE)?;
                let new_version = check_version(stat.aversion, s.version)?;
                stat.aversion = new_version;
                rec.zxid = zxid;
                rec.acl = Arc::new(acl.clone());
                self.add(&s.path, rec);
                Ok(TxnBody::SetAcl(SetAclTxn {
                    path: s.path.clone(),
                    acl,
                    version: new_version,
                }))
            }
            Request::Check(c) => {
                validate(&c.path)?;
                let rec = self.record(tree, &c.path)?;
                check_acl(policy, &rec.acl, perms::READ, input.auth)?;
                let stat = rec.stat.as_ref().ok_or(err::NO_NODE)?;
                let v = check_version(stat.version, c.version)?;
                Ok(TxnBody::Check(CheckVersionTxn {
                    path: c.path.clone(),
                    version: v,
                }))
            }
            Request::Reconfig(_) => {
                if !self.settings.reconfig_enabled {
                    Err(err::RECONFIG_DISABLED)
                } else {
                    // Standalone (and, for now, every mode): reconfiguration is not supported.
                    Err(err::UNIMPLEMENTED)
                }
            }
            Request::CloseSession => {
                let mut eph: Vec<String> = tree.ephemerals_of(input.session_id);
                // Apply outstanding changes: nodes deleted or created by txns not yet applied.
                let applied = tree.last_processed_zxid();
                for (p, r) in &self.outstanding {
                    if r.zxid <= applied {
                        continue;
                    }
                    match &r.stat {
                        None => eph.retain(|e| e != p),
                        Some(s) if s.ephemeral_owner == input.session_id && !eph.contains(p) => {
                            eph.push(p.clone())
                        }
                        _ => {}
                    }
                }
                eph.sort();
                for p in &eph {
                    if let Some(parent) = parent_of(p) {
                        if let Ok(mut pr) = self.record(tree, parent) {
                            if let Some(s) = pr.stat.as_mut() {
                                s.pzxid = zxid;
                            }
                            pr.zxid = zxid;
                            self.add(parent, pr);
                        }
                    }
                    self.add(
                        p,
                        ChangeRecord {
                            zxid,
                            stat: None,
                            child_count: 0,
                            acl: Arc::new(Vec::new()),
                            data: None,
                        },
                    );
                }
                if self.settings.close_session_txn {
                    Ok(TxnBody::CloseSession(Some(CloseSessionTxn {
                        paths2_delete: eph,
                    })))
                } else {
                    Ok(TxnBody::CloseSession(None))
                }
            }
            _ => Err(err::UNIMPLEMENTED),
        }
    }

    fn is_normal_ephemeral(&self, owner: i64) -> bool {
        if owner == 0 || owner == ephemeral_owner::CONTAINER {
            return false;
        }
        if self.settings.extended_types
            && (owner & ephemeral_owner::TTL_MASK) == ephemeral_owner::TTL_MASK
        {
            return false;
        }
        true
    }

    fn record_delete(&mut self, parent: &str, mut parent_rec: ChangeRecord, path: &str, zxid: i64) {
        parent_rec.child_count -= 1;
        if let Some(s) = parent_rec.stat.as_mut() {
            s.pzxid = zxid;
        }
        parent_rec.zxid = zxid;
        self.add(parent, parent_rec);
        self.add(
            path,
            ChangeRecord {
                zxid,
                stat: None,
                child_count: -1,
                acl: Arc::new(Vec::new()),
                data: None,
            },
        );
    }

    fn create(
        &mut self,
        tree: &DataTree,
        input: &PrepInput<'_>,
        zxid: i64,
        op_type: i32,
        c: &CreateRequest,
        ttl: i64,
    ) -> PrepResult<TxnBody> {
        let flags = c.flags;
        if !(0..=6).contains(&flags) {
            return Err(err::BAD_ARGUMENTS);
        }
        let is_ttl = flags == create_mode::PERSISTENT_WITH_TTL
            || flags == create_mode::PERSISTENT_SEQUENTIAL_WITH_TTL;
        let is_sequential = matches!(
            flags,
            create_mode::PERSISTENT_SEQUENTIAL
                | create_mode::EPHEMERAL_SEQUENTIAL
                | create_mode::PERSISTENT_SEQUENTIAL_WITH_TTL
        );
        let is_ephemeral =
            flags == create_mode::EPHEMERAL || flags == create_mode::EPHEMERAL_SEQUENTIAL;
        let is_container = flags == create_mode::CONTAINER;
        if is_ttl && !self.settings.extended_types {
            return Err(err::UNIMPLEMENTED);
        }
        if is_ttl {
            if ttl > ephemeral_owner::MAX_TTL || ttl <= 0 {
                return Err(err::BAD_ARGUMENTS);
            }
        } else if ttl >= 0 {
            return Err(err::BAD_ARGUMENTS);
        }
        let parent = match c.path.rfind('/') {
            Some(i) if !c.path.contains('\0') => &c.path[..i],
            _ => return Err(err::BAD_ARGUMENTS),
        };
        let acl = fixup_acl(input.auth, &c.acl)?;
        let mut parent_rec = self.record(tree, parent)?;
        check_acl(
            &self.settings.acl,
            &parent_rec.acl,
            perms::CREATE,
            input.auth,
        )?;
        let parent_stat = parent_rec.stat.clone().ok_or(err::NO_NODE)?;
        let mut path = c.path.clone();
        if is_sequential {
            path.push_str(&format!("{:010}", parent_stat.cversion));
        }
        validate(&path)?;
        if self.record(tree, &path).is_ok() {
            return Err(err::NODE_EXISTS);
        }
        if self.is_normal_ephemeral(parent_stat.ephemeral_owner) {
            return Err(err::NO_CHILDREN_FOR_EPHEMERALS);
        }
        let new_cversion = parent_stat.cversion.wrapping_add(1);
        let body = match op_type {
            op::CREATE_CONTAINER => TxnBody::CreateContainer(CreateContainerTxn {
                path: path.clone(),
                data: c.data.clone(),
                acl: acl.clone(),
                parent_cversion: new_cversion,
            }),
            op::CREATE_TTL => TxnBody::CreateTtl(CreateTtlTxn {
                path: path.clone(),
                data: c.data.clone(),
                acl: acl.clone(),
                parent_cversion: new_cversion,
                ttl,
            }),
            _ => TxnBody::Create(CreateTxn {
                path: path.clone(),
                data: c.data.clone(),
                acl: acl.clone(),
                ephemeral: is_ephemeral,
                parent_cversion: new_cversion,
            }),
        };
        let owner = if is_container {
            ephemeral_owner::CONTAINER
        } else if is_ttl {
            ephemeral_owner::TTL_MASK | ttl
        } else if is_ephemeral {
            input.session_id
        } else {
            0
        };
        parent_rec.child_count += 1;
        if let Some(s) = parent_rec.stat.as_mut() {
            s.cversion = new_cversion;
            s.pzxid = zxid;
        }
        parent_rec.zxid = zxid;
        self.add(parent, parent_rec);
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: input.time_ms,
            mtime: input.time_ms,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
        };
        self.add(
            &path,
            ChangeRecord {
                zxid,
                stat: Some(stat),
                child_count: 0,
                acl: Arc::new(acl),
                data: c.data.clone(),
            },
        );
        Ok(body)
    }
}

/// Java cannot deserialize the multi (`MultiOperationRecord` throws an `IOException`: a bad create
/// flag, reads mixed with writes, a TTL mode without a ttl); prep logs an
/// ErrorTxn(MARSHALLINGERROR) under a new zxid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiDecodeFailure;

/// The ops of a write multi as Java 3.9's `MultiOperationRecord` turns them into `Op`s: a create's
/// effective type comes from its flags (container ⇒ createContainer), a createTTL with a non-TTL
/// mode becomes a plain create or createContainer (its ttl dropped).
pub fn normalize_multi(ops: &[MultiOp]) -> Result<Vec<MultiOp>, MultiDecodeFailure> {
    let mut out = Vec::with_capacity(ops.len());
    let mut failure = None;
    for o in ops {
        out.push(match o {
            MultiOp::Create(code, c) => match c.flags {
                create_mode::CONTAINER => MultiOp::Create(op::CREATE_CONTAINER, c.clone()),
                0..=3 => MultiOp::Create(*code, c.clone()),
                create_mode::PERSISTENT_WITH_TTL | create_mode::PERSISTENT_SEQUENTIAL_WITH_TTL => {
                    failure.get_or_insert(MultiDecodeFailure);
                    continue;
                }
                _ => return Err(MultiDecodeFailure),
            },
            MultiOp::CreateTtl(t) => match t.flags {
                create_mode::PERSISTENT_WITH_TTL | create_mode::PERSISTENT_SEQUENTIAL_WITH_TTL => {
                    MultiOp::CreateTtl(t.clone())
                }
                f => {
                    let c = CreateRequest {
                        path: t.path.clone(),
                        data: t.data.clone(),
                        acl: t.acl.clone(),
                        flags: f,
                    };
                    MultiOp::Create(
                        if f == create_mode::CONTAINER {
                            op::CREATE_CONTAINER
                        } else {
                            op::CREATE
                        },
                        c,
                    )
                }
            },
            MultiOp::GetChildren(_) | MultiOp::GetData(_) => {
                failure.get_or_insert(MultiDecodeFailure);
                continue;
            }
            other => other.clone(),
        });
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(out),
    }
}

/// Reads never reach `prepare_one` from a multi: `prepare` rejects such multis up front.
fn unreachable_read_op() {
    debug_assert!(false, "read op inside a write multi reached prep");
}

fn validate(path: &str) -> PrepResult<()> {
    validate_path(path).map_err(|_| err::BAD_ARGUMENTS)
}

fn parent_for_delete(path: &str) -> PrepResult<&str> {
    match path.rfind('/') {
        Some(i) if !path.contains('\0') && !is_special(path) => Ok(&path[..i]),
        _ => Err(err::BAD_ARGUMENTS),
    }
}

fn check_version(current: i32, expected: i32) -> PrepResult<i32> {
    if expected != -1 && expected != current {
        return Err(err::BAD_VERSION);
    }
    Ok(current.wrapping_add(1))
}

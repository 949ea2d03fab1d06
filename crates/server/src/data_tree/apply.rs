//! Java's `DataTree.processTxn` and the node operations it calls (`createNode`, `deleteNode`,
//! `setData`, `setACL`, `killSession`, `setCversionPzxid`). Failures are `KeeperException` codes,
//! never panics: a path without a parent is NONODE.

use bytes::Bytes;
use jute::consts::{err, event, op};
use jute::data::{Acl, Stat, StatPersisted};
use jute::txn::{TxnBody, TxnEntry, TxnHeader};

use super::node::{ttl_owner, DataNode};
use super::{digest, path, ApplyOutcome, ApplyResult, DataTree, Trigger, WatchTable};

/// Sub-txn types a multi may contain (anything else stops the multi, as Java's IOException does).
fn valid_multi_op(t: i32) -> bool {
    matches!(
        t,
        op::CREATE
            | op::CREATE2
            | op::CREATE_TTL
            | op::CREATE_CONTAINER
            | op::DELETE
            | op::DELETE_CONTAINER
            | op::SET_DATA
            | op::ERROR
            | op::CHECK
    )
}

/// The result of one (sub-)txn before it is wrapped into an outcome.
struct Step {
    err: i32,
    result: ApplyResult,
}

impl Step {
    fn ok(result: ApplyResult) -> Step {
        Step { err: 0, result }
    }
    fn fail(code: i32) -> Step {
        Step {
            err: code,
            result: ApplyResult::Error(code),
        }
    }
    fn from(r: Result<ApplyResult, i32>) -> Step {
        match r {
            Ok(res) => Step::ok(res),
            Err(code) => Step::fail(code),
        }
    }
}

impl DataTree {
    /// Applies one txn exactly as Java's `processTxn(header, txn, digest)`: the change, its watch
    /// triggers, `lastProcessedZxid` (raised once per txn, after a whole multi) and the digest
    /// bookkeeping. Replays of a fuzzy snapshot range are tolerated the way Java tolerates them.
    pub fn apply(&mut self, entry: &TxnEntry) -> ApplyOutcome {
        let mut triggers = Vec::new();
        let step = self.apply_one(&entry.header, &entry.body, &mut triggers);
        let zxid = entry.header.zxid;
        if zxid > self.last_processed_zxid {
            self.last_processed_zxid = zxid;
        }
        let mut mismatch = self.after_txn_digest(zxid);
        if let Some(d) = &entry.digest {
            if self.snapshot_digest.is_none()
                && d.version == digest::DIGEST_VERSION
                && d.tree_digest != self.digest
            {
                mismatch = true;
            }
        }
        ApplyOutcome {
            zxid,
            err: step.err,
            result: step.result,
            triggers,
            digest_mismatch: mismatch,
        }
    }

    /// One txn or sub-txn (Java's `processTxn(header, txn, isSubTxn)` minus the zxid bookkeeping).
    fn apply_one(&mut self, h: &TxnHeader, body: &TxnBody, triggers: &mut Vec<Trigger>) -> Step {
        let zxid = h.zxid;
        match body {
            TxnBody::Create(t) => {
                let owner = if t.ephemeral { h.client_id } else { 0 };
                let r = self.create_node(
                    &t.path,
                    &t.data,
                    &t.acl,
                    owner,
                    t.parent_cversion,
                    zxid,
                    h.time,
                    triggers,
                );
                let step = Step::from(r);
                // Fuzzy replay: a create of an existing node still moves the parent forward.
                if h.txn_type == op::CREATE && step.err == err::NODE_EXISTS {
                    if let Some((parent, _)) = path::split(&t.path) {
                        if let Err(code) = self.set_cversion_pzxid(parent, t.parent_cversion, zxid)
                        {
                            return Step::fail(code);
                        }
                    }
                }
                step
            }
            TxnBody::CreateTtl(t) => match ttl_owner(t.ttl) {
                None => Step::fail(err::BAD_ARGUMENTS),
                Some(owner) => Step::from(self.create_node(
                    &t.path,
                    &t.data,
                    &t.acl,
                    owner,
                    t.parent_cversion,
                    zxid,
                    h.time,
                    triggers,
                )),
            },
            TxnBody::CreateContainer(t) => Step::from(self.create_node(
                &t.path,
                &t.data,
                &t.acl,
                jute::consts::ephemeral_owner::CONTAINER,
                t.parent_cversion,
                zxid,
                h.time,
                triggers,
            )),
            TxnBody::Delete(t) => Step::from(
                self.delete_node(&t.path, zxid, triggers)
                    .map(|()| ApplyResult::Deleted),
            ),
            TxnBody::SetData(t) => Step::from(
                self.set_data_node(
                    &t.path,
                    t.data.as_deref(),
                    t.version,
                    zxid,
                    h.time,
                    triggers,
                )
                .map(|stat| ApplyResult::SetData { stat }),
            ),
            TxnBody::SetAcl(t) => Step::from(
                self.set_acl_node(&t.path, &t.acl, t.version)
                    .map(|stat| ApplyResult::SetAcl { stat }),
            ),
            TxnBody::CreateSession(_) => Step::ok(ApplyResult::SessionCreated),
            TxnBody::CloseSession(t) => {
                let paths = t.as_ref().map(|t| t.paths2_delete.as_slice());
                let deleted = self.kill_session_txn(h.client_id, zxid, paths, triggers);
                Step::ok(ApplyResult::SessionClosed { deleted })
            }
            TxnBody::Error(e) => Step::fail(e.err),
            TxnBody::Check(_) => Step::ok(ApplyResult::Check),
            TxnBody::Multi(subs) => self.apply_multi(h, subs, triggers),
            TxnBody::Other(_) => Step::ok(ApplyResult::None),
        }
    }

    /// The multi case of `processTxn`: if any sub-txn is an error txn nothing is applied and each
    /// non-error sub-txn reports 0 before the first error and RUNTIMEINCONSISTENCY after it.
    fn apply_multi(
        &mut self,
        h: &TxnHeader,
        subs: &[(i32, TxnBody)],
        triggers: &mut Vec<Trigger>,
    ) -> Step {
        let failed = subs.iter().any(|(t, _)| *t == op::ERROR);
        let mut post_failed = false;
        let mut results = Vec::with_capacity(subs.len());
        let mut rc_err = 0;
        for (sub_type, sub_body) in subs {
            if !valid_multi_op(*sub_type) {
                // Java throws IOException here: the remaining sub-txns are skipped.
                break;
            }
            if *sub_type == op::ERROR {
                post_failed = true;
            }
            let sub_header = TxnHeader {
                txn_type: *sub_type,
                ..h.clone()
            };
            let step = if failed && *sub_type != op::ERROR {
                Step::fail(if post_failed {
                    err::RUNTIME_INCONSISTENCY
                } else {
                    err::OK
                })
            } else {
                self.apply_one(&sub_header, sub_body, triggers)
            };
            if step.err != 0 && rc_err == 0 {
                rc_err = step.err;
            }
            results.push(step.result);
        }
        Step {
            err: rc_err,
            result: ApplyResult::Multi(results),
        }
    }

    /// Java's `createNode`. Fuzzy-replay rules: the ACL is converted (and given to an existing
    /// node) before the existence check; the parent's cversion/pzxid only move forward.
    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        full_path: &str,
        data: &Option<Bytes>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
        triggers: &mut Vec<Trigger>,
    ) -> Result<ApplyResult, i32> {
        let (parent_name, child) = path::split(full_path).ok_or(err::NO_NODE)?;
        let parent_key = path::key(parent_name);
        let parent_acl = match self.nodes.get(parent_key) {
            None => return Err(err::NO_NODE),
            Some(p) => p.acl,
        };
        // `//x` names the root as its parent (Java maps "/" to the root) but could never be
        // looked up again: NONODE, before anything changes (only a corrupt log holds one).
        if parent_name == "/" {
            return Err(err::NO_NODE);
        }
        let acl_index = self.acls.convert(acl);
        let key = path::key(full_path);
        if let Some(existing) = self.nodes.get_mut(key) {
            let old = std::mem::replace(&mut existing.acl, acl_index);
            self.acls.remove_usage(old);
            return Err(err::NODE_EXISTS);
        }
        self.change(parent_key, |p| {
            let cv = if parent_cversion == -1 {
                p.stat.cversion.wrapping_add(1)
            } else {
                parent_cversion
            };
            if cv > p.stat.cversion {
                p.stat.cversion = cv;
                p.stat.pzxid = zxid;
            }
        });
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
        };
        let node = DataNode::new(data.as_deref(), acl_index, stat);
        let client_stat = self.node_stat(&node);
        let len = i64::from(node.data_len());
        // The parent exists and is the store's parent of `key` (checked above): the node is
        // placed and linked into its children.
        self.insert_node(key, node);
        self.index_node(key, owner);
        self.quota_on_create(full_path, parent_key, child, len);
        triggers.push(Trigger {
            path: full_path.to_string(),
            event_type: event::NODE_CREATED,
            table: WatchTable::Data,
            acl: self.trigger_acl(acl_index),
        });
        triggers.push(Trigger {
            path: path::event_path(parent_name).to_string(),
            event_type: event::NODE_CHILDREN_CHANGED,
            table: WatchTable::Child,
            acl: self.trigger_acl(parent_acl),
        });
        Ok(ApplyResult::Created {
            path: full_path.to_string(),
            stat: client_stat,
        })
    }

    /// Java's `deleteNode`: the parent's pzxid is raised (never lowered) even when the child is
    /// already gone; cversion is untouched. Descendants are not visited (a delete txn is only
    /// issued for a childless node). Deleting the root is refused with BADARGUMENTS.
    fn delete_node(
        &mut self,
        full_path: &str,
        zxid: i64,
        triggers: &mut Vec<Trigger>,
    ) -> Result<(), i32> {
        let key = path::key(full_path);
        if key.is_empty() {
            return Err(err::BAD_ARGUMENTS);
        }
        let (parent_name, child) = path::split(full_path).ok_or(err::NO_NODE)?;
        let parent_key = path::key(parent_name);
        let parent_acl = self
            .change(parent_key, |p| {
                if zxid > p.stat.pzxid {
                    p.stat.pzxid = zxid;
                }
                p.acl
            })
            .ok_or(err::NO_NODE)?;
        let node = self.remove_node(key).ok_or(err::NO_NODE)?;
        let acl = self.trigger_acl(node.acl);
        self.acls.remove_usage(node.acl);
        self.unindex_node(key, node.stat.ephemeral_owner);
        self.quota_on_delete(full_path, parent_key, child, i64::from(node.data_len()));
        for table in [WatchTable::Data, WatchTable::Child] {
            triggers.push(Trigger {
                path: full_path.to_string(),
                event_type: event::NODE_DELETED,
                table,
                acl: acl.clone(),
            });
        }
        triggers.push(Trigger {
            path: path::event_path(parent_name).to_string(),
            event_type: event::NODE_CHILDREN_CHANGED,
            table: WatchTable::Child,
            acl: self.trigger_acl(parent_acl),
        });
        Ok(())
    }

    /// Java's `setData`: version, mzxid and mtime from the txn.
    pub(crate) fn set_data_node(
        &mut self,
        full_path: &str,
        data: Option<&[u8]>,
        version: i32,
        zxid: i64,
        time: i64,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Stat, i32> {
        let key = path::key(full_path);
        let (acl, old_len, new_len) = self
            .change(key, |n| {
                let old_len = n.data_len();
                n.set_data(data);
                n.stat.mtime = time;
                n.stat.mzxid = zxid;
                n.stat.version = version;
                (n.acl, old_len, n.data_len())
            })
            .ok_or(err::NO_NODE)?;
        if let Some(prefix) = self.max_quota_prefix(full_path) {
            self.update_quota_stat(&prefix, i64::from(new_len) - i64::from(old_len), 0);
        }
        let stat = self.stat(key).ok_or(err::NO_NODE)?;
        triggers.push(Trigger {
            path: full_path.to_string(),
            event_type: event::NODE_DATA_CHANGED,
            table: WatchTable::Data,
            acl: self.trigger_acl(acl),
        });
        Ok(stat)
    }

    /// Java's `setACL`: the old list loses a user first (so re-setting the only user's list gives
    /// it a fresh index, as in Java), aversion from the txn. No watch fires.
    pub(crate) fn set_acl_node(
        &mut self,
        full_path: &str,
        acl: &[Acl],
        version: i32,
    ) -> Result<Stat, i32> {
        let key = path::key(full_path);
        let old = self.nodes.get(key).ok_or(err::NO_NODE)?.acl;
        self.acls.remove_usage(old);
        let index = self.acls.convert(acl);
        self.change(key, |n| {
            n.stat.aversion = version;
            n.acl = index;
        });
        self.stat(key).ok_or(err::NO_NODE)
    }

    /// Java's `setCversionPzxid`: moves cversion (and pzxid) forward only.
    fn set_cversion_pzxid(
        &mut self,
        node_path: &str,
        new_cversion: i32,
        zxid: i64,
    ) -> Result<(), i32> {
        let p = node_path.strip_suffix('/').unwrap_or(node_path);
        let key = path::key(p);
        let cur = self.nodes.get(key).ok_or(err::NO_NODE)?.stat.cversion;
        let cv = if new_cversion == -1 {
            cur.wrapping_add(1)
        } else {
            new_cversion
        };
        if cv > cur {
            self.change(key, |n| {
                n.stat.cversion = cv;
                n.stat.pzxid = zxid;
            });
        }
        Ok(())
    }

    /// Java's `DataTree.killSession(session, zxid)` outside a txn: deletes the session's
    /// ephemerals (parents' pzxid = `zxid`). Used at startup for sessions that own ephemerals but
    /// are absent from the snapshot's session list (`ZooKeeperServer.loadData`). Watches are not
    /// triggered. Returns the deleted paths.
    pub fn kill_session(&mut self, session_id: i64, zxid: i64) -> Vec<String> {
        let mut triggers = Vec::new();
        self.kill_session_txn(session_id, zxid, None, &mut triggers)
    }

    /// Java's `killSession`: the session's index entry is dropped, then the txn's `paths2Delete`
    /// are deleted in order, then any other indexed ephemerals of the session. Missing nodes are
    /// skipped. Returns the paths actually deleted.
    fn kill_session_txn(
        &mut self,
        session: i64,
        zxid: i64,
        paths_in_txn: Option<&[String]>,
        triggers: &mut Vec<Trigger>,
    ) -> Vec<String> {
        let mut local = self.ephemerals.remove(&session);
        let mut deleted = Vec::new();
        if let Some(paths) = paths_in_txn {
            for p in paths {
                if self.delete_node(p, zxid, triggers).is_ok() {
                    deleted.push(p.clone());
                }
            }
            if let Some(set) = local.as_mut() {
                for p in paths {
                    set.remove(p.as_str());
                }
                if !set.is_empty() {
                    tracing::warn!(
                        "session 0x{session:x} has ephemerals not listed in close txn 0x{zxid:x}: {:?}",
                        set
                    );
                }
            }
        }
        for p in local.into_iter().flatten() {
            if self.delete_node(&p, zxid, triggers).is_ok() {
                deleted.push(p.to_string());
            }
        }
        deleted
    }
}

//! Shared helpers of the storage tests: a fresh tree, a tiny in-memory sink, txn builders.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use jute::consts::op;
use jute::data::{Acl, StatPersisted};
use jute::txn::{
    CreateSessionTxn, CreateTxn, DeleteTxn, SetDataTxn, TxnBody, TxnDigest, TxnEntry, TxnHeader,
};
use storage::snapshot::SnapshotWriter;
use storage::{RecoverySink, SnapshotInfo, SnapshotVisitor, VisitResult};

pub const SESSION: i64 = 0x0100_0009_0820_0000;

/// The four nodes of a fresh standalone tree, in the order Java wrote them in Appendix A.1.
pub fn fresh_nodes() -> Vec<(String, Option<Vec<u8>>, i64, StatPersisted)> {
    let zero = StatPersisted::default();
    let config = StatPersisted {
        aversion: -1,
        ..StatPersisted::default()
    };
    vec![
        (String::new(), Some(vec![]), -1, zero.clone()),
        ("/zookeeper".into(), Some(vec![]), -1, zero.clone()),
        ("/zookeeper/config".into(), Some(vec![]), 1, config),
        ("/zookeeper/quota".into(), Some(vec![]), -1, zero),
    ]
}

/// Writes the fresh tree of Appendix A.1 into `w`.
pub fn write_fresh<W: std::io::Write>(w: &mut SnapshotWriter<W>) {
    w.write_sessions(Vec::<(i64, i32)>::new()).unwrap();
    let read = Acl::read_unsafe();
    w.write_acl_cache(vec![(1i64, read.as_slice())]).unwrap();
    for (p, d, a, s) in fresh_nodes() {
        w.write_node(&p, d.as_deref(), a, &s).unwrap();
    }
}

pub fn stat_at(zxid: i64) -> StatPersisted {
    StatPersisted {
        czxid: zxid,
        mzxid: zxid,
        pzxid: zxid,
        ctime: 1000,
        mtime: 1000,
        ..StatPersisted::default()
    }
}

pub fn header(zxid: i64, t: i32) -> TxnHeader {
    TxnHeader {
        client_id: SESSION,
        cxid: (zxid & 0xffff) as i32,
        zxid,
        time: 1_700_000_000_000 + zxid,
        txn_type: t,
    }
}

pub fn create(zxid: i64, path: &str, data: &[u8]) -> TxnEntry {
    TxnEntry {
        header: header(zxid, op::CREATE),
        body: TxnBody::Create(CreateTxn {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: 1,
        }),
        digest: Some(TxnDigest {
            version: 2,
            tree_digest: zxid * 7,
        }),
    }
}

pub fn set_data(zxid: i64, path: &str, data: &[u8], version: i32) -> TxnEntry {
    TxnEntry {
        header: header(zxid, op::SET_DATA),
        body: TxnBody::SetData(SetDataTxn {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            version,
        }),
        digest: None,
    }
}

pub fn delete(zxid: i64, path: &str) -> TxnEntry {
    TxnEntry {
        header: header(zxid, op::DELETE),
        body: TxnBody::Delete(DeleteTxn { path: path.into() }),
        digest: None,
    }
}

pub fn create_session(zxid: i64) -> TxnEntry {
    TxnEntry {
        header: header(zxid, op::CREATE_SESSION),
        body: TxnBody::CreateSession(CreateSessionTxn { time_out: 30000 }),
        digest: None,
    }
}

/// A minimal tree: path → (data, acl, stat); applies create/setData/delete txns idempotently.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MemTree {
    pub nodes: BTreeMap<String, (Option<Bytes>, i64, StatPersisted)>,
    pub sessions: BTreeMap<i64, i32>,
    pub acls: BTreeMap<i64, Vec<Acl>>,
    pub txns: Vec<i64>,
    pub snapshots_begun: Vec<i64>,
    pub loaded: Option<(i64, SnapshotInfo)>,
}

impl SnapshotVisitor for MemTree {
    fn session(&mut self, id: i64, t: i32) -> VisitResult {
        self.sessions.insert(id, t);
        Ok(())
    }
    fn acl_entry(&mut self, index: i64, acl: Vec<Acl>) -> VisitResult {
        self.acls.insert(index, acl);
        Ok(())
    }
    fn node(
        &mut self,
        path: String,
        data: Option<Bytes>,
        acl: i64,
        stat: StatPersisted,
    ) -> VisitResult {
        if !path.is_empty() {
            let parent = &path[..path.rfind('/').unwrap_or(0)];
            if !self.nodes.contains_key(parent) {
                return Err(format!("parent {parent:?} missing").into());
            }
        }
        self.nodes.insert(path, (data, acl, stat));
        Ok(())
    }
}

impl RecoverySink for MemTree {
    fn begin_snapshot(&mut self, _path: &Path, zxid: i64) -> VisitResult {
        let begun = std::mem::take(&mut self.snapshots_begun);
        *self = MemTree::default();
        self.snapshots_begun = begun;
        self.snapshots_begun.push(zxid);
        Ok(())
    }
    fn snapshot_loaded(&mut self, zxid: i64, info: &SnapshotInfo) -> VisitResult {
        self.loaded = Some((zxid, info.clone()));
        Ok(())
    }
    fn txn(&mut self, e: TxnEntry) -> VisitResult {
        let z = e.zxid();
        self.txns.push(z);
        match e.body {
            TxnBody::Create(c) => {
                self.nodes.entry(c.path).or_insert((c.data, -1, stat_at(z)));
            }
            TxnBody::SetData(s) => {
                if let Some(n) = self.nodes.get_mut(&s.path) {
                    n.0 = s.data;
                    n.2.mzxid = z;
                    n.2.version = s.version;
                }
            }
            TxnBody::Delete(d) => {
                self.nodes.remove(&d.path);
            }
            TxnBody::CreateSession(s) => {
                self.sessions.insert(e.header.client_id, s.time_out);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Writes the nodes of `tree` (sorted paths = parents first) as a snapshot.
pub fn write_tree<W: std::io::Write>(w: &mut SnapshotWriter<W>, tree: &MemTree) {
    w.write_sessions(
        tree.sessions
            .iter()
            .map(|(a, b)| (*a, *b))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    w.write_acl_cache(
        tree.acls
            .iter()
            .map(|(i, a)| (*i, a.as_slice()))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    for (p, (d, a, s)) in &tree.nodes {
        w.write_node(p, d.as_deref(), *a, s).unwrap();
    }
}

/// A fresh MemTree (the A.1 content).
pub fn fresh_tree() -> MemTree {
    let mut t = MemTree::default();
    t.acls.insert(1, Acl::read_unsafe());
    for (p, d, a, s) in fresh_nodes() {
        t.nodes.insert(p, (d.map(Bytes::from), a, s));
    }
    t
}

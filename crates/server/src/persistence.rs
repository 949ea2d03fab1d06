//! The bridge between the server and `crates/storage`: recovery into a [`DataTree`], the txn log
//! behind the pipeline's log stage (group commit, log roll every ~snapCount txns), and snapshots.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use bytes::Bytes;
use jute::consts::op;
use jute::data::{Acl, StatPersisted};
use jute::txn::{TxnBody, TxnEntry};
use rand::Rng;
use storage::snapshot::{SnapshotFileOptions, SnapshotFileWriter, SnapshotInfo, SnapshotVisitor};
use storage::{
    Compression, DataDirs, Recovery, RecoveryOptions, RecoverySink, TxnLogOptions, TxnLogWriter,
    VisitResult,
};
use tracing::{error, info, warn};

use crate::data_tree::{DataTree, TreeLoader, ZxidDigest};
use crate::pipeline::TxnLog;
use crate::shared::Shared;

/// Storage settings the server uses.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub snap_count: u64,
    pub pre_alloc_size_kb: u64,
    pub force_sync: bool,
    pub compression: Compression,
    pub trust_empty: bool,
    pub autocreate: bool,
    pub extended_types: bool,
}

/// What recovery produced.
pub struct Recovered {
    pub tree: DataTree,
    pub sessions: Vec<(i64, i32)>,
    pub dirs: DataDirs,
    pub fresh: bool,
    /// Txns replayed from the logs on top of the snapshot.
    pub replayed: u64,
}

enum SinkState {
    Loading(TreeLoader),
    Ready(DataTree),
    Failed,
}

/// Builds the tree from a snapshot stream, then applies replayed txns.
struct TreeSink {
    state: SinkState,
    sessions: std::collections::HashMap<i64, i32>,
    extended: bool,
    snapshot_zxid: i64,
    error: Option<String>,
}

impl TreeSink {
    fn new(extended: bool) -> TreeSink {
        let mut l = DataTree::begin_load();
        l.set_extended_types(extended);
        TreeSink {
            state: SinkState::Loading(l),
            sessions: Default::default(),
            extended,
            snapshot_zxid: 0,
            error: None,
        }
    }

    fn tree_mut(&mut self) -> Option<&mut DataTree> {
        if let SinkState::Loading(_) = self.state {
            // Logs replayed without a snapshot (trust_empty): start from a fresh tree.
            let mut t = DataTree::new();
            t.set_extended_types(self.extended);
            self.state = SinkState::Ready(t);
        }
        match &mut self.state {
            SinkState::Ready(t) => Some(t),
            _ => None,
        }
    }
}

impl SnapshotVisitor for TreeSink {
    fn session(&mut self, id: i64, timeout_ms: i32) -> VisitResult {
        self.sessions.insert(id, timeout_ms);
        Ok(())
    }
    fn acl_entry(&mut self, index: i64, acl: Vec<Acl>) -> VisitResult {
        if let SinkState::Loading(l) = &mut self.state {
            l.add_acl(index, acl);
        }
        Ok(())
    }
    fn node(
        &mut self,
        path: String,
        data: Option<Bytes>,
        acl_index: i64,
        stat: StatPersisted,
    ) -> VisitResult {
        if let SinkState::Loading(l) = &mut self.state {
            l.add_node(&path, data, acl_index, stat)
                .map_err(|e| format!("{e}"))?;
        }
        Ok(())
    }
}

impl RecoverySink for TreeSink {
    fn begin_snapshot(&mut self, _path: &std::path::Path, zxid: i64) -> VisitResult {
        let mut l = DataTree::begin_load();
        l.set_extended_types(self.extended);
        self.state = SinkState::Loading(l);
        self.sessions.clear();
        self.snapshot_zxid = zxid;
        Ok(())
    }

    fn snapshot_loaded(&mut self, zxid: i64, info: &SnapshotInfo) -> VisitResult {
        let st = std::mem::replace(&mut self.state, SinkState::Failed);
        let SinkState::Loading(l) = st else {
            return Err("snapshot loaded twice".into());
        };
        let mut tree = l.finish().map_err(|e| format!("{e}"))?;
        tree.set_last_processed_zxid(zxid);
        if let Some(d) = info.digest {
            tree.set_snapshot_digest(
                ZxidDigest {
                    zxid: d.zxid,
                    version: d.version,
                    digest: d.digest,
                },
                zxid,
            );
        }
        self.state = SinkState::Ready(tree);
        Ok(())
    }

    fn txn(&mut self, entry: TxnEntry) -> VisitResult {
        match entry.header.txn_type {
            op::CREATE_SESSION => {
                if let TxnBody::CreateSession(c) = &entry.body {
                    self.sessions.insert(entry.header.client_id, c.time_out);
                }
            }
            op::CLOSE_SESSION => {
                self.sessions.remove(&entry.header.client_id);
            }
            _ => {}
        }
        let Some(t) = self.tree_mut() else {
            self.error = Some("txn before the tree was loaded".into());
            return Err("txn before the tree was loaded".into());
        };
        t.apply(&entry);
        Ok(())
    }
}

/// Loads the newest valid snapshot and replays the logs, as Java's `FileTxnSnapLog.restore`.
/// A fresh directory gets `snapshot.0` written at once.
pub fn recover(s: &StorageSettings) -> Result<Recovered, storage::Error> {
    let dirs = DataDirs::open(&s.data_dir, Some(&s.data_log_dir), s.autocreate)?;
    let mut sink = TreeSink::new(s.extended_types);
    let opts = RecoveryOptions {
        trust_empty: s.trust_empty,
        ..RecoveryOptions::default()
    };
    let outcome = storage::recover(&dirs, &mut sink, &opts)?;
    let fresh = matches!(outcome, Recovery::Fresh);
    let tree = match sink.state {
        SinkState::Ready(t) => t,
        _ => {
            let mut t = DataTree::new();
            t.set_extended_types(s.extended_types);
            t
        }
    };
    if let Recovery::Loaded(info) = &outcome {
        info!(
            last_zxid = format!("0x{:x}", info.last_zxid),
            txns_replayed = info.txns_replayed,
            snapshot = ?info.snapshot.as_ref().map(|f| f.path.display().to_string()),
            "recovered database"
        );
        if let Some(t) = &info.truncated {
            warn!(file = %t.path.display(), offset = t.offset, "cut a torn tail off the newest txn log");
        }
    }
    let mut sessions: Vec<(i64, i32)> = sink.sessions.into_iter().collect();
    sessions.sort_unstable();
    let replayed = match &outcome {
        Recovery::Loaded(info) => info.txns_replayed,
        Recovery::Fresh => 0,
    };
    Ok(Recovered {
        tree,
        sessions,
        dirs,
        fresh,
        replayed,
    })
}

/// Loads a SNAP sync body (as received on the quorum port) into a tree and its sessions.
pub fn tree_from_sync_stream(
    data: &[u8],
    extended: bool,
) -> Result<(DataTree, Vec<(i64, i32)>), storage::Error> {
    let mut sink = TreeSink::new(extended);
    storage::snapshot::decode_sync_stream(data, &mut sink)?;
    let st = std::mem::replace(&mut sink.state, SinkState::Failed);
    let tree = match st {
        SinkState::Loading(l) => l
            .finish()
            .map_err(|e| storage::Error::corrupt("<snap sync stream>", 0, format!("{e}")))?,
        SinkState::Ready(t) => t,
        SinkState::Failed => {
            return Err(storage::Error::corrupt(
                "<snap sync stream>",
                0,
                "tree could not be built",
            ))
        }
    };
    let mut sessions: Vec<(i64, i32)> = sink.sessions.into_iter().collect();
    sessions.sort_unstable();
    Ok((tree, sessions))
}

/// Serializes `tree` and `sessions` as a SNAP sync body (what a leader streams after SNAP).
pub fn serialize_sync_stream(
    tree: &DataTree,
    sessions: &[(i64, i32)],
) -> Result<Bytes, storage::Error> {
    let mut w = storage::snapshot::SnapshotWriter::new_sync_stream(Vec::with_capacity(
        64 * 1024 + tree.node_count() * 96,
    ));
    w.write_sessions(sessions.iter().copied())?;
    let acls = tree.acl_cache_entries();
    w.write_acl_cache(acls.iter().map(|(i, a)| (*i, a.as_slice())))?;
    let mut result = Ok(());
    tree.for_each_node_preorder(|path, node| {
        if result.is_ok() {
            result = w.write_node(path, node.data(), node.acl, &node.stat);
        }
    });
    result?;
    Ok(Bytes::from(w.finish_sync_stream()?))
}

/// After a SNAP at `zxid`: removes every logged txn after it (whole files that start later, and the
/// tail of the file that holds it), so recovery never replays a history the leader replaced.
pub fn cut_logs_after(dirs: &DataDirs, zxid: i64) -> Result<(), storage::Error> {
    for l in dirs.logs()? {
        if l.zxid > zxid {
            info!(file = %l.path.display(), "SNAP: removing a txn log after the snapshot");
            std::fs::remove_file(&l.path).map_err(|e| storage::Error::io(&l.path, e))?;
        }
    }
    if !dirs.logs()?.is_empty() {
        storage::txn_log::truncate(&dirs.log_dir, zxid)?;
    }
    Ok(())
}

/// Opens `snapshot.<zxid>` (fsynced when finished) and writes the sessions and ACL cache sections
/// that precede the nodes.
fn begin_snapshot(
    dirs: &DataDirs,
    zxid: i64,
    compression: Compression,
    sessions: &[(i64, i32)],
    acls: &[(i64, Vec<Acl>)],
) -> Result<SnapshotFileWriter, storage::Error> {
    let options = SnapshotFileOptions {
        compression,
        atomic: false,
        fsync: true,
    };
    let mut w = SnapshotFileWriter::create(&dirs.snap_dir, zxid, options)?;
    w.write_sessions(sessions.iter().copied())?;
    w.write_acl_cache(acls.iter().map(|(i, a)| (*i, a.as_slice())))?;
    Ok(w)
}

/// Writes `snapshot.<zxid>` of `tree` (sessions included). Returns the file written.
pub fn write_snapshot(
    dirs: &DataDirs,
    tree: &DataTree,
    sessions: &[(i64, i32)],
    compression: Compression,
) -> Result<PathBuf, storage::Error> {
    let acls = tree.acl_cache_entries();
    let mut w = begin_snapshot(
        dirs,
        tree.last_processed_zxid(),
        compression,
        sessions,
        &acls,
    )?;
    let mut result = Ok(());
    tree.for_each_node_preorder(|path, node| {
        if result.is_ok() {
            result = w.write_node(path, node.data(), node.acl, &node.stat);
        }
    });
    result?;
    let digest = tree.last_zxid_digest().map(|d| (d.zxid, d.digest));
    let path = w.finish(Some(digest.unwrap_or((0, 0))), None)?;
    Ok(path)
}

/// The txn log the pipeline appends to: one fdatasync per batch, a roll (and a snapshot
/// request) every `snapCount/2 + random(snapCount/2)` txns, as Java's `SyncRequestProcessor`.
pub struct FileTxnLog {
    writer: TxnLogWriter,
    force_sync: bool,
    snap_count: u64,
    since_roll: u64,
    roll_at: u64,
    snapshot_tx: Sender<()>,
}

impl FileTxnLog {
    pub fn new(dirs: &DataDirs, s: &StorageSettings, snapshot_tx: Sender<()>) -> FileTxnLog {
        let options = TxnLogOptions {
            prealloc_bytes: s.pre_alloc_size_kb * 1024,
            size_limit_bytes: None,
        };
        let snap_count = s.snap_count.max(2);
        FileTxnLog {
            writer: TxnLogWriter::new(dirs.log_dir.clone(), options),
            force_sync: s.force_sync,
            snap_count,
            since_roll: 0,
            roll_at: next_roll(snap_count),
            snapshot_tx,
        }
    }
}

fn next_roll(snap_count: u64) -> u64 {
    let half = (snap_count / 2).max(1);
    half + rand::thread_rng().gen_range(0..half)
}

impl TxnLog for FileTxnLog {
    fn append(&mut self, zxid: i64, payload: &Bytes) -> std::io::Result<()> {
        self.writer
            .append(zxid, payload)
            .map_err(std::io::Error::other)?;
        self.since_roll += 1;
        Ok(())
    }

    fn commit(&mut self) -> std::io::Result<()> {
        self.writer
            .flush_and_sync(self.force_sync)
            .map_err(std::io::Error::other)?;
        if self.since_roll > self.roll_at {
            self.writer.roll().map_err(std::io::Error::other)?;
            self.since_roll = 0;
            self.roll_at = next_roll(self.snap_count);
            let _ = self.snapshot_tx.send(());
        }
        Ok(())
    }
}

/// A fuzzy snapshot of a live tree, as Java takes them: the name is the zxid applied when it
/// starts, nodes are copied a chunk at a time under the read lock (writes go on between chunks), and
/// recovery replays the log from that zxid. Nodes created after the start are left out with their
/// subtree (replay recreates them); a node whose ACL changed to a list created after the start is
/// written with the open ACL index (replay of its setACL restores it), so every index in the file is
/// in the file's ACL cache.
pub fn write_fuzzy_snapshot(
    shared: &Shared,
    dirs: &DataDirs,
    compression: Compression,
) -> Result<PathBuf, storage::Error> {
    // The sessions are copied under the tree's read lock: apply updates `db_sessions` while it
    // holds the write lock, so the copy matches the zxid the snapshot is named after. Copied
    // before taking the lock, a createSession applied in between was neither in the file nor
    // replayed (its zxid is not above the name), and the session was lost on recovery.
    let (zxid, acls, sessions) = {
        let t = shared.tree.read();
        let sessions: Vec<(i64, i32)> = {
            let m = shared.db_sessions.lock();
            let mut v: Vec<(i64, i32)> = m.iter().map(|(k, v)| (*k, *v)).collect();
            v.sort_unstable();
            v
        };
        (t.last_processed_zxid(), t.acl_cache_entries(), sessions)
    };
    let known: std::collections::HashSet<i64> = acls.iter().map(|(i, _)| *i).collect();
    let mut w = begin_snapshot(dirs, zxid, compression, &sessions, &acls)?;
    const CHUNK: usize = 4096;
    let mut stack: Vec<String> = vec![String::new()];
    let mut batch: Vec<(String, Option<Bytes>, i64, StatPersisted)> = Vec::with_capacity(CHUNK);
    while !stack.is_empty() {
        {
            let t = shared.tree.read();
            while batch.len() < CHUNK {
                let Some(path) = stack.pop() else { break };
                let key = if path.is_empty() { "/" } else { path.as_str() };
                let Some(node) = t.node(key) else { continue };
                if node.stat.czxid > zxid && !path.is_empty() {
                    continue;
                }
                let acl =
                    if node.acl == crate::data_tree::OPEN_ACL_INDEX || known.contains(&node.acl) {
                        node.acl
                    } else {
                        crate::data_tree::OPEN_ACL_INDEX
                    };
                let mut kids: Vec<&str> = t.child_names(node).collect();
                kids.sort_unstable();
                for k in kids.iter().rev() {
                    stack.push(if path.is_empty() {
                        format!("/{k}")
                    } else {
                        format!("{path}/{k}")
                    });
                }
                batch.push((
                    path,
                    node.data().map(Bytes::copy_from_slice),
                    acl,
                    node.stat.clone(),
                ));
            }
        }
        for (path, data, acl, stat) in batch.drain(..) {
            w.write_node(&path, data.as_deref(), acl, &stat)?;
        }
    }
    let digest = shared
        .tree
        .read()
        .last_zxid_digest()
        .map(|d| (d.zxid, d.digest));
    w.finish(Some(digest.unwrap_or((0, 0))), None)
}

/// Takes a snapshot whenever the log stage asks for one (after a roll).
pub fn snapshot_loop(
    shared: Arc<Shared>,
    dirs: DataDirs,
    compression: Compression,
    rx: Receiver<()>,
) {
    while rx.recv().is_ok() {
        while rx.try_recv().is_ok() {}
        let started = std::time::Instant::now();
        match write_fuzzy_snapshot(&shared, &dirs, compression) {
            Ok(p) => {
                info!(file = %p.display(), ms = started.elapsed().as_millis() as u64, "snapshot written")
            }
            Err(e) => error!(error = %e, "snapshot failed"),
        }
    }
}

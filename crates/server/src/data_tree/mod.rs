//! The data tree: ZooKeeper's deterministic state machine (Java's `DataTree`). Every server applies
//! the same txns in zxid order with [`DataTree::apply`] and must end in the same state with the same
//! digest as a Java peer, so the rules here mirror `DataTree.processTxn` exactly, including its
//! tolerance of fuzzy-snapshot replay. The tree does no I/O and holds no watches: `apply` reports
//! which watch [`Trigger`]s fire and the caller hands them to the watch manager.
//!
//! Map: `node` (a znode, client stat rules), `acl_cache` (deduplicated ACL lists), [`digest`]
//! (per-node CRC), `path` (Java path splitting), `apply` (processTxn), `quota` (quota stats
//! nodes), [`loader`] (snapshot load).

mod acl_cache;
mod apply;
pub mod digest;
pub mod loader;
mod node;
pub(crate) mod path;
mod quota;
mod store;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use jute::data::{Acl, Stat, StatPersisted};

use acl_cache::AclCache;
pub use acl_cache::OPEN_ACL_INDEX;
pub use loader::{LoadError, TreeLoader};
pub use node::DataNode;
use node::EphemeralKind;
use store::{Inserted, NodeStore};

/// Which of the two watch tables a trigger is for (data: getData/exists; child: getChildren).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchTable {
    /// Watches set by getData / exists (and persistent watches).
    Data,
    /// Watches set by getChildren (and non-recursive persistent watches).
    Child,
}

/// A watch event produced by a txn: fire `event_type` for `path` on `table`, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// The path the event is about (the root is `"/"`).
    pub path: String,
    /// `jute::consts::event` value.
    pub event_type: i32,
    /// The table whose watches fire.
    pub table: WatchTable,
    /// The node's ACL when the event happened, for the READ check at delivery (ZOOKEEPER-4799);
    /// for a deleted node it is the ACL it had.
    pub acl: Arc<Vec<Acl>>,
}

impl Trigger {
    /// A trigger without ACL information (an empty ACL list means "no check", as in Java).
    pub fn new(path: &str, event_type: i32, table: WatchTable) -> Trigger {
        Trigger {
            path: path.to_string(),
            event_type,
            table,
            acl: Arc::new(Vec::new()),
        }
    }
}

/// What one txn (or one sub-txn of a multi) did, mirroring Java's `ProcessTxnResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyResult {
    /// Nothing to report (a txn type the tree does not handle).
    None,
    /// A node was created.
    Created {
        /// The full path (sequence suffix included), as create replies carry it.
        path: String,
        /// The new node's client stat (create2 / createTTL / createContainer replies).
        stat: Stat,
    },
    /// setData / reconfig succeeded.
    SetData {
        /// The node's new client stat.
        stat: Stat,
    },
    /// setACL succeeded.
    SetAcl {
        /// The node's new client stat.
        stat: Stat,
    },
    /// delete / deleteContainer succeeded.
    Deleted,
    /// check (version checks are done before the txn; nothing changes).
    Check,
    /// The txn failed or is an error txn: the `KeeperException` code (0 for the sub-txns of a
    /// failed multi that precede the failing one).
    Error(i32),
    /// One result per sub-txn, in order.
    Multi(Vec<ApplyResult>),
    /// createSession: the tree is unchanged (the session tracker registers the session).
    SessionCreated,
    /// closeSession succeeded.
    SessionClosed {
        /// The session's ephemeral nodes that were deleted, in deletion order.
        deleted: Vec<String>,
    },
}

/// The outcome of applying one log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The txn's zxid.
    pub zxid: i64,
    /// Java's `rc.err`: 0, the failure code, or for a multi the first nonzero sub-txn code.
    pub err: i32,
    /// The detailed result.
    pub result: ApplyResult,
    /// Watch events to fire, in Java's order.
    pub triggers: Vec<Trigger>,
    /// True when the entry carried a digest that differs from the tree's digest after applying it
    /// (Java counts these in `digest_mismatches_count`; not checked while in fuzzy replay).
    pub digest_mismatch: bool,
}

/// A (zxid, digest) pair as logged after each txn and written to snapshots (`ZxidDigest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    /// The zxid the digest was taken after.
    pub zxid: i64,
    /// Digest version ([`digest::DIGEST_VERSION`]).
    pub version: i32,
    /// The tree digest.
    pub digest: i64,
}

/// Digests kept for the `hash` 4lw (every 128th zxid, last 1024) and for snapshots.
const DIGEST_LOG_INTERVAL: i64 = 128;
const DIGEST_LOG_LIMIT: usize = 1024;

/// The znode tree with its indexes (ephemerals by session, containers, TTL nodes), ACL cache and
/// incrementally maintained digest.
#[derive(Debug, Clone)]
pub struct DataTree {
    /// Every node, addressed by path; the root is `""` (`"/"` is resolved to it).
    nodes: NodeStore,
    acls: AclCache,
    ephemerals: HashMap<i64, BTreeSet<Box<str>>>,
    containers: BTreeSet<Box<str>>,
    ttls: BTreeSet<Box<str>>,
    /// Wrapping sum of the node digests.
    digest: i64,
    /// Sum over nodes of (path length + data length).
    data_size: i64,
    last_processed_zxid: i64,
    /// `zookeeper.extendedTypesEnabled`: decides whether `0xFF..` owners are TTL nodes.
    extended_types: bool,
    last_zxid_digest: Option<ZxidDigest>,
    digest_log: VecDeque<ZxidDigest>,
    /// The snapshot's digest while replaying its fuzzy range (`digestFromLoadedSnapshot`).
    snapshot_digest: Option<ZxidDigest>,
    /// Quota roots in `PathTrie` normal form (Java's `pTrie`).
    quotas: HashSet<String>,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

impl DataTree {
    /// A tree with no nodes at all (the loader fills it).
    fn empty() -> DataTree {
        DataTree {
            nodes: NodeStore::new(),
            acls: AclCache::new(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            digest: 0,
            data_size: 0,
            last_processed_zxid: 0,
            extended_types: false,
            last_zxid_digest: None,
            digest_log: VecDeque::new(),
            snapshot_digest: None,
            quotas: HashSet::new(),
        }
    }

    /// The fresh tree of a new server: root, `/zookeeper`, `/zookeeper/quota` (ACL -1) and
    /// `/zookeeper/config` (READ world:anyone at ACL index 1, aversion -1), all with empty data and
    /// zero stats. Its digest is 0x51c6d660.
    pub fn new() -> DataTree {
        let mut t = DataTree::empty();
        let empty = || Some(&b""[..]);
        t.insert_node(
            "",
            DataNode::new(empty(), OPEN_ACL_INDEX, StatPersisted::default()),
        );
        t.insert_node(
            "/zookeeper",
            DataNode::new(empty(), OPEN_ACL_INDEX, StatPersisted::default()),
        );
        t.insert_node(
            "/zookeeper/quota",
            DataNode::new(empty(), OPEN_ACL_INDEX, StatPersisted::default()),
        );
        t.insert_node(
            "/zookeeper/config",
            DataNode::new(empty(), OPEN_ACL_INDEX, StatPersisted::default()),
        );
        let read = Acl::read_unsafe();
        // As Java's addConfigNode: setACL(config, READ_ACL_UNSAFE, -1).
        let _ = t.set_acl_node("/zookeeper/config", &read, -1);
        t
    }

    /// Sets `zookeeper.extendedTypesEnabled` (default false), which decides whether owners of the
    /// form `0xFF..|ttl` are TTL nodes or sessions; the indexes are rebuilt accordingly.
    pub fn set_extended_types(&mut self, enabled: bool) {
        if self.extended_types == enabled {
            return;
        }
        self.extended_types = enabled;
        self.ephemerals.clear();
        self.containers.clear();
        self.ttls.clear();
        let mut owners: Vec<(String, i64)> = Vec::new();
        self.nodes.for_each_preorder(|k, n| {
            if !k.is_empty() && n.stat.ephemeral_owner != 0 {
                owners.push((k.to_string(), n.stat.ephemeral_owner));
            }
        });
        for (k, owner) in owners {
            self.index_node(&k, owner);
        }
    }

    /// Whether extended ephemeral types (TTL nodes) are enabled.
    pub fn extended_types(&self) -> bool {
        self.extended_types
    }

    /// The node at `path` (`"/"` and `""` are the root).
    pub fn node(&self, path: &str) -> Option<&DataNode> {
        self.nodes.get(path::key(path))
    }

    /// The client-visible stat of the node at `path`.
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.node(path).map(|n| self.node_stat(n))
    }

    /// The client-visible stat of a node, with this tree's extended-types rule.
    pub fn node_stat(&self, node: &DataNode) -> Stat {
        node.to_stat_with(self.extended_types)
    }

    /// The ACL list of a node (index -1 is OPEN_ACL_UNSAFE). An index missing from the cache
    /// (a corrupt snapshot; Java throws) yields an empty list: use [`DataTree::acl_checked`] to
    /// tell that case apart.
    pub fn acl(&self, node: &DataNode) -> Vec<Acl> {
        self.acl_checked(node)
            .map(|a| a.as_ref().clone())
            .unwrap_or_default()
    }

    /// The shared ACL list of a node, `None` if its index is not in the cache.
    pub fn acl_checked(&self, node: &DataNode) -> Option<Arc<Vec<Acl>>> {
        self.acls.get(node.acl)
    }

    /// Child names of the node at `path`, sorted.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        self.node(path).map(|n| {
            let mut v: Vec<String> = self.child_names(n).map(str::to_string).collect();
            v.sort_unstable();
            v
        })
    }

    /// Names of a node's children (last path components): sorted for up to 256 children, in
    /// table order beyond (Java returns `HashSet` order, which clients must not rely on).
    pub fn child_names<'a>(&'a self, node: &'a DataNode) -> impl Iterator<Item = &'a str> {
        self.nodes.child_names(node)
    }

    /// Java's `getAllChildrenNumber`: for `"/"` every node except the root; otherwise the number
    /// of descendants of `path`. `None` if the node does not exist.
    pub fn all_children_number(&self, path: &str) -> Option<i32> {
        let start = self.node(path)?;
        if path == "/" {
            return Some(i32::try_from(self.nodes.len().saturating_sub(1)).unwrap_or(i32::MAX));
        }
        let mut count: usize = 0;
        let mut stack: Vec<&DataNode> = vec![start];
        while let Some(n) = stack.pop() {
            count += n.children.len();
            stack.extend(self.nodes.children_of(n));
        }
        Some(i32::try_from(count).unwrap_or(i32::MAX))
    }

    /// Paths of the ephemeral nodes owned by `session_id`, sorted (`getEphemerals`).
    pub fn ephemerals_of(&self, session_id: i64) -> Vec<String> {
        self.ephemerals
            .get(&session_id)
            .map(|s| s.iter().map(|p| p.to_string()).collect())
            .unwrap_or_default()
    }

    /// Every session known to own ephemerals, with its paths, sorted by session (for `dump`).
    /// As in Java, a session whose ephemerals were all deleted one by one stays listed (with no
    /// paths) until it is closed.
    pub fn ephemeral_sessions(&self) -> Vec<(i64, Vec<String>)> {
        let mut v: Vec<(i64, Vec<String>)> = self
            .ephemerals
            .iter()
            .map(|(s, paths)| (*s, paths.iter().map(|p| p.to_string()).collect()))
            .collect();
        v.sort_by_key(|(s, _)| *s);
        v
    }

    /// Total number of ephemeral nodes (`zk_ephemerals_count`).
    pub fn ephemerals_count(&self) -> usize {
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    /// Paths of all container nodes, sorted (for the container manager).
    pub fn containers(&self) -> Vec<String> {
        self.containers.iter().map(|p| p.to_string()).collect()
    }

    /// Paths of all TTL nodes, sorted (for the container manager).
    pub fn ttl_nodes(&self) -> Vec<String> {
        self.ttls.iter().map(|p| p.to_string()).collect()
    }

    /// Number of znodes, the root counted once (Java's `getNodeCount` is this + 1).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Java's `approximateDataSize`: sum over its node map of path length (UTF-16 units) + data
    /// length, where the map holds the root twice (as `""` and `"/"`).
    pub fn approximate_data_size(&self) -> i64 {
        let root_data = self.nodes.get("").map_or(0, |n| i64::from(n.data_len()));
        self.data_size + 1 + root_data
    }

    /// Number of entries in the ACL cache (`aclCacheSize`).
    pub fn acl_cache_size(&self) -> usize {
        self.acls.len()
    }

    /// The tree digest (§6.4), maintained on every change.
    pub fn digest(&self) -> i64 {
        self.digest
    }

    /// The zxid of the last applied txn (only ever moves forward through `apply`).
    pub fn last_processed_zxid(&self) -> i64 {
        self.last_processed_zxid
    }

    /// Sets the last processed zxid (snapshot load, leader epoch start).
    pub fn set_last_processed_zxid(&mut self, z: i64) {
        self.last_processed_zxid = z;
    }

    /// The digest recorded after the last applied txn, written into snapshots (`None` before
    /// the first txn or while replaying a fuzzy snapshot range; Java then writes zeros).
    pub fn last_zxid_digest(&self) -> Option<ZxidDigest> {
        self.last_zxid_digest
    }

    /// Digests of recent zxids that are multiples of 128 (the `hash` 4lw), oldest first.
    pub fn digest_log(&self) -> Vec<ZxidDigest> {
        self.digest_log.iter().copied().collect()
    }

    /// Registers the `ZxidDigest` read from a snapshot named `snapshot_zxid`
    /// (`deserializeZxidDigest`): until a txn with that zxid is replayed the tree is considered
    /// fuzzy, no digests are logged or compared, and at that txn the digests are compared.
    pub fn set_snapshot_digest(&mut self, d: ZxidDigest, snapshot_zxid: i64) {
        self.snapshot_digest = if d.zxid > 0 && d.zxid >= snapshot_zxid {
            Some(d)
        } else {
            None
        };
    }

    /// The ACL cache as a snapshot writes it, sorted by index.
    pub fn acl_cache_entries(&self) -> Vec<(i64, Vec<Acl>)> {
        self.acls.entries()
    }

    /// Visits every node reachable from the root in pre-order, the root as `""` and children as
    /// `parent + "/" + name` (in [`DataTree::child_names`] order): the node section of a snapshot.
    pub fn for_each_node_preorder(&self, f: impl FnMut(&str, &DataNode)) {
        self.nodes.for_each_preorder(f);
    }

    /// Starts rebuilding a tree from a snapshot stream.
    pub fn begin_load() -> TreeLoader {
        TreeLoader::new()
    }

    /// Java's `setData` outside a txn, e.g. to install the quorum config in `/zookeeper/config`
    /// (version -1, zxid = config version). Watches are not triggered. Errors: NONODE.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, i32> {
        let mut triggers = Vec::new();
        self.set_data_node(path, data.as_deref(), version, zxid, time, &mut triggers)
    }

    // ---- internal mutation helpers keeping digest, size and indexes consistent ----

    fn node_size(key: &str, node: &DataNode) -> i64 {
        path::java_len(key) + i64::from(node.data_len())
    }

    fn node_digest(key: &str, node: &DataNode) -> i64 {
        digest::node_digest(key, node.data(), &node.stat)
    }

    /// Inserts a node under `key` (replacing the content of any node there), maintaining digest
    /// and size. False if the parent does not exist (nothing changes).
    fn insert_node(&mut self, key: &str, node: DataNode) -> bool {
        let digest = Self::node_digest(key, &node);
        let size = Self::node_size(key, &node);
        match self.nodes.insert(key, node) {
            Inserted::NoParent => return false,
            Inserted::New => {}
            Inserted::Replaced(old) => {
                self.digest = self.digest.wrapping_sub(Self::node_digest(key, &old));
                self.data_size -= Self::node_size(key, &old);
            }
        }
        self.digest = self.digest.wrapping_add(digest);
        self.data_size += size;
        true
    }

    /// Inserts the root of an empty tree (snapshot loads); false if there is one.
    fn insert_new_root(&mut self, node: DataNode) -> bool {
        if self.nodes.get("").is_some() {
            return false;
        }
        self.insert_node("", node)
    }

    /// Inserts a new node `key` = parent's path + `/` + `name` under the node `parent`
    /// (snapshot loads); its id, or `None`, changing nothing, if the name is taken.
    fn insert_new_child(
        &mut self,
        parent: store::NodeId,
        key: &str,
        name: &str,
        node: DataNode,
    ) -> Option<store::NodeId> {
        let digest = Self::node_digest(key, &node);
        let size = Self::node_size(key, &node);
        let id = self.nodes.insert_child(parent, name, node)?;
        self.digest = self.digest.wrapping_add(digest);
        self.data_size += size;
        Some(id)
    }

    /// Removes the node under `key` (and, for a corrupt log that deletes a node with children,
    /// its descendants, which leave the indexes too), maintaining digest and size.
    fn remove_node(&mut self, key: &str) -> Option<DataNode> {
        let mut removed = self.nodes.remove(key)?.into_iter();
        let (_, node) = removed.next()?;
        self.digest = self.digest.wrapping_sub(Self::node_digest(key, &node));
        self.data_size -= Self::node_size(key, &node);
        for (p, n) in removed {
            self.digest = self.digest.wrapping_sub(Self::node_digest(&p, &n));
            self.data_size -= Self::node_size(&p, &n);
            self.acls.remove_usage(n.acl);
            self.unindex_node(&p, n.stat.ephemeral_owner);
        }
        Some(node)
    }

    /// Changes a node in place with Java's `preChange` / `postChange` digest bookkeeping.
    fn change<R>(&mut self, key: &str, f: impl FnOnce(&mut DataNode) -> R) -> Option<R> {
        let node = self.nodes.get_mut(key)?;
        let before = Self::node_digest(key, node);
        let size_before = Self::node_size(key, node);
        let r = f(node);
        let after = Self::node_digest(key, node);
        let size_after = Self::node_size(key, node);
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        self.data_size += size_after - size_before;
        Some(r)
    }

    /// Adds a node path to the ephemeral / container / TTL index for its owner.
    fn index_node(&mut self, key: &str, owner: i64) {
        match EphemeralKind::of(owner, self.extended_types) {
            EphemeralKind::Void => {}
            EphemeralKind::Container => {
                self.containers.insert(key.into());
            }
            EphemeralKind::Ttl => {
                self.ttls.insert(key.into());
            }
            EphemeralKind::Normal => {
                self.ephemerals.entry(owner).or_default().insert(key.into());
            }
        }
    }

    /// Removes a node path from its owner's index (the session entry stays, as in Java).
    fn unindex_node(&mut self, key: &str, owner: i64) {
        match EphemeralKind::of(owner, self.extended_types) {
            EphemeralKind::Void => {}
            EphemeralKind::Container => {
                self.containers.remove(key);
            }
            EphemeralKind::Ttl => {
                self.ttls.remove(key);
            }
            EphemeralKind::Normal => {
                if let Some(set) = self.ephemerals.get_mut(&owner) {
                    set.remove(key);
                }
            }
        }
    }

    /// The shared ACL of a node for triggers (empty if the index is unknown).
    fn trigger_acl(&self, index: i64) -> Arc<Vec<Acl>> {
        self.acls.get(index).unwrap_or_default()
    }

    /// Records the digest after a whole txn (`logZxidDigest` / `compareSnapshotDigests`).
    /// Returns true on a mismatch with the snapshot's digest.
    fn after_txn_digest(&mut self, zxid: i64) -> bool {
        if let Some(snap) = self.snapshot_digest {
            if zxid == snap.zxid {
                self.snapshot_digest = None;
                return snap.version == digest::DIGEST_VERSION && snap.digest != self.digest;
            }
            return false;
        }
        let d = ZxidDigest {
            zxid,
            version: digest::DIGEST_VERSION,
            digest: self.digest,
        };
        self.last_zxid_digest = Some(d);
        if zxid % DIGEST_LOG_INTERVAL == 0 {
            self.digest_log.push_back(d);
            if self.digest_log.len() > DIGEST_LOG_LIMIT {
                self.digest_log.pop_front();
            }
        }
        false
    }
}

//! Java's `ReferenceCountedACLCache`: identical ACL lists are stored once under an index (1, 2, ...,
//! never reused), each node holds the index, and an entry disappears when its last user goes.
//! Index -1 is OPEN_ACL_UNSAFE and has no entry (only the fresh tree's built-in nodes use it: Java
//! stores an explicitly given `[ALL world:anyone]` under a real index like any other list).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use jute::data::Acl;

/// The index meaning OPEN_ACL_UNSAFE without a cache entry.
pub const OPEN_ACL_INDEX: i64 = -1;

#[derive(Debug, Clone)]
struct Entry {
    acl: Arc<Vec<Acl>>,
    refs: i64,
}

/// The deduplicating, reference-counted ACL table of one tree.
#[derive(Debug, Clone)]
pub(crate) struct AclCache {
    by_index: HashMap<i64, Entry>,
    /// Content hash -> indexes with that hash (collisions resolved by comparing lists).
    by_hash: HashMap<u64, Vec<i64>>,
    /// The last index handed out (`aclIndex`).
    last_index: i64,
    open: Arc<Vec<Acl>>,
}

/// Hash of an ACL list's content (jute's `Acl` has no `Hash` impl).
fn hash_acl(acl: &[Acl]) -> u64 {
    let mut h = DefaultHasher::new();
    acl.len().hash(&mut h);
    for a in acl {
        a.perms.hash(&mut h);
        a.id.scheme.hash(&mut h);
        a.id.id.hash(&mut h);
    }
    h.finish()
}

impl AclCache {
    pub(crate) fn new() -> AclCache {
        AclCache {
            by_index: HashMap::new(),
            by_hash: HashMap::new(),
            last_index: 0,
            open: Arc::new(Acl::open_unsafe()),
        }
    }

    /// The index currently mapped to this exact list, if any (`aclKeyMap.get`).
    fn find(&self, acl: &[Acl], hash: u64) -> Option<i64> {
        self.by_hash.get(&hash)?.iter().copied().find(|i| {
            self.by_index
                .get(i)
                .is_some_and(|e| e.acl.as_slice() == acl)
        })
    }

    /// Maps `list -> index`, replacing any other index mapped to an equal list (`aclKeyMap.put`).
    fn map_list(&mut self, hash: u64, index: i64) {
        let list = match self.by_index.get(&index) {
            Some(e) => e.acl.clone(),
            None => return,
        };
        let by_index = &self.by_index;
        let bucket = self.by_hash.entry(hash).or_default();
        bucket.retain(|i| *i != index && !by_index.get(i).is_some_and(|e| *e.acl == *list));
        bucket.push(index);
    }

    /// Removes the list mapping of an equal list, whichever index it points at (`aclKeyMap.remove`).
    fn unmap_list(&mut self, acl: &[Acl]) {
        let hash = hash_acl(acl);
        let by_index = &self.by_index;
        if let Some(bucket) = self.by_hash.get_mut(&hash) {
            bucket.retain(|i| !by_index.get(i).is_some_and(|e| e.acl.as_slice() == acl));
            if bucket.is_empty() {
                self.by_hash.remove(&hash);
            }
        }
    }

    /// `convertAcls`: the index of this list (creating it), with one more user.
    pub(crate) fn convert(&mut self, acl: &[Acl]) -> i64 {
        let hash = hash_acl(acl);
        let index = match self.find(acl, hash) {
            Some(i) => i,
            None => {
                self.last_index += 1;
                let i = self.last_index;
                self.by_index.insert(
                    i,
                    Entry {
                        acl: Arc::new(acl.to_vec()),
                        refs: 0,
                    },
                );
                self.map_list(hash, i);
                i
            }
        };
        self.add_usage(index);
        index
    }

    /// `convertLong`: the list behind an index (`None` for an unknown index, where Java throws).
    pub(crate) fn get(&self, index: i64) -> Option<Arc<Vec<Acl>>> {
        if index == OPEN_ACL_INDEX {
            return Some(self.open.clone());
        }
        self.by_index.get(&index).map(|e| e.acl.clone())
    }

    /// `addUsage`: one more node uses the index (unknown indexes and -1 are ignored).
    pub(crate) fn add_usage(&mut self, index: i64) {
        if let Some(e) = self.by_index.get_mut(&index) {
            e.refs += 1;
        }
    }

    /// `removeUsage`: one node fewer; the entry is dropped when no node uses it any more.
    pub(crate) fn remove_usage(&mut self, index: i64) {
        let Some(e) = self.by_index.get_mut(&index) else {
            return;
        };
        e.refs -= 1;
        if e.refs <= 0 {
            self.drop_entry(index);
        }
    }

    fn drop_entry(&mut self, index: i64) {
        if let Some(e) = self.by_index.get(&index) {
            let list = e.acl.clone();
            self.unmap_list(&list);
        }
        self.by_index.remove(&index);
    }

    /// Adds an entry read from a snapshot with no users yet (`deserialize`).
    pub(crate) fn load_entry(&mut self, index: i64, acl: Vec<Acl>) {
        if self.last_index < index {
            self.last_index = index;
        }
        let hash = hash_acl(&acl);
        self.by_index.insert(
            index,
            Entry {
                acl: Arc::new(acl),
                refs: 0,
            },
        );
        self.map_list(hash, index);
    }

    /// `purgeUnused`: drops entries no node refers to (after loading a snapshot).
    pub(crate) fn purge_unused(&mut self) {
        let unused: Vec<i64> = self
            .by_index
            .iter()
            .filter(|(_, e)| e.refs <= 0)
            .map(|(i, _)| *i)
            .collect();
        for i in unused {
            self.drop_entry(i);
        }
    }

    /// Every entry, sorted by index (what a snapshot writes).
    pub(crate) fn entries(&self) -> Vec<(i64, Vec<Acl>)> {
        let mut v: Vec<(i64, Vec<Acl>)> = self
            .by_index
            .iter()
            .map(|(i, e)| (*i, e.acl.as_ref().clone()))
            .collect();
        v.sort_by_key(|(i, _)| *i);
        v
    }

    /// Number of entries (`aclCacheSize`).
    pub(crate) fn len(&self) -> usize {
        self.by_index.len()
    }

    #[cfg(test)]
    pub(crate) fn refs(&self, index: i64) -> Option<i64> {
        self.by_index.get(&index).map(|e| e.refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::consts::perms;

    #[test]
    fn dedupe_refcount_and_drop() {
        let mut c = AclCache::new();
        let open = Acl::open_unsafe();
        let read = Acl::read_unsafe();
        assert_eq!(c.convert(&read), 1);
        assert_eq!(c.convert(&open), 2);
        assert_eq!(c.convert(&open), 2);
        assert_eq!(c.refs(2), Some(2));
        c.remove_usage(2);
        assert_eq!(c.refs(2), Some(1));
        c.remove_usage(2);
        assert_eq!(c.refs(2), None);
        // Indexes are never reused.
        assert_eq!(c.convert(&open), 3);
        assert_eq!(c.get(-1).map(|a| a.as_ref().clone()), Some(open.clone()));
        assert_eq!(c.get(1).map(|a| a.as_ref().clone()), Some(read));
        assert!(c.get(2).is_none());
        c.remove_usage(-1);
        c.add_usage(99);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn load_and_purge() {
        let mut c = AclCache::new();
        c.load_entry(5, vec![Acl::new(perms::READ, "digest", "u:x")]);
        c.load_entry(7, Acl::open_unsafe());
        c.add_usage(7);
        c.purge_unused();
        assert_eq!(c.entries().len(), 1);
        assert_eq!(c.entries()[0].0, 7);
        // The next new list gets an index above the largest loaded one.
        assert_eq!(c.convert(&[Acl::new(perms::ALL, "ip", "1.2.3.4")]), 8);
        assert_eq!(c.convert(&Acl::open_unsafe()), 7);
    }
}

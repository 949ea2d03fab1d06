//! One znode ([`DataNode`]), its compact child-name set, and the classification of
//! `ephemeralOwner` values (Java's `EphemeralType`).

use std::collections::BTreeSet;

use bytes::Bytes;
use compact_str::CompactString;
use jute::consts::ephemeral_owner;
use jute::data::{Stat, StatPersisted};

/// Child sets up to this size are a sorted vector; larger ones a B-tree.
const SMALL_CHILDREN: usize = 32;

/// The names of a node's children, sorted by bytes. Leaves (most nodes) cost one pointer; names
/// up to 24 bytes (nearly all) are stored inline, without an allocation of their own.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChildSet(Option<Box<ChildInner>>);

#[derive(Debug, Clone)]
enum ChildInner {
    Small(Vec<CompactString>),
    Large(BTreeSet<CompactString>),
}

impl ChildSet {
    /// Adds a name; false if it was already present (Java's `HashSet.add`).
    pub(crate) fn insert(&mut self, name: &str) -> bool {
        let inner = self
            .0
            .get_or_insert_with(|| Box::new(ChildInner::Small(Vec::new())));
        match inner.as_mut() {
            ChildInner::Small(v) => match v.binary_search_by(|c| c.as_str().cmp(name)) {
                Ok(_) => false,
                Err(pos) => {
                    v.insert(pos, CompactString::new(name));
                    if v.len() > SMALL_CHILDREN {
                        let set: BTreeSet<CompactString> = std::mem::take(v).into_iter().collect();
                        **inner = ChildInner::Large(set);
                    }
                    true
                }
            },
            ChildInner::Large(s) => s.insert(CompactString::new(name)),
        }
    }

    /// Removes a name; false if it was absent.
    pub(crate) fn remove(&mut self, name: &str) -> bool {
        let Some(inner) = self.0.as_mut() else {
            return false;
        };
        let removed = match inner.as_mut() {
            ChildInner::Small(v) => match v.binary_search_by(|c| c.as_str().cmp(name)) {
                Ok(pos) => {
                    v.remove(pos);
                    true
                }
                Err(_) => false,
            },
            ChildInner::Large(s) => s.remove(name),
        };
        if self.len() == 0 {
            self.0 = None;
        }
        removed
    }

    /// Number of children.
    pub(crate) fn len(&self) -> usize {
        match self.0.as_deref() {
            None => 0,
            Some(ChildInner::Small(v)) => v.len(),
            Some(ChildInner::Large(s)) => s.len(),
        }
    }

    /// The names in byte order.
    pub(crate) fn iter(&self) -> ChildIter<'_> {
        match self.0.as_deref() {
            None => ChildIter::Small([].iter()),
            Some(ChildInner::Small(v)) => ChildIter::Small(v.iter()),
            Some(ChildInner::Large(s)) => ChildIter::Large(s.iter()),
        }
    }
}

/// Iterator over child names (see [`DataNode::children`]).
pub(crate) enum ChildIter<'a> {
    Small(std::slice::Iter<'a, CompactString>),
    Large(std::collections::btree_set::Iter<'a, CompactString>),
}

impl<'a> Iterator for ChildIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            ChildIter::Small(i) => i.next().map(CompactString::as_str),
            ChildIter::Large(i) => i.next().map(CompactString::as_str),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            ChildIter::Small(i) => i.size_hint(),
            ChildIter::Large(i) => i.size_hint(),
        }
    }
}

/// One znode as stored: data, ACL cache index and persisted stat. Children are private so the
/// tree keeps its indexes and digest consistent; the full path lives only in the tree's map key.
#[derive(Debug, Clone)]
pub struct DataNode {
    /// The node's data; `None` is Java's null (written as length -1 in snapshots).
    pub data: Option<Bytes>,
    /// Index into the tree's ACL cache; -1 means OPEN_ACL_UNSAFE without a cache entry.
    pub acl: i64,
    /// The stat as persisted in snapshots (the client stat is derived by [`DataNode::to_stat`]).
    pub stat: StatPersisted,
    pub(crate) children: ChildSet,
}

impl DataNode {
    pub(crate) fn new(data: Option<Bytes>, acl: i64, stat: StatPersisted) -> DataNode {
        DataNode {
            data,
            acl,
            stat,
            children: ChildSet::default(),
        }
    }

    /// Child names (last path component), in byte order. Java returns HashSet order, which
    /// clients must not rely on.
    pub fn children(&self) -> impl Iterator<Item = &str> {
        self.children.iter()
    }

    /// Number of children, as `Stat.numChildren`.
    pub fn num_children(&self) -> i32 {
        i32::try_from(self.children.len()).unwrap_or(i32::MAX)
    }

    /// Data length as `Stat.dataLength` (0 for null data).
    pub fn data_len(&self) -> i32 {
        self.data
            .as_ref()
            .map_or(0, |d| i32::try_from(d.len()).unwrap_or(i32::MAX))
    }

    /// The client-visible stat, as Java's `DataNode.copyStat`: cversion is reported as
    /// `2 * cversion - numChildren`, and containers / TTL nodes report ephemeralOwner 0.
    /// TTL-shaped owners are treated as TTL nodes; [`crate::data_tree::DataTree::stat`] applies the
    /// tree's exact `extendedTypesEnabled` rule instead.
    pub fn to_stat(&self) -> Stat {
        self.to_stat_with(true)
    }

    pub(crate) fn to_stat_with(&self, extended_types: bool) -> Stat {
        let num_children = self.num_children();
        let owner = match EphemeralKind::of(self.stat.ephemeral_owner, extended_types) {
            EphemeralKind::Normal => self.stat.ephemeral_owner,
            _ => 0,
        };
        Stat {
            czxid: self.stat.czxid,
            mzxid: self.stat.mzxid,
            ctime: self.stat.ctime,
            mtime: self.stat.mtime,
            version: self.stat.version,
            cversion: self
                .stat
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(num_children),
            aversion: self.stat.aversion,
            ephemeral_owner: owner,
            data_length: self.data_len(),
            num_children,
            pzxid: self.stat.pzxid,
        }
    }
}

/// What an `ephemeralOwner` value means (Java's `EphemeralType.get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EphemeralKind {
    /// 0: a persistent node.
    Void,
    /// A session id: an ephemeral node.
    Normal,
    /// `Long.MIN_VALUE`.
    Container,
    /// `0xFF00..|ttl` (only when extended types are enabled).
    Ttl,
}

/// Bits 40..56 of an extended owner: the feature; 0 = TTL.
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;

impl EphemeralKind {
    /// Classifies an owner. With extended types on, an owner with the high byte 0xFF and nonzero
    /// reserved bits makes Java throw; it is treated as an ordinary session here.
    pub(crate) fn of(owner: i64, extended_types: bool) -> EphemeralKind {
        if extended_types
            && owner & ephemeral_owner::TTL_MASK == ephemeral_owner::TTL_MASK
            && owner & RESERVED_BITS_MASK == 0
        {
            return EphemeralKind::Ttl;
        }
        if owner == ephemeral_owner::CONTAINER {
            EphemeralKind::Container
        } else if owner == 0 {
            EphemeralKind::Void
        } else {
            EphemeralKind::Normal
        }
    }
}

/// `EphemeralType.TTL.toEphemeralOwner`: `None` when the TTL is out of range (Java throws).
pub(crate) fn ttl_owner(ttl: i64) -> Option<i64> {
    if ttl <= 0 || ttl > ephemeral_owner::MAX_TTL {
        None
    } else {
        Some(ephemeral_owner::TTL_MASK | ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_set_small_and_large() {
        let mut c = ChildSet::default();
        assert_eq!(c.len(), 0);
        assert!(c.insert("b"));
        assert!(c.insert("a"));
        assert!(!c.insert("a"));
        assert_eq!(c.iter().collect::<Vec<_>>(), vec!["a", "b"]);
        for i in 0..100 {
            c.insert(&format!("n{i:03}"));
        }
        assert_eq!(c.len(), 102);
        assert!(c.remove("a"));
        assert!(!c.remove("a"));
        assert_eq!(c.iter().next(), Some("b"));
        for i in 0..100 {
            assert!(c.remove(&format!("n{i:03}")));
        }
        assert!(c.remove("b"));
        assert_eq!(c.len(), 0);
        assert!(c.0.is_none());
    }

    #[test]
    fn ephemeral_kinds() {
        use ephemeral_owner::*;
        assert_eq!(EphemeralKind::of(0, false), EphemeralKind::Void);
        assert_eq!(EphemeralKind::of(5, false), EphemeralKind::Normal);
        assert_eq!(
            EphemeralKind::of(CONTAINER, false),
            EphemeralKind::Container
        );
        assert_eq!(EphemeralKind::of(CONTAINER, true), EphemeralKind::Container);
        assert_eq!(EphemeralKind::of(TTL_MASK | 100, true), EphemeralKind::Ttl);
        assert_eq!(
            EphemeralKind::of(TTL_MASK | 100, false),
            EphemeralKind::Normal
        );
        assert_eq!(ttl_owner(100), Some(TTL_MASK | 100));
        assert_eq!(ttl_owner(0), None);
        assert_eq!(ttl_owner(MAX_TTL + 1), None);
    }

    #[test]
    fn client_stat_rules() {
        let mut n = DataNode::new(
            None,
            -1,
            StatPersisted {
                cversion: 3,
                ..Default::default()
            },
        );
        n.children.insert("x");
        let s = n.to_stat();
        assert_eq!((s.cversion, s.num_children, s.data_length), (5, 1, 0));
        n.stat.ephemeral_owner = ephemeral_owner::CONTAINER;
        assert_eq!(n.to_stat().ephemeral_owner, 0);
        n.stat.ephemeral_owner = 0x1234;
        assert_eq!(n.to_stat().ephemeral_owner, 0x1234);
    }
}

//! One znode ([`DataNode`]) and the classification of `ephemeralOwner` values (Java's
//! `EphemeralType`). Where nodes live and how children are indexed: [`super::store`].

use jute::consts::ephemeral_owner;
use jute::data::{Stat, StatPersisted};

use super::store::{ChildSet, NodeId};

/// One znode as stored: its name and data in one allocation, ACL cache index, persisted stat,
/// and its links in the store (parent id, child index). The full path is never stored; the
/// store resolves paths by walking names from the root.
#[derive(Debug, Clone)]
pub struct DataNode {
    /// The last path component followed by the data (`""` for the root).
    blob: Box<[u8]>,
    name_len: u32,
    /// False for Java's null data (written as length -1 in snapshots).
    has_data: bool,
    pub(crate) parent: NodeId,
    /// Index into the tree's ACL cache; -1 means OPEN_ACL_UNSAFE without a cache entry.
    pub acl: i64,
    /// The stat as persisted in snapshots (the client stat is derived by [`DataNode::to_stat`]).
    pub stat: StatPersisted,
    pub(crate) children: ChildSet,
}

impl DataNode {
    /// A node not yet placed in a store (no name).
    pub(crate) fn new(data: Option<&[u8]>, acl: i64, stat: StatPersisted) -> DataNode {
        DataNode {
            blob: data.unwrap_or_default().into(),
            name_len: 0,
            has_data: data.is_some(),
            parent: 0,
            acl,
            stat,
            children: ChildSet::default(),
        }
    }

    /// A freed slab slot.
    pub(crate) fn vacant() -> DataNode {
        DataNode::new(None, -1, StatPersisted::default())
    }

    /// Gives a new node its name and parent as the store places it.
    pub(crate) fn attach(&mut self, name: &[u8], parent: NodeId) {
        self.blob = blob(name, self.data_bytes());
        self.name_len = u32::try_from(name.len()).unwrap_or(u32::MAX);
        self.parent = parent;
    }

    /// Takes the data, ACL and stat of `other` (a node re-created in place), returning the
    /// old content as a node; name, parent and children stay.
    pub(crate) fn replace_content(&mut self, mut other: DataNode) -> DataNode {
        let name = self.name_bytes().to_vec();
        other.attach(&name, self.parent);
        other.children = std::mem::take(&mut self.children);
        std::mem::swap(self, &mut other);
        other.children = ChildSet::default();
        other
    }

    pub(crate) fn name_bytes(&self) -> &[u8] {
        &self.blob[..self.name_len as usize]
    }

    /// The node's name (last path component).
    pub(crate) fn name(&self) -> &str {
        // The name bytes are always copied from a `&str` (see `attach`); a failure here would be
        // a bug, answered with an empty name rather than a panic.
        std::str::from_utf8(self.name_bytes()).unwrap_or("")
    }

    fn data_bytes(&self) -> &[u8] {
        &self.blob[self.name_len as usize..]
    }

    /// The node's data; `None` is Java's null.
    pub fn data(&self) -> Option<&[u8]> {
        self.has_data.then(|| self.data_bytes())
    }

    /// Replaces the data (setData).
    pub fn set_data(&mut self, data: Option<&[u8]>) {
        self.blob = blob(self.name_bytes(), data.unwrap_or_default());
        self.has_data = data.is_some();
    }

    /// Number of children.
    pub fn children_count(&self) -> usize {
        self.children.len()
    }

    /// Number of children, as `Stat.numChildren`.
    pub fn num_children(&self) -> i32 {
        i32::try_from(self.children.len()).unwrap_or(i32::MAX)
    }

    /// Data length as `Stat.dataLength` (0 for null data).
    pub fn data_len(&self) -> i32 {
        i32::try_from(self.blob.len() - self.name_len as usize).unwrap_or(i32::MAX)
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

/// A node's one allocation: its name followed by its data.
fn blob(name: &[u8], data: &[u8]) -> Box<[u8]> {
    let mut b = Vec::with_capacity(name.len() + data.len());
    b.extend_from_slice(name);
    b.extend_from_slice(data);
    b.into_boxed_slice()
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
    fn name_and_data_share_one_allocation() {
        let mut n = DataNode::new(Some(b"data"), -1, StatPersisted::default());
        assert_eq!(
            (n.name(), n.data(), n.data_len()),
            ("", Some(&b"data"[..]), 4)
        );
        n.attach(b"child", 7);
        assert_eq!(
            (n.name(), n.data(), n.parent),
            ("child", Some(&b"data"[..]), 7)
        );
        n.set_data(None);
        assert_eq!((n.name(), n.data(), n.data_len()), ("child", None, 0));
        n.set_data(Some(b""));
        assert_eq!((n.data(), n.data_len()), (Some(&b""[..]), 0));
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
        let s = n.to_stat();
        assert_eq!((s.cversion, s.num_children, s.data_length), (6, 0, 0));
        n.stat.ephemeral_owner = ephemeral_owner::CONTAINER;
        assert_eq!(n.to_stat().ephemeral_owner, 0);
        n.stat.ephemeral_owner = 0x1234;
        assert_eq!(n.to_stat().ephemeral_owner, 0x1234);
    }
}

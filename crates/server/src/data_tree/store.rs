//! Where the znodes live: one slab of [`DataNode`]s addressed by 32-bit ids, each node linked to
//! its parent and indexing its children by name. A path is resolved by walking its components
//! from the root, so no node stores its full path and there is no global path table: a znode
//! costs its slab slot, one allocation holding its name and data, and a 4-byte entry (6 in a
//! small index, with its tag) in its parent's child index — a fraction of Java's per-node footprint (RSS at 1M znodes).

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::node::DataNode;

/// A node's slot in the slab.
pub(crate) type NodeId = u32;

/// The root's id (the first node ever inserted).
const ROOT: NodeId = 0;
/// Slots per slab chunk: the slab grows a chunk at a time, never reallocating (or doubling) what
/// it holds.
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
/// Child indexes up to this size are a vector sorted by name (getChildren returns them sorted),
/// with a 16-bit hash tag per child so a lookup scans the tags instead of comparing names in
/// other nodes' slots; larger ones a hash table (returned in table order, as Java's `HashSet`).
const SMALL_CHILDREN: usize = 256;

/// A node's children, by id. Leaves (most nodes) cost one pointer.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChildSet(Option<Box<ChildInner>>);

#[derive(Debug, Clone)]
enum ChildInner {
    /// Ids sorted by name; `tags[i]` is the name tag of `ids[i]`.
    Small {
        ids: Vec<NodeId>,
        tags: Vec<u16>,
    },
    Large(HashTable<NodeId>),
}

impl ChildSet {
    /// Number of children.
    pub(crate) fn len(&self) -> usize {
        match self.0.as_deref() {
            None => 0,
            Some(ChildInner::Small { ids, .. }) => ids.len(),
            Some(ChildInner::Large(t)) => t.len(),
        }
    }

    fn ids(&self) -> ChildIds<'_> {
        match self.0.as_deref() {
            None => ChildIds::Small([].iter()),
            Some(ChildInner::Small { ids, .. }) => ChildIds::Small(ids.iter()),
            Some(ChildInner::Large(t)) => ChildIds::Large(t.iter()),
        }
    }
}

/// Iterator over a child set's ids.
enum ChildIds<'a> {
    Small(std::slice::Iter<'a, NodeId>),
    Large(hashbrown::hash_table::Iter<'a, NodeId>),
}

impl Iterator for ChildIds<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        match self {
            ChildIds::Small(i) => i.next().copied(),
            ChildIds::Large(i) => i.next().copied(),
        }
    }
}

/// What [`NodeStore::insert`] did.
pub(crate) enum Inserted {
    /// A new node.
    New,
    /// The node existed: its data, ACL and stat were replaced (children kept); the old content.
    Replaced(DataNode),
    /// The parent does not exist; nothing changed.
    NoParent,
}

/// The slab and its free list.
#[derive(Clone)]
pub(crate) struct NodeStore {
    chunks: Vec<Vec<DataNode>>,
    free: Vec<NodeId>,
    live: usize,
    has_root: bool,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for NodeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeStore")
            .field("live", &self.live)
            .field("free", &self.free.len())
            .finish()
    }
}

impl NodeStore {
    pub(crate) fn new() -> NodeStore {
        NodeStore {
            chunks: Vec::new(),
            free: Vec::new(),
            live: 0,
            has_root: false,
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// Number of live nodes, the root included.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    fn slot(&self, id: NodeId) -> &DataNode {
        &self.chunks[(id >> CHUNK_BITS) as usize][id as usize & (CHUNK - 1)]
    }

    fn slot_mut(&mut self, id: NodeId) -> &mut DataNode {
        &mut self.chunks[(id >> CHUNK_BITS) as usize][id as usize & (CHUNK - 1)]
    }

    fn has_root(&self) -> bool {
        self.has_root
    }

    fn hash(&self, name: &[u8]) -> u64 {
        self.hasher.hash_one(name)
    }

    /// A small child index's tag for `name`.
    fn tag(&self, name: &[u8]) -> u16 {
        (self.hash(name) >> 48) as u16
    }

    /// The child of `parent` called `name`.
    fn find_child(&self, parent: &DataNode, name: &[u8]) -> Option<NodeId> {
        match parent.children.0.as_deref()? {
            ChildInner::Small { ids, tags } => {
                let tag = self.tag(name);
                tags.iter()
                    .zip(ids)
                    .filter(|(&t, _)| t == tag)
                    .map(|(_, &c)| c)
                    .find(|&c| self.slot(c).name_bytes() == name)
            }
            ChildInner::Large(t) => t
                .find(self.hash(name), |&c| self.slot(c).name_bytes() == name)
                .copied(),
        }
    }

    /// The id of the node with map key `key` (`""` is the root, otherwise `/a/b`).
    pub(crate) fn id_of(&self, key: &str) -> Option<NodeId> {
        if !self.has_root() {
            return None;
        }
        if key.is_empty() {
            return Some(ROOT);
        }
        let rest = key.strip_prefix('/')?;
        let mut id = ROOT;
        for name in rest.split('/') {
            id = self.find_child(self.slot(id), name.as_bytes())?;
        }
        Some(id)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&DataNode> {
        self.id_of(key).map(|id| self.slot(id))
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut DataNode> {
        self.id_of(key).map(|id| self.slot_mut(id))
    }

    /// Names of a node's children: sorted for up to 256 children, table order beyond.
    pub(crate) fn child_names<'a>(&'a self, node: &'a DataNode) -> impl Iterator<Item = &'a str> {
        node.children.ids().map(|c| self.slot(c).name())
    }

    /// A node's children.
    pub(crate) fn children_of<'a>(
        &'a self,
        node: &'a DataNode,
    ) -> impl Iterator<Item = &'a DataNode> {
        node.children.ids().map(|c| self.slot(c))
    }

    /// Inserts `node` at `key`, linking it into its parent; an existing node keeps its place and
    /// children and gets the new content.
    pub(crate) fn insert(&mut self, key: &str, mut node: DataNode) -> Inserted {
        if key.is_empty() {
            if self.has_root() {
                let root = self.slot_mut(ROOT);
                return Inserted::Replaced(root.replace_content(node));
            }
            // Nothing can be inserted before the root, so it always gets id 0.
            node.attach(b"", ROOT);
            let id = self.alloc(node);
            debug_assert_eq!(id, ROOT);
            self.has_root = true;
            return Inserted::New;
        }
        let Some((parent_key, name)) = key.rsplit_once('/') else {
            return Inserted::NoParent;
        };
        let Some(parent) = self.id_of(parent_key) else {
            return Inserted::NoParent;
        };
        if let Some(existing) = self.find_child(self.slot(parent), name.as_bytes()) {
            return Inserted::Replaced(self.slot_mut(existing).replace_content(node));
        }
        self.insert_child(parent, name, node);
        Inserted::New
    }

    /// Inserts a new node named `name` under the node `parent` (snapshot loads, which resolve
    /// each parent once for all its children); `None`, changing nothing, if the name is taken.
    pub(crate) fn insert_child(
        &mut self,
        parent: NodeId,
        name: &str,
        mut node: DataNode,
    ) -> Option<NodeId> {
        if self
            .find_child(self.slot(parent), name.as_bytes())
            .is_some()
        {
            return None;
        }
        node.attach(name.as_bytes(), parent);
        let id = self.alloc(node);
        self.link(parent, id);
        Some(id)
    }

    fn alloc(&mut self, node: DataNode) -> NodeId {
        self.live += 1;
        if let Some(id) = self.free.pop() {
            *self.slot_mut(id) = node;
            return id;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let chunk = self.chunks.len() - 1;
        let last = &mut self.chunks[chunk];
        last.push(node);
        ((chunk << CHUNK_BITS) | (last.len() - 1)) as NodeId
    }

    /// Adds `child` (already named) to `parent`'s index.
    fn link(&mut self, parent: NodeId, child: NodeId) {
        let mut set = std::mem::take(&mut self.slot_mut(parent).children);
        let inner = set.0.get_or_insert_with(|| {
            Box::new(ChildInner::Small {
                ids: Vec::new(),
                tags: Vec::new(),
            })
        });
        let name = self.slot(child).name_bytes();
        match inner.as_mut() {
            ChildInner::Small { ids, tags } => {
                // Snapshots written by ferrokeeper list children in name order: append.
                let after_last = ids.last().is_none_or(|&c| self.slot(c).name_bytes() < name);
                let pos = if after_last {
                    ids.len()
                } else {
                    ids.binary_search_by(|&c| self.slot(c).name_bytes().cmp(name))
                        .unwrap_or_else(|p| p)
                };
                ids.insert(pos, child);
                tags.insert(pos, self.tag(name));
                if ids.len() > SMALL_CHILDREN {
                    let mut t = HashTable::with_capacity(ids.len() * 2);
                    for &c in ids.iter() {
                        let h = self.hash(self.slot(c).name_bytes());
                        t.insert_unique(h, c, |&x| self.hash(self.slot(x).name_bytes()));
                    }
                    **inner = ChildInner::Large(t);
                }
            }
            ChildInner::Large(t) => {
                t.insert_unique(self.hash(name), child, |&x| {
                    self.hash(self.slot(x).name_bytes())
                });
            }
        }
        self.slot_mut(parent).children = set;
    }

    /// Removes `child` from `parent`'s index.
    fn unlink(&mut self, parent: NodeId, child: NodeId) {
        let mut set = std::mem::take(&mut self.slot_mut(parent).children);
        if let Some(inner) = set.0.as_mut() {
            let name = self.slot(child).name_bytes();
            match inner.as_mut() {
                ChildInner::Small { ids, tags } => {
                    if let Some(pos) = ids.iter().position(|&c| c == child) {
                        ids.remove(pos);
                        tags.remove(pos);
                    }
                }
                ChildInner::Large(t) => {
                    if let Ok(e) = t.find_entry(self.hash(name), |&c| c == child) {
                        e.remove();
                    }
                    if t.len() <= SMALL_CHILDREN / 2 {
                        let mut ids: Vec<NodeId> = t.iter().copied().collect();
                        ids.sort_by(|&a, &b| {
                            self.slot(a).name_bytes().cmp(self.slot(b).name_bytes())
                        });
                        let tags = ids
                            .iter()
                            .map(|&c| self.tag(self.slot(c).name_bytes()))
                            .collect();
                        **inner = ChildInner::Small { ids, tags };
                    }
                }
            }
            if set.len() == 0 {
                set.0 = None;
            }
        }
        self.slot_mut(parent).children = set;
    }

    /// Removes the node at `key` and everything below it (a delete txn only ever names a
    /// childless node; a node with children can only come from a corrupt log). Returns the
    /// removed nodes with their paths, the named node first.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Vec<(String, DataNode)>> {
        if key.is_empty() {
            return None;
        }
        let id = self.id_of(key)?;
        let parent = self.slot(id).parent;
        self.unlink(parent, id);
        let mut out = Vec::new();
        let mut stack = vec![(key.to_string(), id)];
        while let Some((path, id)) = stack.pop() {
            let node = std::mem::replace(self.slot_mut(id), DataNode::vacant());
            for c in node.children.ids() {
                stack.push((format!("{path}/{}", self.slot(c).name()), c));
            }
            self.free.push(id);
            self.live -= 1;
            out.push((path, node));
        }
        for (_, n) in out.iter_mut() {
            n.children = ChildSet::default();
        }
        Some(out)
    }

    /// Visits every node in pre-order (parents first): the root as `""`, children as
    /// `parent + "/" + name`.
    pub(crate) fn for_each_preorder(&self, mut f: impl FnMut(&str, &DataNode)) {
        if !self.has_root() {
            return;
        }
        let root = self.slot(ROOT);
        f("", root);
        let mut path = String::new();
        let mut stack = vec![(0usize, root.children.ids())];
        loop {
            let next = match stack.last_mut() {
                None => break,
                Some((base, it)) => it.next().map(|c| (*base, c)),
            };
            match next {
                None => {
                    stack.pop();
                }
                Some((base, c)) => {
                    let n = self.slot(c);
                    path.truncate(base);
                    path.push('/');
                    path.push_str(n.name());
                    f(&path, n);
                    stack.push((path.len(), n.children.ids()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::data::StatPersisted;

    fn node(data: &[u8]) -> DataNode {
        DataNode::new(Some(data), -1, StatPersisted::default())
    }

    fn names(s: &NodeStore, key: &str) -> Vec<String> {
        let n = s.get(key).expect("node");
        s.child_names(n).map(str::to_string).collect()
    }

    #[test]
    fn insert_lookup_replace_remove() {
        let mut s = NodeStore::new();
        assert!(s.get("").is_none());
        assert!(matches!(s.insert("/a", node(b"x")), Inserted::NoParent));
        assert!(matches!(s.insert("", node(b"")), Inserted::New));
        assert!(matches!(s.insert("/a", node(b"x")), Inserted::New));
        assert!(matches!(s.insert("/a/b", node(b"y")), Inserted::New));
        assert!(matches!(s.insert("/c/d", node(b"y")), Inserted::NoParent));
        assert_eq!(s.get("/a/b").and_then(DataNode::data), Some(&b"y"[..]));
        assert!(s.get("/a/").is_none() && s.get("a").is_none() && s.get("/a//b").is_none());
        match s.insert("/a", node(b"z")) {
            Inserted::Replaced(old) => assert_eq!(old.data(), Some(&b"x"[..])),
            _ => panic!("not replaced"),
        }
        assert_eq!(names(&s, "/a"), vec!["b"]);
        assert_eq!(s.len(), 3);
        let removed = s.remove("/a").expect("removed");
        let paths: Vec<&str> = removed.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, vec!["/a", "/a/b"]);
        assert_eq!(s.len(), 1);
        assert!(s.get("/a").is_none() && s.get("/a/b").is_none());
        assert_eq!(names(&s, ""), Vec::<String>::new());
        // Freed slots are reused.
        assert!(matches!(s.insert("/e", node(b"")), Inserted::New));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn small_sets_sorted_large_sets_hashed_and_back() {
        let mut s = NodeStore::new();
        s.insert("", node(b""));
        s.insert("/p", node(b""));
        for i in (0..600).rev() {
            assert!(matches!(
                s.insert(&format!("/p/n{i:04}"), node(b"d")),
                Inserted::New
            ));
        }
        assert_eq!(s.get("/p").map(|n| n.children.len()), Some(600));
        for i in 0..600 {
            assert!(s.get(&format!("/p/n{i:04}")).is_some(), "n{i:04}");
        }
        let mut all = names(&s, "/p");
        all.sort();
        assert_eq!(all.len(), 600);
        assert_eq!(all[0], "n0000");
        for i in 0..550 {
            assert!(s.remove(&format!("/p/n{i:04}")).is_some());
        }
        assert_eq!(
            names(&s, "/p"),
            (550..600).map(|i| format!("n{i:04}")).collect::<Vec<_>>()
        );
        let mut seen = Vec::new();
        s.for_each_preorder(|p, _| seen.push(p.to_string()));
        assert_eq!(seen.len(), 52);
        assert_eq!(&seen[..3], &["", "/p", "/p/n0550"]);
    }
}

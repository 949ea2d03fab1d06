//! Rebuilding a tree from a snapshot stream (Java's `DataTree.deserialize`), decoupled from the
//! file format: the storage crate feeds the ACL cache entries, then the nodes in pre-order.

use bytes::Bytes;
use jute::data::{Acl, StatPersisted};

use super::node::DataNode;
use super::{path, DataTree};

/// Why a snapshot's node section cannot form a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// A node came before its parent (Java: "Invalid Datatree, unable to find parent").
    #[error("invalid data tree: unable to find parent {parent} of path {path}")]
    MissingParent {
        /// The node's path.
        path: String,
        /// The parent that was not loaded yet.
        parent: String,
    },
    /// The stream had no root node `""`.
    #[error("invalid data tree: no root node")]
    MissingRoot,
    /// A path that is neither the root nor contains a `/`.
    #[error("invalid data tree: bad path {0:?}")]
    BadPath(String),
    /// The same path appeared twice.
    #[error("invalid data tree: duplicate path {0:?}")]
    DuplicatePath(String),
}

/// Accumulates a snapshot's ACL cache and nodes; [`TreeLoader::finish`] yields the tree with its
/// child sets, ephemeral / container / TTL indexes, ACL reference counts and digest rebuilt.
#[derive(Debug)]
pub struct TreeLoader {
    tree: DataTree,
    /// The last parent resolved (path, id): in pre-order, siblings arrive together, so each
    /// parent's path is walked once for all its children.
    parent: Option<(String, super::store::NodeId)>,
}

impl Default for TreeLoader {
    fn default() -> Self {
        TreeLoader::new()
    }
}

impl TreeLoader {
    /// An empty loader (extended types off, as Java's default).
    pub fn new() -> TreeLoader {
        TreeLoader {
            tree: DataTree::empty(),
            parent: None,
        }
    }

    /// Sets `zookeeper.extendedTypesEnabled` for classifying owners; call before `add_node`.
    pub fn set_extended_types(&mut self, enabled: bool) {
        self.tree.extended_types = enabled;
    }

    /// One ACL cache entry (any order; entries no node uses are dropped by `finish`).
    pub fn add_acl(&mut self, index: i64, acl: Vec<Acl>) {
        self.tree.acls.load_entry(index, acl);
    }

    /// One node, in pre-order: the root as `""` first, every other node after its parent.
    /// The data is copied into the node's own allocation.
    pub fn add_node(
        &mut self,
        node_path: &str,
        data: Option<Bytes>,
        acl: i64,
        stat: StatPersisted,
    ) -> Result<(), LoadError> {
        let data = data.as_deref();
        let owner = stat.ephemeral_owner;
        if node_path.is_empty() {
            if !self.tree.insert_new_root(DataNode::new(data, acl, stat)) {
                return Err(LoadError::DuplicatePath(String::new()));
            }
            self.tree.acls.add_usage(acl);
            return Ok(());
        }
        let Some((parent, child)) = path::split(node_path) else {
            return Err(LoadError::BadPath(node_path.to_string()));
        };
        if node_path == "/" {
            return Err(LoadError::BadPath(node_path.to_string()));
        }
        let parent_id = match &self.parent {
            Some((p, id)) if p == parent => *id,
            _ => {
                let Some(id) = self.tree.nodes.id_of(parent) else {
                    return Err(LoadError::MissingParent {
                        path: node_path.to_string(),
                        parent: parent.to_string(),
                    });
                };
                self.parent = Some((parent.to_string(), id));
                id
            }
        };
        let node = DataNode::new(data, acl, stat);
        if self
            .tree
            .insert_new_child(parent_id, node_path, child, node)
            .is_none()
        {
            return Err(LoadError::DuplicatePath(node_path.to_string()));
        }
        self.tree.acls.add_usage(acl);
        self.tree.index_node(node_path, owner);
        Ok(())
    }

    /// Finishes the load: quota roots are registered and their stats nodes recounted
    /// (`setupQuota`), then unused ACL entries are purged (`purgeUnused`).
    pub fn finish(mut self) -> Result<DataTree, LoadError> {
        if self.tree.nodes.get("").is_none() {
            return Err(LoadError::MissingRoot);
        }
        self.tree.setup_quota();
        self.tree.acls.purge_unused();
        Ok(self.tree)
    }
}

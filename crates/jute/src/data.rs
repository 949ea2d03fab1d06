//! `org.apache.zookeeper.data` records shared by every protocol.

use crate::jute_record;

jute_record! {
    /// An identity: a scheme (`world`, `digest`, `ip`, `auth`, `super`, ...) and an id within it.
    pub struct Id { pub scheme: String, pub id: String }

    /// One ACL entry: permission bits granted to an identity.
    pub struct Acl { pub perms: i32, pub id: Id }

    /// The stat clients see (68 bytes).
    pub struct Stat {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub data_length: i32,
        pub num_children: i32,
        pub pzxid: i64,
    }

    /// The stat stored in snapshots (60 bytes): no dataLength / numChildren.
    pub struct StatPersisted {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub pzxid: i64,
    }

    /// An authenticated identity as reported by whoAmI.
    pub struct ClientInfo { pub auth_scheme: String, pub user: String }
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.to_string(),
            id: id.to_string(),
        }
    }
}

impl Acl {
    pub fn new(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    /// `ZooDefs.Ids.OPEN_ACL_UNSAFE`: all permissions to `world:anyone`.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(crate::consts::perms::ALL, "world", "anyone")]
    }

    /// `ZooDefs.Ids.READ_ACL_UNSAFE`.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(crate::consts::perms::READ, "world", "anyone")]
    }
}

impl StatPersisted {
    /// The client-visible stat for a node with the given data length and child count.
    pub fn to_stat(&self, data_length: i32, num_children: i32) -> Stat {
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner,
            data_length,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

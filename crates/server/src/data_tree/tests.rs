//! Unit tests of the data tree: stat rules, every txn type, multi, sessions, digests (including
//! the Appendix A.2 capture), fuzzy replay and the snapshot loader.

use bytes::Bytes;
use jute::consts::{ephemeral_owner, err, event, op, perms};
use jute::data::Acl;
use jute::txn::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, DeleteTxn, ErrorTxn, SetAclTxn, SetDataTxn, TxnBody, TxnDigest, TxnEntry, TxnHeader,
};

use super::*;

const SID: i64 = 0x0100_0009_0820_0000;

fn entry(client: i64, zxid: i64, time: i64, ty: i32, body: TxnBody) -> TxnEntry {
    TxnEntry {
        header: TxnHeader {
            client_id: client,
            cxid: 1,
            zxid,
            time,
            txn_type: ty,
        },
        body,
        digest: None,
    }
}

fn create_body(path: &str, data: &[u8], ephemeral: bool, pcv: i32) -> TxnBody {
    TxnBody::Create(CreateTxn {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        ephemeral,
        parent_cversion: pcv,
    })
}

fn create(zxid: i64, path: &str, data: &[u8], pcv: i32) -> TxnEntry {
    entry(
        SID,
        zxid,
        1000 + zxid,
        op::CREATE,
        create_body(path, data, false, pcv),
    )
}

fn create_eph(session: i64, zxid: i64, path: &str, pcv: i32) -> TxnEntry {
    entry(
        session,
        zxid,
        1000 + zxid,
        op::CREATE2,
        create_body(path, b"e", true, pcv),
    )
}

fn delete(zxid: i64, path: &str) -> TxnEntry {
    entry(
        SID,
        zxid,
        1000 + zxid,
        op::DELETE,
        TxnBody::Delete(DeleteTxn { path: path.into() }),
    )
}

fn set_data(zxid: i64, path: &str, data: &[u8], version: i32) -> TxnEntry {
    let body = TxnBody::SetData(SetDataTxn {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        version,
    });
    entry(SID, zxid, 1000 + zxid, op::SET_DATA, body)
}

fn close(session: i64, zxid: i64, paths: Option<Vec<&str>>) -> TxnEntry {
    let body = TxnBody::CloseSession(paths.map(|p| CloseSessionTxn {
        paths2_delete: p.into_iter().map(String::from).collect(),
    }));
    entry(session, zxid, 1000 + zxid, op::CLOSE_SESSION, body)
}

fn multi(zxid: i64, subs: Vec<(i32, TxnBody)>) -> TxnEntry {
    entry(SID, zxid, 1000 + zxid, op::MULTI, TxnBody::Multi(subs))
}

/// The digest recomputed from scratch over every node.
fn full_digest(t: &DataTree) -> i64 {
    let mut acc = 0i64;
    t.for_each_node_preorder(|k, n| acc = acc.wrapping_add(DataTree::node_digest(k, n)));
    acc
}

fn ev(t: &Trigger) -> (&str, i32, WatchTable) {
    (t.path.as_str(), t.event_type, t.table)
}

#[test]
fn fresh_tree_layout_and_digest() {
    let t = DataTree::new();
    assert_eq!(t.digest(), 0x51c6_d660);
    assert_eq!(full_digest(&t), 0x51c6_d660);
    assert_eq!(t.node_count(), 4);
    assert_eq!(t.children("/"), Some(vec!["zookeeper".to_string()]));
    assert_eq!(
        t.children("/zookeeper"),
        Some(vec!["config".to_string(), "quota".to_string()])
    );
    let config = t.node("/zookeeper/config").expect("config");
    assert_eq!(config.acl, 1);
    assert_eq!(config.stat.aversion, -1);
    assert_eq!(config.data(), Some(&b""[..]));
    assert_eq!(t.acl(config), Acl::read_unsafe());
    assert_eq!(t.acl_cache_entries(), vec![(1, Acl::read_unsafe())]);
    for p in ["/", "/zookeeper", "/zookeeper/quota"] {
        let n = t.node(p).expect("node");
        assert_eq!(n.acl, -1);
        assert_eq!(t.acl(n), Acl::open_unsafe());
    }
    // Java's copyStat: cversion 2*0 - 1 child.
    assert_eq!(
        t.stat("/").map(|s| (s.cversion, s.num_children)),
        Some((-1, 1))
    );
    // "" 0 + "/" 1 + "/zookeeper" 10 + "/zookeeper/quota" 16 + "/zookeeper/config" 17.
    assert_eq!(t.approximate_data_size(), 44);
    assert_eq!(t.all_children_number("/"), Some(3));
    assert_eq!(t.last_processed_zxid(), 0);
}

#[test]
fn appendix_a2_digests() {
    let mut t = DataTree::new();
    let s = entry(
        SID,
        1,
        0x1a1_ffe8_82f6,
        op::CREATE_SESSION,
        TxnBody::CreateSession(CreateSessionTxn { time_out: 30000 }),
    );
    let o = t.apply(&s);
    assert_eq!(o.result, ApplyResult::SessionCreated);
    assert_eq!(t.digest(), 0x51c6_d660);
    let mut c = entry(
        SID,
        2,
        0x1a1_ffe8_8316,
        op::CREATE,
        create_body("/a", b"hello", false, 1),
    );
    c.digest = Some(TxnDigest {
        version: 2,
        tree_digest: 0x7cd2_5ee6,
    });
    let o = t.apply(&c);
    assert_eq!(o.err, 0);
    assert!(!o.digest_mismatch);
    assert_eq!(t.digest(), 0x7cd2_5ee6);
    assert_eq!(full_digest(&t), 0x7cd2_5ee6);
    // An explicit OPEN_ACL_UNSAFE list gets a real cache index.
    assert_eq!(t.node("/a").map(|n| n.acl), Some(2));
    assert_eq!(
        t.last_zxid_digest(),
        Some(ZxidDigest {
            zxid: 2,
            version: 2,
            digest: 0x7cd2_5ee6
        })
    );
}

#[test]
fn create_stat_rules_and_triggers() {
    let mut t = DataTree::new();
    let o = t.apply(&create(5, "/a", b"x", 1));
    assert_eq!(o.err, 0);
    assert_eq!(o.zxid, 5);
    let ApplyResult::Created { path, stat } = &o.result else {
        panic!("{:?}", o.result)
    };
    assert_eq!(path, "/a");
    assert_eq!(
        (stat.czxid, stat.mzxid, stat.pzxid, stat.ctime, stat.mtime),
        (5, 5, 5, 1005, 1005)
    );
    assert_eq!(
        (stat.version, stat.cversion, stat.aversion, stat.data_length),
        (0, 0, 0, 1)
    );
    let trig: Vec<_> = o.triggers.iter().map(ev).collect();
    assert_eq!(
        trig,
        vec![
            ("/a", event::NODE_CREATED, WatchTable::Data),
            ("/", event::NODE_CHILDREN_CHANGED, WatchTable::Child)
        ]
    );
    assert_eq!(*o.triggers[0].acl, Acl::open_unsafe());
    let root = t.node("/").expect("root");
    assert_eq!((root.stat.cversion, root.stat.pzxid), (1, 5));
    // parentCVersion -1 means "current + 1"; nested parent is the real parent.
    let o = t.apply(&create(6, "/a/b", b"", -1));
    assert_eq!(o.triggers[1].path, "/a");
    let a = t.node("/a").expect("a");
    assert_eq!((a.stat.cversion, a.stat.pzxid, a.stat.mzxid), (1, 6, 5));
    // A stale parentCVersion leaves cversion and pzxid alone.
    t.apply(&create(7, "/a/c", b"", 1));
    let a = t.node("/a").expect("a");
    assert_eq!((a.stat.cversion, a.stat.pzxid), (1, 6));
    assert_eq!(
        t.children("/a"),
        Some(vec!["b".to_string(), "c".to_string()])
    );
    // Client cversion = 2*1 - 2 children.
    assert_eq!(
        t.stat("/a").map(|s| (s.cversion, s.num_children)),
        Some((0, 2))
    );
    assert_eq!(t.last_processed_zxid(), 7);
    assert_eq!(t.digest(), full_digest(&t));
}

#[test]
fn create_errors() {
    let mut t = DataTree::new();
    let d0 = t.digest();
    for p in ["/x/y", "noslash", ""] {
        let o = t.apply(&create(2, p, b"", 1));
        assert_eq!(
            (o.err, o.result.clone()),
            (err::NO_NODE, ApplyResult::Error(err::NO_NODE))
        );
        assert!(o.triggers.is_empty());
    }
    assert_eq!(t.digest(), d0);
    assert_eq!(t.node_count(), 4);
    let o = t.apply(&create(3, "/zookeeper", b"", 5));
    assert_eq!(o.err, err::NODE_EXISTS);
    // Fuzzy rule: a NODEEXISTS create still raises the parent's cversion / pzxid.
    let root = t.node("/").expect("root");
    assert_eq!((root.stat.cversion, root.stat.pzxid), (5, 3));
    assert_eq!(t.digest(), full_digest(&t));
    // ... but only for OpCode.create, not create2.
    let e = entry(
        SID,
        4,
        0,
        op::CREATE2,
        create_body("/zookeeper", b"", false, 9),
    );
    assert_eq!(t.apply(&e).err, err::NODE_EXISTS);
    assert_eq!(t.node("/").map(|r| r.stat.cversion), Some(5));
    // Creating "/" is NODEEXISTS, never a panic.
    assert_eq!(t.apply(&create(5, "/", b"", 1)).err, err::NODE_EXISTS);
}

#[test]
fn nodeexists_replaces_acl_with_correct_refcounts() {
    let mut t = DataTree::new();
    t.apply(&create(2, "/a", b"", 1));
    assert_eq!(t.acls.refs(2), Some(1));
    let body = TxnBody::Create(CreateTxn {
        path: "/a".into(),
        data: None,
        acl: vec![Acl::new(perms::READ, "ip", "10.0.0.1")],
        ephemeral: false,
        parent_cversion: 1,
    });
    assert_eq!(
        t.apply(&entry(SID, 3, 0, op::CREATE, body)).err,
        err::NODE_EXISTS
    );
    let a = t.node("/a").expect("a");
    assert_eq!(a.acl, 3);
    assert_eq!(t.acls.refs(2), None);
    assert_eq!(t.acls.refs(3), Some(1));
}

#[test]
fn delete_rules() {
    let mut t = DataTree::new();
    t.apply(&create(2, "/a", b"", 1));
    t.apply(&create(3, "/a/b", b"bb", 1));
    let size = t.approximate_data_size();
    let o = t.apply(&delete(4, "/a/b"));
    assert_eq!((o.err, o.result.clone()), (0, ApplyResult::Deleted));
    let trig: Vec<_> = o.triggers.iter().map(ev).collect();
    assert_eq!(
        trig,
        vec![
            ("/a/b", event::NODE_DELETED, WatchTable::Data),
            ("/a/b", event::NODE_DELETED, WatchTable::Child),
            ("/a", event::NODE_CHILDREN_CHANGED, WatchTable::Child)
        ]
    );
    let a = t.node("/a").expect("a");
    // pzxid moves, cversion does not.
    assert_eq!((a.stat.cversion, a.stat.pzxid, a.num_children()), (1, 4, 0));
    assert_eq!(t.approximate_data_size(), size - 4 - 2);
    assert_eq!(t.acls.refs(2), Some(1));
    // Delete of a missing child: NONODE, but the parent's pzxid still moves forward.
    let o = t.apply(&delete(9, "/a/zz"));
    assert_eq!(o.err, err::NO_NODE);
    assert!(o.triggers.is_empty());
    assert_eq!(t.node("/a").map(|a| a.stat.pzxid), Some(9));
    assert_eq!(t.apply(&delete(8, "/a/zz")).err, err::NO_NODE);
    assert_eq!(t.node("/a").map(|a| a.stat.pzxid), Some(9));
    assert_eq!(t.apply(&delete(10, "/q/r")).err, err::NO_NODE);
    assert_eq!(t.apply(&delete(10, "bad")).err, err::NO_NODE);
    assert_eq!(t.apply(&delete(10, "/")).err, err::BAD_ARGUMENTS);
    assert!(t.node("/").is_some());
    t.apply(&delete(11, "/a"));
    assert_eq!(t.acls.refs(2), None);
    assert_eq!(t.digest(), full_digest(&t));
    assert_eq!(t.node_count(), 4);
}

#[test]
fn set_data_and_acl() {
    let mut t = DataTree::new();
    t.apply(&create(2, "/a", b"one", 1));
    let o = t.apply(&set_data(3, "/a", b"twotwo", 7));
    let ApplyResult::SetData { stat } = o.result else {
        panic!()
    };
    assert_eq!(
        (stat.version, stat.mzxid, stat.mtime, stat.czxid),
        (7, 3, 1003, 2)
    );
    assert_eq!(stat.data_length, 6);
    let trig: Vec<_> = o.triggers.iter().map(ev).collect();
    assert_eq!(
        trig,
        vec![("/a", event::NODE_DATA_CHANGED, WatchTable::Data)]
    );
    assert_eq!(
        t.node("/a").and_then(|n| n.data().map(<[u8]>::to_vec)),
        Some(b"twotwo".to_vec())
    );
    assert_eq!(t.apply(&set_data(4, "/nope", b"", 1)).err, err::NO_NODE);
    // reconfig is a setData txn.
    let rc = entry(
        SID,
        5,
        5,
        op::RECONFIG,
        TxnBody::SetData(SetDataTxn {
            path: "/zookeeper/config".into(),
            data: None,
            version: 2,
        }),
    );
    let d = t.digest();
    assert_eq!(t.apply(&rc).err, 0);
    assert_eq!(t.digest(), d, "/zookeeper/ subtree is not in the digest");

    let acl = vec![Acl::new(perms::ALL, "digest", "u:p")];
    let body = TxnBody::SetAcl(SetAclTxn {
        path: "/a".into(),
        acl: acl.clone(),
        version: 4,
    });
    let o = t.apply(&entry(SID, 6, 6, op::SET_ACL, body));
    let ApplyResult::SetAcl { stat } = o.result else {
        panic!()
    };
    assert_eq!((stat.aversion, stat.mzxid), (4, 3));
    assert!(o.triggers.is_empty());
    let a = t.node("/a").expect("a");
    assert_eq!(t.acl(a), acl);
    // Re-setting the same list on its only user gets a fresh index, as in Java.
    let old = a.acl;
    let body = TxnBody::SetAcl(SetAclTxn {
        path: "/a".into(),
        acl: acl.clone(),
        version: 5,
    });
    t.apply(&entry(SID, 7, 7, op::SET_ACL, body));
    assert_eq!(t.node("/a").map(|n| n.acl), Some(old + 1));
    let body = TxnBody::SetAcl(SetAclTxn {
        path: "/none".into(),
        acl,
        version: 5,
    });
    assert_eq!(
        t.apply(&entry(SID, 8, 8, op::SET_ACL, body)).err,
        err::NO_NODE
    );
    assert_eq!(t.digest(), full_digest(&t));
}

#[test]
fn check_error_session_and_unknown_txns() {
    let mut t = DataTree::new();
    let d = t.digest();
    let c = entry(
        SID,
        2,
        0,
        op::CHECK,
        TxnBody::Check(CheckVersionTxn {
            path: "/zookeeper".into(),
            version: 3,
        }),
    );
    assert_eq!(t.apply(&c).result, ApplyResult::Check);
    let e = entry(
        SID,
        3,
        0,
        op::ERROR,
        TxnBody::Error(ErrorTxn {
            err: err::NODE_EXISTS,
        }),
    );
    let o = t.apply(&e);
    assert_eq!(
        (o.err, o.result),
        (err::NODE_EXISTS, ApplyResult::Error(err::NODE_EXISTS))
    );
    let u = entry(SID, 4, 0, 99, TxnBody::Other(Bytes::new()));
    assert_eq!(t.apply(&u).result, ApplyResult::None);
    assert_eq!(t.digest(), d);
    assert_eq!(t.last_processed_zxid(), 4);
    // lastProcessedZxid never moves backwards.
    t.apply(&entry(
        SID,
        2,
        0,
        op::ERROR,
        TxnBody::Error(ErrorTxn { err: 0 }),
    ));
    assert_eq!(t.last_processed_zxid(), 4);
}

#[test]
fn ephemeral_container_ttl_owners() {
    let mut t = DataTree::new();
    let s2 = 0x0200_0000_0000_0001;
    t.apply(&create_eph(s2, 2, "/e", 1));
    let ct = TxnBody::CreateContainer(CreateContainerTxn {
        path: "/c".into(),
        data: None,
        acl: Acl::open_unsafe(),
        parent_cversion: 2,
    });
    t.apply(&entry(SID, 3, 3, op::CREATE_CONTAINER, ct));
    let ttl = |ttl: i64, path: &str| {
        TxnBody::CreateTtl(CreateTtlTxn {
            path: path.into(),
            data: None,
            acl: Acl::open_unsafe(),
            parent_cversion: -1,
            ttl,
        })
    };
    t.apply(&entry(SID, 4, 4, op::CREATE_TTL, ttl(500, "/t")));
    assert_eq!(
        t.apply(&entry(SID, 5, 5, op::CREATE_TTL, ttl(0, "/t0")))
            .err,
        err::BAD_ARGUMENTS
    );
    assert_eq!(t.node("/e").map(|n| n.stat.ephemeral_owner), Some(s2));
    assert_eq!(
        t.node("/c").map(|n| n.stat.ephemeral_owner),
        Some(ephemeral_owner::CONTAINER)
    );
    let ttl_owner = ephemeral_owner::TTL_MASK | 500;
    assert_eq!(
        t.node("/t").map(|n| n.stat.ephemeral_owner),
        Some(ttl_owner)
    );
    assert_eq!(t.stat("/e").map(|s| s.ephemeral_owner), Some(s2));
    assert_eq!(t.stat("/c").map(|s| s.ephemeral_owner), Some(0));
    assert_eq!(t.containers(), vec!["/c".to_string()]);
    // Extended types off (Java's default): a TTL-shaped owner is an ordinary session.
    assert!(t.ttl_nodes().is_empty());
    assert_eq!(t.ephemerals_of(ttl_owner), vec!["/t".to_string()]);
    assert_eq!(t.stat("/t").map(|s| s.ephemeral_owner), Some(ttl_owner));
    t.set_extended_types(true);
    assert_eq!(t.ttl_nodes(), vec!["/t".to_string()]);
    assert!(t.ephemerals_of(ttl_owner).is_empty());
    assert_eq!(t.stat("/t").map(|s| s.ephemeral_owner), Some(0));
    assert_eq!(t.ephemerals_of(s2), vec!["/e".to_string()]);
    assert_eq!(t.ephemerals_count(), 1);
    t.apply(&delete(6, "/c"));
    t.apply(&delete(7, "/t"));
    t.apply(&delete(8, "/e"));
    assert!(t.containers().is_empty() && t.ttl_nodes().is_empty());
    // As in Java the session stays listed with no paths until it is closed.
    assert_eq!(t.ephemeral_sessions(), vec![(s2, vec![])]);
    t.apply(&close(s2, 9, Some(vec![])));
    assert!(t.ephemeral_sessions().is_empty());
}

#[test]
fn close_session_deletes_ephemerals() {
    let mut t = DataTree::new();
    let s = 0x0300_0000_0000_0007;
    t.apply(&create(2, "/p", b"", 1));
    t.apply(&create_eph(s, 3, "/p/e1", 1));
    t.apply(&create_eph(s, 4, "/p/e2", 2));
    t.apply(&create_eph(s, 5, "/e3", 2));
    let o = t.apply(&close(s, 6, Some(vec!["/p/e2", "/gone"])));
    assert_eq!(o.err, 0);
    // Txn paths first (in txn order), then the rest of the index.
    assert_eq!(
        o.result,
        ApplyResult::SessionClosed {
            deleted: vec!["/p/e2".into(), "/e3".into(), "/p/e1".into()]
        }
    );
    let trig: Vec<_> = o.triggers.iter().map(ev).collect();
    assert_eq!(trig.len(), 9);
    assert_eq!(trig[0], ("/p/e2", event::NODE_DELETED, WatchTable::Data));
    assert_eq!(trig[1], ("/p/e2", event::NODE_DELETED, WatchTable::Child));
    assert_eq!(
        trig[2],
        ("/p", event::NODE_CHILDREN_CHANGED, WatchTable::Child)
    );
    assert_eq!(
        trig[5],
        ("/", event::NODE_CHILDREN_CHANGED, WatchTable::Child)
    );
    assert!(t.ephemerals_of(s).is_empty());
    assert_eq!(
        t.node("/p").map(|p| (p.stat.pzxid, p.num_children())),
        Some((6, 0))
    );
    // Without a paths list (old logs) the index decides.
    t.apply(&create_eph(s, 7, "/x", 3));
    let o = t.apply(&close(s, 8, None));
    assert_eq!(
        o.result,
        ApplyResult::SessionClosed {
            deleted: vec!["/x".into()]
        }
    );
    assert!(t.node("/x").is_none());
    assert_eq!(t.digest(), full_digest(&t));
}

#[test]
fn multi_success() {
    let mut t = DataTree::new();
    let subs = vec![
        (op::CREATE, create_body("/m", b"1", false, 1)),
        (op::CREATE2, create_body("/m/n", b"2", false, 1)),
        (
            op::SET_DATA,
            TxnBody::SetData(SetDataTxn {
                path: "/m".into(),
                data: None,
                version: 1,
            }),
        ),
        (
            op::CHECK,
            TxnBody::Check(CheckVersionTxn {
                path: "/m".into(),
                version: 1,
            }),
        ),
        (
            op::DELETE,
            TxnBody::Delete(DeleteTxn {
                path: "/m/n".into(),
            }),
        ),
    ];
    let o = t.apply(&multi(10, subs));
    assert_eq!(o.err, 0);
    let ApplyResult::Multi(r) = &o.result else {
        panic!()
    };
    assert_eq!(r.len(), 5);
    assert!(matches!(&r[0], ApplyResult::Created { path, .. } if path == "/m"));
    assert!(matches!(&r[2], ApplyResult::SetData { stat } if stat.version == 1));
    assert_eq!(r[3], ApplyResult::Check);
    assert_eq!(r[4], ApplyResult::Deleted);
    assert_eq!(o.triggers.len(), 2 + 2 + 1 + 3);
    assert_eq!(t.last_processed_zxid(), 10);
    let m = t.node("/m").expect("m");
    assert_eq!(
        (
            m.stat.mzxid,
            m.stat.pzxid,
            m.stat.cversion,
            m.data().map(<[u8]>::to_vec)
        ),
        (10, 10, 1, None)
    );
    assert_eq!(t.digest(), full_digest(&t));
}

#[test]
fn multi_failure_changes_nothing() {
    let mut t = DataTree::new();
    let d = t.digest();
    let subs = vec![
        (op::CREATE, create_body("/m", b"1", false, 1)),
        (
            op::ERROR,
            TxnBody::Error(ErrorTxn {
                err: err::BAD_VERSION,
            }),
        ),
        (
            op::SET_DATA,
            TxnBody::SetData(SetDataTxn {
                path: "/m".into(),
                data: None,
                version: 1,
            }),
        ),
    ];
    let o = t.apply(&multi(11, subs));
    assert_eq!(o.err, err::BAD_VERSION);
    assert_eq!(
        o.result,
        ApplyResult::Multi(vec![
            ApplyResult::Error(0),
            ApplyResult::Error(err::BAD_VERSION),
            ApplyResult::Error(err::RUNTIME_INCONSISTENCY)
        ])
    );
    assert!(o.triggers.is_empty());
    assert!(t.node("/m").is_none());
    assert_eq!(t.digest(), d);
    assert_eq!(t.last_processed_zxid(), 11);
    // As logged by a leader: every sub-txn is already an error txn.
    let subs = vec![
        (op::ERROR, TxnBody::Error(ErrorTxn { err: 0 })),
        (op::ERROR, TxnBody::Error(ErrorTxn { err: err::NO_NODE })),
        (
            op::ERROR,
            TxnBody::Error(ErrorTxn {
                err: err::RUNTIME_INCONSISTENCY,
            }),
        ),
    ];
    let o = t.apply(&multi(12, subs));
    assert_eq!(o.err, err::NO_NODE);
}

#[test]
fn multi_sub_failure_and_invalid_op() {
    let mut t = DataTree::new();
    // A sub-txn failing inside a non-failed multi (replay) does not stop the others.
    let subs = vec![
        (
            op::DELETE,
            TxnBody::Delete(DeleteTxn {
                path: "/none".into(),
            }),
        ),
        (op::CREATE, create_body("/k", b"", false, 1)),
    ];
    let o = t.apply(&multi(2, subs));
    assert_eq!(o.err, err::NO_NODE);
    assert!(t.node("/k").is_some());
    // An op type not allowed in a multi stops processing there (Java's IOException).
    let subs = vec![
        (op::CREATE, create_body("/k2", b"", false, 2)),
        (
            op::SET_ACL,
            TxnBody::SetAcl(SetAclTxn {
                path: "/k".into(),
                acl: vec![],
                version: 1,
            }),
        ),
        (op::CREATE, create_body("/k3", b"", false, 3)),
    ];
    let o = t.apply(&multi(3, subs));
    let ApplyResult::Multi(r) = &o.result else {
        panic!()
    };
    assert_eq!(r.len(), 1);
    assert!(t.node("/k2").is_some() && t.node("/k3").is_none());
    assert_eq!(t.last_processed_zxid(), 3);
}

fn history() -> Vec<TxnEntry> {
    let s = 0x0400_0000_0000_0001;
    vec![
        create(2, "/a", b"a", 1),
        create_eph(s, 3, "/a/b", 1),
        set_data(4, "/a", b"a2", 1),
        delete(5, "/a/b"),
        create(6, "/a/c", b"c", 2),
        create_eph(s, 7, "/d", 3),
        multi(
            8,
            vec![
                (op::CREATE, create_body("/a/m", b"", false, 3)),
                (
                    op::SET_DATA,
                    TxnBody::SetData(SetDataTxn {
                        path: "/a/c".into(),
                        data: None,
                        version: 1,
                    }),
                ),
            ],
        ),
        close(s, 9, Some(vec!["/d"])),
        create(10, "/d", b"again", 4),
    ]
}

/// Serializes through the snapshot interface and loads it back.
fn reload(t: &DataTree) -> DataTree {
    let mut l = DataTree::begin_load();
    for (i, acl) in t.acl_cache_entries() {
        l.add_acl(i, acl);
    }
    let mut err = None;
    t.for_each_node_preorder(|p, n| {
        if let Err(e) = l.add_node(
            p,
            n.data().map(Bytes::copy_from_slice),
            n.acl,
            n.stat.clone(),
        ) {
            err = Some(e);
        }
    });
    assert_eq!(err, None);
    let mut loaded = l.finish().expect("load");
    loaded.set_last_processed_zxid(t.last_processed_zxid());
    loaded
}

fn assert_same(a: &DataTree, b: &DataTree) {
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.node_count(), b.node_count());
    assert_eq!(a.approximate_data_size(), b.approximate_data_size());
    a.for_each_node_preorder(|p, n| {
        let m = b.node(p).unwrap_or_else(|| panic!("missing {p}"));
        assert_eq!(n.stat, m.stat, "{p}");
        assert_eq!(n.data(), m.data(), "{p}");
        assert_eq!(a.acl(n), b.acl(m), "{p}");
        assert_eq!(a.children(p), b.children(p), "{p}");
    });
    assert_eq!(a.ephemeral_sessions(), b.ephemeral_sessions());
    assert_eq!(a.containers(), b.containers());
}

#[test]
fn fuzzy_replay_is_idempotent() {
    let h = history();
    let mut a = DataTree::new();
    for e in &h {
        a.apply(e);
    }
    assert_eq!(a.digest(), full_digest(&a));
    // A fuzzy snapshot taken at zxid k that already contains everything: replaying k+1.. must
    // converge to the same tree and digest.
    for k in 0..h.len() {
        let mut b = reload(&a);
        for e in &h[k..] {
            b.apply(e);
        }
        assert_same(&a, &b);
    }
    // Replaying a prefix twice in a row (a fuzzy snapshot that contains the prefix).
    let mut c = DataTree::new();
    for e in &h[..5] {
        c.apply(e);
    }
    for e in &h[2..] {
        c.apply(e);
    }
    assert_same(&a, &c);
}

#[test]
fn loader_round_trip_and_errors() {
    let mut a = DataTree::new();
    for e in history() {
        a.apply(&e);
    }
    let body = TxnBody::SetAcl(SetAclTxn {
        path: "/a".into(),
        acl: vec![Acl::new(perms::READ, "world", "anyone")],
        version: 1,
    });
    a.apply(&entry(SID, 20, 20, op::SET_ACL, body));
    let b = reload(&a);
    assert_same(&a, &b);
    assert_eq!(a.acl_cache_entries(), b.acl_cache_entries());
    let mut order = Vec::new();
    a.for_each_node_preorder(|p, _| order.push(p.to_string()));
    assert_eq!(order[0], "");
    assert_eq!(order[1], "/a");

    let mut l = DataTree::begin_load();
    assert_eq!(
        l.add_node("/x/y", None, -1, Default::default()),
        Err(LoadError::MissingParent {
            path: "/x/y".into(),
            parent: "/x".into()
        })
    );
    assert_eq!(
        l.add_node("abc", None, -1, Default::default()),
        Err(LoadError::BadPath("abc".into()))
    );
    assert_eq!(
        DataTree::begin_load().finish().err(),
        Some(LoadError::MissingRoot)
    );
    // Unused ACL entries are purged; the index counter continues after the largest.
    let mut l = DataTree::begin_load();
    l.add_acl(4, Acl::open_unsafe());
    l.add_acl(9, Acl::read_unsafe());
    l.add_node("", Some(Bytes::new()), -1, Default::default())
        .expect("root");
    l.add_node("/n", None, 4, Default::default()).expect("n");
    assert_eq!(
        l.add_node("/n", None, 4, Default::default()),
        Err(LoadError::DuplicatePath("/n".into()))
    );
    let mut t = l.finish().expect("finish");
    assert_eq!(t.acl_cache_entries(), vec![(4, Acl::open_unsafe())]);
    t.apply(&create(30, "/z", b"", 1));
    assert_eq!(t.node("/z").map(|n| n.acl), Some(4));
    let body = TxnBody::Create(CreateTxn {
        path: "/y".into(),
        data: None,
        acl: vec![Acl::new(perms::ALL, "ip", "1.1.1.1")],
        ephemeral: false,
        parent_cversion: 2,
    });
    t.apply(&entry(SID, 31, 0, op::CREATE, body));
    assert_eq!(t.node("/y").map(|n| n.acl), Some(10));
}

#[test]
fn all_children_number_counts_descendants() {
    let mut t = DataTree::new();
    t.apply(&create(2, "/a", b"", 1));
    t.apply(&create(3, "/a/b", b"", 1));
    t.apply(&create(4, "/a/b/c", b"", 1));
    t.apply(&create(5, "/ab", b"", 2));
    assert_eq!(t.all_children_number("/a"), Some(2));
    assert_eq!(t.all_children_number("/a/b/c"), Some(0));
    assert_eq!(t.all_children_number("/"), Some(7));
    assert_eq!(t.all_children_number("/none"), None);
}

#[test]
fn digest_bookkeeping() {
    let mut t = DataTree::new();
    // Fuzzy: no digest logged until the snapshot's zxid is replayed, then compared.
    t.set_snapshot_digest(
        ZxidDigest {
            zxid: 3,
            version: 2,
            digest: 12345,
        },
        2,
    );
    t.apply(&create(2, "/a", b"", 1));
    assert_eq!(t.last_zxid_digest(), None);
    let o = t.apply(&create(3, "/b", b"", 2));
    assert!(o.digest_mismatch, "snapshot digest 12345 is wrong");
    let mut e = create(4, "/c", b"", 3);
    e.digest = Some(TxnDigest {
        version: 2,
        tree_digest: 1,
    });
    assert!(t.apply(&e).digest_mismatch);
    assert_eq!(t.last_zxid_digest().map(|d| d.zxid), Some(4));
    let mut e = create(128, "/d", b"", 4);
    let mut probe = t.clone();
    let right = probe.apply(&e);
    assert!(!right.digest_mismatch);
    e.digest = Some(TxnDigest {
        version: 2,
        tree_digest: probe.digest(),
    });
    assert!(!t.apply(&e).digest_mismatch);
    assert_eq!(t.digest_log().len(), 1);
    assert_eq!(t.digest_log()[0].zxid, 128);
    // Snapshot digest older than the snapshot name is ignored.
    t.set_snapshot_digest(
        ZxidDigest {
            zxid: 5,
            version: 2,
            digest: 1,
        },
        6,
    );
    assert!(!t.apply(&create(129, "/e", b"", 5)).digest_mismatch);
}

#[test]
fn set_data_outside_txn_for_config() {
    let mut t = DataTree::new();
    let d = t.digest();
    let stat = t
        .set_data(
            "/zookeeper/config",
            Some(Bytes::from_static(b"server.1=x")),
            -1,
            0x1_0000_0000,
            7,
        )
        .expect("config");
    assert_eq!(
        (stat.version, stat.mzxid, stat.aversion),
        (-1, 0x1_0000_0000, -1)
    );
    assert_eq!(t.digest(), d);
    assert_eq!(t.set_data("/none", None, 0, 0, 0), Err(err::NO_NODE));
}

#[test]
fn quota_stats_follow_writes() {
    let mut t = DataTree::new();
    let stats = |t: &DataTree| {
        t.node("/zookeeper/quota/q/zookeeper_stats")
            .and_then(|n| n.data().map(|d| String::from_utf8_lossy(d).to_string()))
    };
    t.apply(&create(2, "/q", b"", 1));
    t.apply(&create(3, "/q/a", b"xyz", 1));
    t.apply(&create(4, "/zookeeper/quota/q", b"", 1));
    t.apply(&create(
        5,
        "/zookeeper/quota/q/zookeeper_limits",
        b"count=10,bytes=-1",
        1,
    ));
    let d = t.digest();
    t.apply(&create(
        6,
        "/zookeeper/quota/q/zookeeper_stats",
        b"count=0,bytes=0",
        2,
    ));
    assert_eq!(t.digest(), d, "quota nodes are outside the digest");
    // Creating the stats node recounts the subtree (the quota root itself included).
    assert_eq!(stats(&t).as_deref(), Some("count=2,bytes=3"));
    t.apply(&create(7, "/q/b", b"12", 2));
    assert_eq!(stats(&t).as_deref(), Some("count=3,bytes=5"));
    t.apply(&set_data(8, "/q/a", b"x", 1));
    assert_eq!(stats(&t).as_deref(), Some("count=3,bytes=3"));
    t.apply(&delete(9, "/q/b"));
    assert_eq!(stats(&t).as_deref(), Some("count=2,bytes=1"));
    t.apply(&create(10, "/qq", b"zzzz", 3));
    assert_eq!(stats(&t).as_deref(), Some("count=2,bytes=1"));
    assert_eq!(t.digest(), full_digest(&t));
    // A reload recounts from the tree.
    let mut r = reload(&t);
    assert_eq!(stats(&r).as_deref(), Some("count=2,bytes=1"));
    r.apply(&create(11, "/q/c", b"", 3));
    assert_eq!(stats(&r).as_deref(), Some("count=3,bytes=1"));
    // Deleting the limits node stops the tracking.
    t.apply(&delete(12, "/zookeeper/quota/q/zookeeper_limits"));
    t.apply(&create(13, "/q/d", b"", 3));
    assert_eq!(stats(&t).as_deref(), Some("count=2,bytes=1"));
    // A limits node directly under /zookeeper/quota is ignored (Java 3.9 would throw).
    let o = t.apply(&create(14, "/zookeeper/quota/zookeeper_limits", b"", 2));
    assert_eq!(o.err, 0);
    assert!(t.quotas.is_empty());
}

#[test]
fn random_ops_keep_digest_and_indexes_consistent() {
    let mut t = DataTree::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |m: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    let names = [
        "/a",
        "/b",
        "/a/x",
        "/a/y",
        "/b/z",
        "/a/x/q",
        "/c",
        "/zookeeper/quota/a",
    ];
    for zxid in 2..3000i64 {
        let p = names[next(names.len() as u64) as usize];
        let session = 1 + next(3) as i64;
        let e = match next(6) {
            0 | 1 => create(zxid, p, b"d", -1),
            2 => create_eph(session, zxid, p, -1),
            // A leader never logs the delete of a node with children.
            3 if t.node(p).is_some_and(|n| n.num_children() > 0) => create(zxid, p, b"", -1),
            3 => delete(zxid, p),
            4 => set_data(zxid, p, &vec![b'x'; next(5) as usize], zxid as i32),
            _ => close(
                session,
                zxid,
                if next(2) == 0 { None } else { Some(vec![p]) },
            ),
        };
        let o = t.apply(&e);
        assert!(
            o.err == 0 || o.err == err::NO_NODE || o.err == err::NODE_EXISTS,
            "{o:?}"
        );
        assert_eq!(t.digest(), full_digest(&t), "zxid {zxid}");
    }
    let mut reachable = 0;
    t.for_each_node_preorder(|_, _| reachable += 1);
    assert_eq!(reachable, t.node_count());
    for (s, paths) in t.ephemeral_sessions() {
        for p in paths {
            assert_eq!(t.node(&p).map(|n| n.stat.ephemeral_owner), Some(s));
        }
    }
    let mut size = 0i64;
    t.for_each_node_preorder(|k, n| size += DataTree::node_size(k, n));
    assert_eq!(t.approximate_data_size(), size + 1);
    assert_same(&t, &reload(&t));
}

#[test]
fn odd_paths_never_panic() {
    let mut t = DataTree::new();
    for p in ["//a", "/a/", "/", "", "x/y", "/zookeeper/quota/"] {
        t.apply(&create(2, p, b"", -1));
        t.apply(&set_data(3, p, b"", 1));
        t.apply(&delete(4, p));
        t.apply(&close(5, 6, Some(vec![p])));
    }
    assert_eq!(t.digest(), full_digest(&t));
    // `//a` is refused before the root changes, and nothing unreachable is created.
    let before = (t.node_count(), t.stat("/"));
    assert_eq!(t.apply(&create(7, "//a", b"", -1)).err, err::NO_NODE);
    assert_eq!((t.node_count(), t.stat("/")), before);
    let mut reachable = 0;
    t.for_each_node_preorder(|_, _| reachable += 1);
    assert_eq!(reachable, t.node_count());
}

#[test]
fn delete_of_non_empty_node_removes_its_subtree() {
    // A leader never logs this delete; it happens when a fuzzy snapshot holds a node re-created
    // (with a new child) after the delete being replayed. Java removes only the node and leaves
    // the child in its map, unreachable; then the replayed re-create of the parent and of the
    // child succeed (Java checks the parent's child set), replacing the orphan. Here the subtree
    // goes with the node, and the same replay ends in the same tree.
    let mut t = DataTree::new();
    t.apply(&create(2, "/a", b"", 1));
    t.apply(&create(3, "/a/c", b"", 1));
    assert_eq!(t.apply(&delete(4, "/a")).err, 0);
    assert!(t.node("/a/c").is_none());
    let mut reachable = 0;
    t.for_each_node_preorder(|_, _| reachable += 1);
    assert_eq!((t.node_count(), reachable), (4, 4));
    assert_eq!(t.digest(), full_digest(&t));
    assert_eq!(t.apply(&create(5, "/a", b"", 1)).err, 0);
    assert_eq!(t.apply(&create(6, "/a/c", b"", 1)).err, 0);
    assert_eq!(t.children("/a"), Some(vec!["c".to_string()]));
    assert_eq!(t.digest(), full_digest(&t));
}

#[test]
fn kill_session_outside_txn() {
    let mut t = DataTree::new();
    let s = 0x0500_0000_0000_0001;
    t.apply(&create_eph(s, 2, "/e", 1));
    assert_eq!(t.kill_session(s, 7), vec!["/e".to_string()]);
    assert_eq!(t.node("/").map(|r| r.stat.pzxid), Some(7));
    assert!(t.ephemeral_sessions().is_empty());
    assert!(t.kill_session(s, 8).is_empty());
}

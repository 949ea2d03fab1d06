//! Property tests: arbitrary values of the main records survive encode → decode unchanged, and the
//! decoder consumes exactly the bytes the encoder produced.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use jute::consts::op;
use jute::data::{Acl, ClientInfo, Id, Stat, StatPersisted};
use jute::file::FileHeader;
use jute::proto::*;
use jute::quorum::{LearnerInfo, QuorumAuthPacket, QuorumPacket};
use jute::txn::*;
use jute::{decode_exact, encode_to_bytes, Jute, Reader};

fn bytes_s() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

fn opt_bytes() -> impl Strategy<Value = Option<Bytes>> {
    option::of(bytes_s())
}

/// Paths and other strings: mostly ASCII paths, sometimes arbitrary Unicode.
fn string_s() -> impl Strategy<Value = String> {
    prop_oneof![3 => "(/[a-z0-9._-]{0,8}){0,4}", 1 => "\\PC{0,12}", 1 => any::<String>()]
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    vec(string_s(), 0..5)
}

fn id_s() -> impl Strategy<Value = Id> {
    (string_s(), string_s()).prop_map(|(scheme, id)| Id { scheme, id })
}

fn acl_s() -> impl Strategy<Value = Acl> {
    (any::<i32>(), id_s()).prop_map(|(perms, id)| Acl { perms, id })
}

fn acls() -> impl Strategy<Value = Vec<Acl>> {
    vec(acl_s(), 0..4)
}

prop_compose! {
    fn stat_s()(
        a in any::<(i64, i64, i64, i64)>(),
        b in any::<(i32, i32, i32)>(),
        owner in any::<i64>(),
        c in any::<(i32, i32)>(),
        pzxid in any::<i64>(),
    ) -> Stat {
        Stat {
            czxid: a.0, mzxid: a.1, ctime: a.2, mtime: a.3,
            version: b.0, cversion: b.1, aversion: b.2,
            ephemeral_owner: owner, data_length: c.0, num_children: c.1, pzxid,
        }
    }
}

prop_compose! {
    fn create_req()(path in string_s(), data in opt_bytes(), acl in acls(), flags in any::<i32>())
        -> CreateRequest {
        CreateRequest { path, data, acl, flags }
    }
}

prop_compose! {
    fn create_ttl_req()(c in create_req(), ttl in any::<i64>()) -> CreateTtlRequest {
        CreateTtlRequest { path: c.path, data: c.data, acl: c.acl, flags: c.flags, ttl }
    }
}

prop_compose! {
    fn set_data_req()(path in string_s(), data in opt_bytes(), version in any::<i32>())
        -> SetDataRequest {
        SetDataRequest { path, data, version }
    }
}

fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        (
            prop_oneof![
                Just(op::CREATE),
                Just(op::CREATE2),
                Just(op::CREATE_CONTAINER)
            ],
            create_req()
        )
            .prop_map(|(c, r)| MultiOp::Create(c, r)),
        create_ttl_req().prop_map(MultiOp::CreateTtl),
        (string_s(), any::<i32>())
            .prop_map(|(path, version)| MultiOp::Delete(DeleteRequest { path, version })),
        set_data_req().prop_map(MultiOp::SetData),
        (string_s(), any::<i32>())
            .prop_map(|(path, version)| MultiOp::Check(CheckVersionRequest { path, version })),
        (string_s(), any::<bool>())
            .prop_map(|(path, watch)| MultiOp::GetChildren(GetChildrenRequest { path, watch })),
        (string_s(), any::<bool>())
            .prop_map(|(path, watch)| MultiOp::GetData(GetDataRequest { path, watch })),
    ]
}

fn multi_req() -> impl Strategy<Value = MultiRequest> {
    vec(multi_op(), 0..6).prop_map(|ops| MultiRequest { ops })
}

fn op_result() -> impl Strategy<Value = OpResult> {
    prop_oneof![
        string_s().prop_map(OpResult::Create),
        (string_s(), stat_s()).prop_map(|(p, s)| OpResult::Create2(p, s)),
        Just(OpResult::Delete),
        stat_s().prop_map(OpResult::SetData),
        Just(OpResult::Check),
        strings().prop_map(OpResult::GetChildren),
        (opt_bytes(), stat_s()).prop_map(|(d, s)| OpResult::GetData(d, s)),
        any::<i32>().prop_map(OpResult::Error),
    ]
}

fn multi_resp() -> impl Strategy<Value = MultiResponse> {
    vec(op_result(), 0..6).prop_map(|results| MultiResponse { results })
}

fn connect_req() -> impl Strategy<Value = ConnectRequest> {
    (
        any::<(i32, i64, i32, i64)>(),
        bytes_s(),
        option::of(any::<bool>()),
    )
        .prop_map(
            |((protocol_version, last_zxid_seen, time_out, session_id), passwd, read_only)| {
                ConnectRequest {
                    protocol_version,
                    last_zxid_seen,
                    time_out,
                    session_id,
                    passwd,
                    read_only,
                }
            },
        )
}

fn request() -> impl Strategy<Value = Request> {
    let path_watch = || (string_s(), any::<bool>());
    prop_oneof![
        create_req().prop_map(Request::Create),
        create_req().prop_map(Request::Create2),
        create_req().prop_map(Request::CreateContainer),
        create_ttl_req().prop_map(Request::CreateTtl),
        (string_s(), any::<i32>())
            .prop_map(|(path, version)| Request::Delete(DeleteRequest { path, version })),
        path_watch().prop_map(|(path, watch)| Request::Exists(ExistsRequest { path, watch })),
        path_watch().prop_map(|(path, watch)| Request::GetData(GetDataRequest { path, watch })),
        set_data_req().prop_map(Request::SetData),
        string_s().prop_map(|path| Request::GetAcl(GetAclRequest { path })),
        (string_s(), acls(), any::<i32>())
            .prop_map(|(path, acl, version)| Request::SetAcl(SetAclRequest { path, acl, version })),
        path_watch()
            .prop_map(|(path, watch)| Request::GetChildren(GetChildrenRequest { path, watch })),
        path_watch()
            .prop_map(|(path, watch)| Request::GetChildren2(GetChildren2Request { path, watch })),
        string_s().prop_map(|path| Request::Sync(SyncRequest { path })),
        Just(Request::Ping),
        (string_s(), any::<i32>())
            .prop_map(|(path, version)| Request::Check(CheckVersionRequest { path, version })),
        multi_req().prop_map(Request::Multi),
        multi_req().prop_map(Request::MultiRead),
        (
            option::of(string_s()),
            option::of(string_s()),
            option::of(string_s()),
            any::<i64>()
        )
            .prop_map(
                |(joining_servers, leaving_servers, new_members, cur_config_id)| {
                    Request::Reconfig(ReconfigRequest {
                        joining_servers,
                        leaving_servers,
                        new_members,
                        cur_config_id,
                    })
                }
            ),
        (string_s(), any::<i32>()).prop_map(|(path, watcher_type)| {
            Request::CheckWatches(CheckWatchesRequest { path, watcher_type })
        }),
        (string_s(), any::<i32>()).prop_map(|(path, watcher_type)| {
            Request::RemoveWatches(RemoveWatchesRequest { path, watcher_type })
        }),
        (any::<i32>(), string_s(), bytes_s()).prop_map(|(auth_type, scheme, auth)| Request::Auth(
            AuthPacket {
                auth_type,
                scheme,
                auth
            }
        )),
        (any::<i64>(), strings(), strings(), strings()).prop_map(|(z, d, e, c)| {
            Request::SetWatches(SetWatches {
                relative_zxid: z,
                data_watches: d,
                exist_watches: e,
                child_watches: c,
            })
        }),
        (
            any::<i64>(),
            strings(),
            strings(),
            strings(),
            strings(),
            strings()
        )
            .prop_map(|(z, d, e, c, p, r)| {
                Request::SetWatches2(SetWatches2 {
                    relative_zxid: z,
                    data_watches: d,
                    exist_watches: e,
                    child_watches: c,
                    persistent_watches: p,
                    persistent_recursive_watches: r,
                })
            }),
        opt_bytes().prop_map(|token| Request::Sasl(GetSaslRequest { token })),
        string_s()
            .prop_map(|prefix_path| Request::GetEphemerals(GetEphemeralsRequest { prefix_path })),
        string_s()
            .prop_map(|path| Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path })),
        (string_s(), any::<i32>())
            .prop_map(|(path, mode)| Request::AddWatch(AddWatchRequest { path, mode })),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
        string_s().prop_map(Request::DeleteContainer),
    ]
}

prop_compose! {
    fn create_txn()(path in string_s(), data in opt_bytes(), acl in acls(), ephemeral in any::<bool>(),
                    parent_cversion in any::<i32>()) -> CreateTxn {
        CreateTxn { path, data, acl, ephemeral, parent_cversion }
    }
}

/// A sub-txn of a multi, as Java writes them (types -1, 1, 2, 5, 13, 15, 19, 20, 21).
fn sub_txn() -> impl Strategy<Value = (i32, TxnBody)> {
    prop_oneof![
        (
            prop_oneof![Just(op::CREATE), Just(op::CREATE2)],
            create_txn()
        )
            .prop_map(|(t, c)| (t, TxnBody::Create(c))),
        (create_txn(), any::<i64>()).prop_map(|(c, ttl)| {
            (
                op::CREATE_TTL,
                TxnBody::CreateTtl(CreateTtlTxn {
                    path: c.path,
                    data: c.data,
                    acl: c.acl,
                    parent_cversion: c.parent_cversion,
                    ttl,
                }),
            )
        }),
        create_txn().prop_map(|c| {
            (
                op::CREATE_CONTAINER,
                TxnBody::CreateContainer(CreateContainerTxn {
                    path: c.path,
                    data: c.data,
                    acl: c.acl,
                    parent_cversion: c.parent_cversion,
                }),
            )
        }),
        (
            prop_oneof![Just(op::DELETE), Just(op::DELETE_CONTAINER)],
            string_s()
        )
            .prop_map(|(t, path)| (t, TxnBody::Delete(DeleteTxn { path }))),
        (string_s(), opt_bytes(), any::<i32>()).prop_map(|(path, data, version)| {
            (
                op::SET_DATA,
                TxnBody::SetData(SetDataTxn {
                    path,
                    data,
                    version,
                }),
            )
        }),
        (string_s(), any::<i32>()).prop_map(|(path, version)| (
            op::CHECK,
            TxnBody::Check(CheckVersionTxn { path, version })
        )),
        any::<i32>().prop_map(|err| (op::ERROR, TxnBody::Error(ErrorTxn { err }))),
    ]
}

/// A txn body of every kind with its header type, and whether a digest may follow it.
fn txn_body() -> impl Strategy<Value = (i32, TxnBody, bool)> {
    prop_oneof![
        sub_txn().prop_map(|(t, b)| (t, b, true)),
        any::<i32>().prop_map(|time_out| (
            op::CREATE_SESSION,
            TxnBody::CreateSession(CreateSessionTxn { time_out }),
            true
        )),
        strings().prop_map(|paths2_delete| {
            (
                op::CLOSE_SESSION,
                TxnBody::CloseSession(Some(CloseSessionTxn { paths2_delete })),
                true,
            )
        }),
        // An old closeSession without a body has no digest either.
        Just((op::CLOSE_SESSION, TxnBody::CloseSession(None), false)),
        (string_s(), opt_bytes(), any::<i32>()).prop_map(|(path, data, version)| {
            (
                op::RECONFIG,
                TxnBody::SetData(SetDataTxn {
                    path,
                    data,
                    version,
                }),
                true,
            )
        }),
        (string_s(), acls(), any::<i32>()).prop_map(|(path, acl, version)| (
            op::SET_ACL,
            TxnBody::SetAcl(SetAclTxn { path, acl, version }),
            true
        )),
        vec(sub_txn(), 0..5).prop_map(|subs| (op::MULTI, TxnBody::Multi(subs), true)),
        // Unknown types keep their bytes raw (and swallow anything after them).
        (
            prop_oneof![Just(0), Just(3), Just(8), Just(100), Just(-12)],
            bytes_s()
        )
            .prop_map(|(t, b)| (t, TxnBody::Other(b), false)),
    ]
}

fn txn_entry() -> impl Strategy<Value = TxnEntry> {
    (
        any::<(i64, i32, i64, i64)>(),
        txn_body(),
        option::of(any::<(i32, i64)>()),
    )
        .prop_map(
            |((client_id, cxid, zxid, time), (txn_type, body, digest_ok), digest)| TxnEntry {
                header: TxnHeader {
                    client_id,
                    cxid,
                    zxid,
                    time,
                    txn_type,
                },
                body,
                digest: digest
                    .filter(|_| digest_ok)
                    .map(|(version, tree_digest)| TxnDigest {
                        version,
                        tree_digest,
                    }),
            },
        )
}

fn quorum_packet() -> impl Strategy<Value = QuorumPacket> {
    (
        any::<i32>(),
        any::<i64>(),
        opt_bytes(),
        option::of(vec(id_s(), 0..3)),
    )
        .prop_map(|(packet_type, zxid, data, authinfo)| QuorumPacket {
            packet_type,
            zxid,
            data,
            authinfo,
        })
}

/// Encodes, decodes with `decode_exact` (all bytes consumed) and compares.
fn check<T: Jute + PartialEq + std::fmt::Debug>(v: &T) -> Result<(), TestCaseError> {
    let b = encode_to_bytes(v);
    let back: T =
        decode_exact(b.clone()).map_err(|e| TestCaseError::fail(format!("{e}: {v:?}")))?;
    prop_assert_eq!(&back, v);
    prop_assert_eq!(encode_to_bytes(&back), b);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn stat(s in stat_s()) {
        prop_assert_eq!(encode_to_bytes(&s).len(), 68);
        check(&s)?;
        let p = StatPersisted {
            czxid: s.czxid, mzxid: s.mzxid, ctime: s.ctime, mtime: s.mtime, version: s.version,
            cversion: s.cversion, aversion: s.aversion, ephemeral_owner: s.ephemeral_owner, pzxid: s.pzxid,
        };
        prop_assert_eq!(encode_to_bytes(&p).len(), 60);
        check(&p)?;
        prop_assert_eq!(p.to_stat(s.data_length, s.num_children), s);
    }

    #[test]
    fn acl_vectors(a in acls(), null in any::<bool>()) {
        check(&a)?;
        let opt = if null { None } else { Some(a) };
        check(&opt)?;
    }

    #[test]
    fn strings_and_buffers(s in string_s(), o in option::of(string_s()), b in opt_bytes(), v in strings()) {
        check(&s)?;
        check(&o)?;
        check(&b)?;
        check(&v)?;
        check(&ClientInfo { auth_scheme: s.clone(), user: s })?;
    }

    #[test]
    fn create_and_set_data(c in create_req(), t in create_ttl_req(), s in set_data_req()) {
        check(&c)?;
        check(&t)?;
        check(&s)?;
    }

    #[test]
    fn multi_request(m in multi_req()) {
        check(&m)?;
    }

    #[test]
    fn multi_response(m in multi_resp()) {
        check(&m)?;
    }

    #[test]
    fn connect_request(c in connect_req()) {
        let b = encode_to_bytes(&c);
        prop_assert_eq!(b.len(), 28 + c.passwd.len() + usize::from(c.read_only.is_some()));
        check(&c)?;
    }

    #[test]
    fn connect_response(
        (protocol_version, time_out, session_id) in any::<(i32, i32, i64)>(),
        passwd in bytes_s(),
        ro in option::of(any::<bool>()),
    ) {
        let resp = ConnectResponse { protocol_version, time_out, session_id, passwd };
        let mut out = BytesMut::new();
        resp.write_with_read_only(ro, &mut out);
        let mut r = Reader::new(out.freeze());
        let (back, back_ro) = ConnectResponse::read_with_read_only(&mut r).unwrap();
        prop_assert!(r.is_empty());
        prop_assert_eq!(back, resp);
        prop_assert_eq!(back_ro, ro);
    }

    #[test]
    fn requests(req in request(), xid in any::<i32>()) {
        let mut out = BytesMut::new();
        RequestHeader { xid, op_type: req.op_code() }.write(&mut out);
        req.write_body(&mut out);
        let frame = out.freeze();
        let mut r = Reader::new(frame.clone());
        let h = RequestHeader::read(&mut r).unwrap();
        prop_assert_eq!(h.xid, xid);
        let back = Request::decode(h.op_type, &mut r).unwrap().unwrap();
        prop_assert!(r.is_empty());
        prop_assert_eq!(&back, &req);
    }

    #[test]
    fn txn_entries(e in txn_entry()) {
        let b = e.encode();
        let back = TxnEntry::decode(b.clone()).map_err(|err| TestCaseError::fail(format!("{err}: {e:?}")))?;
        prop_assert_eq!(&back, &e);
        prop_assert_eq!(back.encode(), b);
    }

    #[test]
    fn quorum_packets(p in quorum_packet(), li in any::<(i64, i32, i64)>(), qa in (any::<i64>(), any::<i32>(), opt_bytes())) {
        check(&p)?;
        check(&LearnerInfo { server_id: li.0, protocol_version: li.1, config_version: li.2 })?;
        check(&QuorumAuthPacket { magic: qa.0, status: qa.1, token: qa.2 })?;
        // A PROPOSAL carries a txn entry as its data.
        let hdr = FileHeader { magic: li.1, version: 2, dbid: li.0 };
        check(&hdr)?;
    }

    #[test]
    fn replies_and_events(h in any::<(i32, i64, i32)>(), e in any::<(i32, i32)>(), path in string_s(), st in stat_s(), kids in strings()) {
        check(&ReplyHeader { xid: h.0, zxid: h.1, err: h.2 })?;
        check(&WatcherEvent { event_type: e.0, state: e.1, path: path.clone() })?;
        check(&GetChildren2Response { children: kids.clone(), stat: st.clone() })?;
        check(&Create2Response { path: path.clone(), stat: st.clone() })?;
        check(&GetDataResponse { data: Some(Bytes::from(path.clone().into_bytes())), stat: st.clone() })?;
        check(&GetAclResponse { acl: Acl::open_unsafe(), stat: st })?;
        check(&WhoAmIResponse { client_info: vec![ClientInfo { auth_scheme: "ip".into(), user: path }] })?;
        check(&GetEphemeralsResponse { ephemerals: kids })?;
        check(&MultiHeader { op_type: h.0, done: e.0 & 1 == 1, err: h.2 })?;
    }
}

//! Requests that change nothing in the tree: reads, pings, syncs and the watch-management ops.
//! They run on the connection's task when the connection has no write in flight, or on the apply
//! stage right after the writes they must follow. Either way the tree lock is held while a watch
//! is registered, so no change can slip between reading a node and watching it.

use std::sync::Arc;

use bytes::Bytes;
use jute::consts::{err, perms, watcher_type, xid as special_xid};
use jute::data::{ClientInfo, Id};
use jute::proto::{
    ExistsResponse, GetAclResponse, GetAllChildrenNumberResponse, GetDataResponse,
    GetEphemeralsResponse, MultiOp, MultiResponse, OpResult, Request, SyncResponse, WhoAmIResponse,
};

use crate::auth::{check_acl, mask_digests};
use crate::data_tree::{DataTree, WatchTable};
use crate::frame;
use crate::shared::{ConnHandle, Shared};
use crate::watch_manager::{ConnId, WatchManager, WatchMode};

/// Who is asking.
pub struct ReadCtx {
    pub conn: ConnId,
    pub session_id: i64,
    pub auth: Arc<Vec<Id>>,
}

impl ReadCtx {
    pub fn of(conn: &ConnHandle) -> ReadCtx {
        ReadCtx {
            conn: conn.id,
            session_id: conn.session_id.load(std::sync::atomic::Ordering::Acquire),
            auth: conn.auth_ids(),
        }
    }
}

/// The reply to send, and whether the connection must then be closed.
pub struct ReadReply {
    pub frame: Bytes,
    pub close: bool,
}

impl ReadReply {
    fn ok(frame: Bytes) -> ReadReply {
        ReadReply {
            frame,
            close: false,
        }
    }
}

type R<T> = Result<T, i32>;

/// The watch manager as a read sees it: already locked by the caller (the apply stage runs
/// queued reads under its lock), or locked only if the read turns out to touch watches, so
/// the common watchless read takes no server-wide lock beyond the tree's.
pub enum Watches<'a> {
    Held(&'a mut WatchManager),
    Lazy(
        &'a parking_lot::Mutex<WatchManager>,
        Option<parking_lot::MutexGuard<'a, WatchManager>>,
    ),
}

impl<'a> Watches<'a> {
    /// Locks on first use (lock order: the caller holds the tree lock, then this).
    pub fn lazy(m: &'a parking_lot::Mutex<WatchManager>) -> Watches<'a> {
        Watches::Lazy(m, None)
    }

    fn get(&mut self) -> &mut WatchManager {
        match self {
            Watches::Held(w) => w,
            Watches::Lazy(m, g) => g.get_or_insert_with(|| m.lock()),
        }
    }
}

/// Runs one non-mutating request against the tree.
pub fn execute(
    shared: &Shared,
    tree: &DataTree,
    watches: &mut Watches<'_>,
    ctx: &ReadCtx,
    xid: i32,
    req: &Request,
) -> ReadReply {
    let zxid = tree.last_processed_zxid();
    let policy = &shared.settings.acl;
    let result: R<Bytes> = (|| match req {
        Request::Ping => Ok(frame::header_only(special_xid::PING, zxid, 0)),
        Request::Exists(r) => {
            if r.path.contains('\0') {
                return Err(err::BAD_ARGUMENTS);
            }
            if let Some(n) = tree.node(&r.path) {
                check_acl(policy, &node_acl(tree, n), perms::READ, &ctx.auth)?;
            }
            if r.watch {
                watches
                    .get()
                    .add(WatchTable::Data, &r.path, ctx.conn, WatchMode::Standard);
            }
            let stat = tree.stat(&r.path).ok_or(err::NO_NODE)?;
            Ok(frame::reply(xid, zxid, 0, Some(&ExistsResponse { stat })))
        }
        Request::GetData(r) => {
            let (data, stat) = get_data(shared, tree, watches, ctx, &r.path, r.watch)?;
            Ok(frame::reply(
                xid,
                zxid,
                0,
                Some(&GetDataResponse { data, stat }),
            ))
        }
        Request::GetChildren(jute::proto::GetChildrenRequest { path, watch })
        | Request::GetChildren2(jute::proto::GetChildren2Request { path, watch }) => {
            let n = readable_node(shared, tree, watches, ctx, path, *watch, WatchTable::Child)?;
            let stat = matches!(req, Request::GetChildren2(_)).then(|| tree.node_stat(n));
            let count = n.children_count();
            let names = tree.child_names(n);
            Ok(frame::children_reply(
                xid,
                zxid,
                count,
                names,
                stat.as_ref(),
            ))
        }
        Request::GetAcl(r) => {
            let n = tree.node(&r.path).ok_or(err::NO_NODE)?;
            let acl = tree.acl(n);
            check_acl(policy, &acl, perms::READ | perms::ADMIN, &ctx.auth)?;
            let stat = n.to_stat();
            let acl = if check_acl(policy, &acl, perms::ADMIN, &ctx.auth).is_ok() {
                acl
            } else {
                mask_digests(&acl)
            };
            Ok(frame::reply(
                xid,
                zxid,
                0,
                Some(&GetAclResponse { acl, stat }),
            ))
        }
        Request::GetAllChildrenNumber(r) => {
            let n = tree.node(&r.path).ok_or(err::NO_NODE)?;
            check_acl(policy, &node_acl(tree, n), perms::READ, &ctx.auth)?;
            let total_number = tree.all_children_number(&r.path).ok_or(err::NO_NODE)?;
            Ok(frame::reply(
                xid,
                zxid,
                0,
                Some(&GetAllChildrenNumberResponse { total_number }),
            ))
        }
        Request::GetEphemerals(r) => {
            let all = tree.ephemerals_of(ctx.session_id);
            let prefix = r.prefix_path.trim();
            let ephemerals = if prefix.is_empty() || prefix == "/" {
                all
            } else {
                all.into_iter()
                    .filter(|p| p.starts_with(&r.prefix_path))
                    .collect()
            };
            Ok(frame::reply(
                xid,
                zxid,
                0,
                Some(&GetEphemeralsResponse { ephemerals }),
            ))
        }
        Request::WhoAmI => {
            let client_info = ctx
                .auth
                .iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    user: user_name(id),
                })
                .collect();
            Ok(frame::reply(
                xid,
                zxid,
                0,
                Some(&WhoAmIResponse { client_info }),
            ))
        }
        Request::Sync(r) => Ok(frame::reply(
            xid,
            zxid,
            0,
            Some(&SyncResponse {
                path: r.path.clone(),
            }),
        )),
        Request::MultiRead(m) => {
            // Java's Op.getData/getChildren drop the watch flag: multiRead never sets watches.
            // An op that is not a read ends the request with MARSHALLINGERROR, the results so
            // far still attached (as Java's FinalRequestProcessor sends them).
            let reads = m.ops.iter().filter(|o| o.is_read()).count();
            if reads != 0 && reads != m.ops.len() {
                // Mixed kinds fail MultiOperationRecord's deserialization: no body.
                return Err(err::MARSHALLING_ERROR);
            }
            let mut results = Vec::with_capacity(m.ops.len());
            for o in &m.ops {
                let res = match o {
                    MultiOp::GetChildren(g) => {
                        get_children(shared, tree, watches, ctx, &g.path, false)
                            .map(OpResult::GetChildren)
                    }
                    MultiOp::GetData(g) => get_data(shared, tree, watches, ctx, &g.path, false)
                        .map(|(d, s)| OpResult::GetData(d, s)),
                    _ => {
                        let body = MultiResponse { results };
                        return Ok(frame::reply(xid, zxid, err::MARSHALLING_ERROR, Some(&body)));
                    }
                };
                results.push(res.unwrap_or_else(OpResult::Error));
            }
            Ok(frame::reply(xid, zxid, 0, Some(&MultiResponse { results })))
        }
        Request::SetWatches(s) => {
            let events = set_watches(
                tree,
                watches,
                ctx.conn,
                s.relative_zxid,
                &s.data_watches,
                &s.exist_watches,
                &s.child_watches,
                &[],
                &[],
            );
            for e in events {
                shared.send_to(ctx.conn, e);
            }
            Ok(frame::header_only(xid, zxid, 0))
        }
        Request::SetWatches2(s) => {
            let events = set_watches(
                tree,
                watches,
                ctx.conn,
                s.relative_zxid,
                &s.data_watches,
                &s.exist_watches,
                &s.child_watches,
                &s.persistent_watches,
                &s.persistent_recursive_watches,
            );
            for e in events {
                shared.send_to(ctx.conn, e);
            }
            Ok(frame::header_only(xid, zxid, 0))
        }
        Request::AddWatch(a) => {
            match a.mode {
                0 => {
                    let _ = watches.get().add(
                        WatchTable::Data,
                        &a.path,
                        ctx.conn,
                        WatchMode::Persistent,
                    );
                    let _ = watches.get().add(
                        WatchTable::Child,
                        &a.path,
                        ctx.conn,
                        WatchMode::Persistent,
                    );
                }
                1 => {
                    let _ = watches.get().add(
                        WatchTable::Data,
                        &a.path,
                        ctx.conn,
                        WatchMode::PersistentRecursive,
                    );
                }
                _ => return Err(err::MARSHALLING_ERROR),
            }
            Ok(frame::reply(
                xid,
                zxid,
                0,
                Some(&jute::proto::ErrorResponse { err: 0 }),
            ))
        }
        Request::CheckWatches(c) => {
            valid_watcher_type(c.watcher_type)?;
            if watches.get().contains(&c.path, ctx.conn, c.watcher_type) {
                Ok(frame::header_only(xid, zxid, 0))
            } else {
                Err(err::NO_WATCHER)
            }
        }
        Request::RemoveWatches(c) => {
            valid_watcher_type(c.watcher_type)?;
            if watches.get().remove(&c.path, ctx.conn, c.watcher_type) {
                Ok(frame::header_only(xid, zxid, 0))
            } else {
                Err(err::NO_WATCHER)
            }
        }
        _ => Err(err::UNIMPLEMENTED),
    })();
    match result {
        Ok(f) => ReadReply::ok(f),
        Err(code) => ReadReply {
            frame: frame::header_only(xid, zxid, code),
            close: code == err::UNIMPLEMENTED,
        },
    }
}

fn valid_watcher_type(t: i32) -> R<()> {
    if (watcher_type::CHILDREN..=watcher_type::PERSISTENT_RECURSIVE).contains(&t) {
        Ok(())
    } else {
        Err(err::MARSHALLING_ERROR)
    }
}

/// The user name whoAmI reports for an id (`AuthenticationProvider.getUserName`).
fn user_name(id: &Id) -> String {
    match id.scheme.as_str() {
        "digest" => id.id.split(':').next().unwrap_or("").to_string(),
        "ip" => id.id.clone(),
        _ => String::new(),
    }
}

/// A node's ACL list, shared with the cache (no copy per read; empty if the index is unknown).
fn node_acl(tree: &DataTree, n: &crate::data_tree::DataNode) -> Arc<Vec<jute::data::Acl>> {
    tree.acl_checked(n).unwrap_or_default()
}

fn get_data(
    shared: &Shared,
    tree: &DataTree,
    watches: &mut Watches<'_>,
    ctx: &ReadCtx,
    path: &str,
    watch: bool,
) -> R<(Option<Bytes>, jute::data::Stat)> {
    let n = readable_node(shared, tree, watches, ctx, path, watch, WatchTable::Data)?;
    Ok((n.data().map(Bytes::copy_from_slice), n.to_stat()))
}

/// The node a getData / getChildren reads, after its READ check and, when asked, the watch
/// registration in `table`.
fn readable_node<'t>(
    shared: &Shared,
    tree: &'t DataTree,
    watches: &mut Watches<'_>,
    ctx: &ReadCtx,
    path: &str,
    watch: bool,
    table: WatchTable,
) -> R<&'t crate::data_tree::DataNode> {
    let n = tree.node(path).ok_or(err::NO_NODE)?;
    check_acl(
        &shared.settings.acl,
        &node_acl(tree, n),
        perms::READ,
        &ctx.auth,
    )?;
    if watch {
        watches
            .get()
            .add(table, path, ctx.conn, WatchMode::Standard);
    }
    Ok(n)
}

fn get_children(
    shared: &Shared,
    tree: &DataTree,
    watches: &mut Watches<'_>,
    ctx: &ReadCtx,
    path: &str,
    watch: bool,
) -> R<Vec<String>> {
    let n = readable_node(shared, tree, watches, ctx, path, watch, WatchTable::Child)?;
    Ok(tree.child_names(n).map(str::to_string).collect())
}

/// Java's `DataTree.setWatches`: fires what the client missed since `rel`, registers the rest.
#[allow(clippy::too_many_arguments)]
fn set_watches(
    tree: &DataTree,
    watches: &mut Watches<'_>,
    conn: ConnId,
    rel: i64,
    data: &[String],
    exist: &[String],
    child: &[String],
    persistent: &[String],
    recursive: &[String],
) -> Vec<Bytes> {
    use jute::consts::event;
    let mut out = Vec::new();
    for p in data {
        match tree.node(p) {
            None => out.push(frame::notification(-1, event::NODE_DELETED, p)),
            Some(n) if n.stat.mzxid > rel => {
                out.push(frame::notification(-1, event::NODE_DATA_CHANGED, p))
            }
            Some(_) => {
                let _ = watches
                    .get()
                    .add(WatchTable::Data, p, conn, WatchMode::Standard);
            }
        }
    }
    for p in exist {
        if tree.node(p).is_some() {
            out.push(frame::notification(-1, event::NODE_CREATED, p));
        } else {
            watches
                .get()
                .add(WatchTable::Data, p, conn, WatchMode::Standard);
        }
    }
    for p in child {
        match tree.node(p) {
            None => out.push(frame::notification(-1, event::NODE_DELETED, p)),
            Some(n) if n.stat.pzxid > rel => {
                out.push(frame::notification(-1, event::NODE_CHILDREN_CHANGED, p))
            }
            Some(_) => {
                let _ = watches
                    .get()
                    .add(WatchTable::Child, p, conn, WatchMode::Standard);
            }
        }
    }
    for p in persistent {
        watches
            .get()
            .add(WatchTable::Data, p, conn, WatchMode::Persistent);
        watches
            .get()
            .add(WatchTable::Child, p, conn, WatchMode::Persistent);
    }
    for p in recursive {
        watches
            .get()
            .add(WatchTable::Data, p, conn, WatchMode::PersistentRecursive);
    }
    out
}

//! Human-readable renderings for the CLI: a snapshot dump (like `zkSnapShotToolkit`), a txn log dump
//! (like `zkTxnLogToolkit`, one line per txn) and a whole-directory verification report.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use jute::consts::op;
use jute::data::{Acl, StatPersisted};
use jute::txn::{TxnBody, TxnEntry};

use crate::error::VisitResult;
use crate::layout::{list_logs, list_snapshots, VERSION_DIR};
use crate::snapshot::{is_valid_snapshot, read_snapshot, SnapshotInfo, SnapshotVisitor};
use crate::txn_log::{decode_payload, FileEnd, LogFileReader};

/// Java's `Request.op2String` names of txn types.
pub fn op_name(t: i32) -> String {
    let s = match t {
        op::NOTIFICATION => "notification",
        op::CREATE => "create",
        op::DELETE => "delete",
        op::SET_DATA => "setData",
        op::SET_ACL => "setACL",
        op::CHECK => "check",
        op::MULTI => "multi",
        op::CREATE2 => "create2",
        op::RECONFIG => "reconfig",
        op::CREATE_CONTAINER => "createContainer",
        op::DELETE_CONTAINER => "deleteContainer",
        op::CREATE_TTL => "createTtl",
        op::CREATE_SESSION => "createSession",
        op::CLOSE_SESSION => "closeSession",
        op::ERROR => "error",
        _ => return format!("unknown {t}"),
    };
    s.to_string()
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS.mmm UTC` (no time zone database needed).
pub fn format_time_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{milli:03} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn acls(a: &[Acl]) -> String {
    let v: Vec<String> = a
        .iter()
        .map(|a| format!("{}:{}:{}", a.id.scheme, a.id.id, a.perms))
        .collect();
    format!("[{}]", v.join(","))
}

fn data_len(d: &Option<Bytes>) -> String {
    d.as_ref()
        .map_or("null".to_string(), |b| format!("{}B", b.len()))
}

/// A one-line summary of a txn record.
pub fn body_summary(body: &TxnBody) -> String {
    match body {
        TxnBody::CreateSession(t) => format!("timeout={}", t.time_out),
        TxnBody::CloseSession(None) => String::new(),
        TxnBody::CloseSession(Some(t)) => format!("paths2Delete={:?}", t.paths2_delete),
        TxnBody::Create(t) => format!(
            "{} data={} acl={} ephemeral={} parentCVersion={}",
            t.path,
            data_len(&t.data),
            acls(&t.acl),
            t.ephemeral,
            t.parent_cversion
        ),
        TxnBody::CreateTtl(t) => format!(
            "{} data={} acl={} parentCVersion={} ttl={}",
            t.path,
            data_len(&t.data),
            acls(&t.acl),
            t.parent_cversion,
            t.ttl
        ),
        TxnBody::CreateContainer(t) => format!(
            "{} data={} acl={} parentCVersion={}",
            t.path,
            data_len(&t.data),
            acls(&t.acl),
            t.parent_cversion
        ),
        TxnBody::Delete(t) => t.path.clone(),
        TxnBody::SetData(t) => format!(
            "{} data={} version={}",
            t.path,
            data_len(&t.data),
            t.version
        ),
        TxnBody::SetAcl(t) => format!("{} acl={} version={}", t.path, acls(&t.acl), t.version),
        TxnBody::Check(t) => format!("{} version={}", t.path, t.version),
        TxnBody::Error(t) => format!("err={}", t.err),
        TxnBody::Multi(subs) => {
            let v: Vec<String> = subs
                .iter()
                .map(|(t, b)| format!("{}({})", op_name(*t), body_summary(b)))
                .collect();
            format!("[{}]", v.join("; "))
        }
        TxnBody::Other(b) => format!("<{} bytes>", b.len()),
    }
}

/// One txn as zkTxnLogToolkit prints it.
pub fn txn_line(e: &TxnEntry) -> String {
    let h = &e.header;
    let mut s = format!(
        "{} session 0x{:x} cxid 0x{:x} zxid 0x{:x} {} {}",
        format_time_ms(h.time),
        h.client_id,
        h.cxid,
        h.zxid,
        op_name(h.txn_type),
        body_summary(&e.body)
    );
    if let Some(d) = &e.digest {
        let _ = write!(s, " digest v{} 0x{:x}", d.version, d.tree_digest);
    }
    s
}

/// Renders a txn log: header, one line per txn, and how the file ends (EOF, padding, torn tail).
/// A checksum mismatch or undecodable entry ends the dump with a line naming the offset.
pub fn txnlog_dump(path: &Path) -> String {
    let mut out = String::new();
    let mut r = match LogFileReader::open(path) {
        Ok(r) => r,
        Err(e) => return format!("ERROR {e}\n"),
    };
    let _ = writeln!(
        out,
        "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2: {}",
        path.display()
    );
    let mut count = 0u64;
    loop {
        match r.next_entry() {
            Ok(Some(raw)) => match decode_payload(path, raw.offset, raw.payload) {
                Ok(e) => {
                    count += 1;
                    let _ = writeln!(out, "{}", txn_line(&e));
                }
                Err(e) => {
                    let _ = writeln!(out, "ERROR {e}");
                    break;
                }
            },
            Ok(None) => {
                match r.end() {
                    Some(FileEnd::Torn(t)) => {
                        let _ = writeln!(
                            out,
                            "Torn tail at offset {} ({:?}), file length {}",
                            t.offset, t.reason, t.file_len
                        );
                    }
                    Some(FileEnd::Padding { offset }) => {
                        let _ = writeln!(out, "EOF reached (padding at offset {offset})");
                    }
                    Some(FileEnd::Eof { offset }) => {
                        let _ = writeln!(out, "EOF reached at offset {offset}");
                    }
                    None => {}
                }
                break;
            }
            Err(e) => {
                let _ = writeln!(out, "ERROR {e}");
                break;
            }
        }
    }
    let _ = writeln!(out, "{count} txns");
    out
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[derive(Default)]
struct Collect {
    sessions: Vec<(i64, i32)>,
    acls: Vec<(i64, Vec<Acl>)>,
    nodes: Vec<(String, Option<usize>, i64, StatPersisted)>,
}

impl SnapshotVisitor for Collect {
    fn session(&mut self, id: i64, t: i32) -> VisitResult {
        self.sessions.push((id, t));
        Ok(())
    }
    fn acl_entry(&mut self, index: i64, acl: Vec<Acl>) -> VisitResult {
        self.acls.push((index, acl));
        Ok(())
    }
    fn node(
        &mut self,
        path: String,
        data: Option<Bytes>,
        acl: i64,
        stat: StatPersisted,
    ) -> VisitResult {
        self.nodes.push((path, data.map(|d| d.len()), acl, stat));
        Ok(())
    }
}

fn stat_text(out: &mut String, s: &StatPersisted, len: Option<usize>) {
    let _ = writeln!(out, "  cZxid = 0x{:x}", s.czxid);
    let _ = writeln!(out, "  ctime = {}", format_time_ms(s.ctime));
    let _ = writeln!(out, "  mZxid = 0x{:x}", s.mzxid);
    let _ = writeln!(out, "  mtime = {}", format_time_ms(s.mtime));
    let _ = writeln!(out, "  pZxid = 0x{:x}", s.pzxid);
    let _ = writeln!(out, "  cversion = {}", s.cversion);
    let _ = writeln!(out, "  dataVersion = {}", s.version);
    let _ = writeln!(out, "  aclVersion = {}", s.aversion);
    let _ = writeln!(out, "  ephemeralOwner = 0x{:x}", s.ephemeral_owner);
    let _ = writeln!(out, "  dataLength = {}", len.map_or(-1, |l| l as i64));
}

/// Renders a snapshot: header, sessions, ACL cache, every node with its stat and data length, and
/// the digest — as text (zkSnapShotToolkit style) or as one JSON object.
pub fn snapshot_dump(path: &Path, json: bool) -> String {
    let mut c = Collect::default();
    let info = match read_snapshot(path, &mut c) {
        Ok(i) => i,
        Err(e) => {
            return if json {
                format!("{{\"error\":{}}}\n", json_str(&e.to_string()))
            } else {
                format!("ERROR {e}\n")
            }
        }
    };
    if json {
        snapshot_json(path, &c, &info)
    } else {
        snapshot_text(path, &c, &info)
    }
}

fn snapshot_text(path: &Path, c: &Collect, info: &SnapshotInfo) -> String {
    let mut out = String::new();
    if let Some(h) = &info.header {
        let _ = writeln!(
            out,
            "ZNode Details (count={}) of {}: magic 0x{:x} version {} dbid {}",
            c.nodes.len(),
            path.display(),
            h.magic,
            h.version,
            h.dbid
        );
    }
    for (p, len, acl, stat) in &c.nodes {
        let _ = writeln!(out, "----");
        let _ = writeln!(out, "{}", if p.is_empty() { "/" } else { p });
        let _ = writeln!(out, "  acl = {acl}");
        stat_text(&mut out, stat, *len);
    }
    let _ = writeln!(out, "----");
    let _ = writeln!(out, "ACL cache ({} entries):", c.acls.len());
    for (i, a) in &c.acls {
        let _ = writeln!(out, "{i} -> {}", acls(a));
    }
    let _ = writeln!(
        out,
        "Session Details (sid, timeout) ({} sessions):",
        c.sessions.len()
    );
    for (id, t) in &c.sessions {
        let _ = writeln!(out, "0x{id:x}, {t}");
    }
    match &info.digest {
        Some(d) => {
            let _ = writeln!(
                out,
                "Digest: zxid 0x{:x} version {} digest 0x{:x}",
                d.zxid, d.version, d.digest
            );
        }
        None => {
            let _ = writeln!(out, "Digest: none");
        }
    }
    if let Some(z) = info.last_processed_zxid {
        let _ = writeln!(out, "lastProcessedZxid: 0x{z:x}");
    }
    let _ = writeln!(out, "Seals verified: {}", info.seals);
    out
}

fn snapshot_json(path: &Path, c: &Collect, info: &SnapshotInfo) -> String {
    let mut out = String::new();
    let _ = write!(out, "{{\"file\":{},", json_str(&path.display().to_string()));
    if let Some(h) = &info.header {
        let _ = write!(
            out,
            "\"header\":{{\"magic\":{},\"version\":{},\"dbid\":{}}},",
            h.magic, h.version, h.dbid
        );
    }
    out.push_str("\"sessions\":[");
    let v: Vec<String> = c
        .sessions
        .iter()
        .map(|(id, t)| format!("{{\"id\":\"0x{id:x}\",\"timeout\":{t}}}"))
        .collect();
    out.push_str(&v.join(","));
    out.push_str("],\"acls\":[");
    let v: Vec<String> = c
        .acls
        .iter()
        .map(|(i, a)| {
            let l: Vec<String> = a
                .iter()
                .map(|a| {
                    format!(
                        "{{\"perms\":{},\"scheme\":{},\"id\":{}}}",
                        a.perms,
                        json_str(&a.id.scheme),
                        json_str(&a.id.id)
                    )
                })
                .collect();
            format!("{{\"index\":{i},\"acl\":[{}]}}", l.join(","))
        })
        .collect();
    out.push_str(&v.join(","));
    out.push_str("],\"nodes\":[");
    let v: Vec<String> = c
        .nodes
        .iter()
        .map(|(p, len, acl, s)| {
            format!(
                "{{\"path\":{},\"dataLength\":{},\"acl\":{acl},\"czxid\":{},\"mzxid\":{},\"ctime\":{},\"mtime\":{},\"version\":{},\"cversion\":{},\"aversion\":{},\"ephemeralOwner\":{},\"pzxid\":{}}}",
                json_str(p),
                len.map_or(-1, |l| l as i64),
                s.czxid,
                s.mzxid,
                s.ctime,
                s.mtime,
                s.version,
                s.cversion,
                s.aversion,
                s.ephemeral_owner,
                s.pzxid
            )
        })
        .collect();
    out.push_str(&v.join(","));
    out.push(']');
    if let Some(d) = &info.digest {
        let _ = write!(
            out,
            ",\"digest\":{{\"zxid\":{},\"version\":{},\"digest\":{}}}",
            d.zxid, d.version, d.digest
        );
    }
    if let Some(z) = info.last_processed_zxid {
        let _ = write!(out, ",\"lastProcessedZxid\":{z}");
    }
    let _ = writeln!(out, ",\"seals\":{}}}", info.seals);
    out
}

/// One finding of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file concerned.
    pub path: PathBuf,
    /// Where in it, when known.
    pub offset: Option<u64>,
    /// What is wrong.
    pub message: String,
}

/// The result of checking every file of a data dir pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Snapshots checked: path, name zxid, node count (None if it failed).
    pub snapshots: Vec<(PathBuf, i64, Option<u64>)>,
    /// Logs checked: path, number of valid txns, first and last zxid.
    pub logs: Vec<(PathBuf, u64, Option<i64>, Option<i64>)>,
    /// Smallest and largest txn zxid in the logs.
    pub zxid_range: Option<(i64, i64)>,
    /// Corruption: checksum mismatches, unparsable files, broken trees.
    pub problems: Vec<Finding>,
    /// Not corruption but worth knowing: torn tails, incomplete snapshots, zxid gaps.
    pub warnings: Vec<Finding>,
}

impl Report {
    /// True when no problem was found (warnings allowed).
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// A text rendering, one finding per line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (p, z, n) in &self.snapshots {
            let _ = writeln!(
                out,
                "snapshot {} zxid 0x{z:x}: {}",
                p.display(),
                n.map_or("FAILED".to_string(), |n| format!("{n} nodes"))
            );
        }
        for (p, n, a, b) in &self.logs {
            let _ = writeln!(
                out,
                "log {}: {n} txns, zxids {} .. {}",
                p.display(),
                a.map_or("-".into(), |z| format!("0x{z:x}")),
                b.map_or("-".into(), |z| format!("0x{z:x}"))
            );
        }
        if let Some((a, b)) = self.zxid_range {
            let _ = writeln!(out, "txn zxid range 0x{a:x} .. 0x{b:x}");
        }
        for (kind, list) in [("PROBLEM", &self.problems), ("warning", &self.warnings)] {
            for f in list {
                let at = f
                    .offset
                    .map_or(String::new(), |o| format!(" at offset {o}"));
                let _ = writeln!(out, "{kind}: {}{at}: {}", f.path.display(), f.message);
            }
        }
        let _ = writeln!(out, "{}", if self.is_clean() { "OK" } else { "CORRUPT" });
        out
    }
}

/// Checks the tree shape while a snapshot streams by: every node's parent came before it.
#[derive(Default)]
struct TreeCheck {
    paths: HashSet<String>,
    problems: Vec<(String, String)>,
}

impl SnapshotVisitor for TreeCheck {
    fn node(&mut self, path: String, _: Option<Bytes>, _: i64, _: StatPersisted) -> VisitResult {
        if !path.is_empty() {
            let parent = match path.rfind('/') {
                Some(i) => &path[..i],
                None => "\u{0}",
            };
            if !self.paths.contains(parent) && self.problems.len() < 20 {
                self.problems.push((
                    path.clone(),
                    format!("parent {parent:?} not found before the node"),
                ));
            }
        }
        if !self.paths.insert(path.clone()) && self.problems.len() < 20 {
            self.problems.push((path, "duplicate node".into()));
        }
        Ok(())
    }
}

fn finding(path: &Path, offset: Option<u64>, message: impl Into<String>) -> Finding {
    Finding {
        path: path.to_path_buf(),
        offset,
        message: message.into(),
    }
}

/// Checks every snapshot (seals, tree shape) and every txn log (checksums, decoding, zxid order) of
/// `data_dir`/`data_log_dir` (their `version-2` subdirs), without changing anything.
pub fn verify(data_dir: &Path, data_log_dir: Option<&Path>) -> Report {
    let snap_dir = data_dir.join(VERSION_DIR);
    let log_dir = data_log_dir.unwrap_or(data_dir).join(VERSION_DIR);
    let mut rep = Report::default();
    match list_snapshots(&snap_dir) {
        Err(e) => rep.problems.push(finding(&snap_dir, None, e.to_string())),
        Ok(snaps) => {
            for s in snaps {
                if !is_valid_snapshot(&s.path) {
                    rep.warnings.push(finding(
                        &s.path,
                        None,
                        "incomplete snapshot (fails the validity test; recovery skips it)",
                    ));
                    rep.snapshots.push((s.path, s.zxid, None));
                    continue;
                }
                let mut check = TreeCheck::default();
                match read_snapshot(&s.path, &mut check) {
                    Ok(info) => {
                        for (p, m) in check.problems {
                            rep.problems
                                .push(finding(&s.path, None, format!("node {p:?}: {m}")));
                        }
                        if !check.paths.contains("") {
                            rep.problems.push(finding(&s.path, None, "no root node"));
                        }
                        rep.snapshots.push((s.path, s.zxid, Some(info.nodes)));
                    }
                    Err(e @ crate::error::Error::UnexpectedEof { .. }) => {
                        // A compressed snapshot cut short passes the magic-only validity test:
                        // an interrupted write, which recovery skips, not corruption.
                        let msg = format!("incomplete snapshot: {e}");
                        rep.warnings.push(finding(&s.path, e.offset(), msg));
                        rep.snapshots.push((s.path, s.zxid, None));
                    }
                    Err(e) => {
                        rep.problems
                            .push(finding(&s.path, e.offset(), e.to_string()));
                        rep.snapshots.push((s.path, s.zxid, None));
                    }
                }
            }
        }
    }
    let logs = match list_logs(&log_dir) {
        Ok(l) => l,
        Err(e) => {
            rep.problems.push(finding(&log_dir, None, e.to_string()));
            return rep;
        }
    };
    let n_logs = logs.len();
    let mut prev_last: Option<i64> = None;
    for (i, log) in logs.into_iter().enumerate() {
        let mut r = match LogFileReader::open(&log.path) {
            Ok(r) => r,
            Err(e) => {
                rep.problems
                    .push(finding(&log.path, e.offset(), e.to_string()));
                continue;
            }
        };
        let (mut first, mut last, mut count) = (None, None, 0u64);
        loop {
            match r.next_entry() {
                Ok(Some(raw)) => match decode_payload(&log.path, raw.offset, raw.payload) {
                    Ok(e) => {
                        let z = e.zxid();
                        if let Some(p) = last.or(prev_last) {
                            if z <= p {
                                rep.problems.push(finding(
                                    &log.path,
                                    Some(raw.offset),
                                    format!("zxid 0x{z:x} does not follow 0x{p:x}"),
                                ));
                            }
                        }
                        if first.is_none() && z != log.zxid {
                            rep.warnings.push(finding(
                                &log.path,
                                Some(raw.offset),
                                format!("first zxid 0x{z:x} differs from the file name"),
                            ));
                        }
                        first.get_or_insert(z);
                        last = Some(z);
                        count += 1;
                    }
                    Err(e) => {
                        rep.problems
                            .push(finding(&log.path, e.offset(), e.to_string()));
                        break;
                    }
                },
                Ok(None) => {
                    if let Some(FileEnd::Torn(t)) = r.end() {
                        let msg = format!(
                            "torn tail ({:?}), {} bytes after it",
                            t.reason,
                            t.file_len.saturating_sub(t.offset)
                        );
                        if i + 1 == n_logs {
                            rep.warnings.push(finding(&log.path, Some(t.offset), msg));
                        } else {
                            rep.warnings.push(finding(
                                &log.path,
                                Some(t.offset),
                                format!("{msg} (not the newest log)"),
                            ));
                        }
                    }
                    break;
                }
                Err(e) => {
                    rep.problems
                        .push(finding(&log.path, e.offset(), e.to_string()));
                    break;
                }
            }
        }
        if let (Some(a), Some(b)) = (first, last) {
            rep.zxid_range = Some(match rep.zxid_range {
                None => (a, b),
                Some((x, y)) => (x.min(a), y.max(b)),
            });
        }
        if last.is_some() {
            prev_last = last;
        }
        rep.logs.push((log.path, count, first, last));
    }
    rep
}

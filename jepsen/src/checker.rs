//! Checkers over a recorded history. Each returns a [`Check`]: valid, invalid (with anomalies
//! and the operations that show them) or unknown (not enough information, e.g. a node never
//! answered the final reads, or the linearizability search ran out of time).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;

use crate::history::{Call, Op, Outcome, Ret, Workload};
use crate::linear::{self, Verdict};
use crate::workload::{EPH, SEQ, SET};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Valid,
    Unknown,
    Invalid,
}

#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    pub kind: String,
    pub message: String,
    /// The operations that show it (for the register: the minimal failing sub-history).
    pub ops: Vec<Op>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub summary: String,
    pub anomalies: Vec<Anomaly>,
    pub notes: Vec<String>,
}

impl Check {
    fn new(name: &str) -> Self {
        Check {
            name: name.to_string(),
            status: Status::Valid,
            summary: String::new(),
            anomalies: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn anomaly(&mut self, kind: &str, message: String, ops: Vec<Op>) {
        self.status = Status::Invalid;
        self.anomalies.push(Anomaly {
            kind: kind.to_string(),
            message,
            ops,
        });
    }

    fn unknown(&mut self, note: String) {
        if self.status == Status::Valid {
            self.status = Status::Unknown;
        }
        self.notes.push(note);
    }
}

/// Which workloads ran, so checks of workloads that did not run are skipped.
pub fn check_all(
    ops: &[Op],
    workloads: &[Workload],
    nodes: usize,
    budget_per_key: Duration,
) -> Vec<Check> {
    let mut out = Vec::new();
    if workloads.contains(&Workload::Register) {
        out.push(check_register(ops, budget_per_key));
    }
    if workloads.contains(&Workload::Seq) {
        out.push(check_seq(ops, nodes));
    }
    if workloads.contains(&Workload::Set) {
        out.push(check_set(ops, nodes));
    }
    if workloads.contains(&Workload::Session) {
        out.push(check_sessions(ops, nodes));
    }
    if workloads.contains(&Workload::Fifo) {
        out.push(check_fifo(ops));
    }
    out.push(check_monotonic(ops));
    if ops.iter().any(|o| o.workload == Workload::Final) {
        out.push(check_recovery(ops, nodes));
    }
    out
}

/// After every fault was healed, every node must serve clients again: at least one of the final
/// reads on it must succeed (they are retried for a minute and more).
pub fn check_recovery(ops: &[Op], nodes: usize) -> Check {
    let mut check = Check::new("recovery (every node serves clients after the heal)");
    let mut served = vec![0usize; nodes];
    let mut first_ok: Vec<Option<u64>> = vec![None; nodes];
    let start = ops
        .iter()
        .filter(|o| o.workload == Workload::Final)
        .map(|o| o.invoke_ns)
        .min()
        .unwrap_or(0);
    for op in ops.iter().filter(|o| o.workload == Workload::Final) {
        if op.node < nodes && op.outcome.is_ok() {
            served[op.node] += 1;
            let t = first_ok[op.node].get_or_insert(op.complete_ns);
            *t = (*t).min(op.complete_ns);
        }
    }
    for (node, n) in served.iter().enumerate() {
        if *n == 0 {
            let tried: Vec<Op> = ops
                .iter()
                .filter(|o| o.workload == Workload::Final && o.node == node)
                .take(5)
                .cloned()
                .collect();
            check.anomaly(
                "no-recovery",
                format!(
                    "n{} never served a client request after all faults were healed ({} attempts recorded; no session at all if 0)",
                    node + 1,
                    tried.len()
                ),
                tried,
            );
        }
    }
    let slowest = first_ok
        .iter()
        .flatten()
        .map(|t| t.saturating_sub(start))
        .max()
        .unwrap_or(0);
    check.summary = format!(
        "{}/{} nodes served final reads; slowest first answer {:.1}s after the final phase began",
        served.iter().filter(|n| **n > 0).count(),
        nodes,
        slowest as f64 / 1e9
    );
    check
}

fn count(ops: &[Op], wl: Workload) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for op in ops.iter().filter(|o| o.workload == wl) {
        match op.outcome {
            Outcome::Ok(_) => c.0 += 1,
            Outcome::Fail { .. } => c.1 += 1,
            Outcome::Info { .. } => c.2 += 1,
        }
    }
    c
}

pub fn check_register(ops: &[Op], budget_per_key: Duration) -> Check {
    let mut check = Check::new("register (linearizable CAS register per key, WGL)");
    let (ok, fail, info) = count(ops, Workload::Register);
    let results = linear::check_register(ops, budget_per_key);
    let mut unknown = 0;
    let mut bad = 0;
    let mut max_ms = 0u128;
    for r in &results {
        max_ms = max_ms.max(r.elapsed.as_millis());
        match r.verdict {
            Verdict::Linearizable => {}
            Verdict::Unknown => {
                unknown += 1;
                check.unknown(format!(
                    "key {}: search exceeded {:?} ({} ops)",
                    r.key, budget_per_key, r.ops
                ));
            }
            Verdict::NotLinearizable => {
                bad += 1;
                let (witness, msg) = match &r.minimal {
                    Some(m) => {
                        let mut w: Vec<Op> = m.sources.iter().map(|&i| ops[i].clone()).collect();
                        w.sort_by_key(|o| (o.invoke_ns, o.id));
                        let culprit = m
                            .culprit
                            .map(|c| format!("op#{} cannot be linearized", ops[c].id))
                            .unwrap_or_else(|| "no single culprit".into());
                        let pending = if m.cut_pending.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; ops still running at the cut, treated as indeterminate: {}",
                                m.cut_pending
                                    .iter()
                                    .map(|&i| format!("op#{}", ops[i].id))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        };
                        (
                            w,
                            format!(
                                "key {} ({} ops) is not linearizable: {culprit}; minimal failing sub-history has {} ops{}{}",
                                r.key,
                                r.ops,
                                m.sources.len(),
                                if m.unknown_start {
                                    " (from an unknown initial state)"
                                } else {
                                    " (from the empty initial state)"
                                },
                                pending
                            ),
                        )
                    }
                    None => (
                        Vec::new(),
                        format!("key {} ({} ops) is not linearizable", r.key, r.ops),
                    ),
                };
                check.anomaly("not-linearizable", msg, witness);
            }
        }
    }
    check.summary = format!(
        "{} keys, {} ops ({ok} ok, {fail} fail, {info} info); {} linearizable, {bad} not, {unknown} unknown; slowest key {max_ms} ms",
        results.len(),
        ok + fail + info,
        results.len() - bad - unknown
    );
    if ok == 0 {
        check.unknown("no register operation succeeded".into());
    }
    check
}

/// The last successful final listing of `dir` per node.
fn final_listings(ops: &[Op], dir: &str) -> BTreeMap<usize, (Vec<String>, Op)> {
    let mut out = BTreeMap::new();
    for op in ops.iter().filter(|o| o.workload == Workload::Final) {
        if let (Call::FinalList { path }, Outcome::Ok(Ret::Children { names, .. })) =
            (&op.call, &op.outcome)
        {
            if path == dir {
                out.insert(op.node, (names.clone(), op.clone()));
            }
        }
    }
    out
}

pub fn check_set(ops: &[Op], nodes: usize) -> Check {
    let mut check = Check::new("set (every acknowledged add present on every node)");
    let mut acked = BTreeSet::new();
    let mut failed = BTreeSet::new();
    let mut info = BTreeSet::new();
    let mut op_of: HashMap<u64, &Op> = HashMap::new();
    for op in ops {
        if let Call::SetAdd { element } = op.call {
            op_of.insert(element, op);
            match op.outcome {
                Outcome::Ok(_) => acked.insert(element),
                Outcome::Fail { .. } => failed.insert(element),
                Outcome::Info { .. } => info.insert(element),
            };
        }
    }
    let listings = final_listings(ops, SET);
    let mut lost_total = BTreeSet::new();
    let mut recovered = BTreeSet::new();
    let mut first: Option<(usize, BTreeSet<u64>)> = None;
    for node in 0..nodes {
        let Some((names, _)) = listings.get(&node) else {
            check.unknown(format!("n{} never answered the final read", node + 1));
            continue;
        };
        let present: BTreeSet<u64> = names
            .iter()
            .filter_map(|n| n.strip_prefix("e-").and_then(|v| v.parse().ok()))
            .collect();
        let lost: Vec<u64> = acked.difference(&present).copied().collect();
        if !lost.is_empty() {
            lost_total.extend(lost.iter().copied());
            check.anomaly(
                "lost",
                format!(
                    "n{}: {} acknowledged adds missing (lost-count {}): {:?}",
                    node + 1,
                    lost.len(),
                    lost.len(),
                    &lost[..lost.len().min(20)]
                ),
                lost.iter()
                    .filter_map(|e| op_of.get(e).map(|o| (*o).clone()))
                    .take(20)
                    .collect(),
            );
        }
        let unexpected: Vec<u64> = present
            .iter()
            .filter(|e| !acked.contains(e) && !info.contains(e))
            .copied()
            .collect();
        if !unexpected.is_empty() {
            check.anomaly(
                "unexpected",
                format!(
                    "n{}: {} elements present that were never added or whose add failed: {:?}",
                    node + 1,
                    unexpected.len(),
                    &unexpected[..unexpected.len().min(20)]
                ),
                unexpected
                    .iter()
                    .filter_map(|e| op_of.get(e).map(|o| (*o).clone()))
                    .collect(),
            );
        }
        recovered.extend(present.intersection(&info).copied());
        match &first {
            None => first = Some((node, present)),
            Some((n0, p0)) if *p0 != present => {
                let only0: Vec<_> = p0.difference(&present).take(10).collect();
                let only1: Vec<_> = present.difference(p0).take(10).collect();
                // The two last listings (their cversion and pzxid show whether the nodes claim
                // the same directory state).
                let shown: Vec<Op> = [*n0, node]
                    .iter()
                    .filter_map(|n| listings.get(n).map(|(_, op)| op.clone()))
                    .collect();
                check.anomaly(
                    "divergent",
                    format!(
                        "n{} and n{} disagree after sync (and after re-listing until they agree or 20 s pass): only on n{}: {only0:?}; only on n{}: {only1:?}",
                        n0 + 1,
                        node + 1,
                        n0 + 1,
                        node + 1
                    ),
                    shown,
                );
            }
            _ => {}
        }
    }
    check.summary = format!(
        "{} adds: {} ok, {} fail, {} info ({} of those present); lost-count {}",
        acked.len() + failed.len() + info.len(),
        acked.len(),
        failed.len(),
        info.len(),
        recovered.len(),
        lost_total.len()
    );
    if acked.is_empty() {
        check.unknown("no add succeeded".into());
    }
    check
}

pub fn check_seq(ops: &[Op], nodes: usize) -> Check {
    let mut check = Check::new("seq (sequential creates: unique, zxid-ordered, durable)");
    let mut acked: Vec<(i64, i64, &Op)> = Vec::new(); // (seq, czxid, op)
    let mut info = 0usize;
    let mut fail = 0usize;
    for op in ops {
        if let Call::SeqCreate { .. } = op.call {
            match &op.outcome {
                Outcome::Ok(Ret::Created { seq: Some(s), .. }) => {
                    acked.push((*s, op.zxid.unwrap_or(-1), op));
                }
                Outcome::Ok(_) => {}
                Outcome::Fail { .. } => fail += 1,
                Outcome::Info { .. } => info += 1,
            }
        }
    }
    // Unique names.
    let mut by_seq: BTreeMap<i64, Vec<&Op>> = BTreeMap::new();
    for (s, _, op) in &acked {
        by_seq.entry(*s).or_default().push(op);
    }
    for (s, v) in &by_seq {
        if v.len() > 1 {
            check.anomaly(
                "duplicate",
                format!("sequence number {s} acknowledged to {} creates", v.len()),
                v.iter().map(|o| (*o).clone()).collect(),
            );
        }
    }
    // Sequence order follows zxid order.
    let mut by_zxid = acked.clone();
    by_zxid.sort_by_key(|(_, z, _)| *z);
    let mut disorder = 0;
    for w in by_zxid.windows(2) {
        let ((s0, z0, o0), (s1, z1, o1)) = (&w[0], &w[1]);
        if z0 < z1 && s0 >= s1 {
            disorder += 1;
            if disorder <= 5 {
                check.anomaly(
                    "order",
                    format!("zxid {z0:#x} < {z1:#x} but sequence {s0} >= {s1}"),
                    vec![(*o0).clone(), (*o1).clone()],
                );
            }
        }
    }
    // Durable on every node.
    let listings = final_listings(ops, SEQ);
    let mut lost_total = BTreeSet::new();
    for node in 0..nodes {
        let Some((names, _)) = listings.get(&node) else {
            check.unknown(format!("n{} never answered the final read", node + 1));
            continue;
        };
        let present: BTreeSet<i64> = names
            .iter()
            .filter_map(|n| n.strip_prefix("s-").and_then(|v| v.parse().ok()))
            .collect();
        let lost: Vec<i64> = by_seq
            .keys()
            .filter(|s| !present.contains(s))
            .copied()
            .collect();
        if !lost.is_empty() {
            lost_total.extend(lost.iter().copied());
            check.anomaly(
                "lost",
                format!(
                    "n{}: {} acknowledged sequential nodes missing: {:?}",
                    node + 1,
                    lost.len(),
                    &lost[..lost.len().min(20)]
                ),
                lost.iter()
                    .filter_map(|s| by_seq.get(s).and_then(|v| v.first()).map(|o| (*o).clone()))
                    .take(20)
                    .collect(),
            );
        }
        let extra = present.len().saturating_sub(by_seq.len());
        if extra > info {
            check.anomaly(
                "unexpected",
                format!(
                    "n{}: {} sequential nodes not acknowledged, but only {info} creates were indeterminate",
                    node + 1,
                    extra
                ),
                vec![],
            );
        }
    }
    check.summary = format!(
        "{} creates: {} ok, {fail} fail, {info} info; {} duplicate, {disorder} out of zxid order, {} lost",
        acked.len() + fail + info,
        acked.len(),
        by_seq.values().filter(|v| v.len() > 1).count(),
        lost_total.len()
    );
    if acked.is_empty() {
        check.unknown("no create succeeded".into());
    }
    check
}

pub fn check_sessions(ops: &[Op], nodes: usize) -> Check {
    let mut check = Check::new("sessions (ephemerals live exactly as long as their session)");
    let mut by_session: BTreeMap<i64, Vec<&Op>> = BTreeMap::new();
    let mut created = 0;
    let mut checks = 0;
    for op in ops.iter().filter(|o| o.workload == Workload::Session) {
        if let Some(s) = op.session {
            by_session.entry(s).or_default().push(op);
        }
    }
    for (session, sops) in &by_session {
        let mut sops = sops.clone();
        sops.sort_by_key(|o| (o.invoke_ns, o.id));
        let create_ok = sops
            .iter()
            .any(|o| matches!(o.call, Call::EphCreate { .. }) && o.outcome.is_ok());
        for (i, op) in sops.iter().enumerate() {
            match (&op.call, &op.outcome) {
                (Call::EphCreate { .. }, Outcome::Ok(Ret::Created { owner, .. })) => {
                    created += 1;
                    if owner != session {
                        check.anomaly(
                            "wrong-owner",
                            format!(
                                "ephemeral created by session {session:#x} has owner {owner:#x}"
                            ),
                            vec![(*op).clone()],
                        );
                    }
                }
                (Call::EphCheckOwn { .. }, Outcome::Ok(Ret::Exists { owner })) => {
                    checks += 1;
                    match owner {
                        Some(o) if o != session => check.anomaly(
                            "wrong-owner",
                            format!("session {session:#x} sees its ephemeral owned by {o:#x}"),
                            vec![(*op).clone()],
                        ),
                        None if create_ok => {
                            // Missing: an anomaly only if the session provably lived on.
                            if let Some(next) = sops[i + 1..].iter().find(|o| {
                                matches!(o.call, Call::EphAlive { .. })
                                    && o.invoke_ns >= op.complete_ns
                            }) {
                                if next.outcome.is_ok() {
                                    check.anomaly(
                                        "ephemeral-lost",
                                        format!(
                                            "session {session:#x} is alive (its write succeeded) but its ephemeral is gone"
                                        ),
                                        sops.iter().map(|o| (*o).clone()).collect(),
                                    );
                                }
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
    // After every session closed or expired, no ephemeral may remain on any node.
    let listings = final_listings(ops, EPH);
    let mut leftover_total = 0;
    for node in 0..nodes {
        let Some((names, op)) = listings.get(&node) else {
            check.unknown(format!("n{} never answered the final read", node + 1));
            continue;
        };
        if !names.is_empty() {
            leftover_total += names.len();
            let creators: Vec<Op> = ops
                .iter()
                .filter(|o| matches!(&o.call, Call::EphCreate { name } if names.contains(name)))
                .take(10)
                .cloned()
                .collect();
            let mut shown = creators;
            shown.push(op.clone());
            check.anomaly(
                "ephemeral-outlived-session",
                format!(
                    "n{}: {} ephemerals of closed/expired sessions still present at the end: {:?}",
                    node + 1,
                    names.len(),
                    &names[..names.len().min(10)]
                ),
                shown,
            );
        }
    }
    check.summary = format!(
        "{} sessions, {created} ephemerals created, {checks} liveness checks, {leftover_total} left over at the end",
        by_session.len()
    );
    if created == 0 {
        check.unknown("no ephemeral was created".into());
    }
    check
}

/// Pipelined requests of one session are answered in order: within a burst, write zxids and
/// versions increase in issue order, and a read returns the value of the latest write issued
/// before it (or, if writes since the last acknowledged one were indeterminate, of one of
/// those) — never a value written after it.
pub fn check_fifo(ops: &[Op]) -> Check {
    let mut check = Check::new("fifo (pipelined requests answered in order, read-your-writes)");
    let mut bursts: BTreeMap<(u32, u64), Vec<&Op>> = BTreeMap::new();
    for op in ops {
        match op.call {
            Call::FifoSet { burst, .. } | Call::FifoGet { burst, .. } => {
                bursts.entry((op.process, burst)).or_default().push(op)
            }
            _ => {}
        }
    }
    let mut checked = 0;
    for ((process, burst), mut bops) in bursts {
        // Issue order: index, set before get.
        bops.sort_by_key(|o| match o.call {
            Call::FifoSet { index, .. } => (index, 0),
            Call::FifoGet { index, .. } => (index, 1),
            _ => (u32::MAX, 2),
        });
        let mut last_zxid: Option<i64> = None;
        let mut last_set_version: Option<i32> = None;
        // Values a read may return: the last acknowledged set, plus indeterminate ones after it.
        let mut allowed: Vec<u64> = Vec::new();
        let mut allowed_from_before = true; // value from before the burst still possible
        let mut later_values: BTreeSet<u64> = bops
            .iter()
            .filter_map(|o| match o.call {
                Call::FifoSet { value, .. } => Some(value),
                _ => None,
            })
            .collect();
        for op in &bops {
            if let (Some(z), Some(prev)) = (op.zxid, last_zxid) {
                if op.outcome.is_ok() && z < prev {
                    check.anomaly(
                        "zxid-order",
                        format!("p{process} burst {burst}: reply zxid {z:#x} after {prev:#x}"),
                        bops.iter().map(|o| (*o).clone()).collect(),
                    );
                }
            }
            if op.outcome.is_ok() {
                if let Some(z) = op.zxid {
                    last_zxid = Some(last_zxid.map_or(z, |p: i64| p.max(z)));
                }
            }
            match (&op.call, &op.outcome) {
                (Call::FifoSet { value, .. }, out) => {
                    later_values.remove(value);
                    match out {
                        Outcome::Ok(Ret::Written { version }) => {
                            if let Some(pv) = last_set_version {
                                if *version <= pv {
                                    check.anomaly(
                                        "version-order",
                                        format!("p{process} burst {burst}: set returned version {version} after {pv}"),
                                        bops.iter().map(|o| (*o).clone()).collect(),
                                    );
                                }
                            }
                            last_set_version = Some(*version);
                            allowed = vec![*value];
                            allowed_from_before = false;
                        }
                        Outcome::Info { .. } => allowed.push(*value),
                        _ => {}
                    }
                }
                (Call::FifoGet { .. }, Outcome::Ok(Ret::Read { data: Some(v) })) => {
                    checked += 1;
                    let fine = allowed.contains(&v.value)
                        || (allowed_from_before && !later_values.contains(&v.value));
                    if !fine || later_values.contains(&v.value) {
                        check.anomaly(
                            "fifo",
                            format!(
                                "p{process} burst {burst}: read returned {} (allowed {:?}{})",
                                v.value,
                                allowed,
                                if allowed_from_before {
                                    " or a pre-burst value"
                                } else {
                                    ""
                                }
                            ),
                            bops.iter().map(|o| (*o).clone()).collect(),
                        );
                    }
                    if let Some(pv) = last_set_version {
                        if v.version < pv {
                            check.anomaly(
                                "fifo",
                                format!("p{process} burst {burst}: read version {} older than acknowledged set version {pv}", v.version),
                                bops.iter().map(|o| (*o).clone()).collect(),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let (ok, fail, info) = count(ops, Workload::Fifo);
    check.summary = format!(
        "{} ops ({ok} ok, {fail} fail, {info} info), {checked} pipelined reads checked",
        ok + fail + info
    );
    if ok == 0 {
        check.unknown("no fifo operation succeeded".into());
    }
    check
}

/// The node path an op observes or writes, for per-path monotonicity.
fn op_path(op: &Op) -> Option<String> {
    match &op.call {
        Call::RegCreate { key, .. }
        | Call::RegRead { key }
        | Call::RegWrite { key, .. }
        | Call::RegCas { key, .. } => Some(format!("reg/{key}")),
        Call::FifoSet { .. } | Call::FifoGet { .. } => Some(format!("fifo/{}", op.process)),
        Call::EphCreate { name } | Call::EphCheckOwn { name } => Some(format!("eph/{name}")),
        Call::EphAlive { .. } => Some(format!("alive/{}", op.process)),
        _ => None,
    }
}

fn is_write(op: &Op) -> bool {
    matches!(
        op.call,
        Call::RegCreate { .. }
            | Call::RegWrite { .. }
            | Call::RegCas { .. }
            | Call::SeqCreate { .. }
            | Call::SetAdd { .. }
            | Call::EphCreate { .. }
            | Call::EphAlive { .. }
            | Call::FifoSet { .. }
    )
}

/// Per session: every write's zxid is above every zxid the session saw in replies that arrived
/// before the write was sent; reads of one node never go back in mzxid.
pub fn check_monotonic(ops: &[Op]) -> Check {
    let mut check = Check::new("session order (monotonic zxids per session)");
    let mut by_session: BTreeMap<i64, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        if let (Some(s), true, Some(_)) = (op.session, op.outcome.is_ok(), op.zxid) {
            by_session.entry(s).or_default().push(op);
        }
    }
    let mut compared = 0usize;
    let mut violations = 0usize;
    for (session, sops) in &by_session {
        let mut by_invoke = sops.clone();
        by_invoke.sort_by_key(|o| (o.invoke_ns, o.id));
        let mut by_complete = sops.clone();
        by_complete.sort_by_key(|o| o.complete_ns);
        let mut j = 0;
        let mut max_seen: Option<(i64, &Op)> = None;
        let mut per_path: HashMap<String, (i64, &Op)> = HashMap::new();
        for op in &by_invoke {
            while j < by_complete.len() && by_complete[j].complete_ns < op.invoke_ns {
                let done = by_complete[j];
                if let Some(z) = done.zxid {
                    if max_seen.map_or(true, |(m, _)| z > m) {
                        max_seen = Some((z, done));
                    }
                    if let Some(p) = op_path(done) {
                        let e = per_path.entry(p).or_insert((z, done));
                        if z > e.0 {
                            *e = (z, done);
                        }
                    }
                }
                j += 1;
            }
            let Some(z) = op.zxid else { continue };
            compared += 1;
            if is_write(op) {
                if let Some((m, prev)) = max_seen {
                    if z <= m {
                        violations += 1;
                        if violations <= 10 {
                            check.anomaly(
                                "non-monotonic-write",
                                format!("session {session:#x}: write got zxid {z:#x} <= {m:#x} seen earlier"),
                                vec![prev.clone(), (*op).clone()],
                            );
                        }
                    }
                }
            } else if let Some(p) = op_path(op) {
                if let Some((m, prev)) = per_path.get(&p) {
                    if z < *m {
                        violations += 1;
                        if violations <= 10 {
                            check.anomaly(
                                "non-monotonic-read",
                                format!("session {session:#x}: read of {p} saw mzxid {z:#x} < {m:#x} seen earlier"),
                                vec![(*prev).clone(), (*op).clone()],
                            );
                        }
                    }
                }
            }
        }
    }
    check.summary = format!(
        "{} sessions, {compared} replies with zxids compared, {violations} violations",
        by_session.len()
    );
    check
}

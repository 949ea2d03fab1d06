//! Linearizability of the compare-and-set register, one history per key, checked with the
//! Wing–Gong–Lowe algorithm of `todc-utils` (`WGLChecker`) against a sequential specification of a
//! znode: `None` (absent) or `Some((value, version))`.
//!
//! Indeterminate operations (`Info`: timeout, connection loss) are handled as Knossos does: the
//! operation may or may not have taken effect, at any point after its invocation. Its response is
//! placed after every other event of the history (so it is concurrent with everything that
//! follows its invocation) and its specification is total: it is valid in any state and applies
//! its effect when the effect would succeed. An indeterminate read has no effect and is dropped.
//!
//! When a key is not linearizable, [`minimize`] narrows the history down to a small failing
//! sub-history (see its documentation for what "small" means and why each step is sound).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use todc_utils::linearizability::history::{Action, History};
use todc_utils::{Specification, WGLChecker};

use crate::history::{Call, Op, Outcome, Ret, Versioned};

/// The state of one key's znode.
pub type RegState = Option<(u64, i32)>;

/// What a register operation did, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegOp {
    /// `create(value)`: `Ok` (created at version 0), `Exists` or unknown.
    Create { value: u64, res: CreateRes },
    /// `sync`+`getData` that returned `data` (`None`: NoNode).
    Read { data: Option<(u64, i32)> },
    /// `setData(value, -1)`.
    Write { value: u64, res: WriteRes },
    /// `setData(value, expected)`.
    Cas {
        expected: i32,
        value: u64,
        res: WriteRes,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateRes {
    Ok,
    Exists,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRes {
    Ok { version: i32 },
    BadVersion,
    NoNode,
    Unknown,
}

thread_local! {
    /// Deadline for the search running on this thread; past it every `apply` fails, which makes
    /// the search unwind quickly, and `EXPIRED` records that the answer is unknown.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static EXPIRED: Cell<bool> = const { Cell::new(false) };
    static STEPS: Cell<u64> = const { Cell::new(0) };
}

fn out_of_time() -> bool {
    if EXPIRED.with(|e| e.get()) {
        return true;
    }
    let steps = STEPS.with(|s| {
        let v = s.get() + 1;
        s.set(v);
        v
    });
    if steps % 1024 == 0 {
        if let Some(d) = DEADLINE.with(|d| d.get()) {
            if Instant::now() >= d {
                EXPIRED.with(|e| e.set(true));
                return true;
            }
        }
    }
    false
}

/// The exact sequential specification; the register starts absent.
pub struct ZnodeSpec;

/// Applies `op` to a known state. Shared by both specifications.
fn apply_known(op: &RegOp, state: &RegState) -> (bool, RegState) {
    match *op {
        RegOp::Create { value, res } => match (res, state) {
            (CreateRes::Ok, None) => (true, Some((value, 0))),
            (CreateRes::Ok, Some(_)) => (false, *state),
            (CreateRes::Exists, s) => (s.is_some(), *s),
            (CreateRes::Unknown, None) => (true, Some((value, 0))),
            (CreateRes::Unknown, s) => (true, *s),
        },
        RegOp::Read { data } => (data == *state, *state),
        RegOp::Write { value, res } => match (res, state) {
            (WriteRes::Ok { version }, Some((_, old))) => {
                (version == old + 1, Some((value, old + 1)))
            }
            (WriteRes::Ok { .. }, None) => (false, None),
            (WriteRes::NoNode, s) => (s.is_none(), *s),
            // setData with version -1 never fails with BadVersion.
            (WriteRes::BadVersion, s) => (false, *s),
            (WriteRes::Unknown, Some((_, old))) => (true, Some((value, old + 1))),
            (WriteRes::Unknown, None) => (true, None),
        },
        RegOp::Cas {
            expected,
            value,
            res,
        } => match (res, state) {
            (WriteRes::Ok { version }, Some((_, old))) => (
                *old == expected && version == expected + 1,
                Some((value, old + 1)),
            ),
            (WriteRes::Ok { .. }, None) => (false, None),
            (WriteRes::BadVersion, Some((_, old))) => (*old != expected, *state),
            (WriteRes::BadVersion, None) => (false, None),
            (WriteRes::NoNode, s) => (s.is_none(), *s),
            (WriteRes::Unknown, Some((_, old))) if *old == expected => {
                (true, Some((value, old + 1)))
            }
            (WriteRes::Unknown, s) => (true, *s),
        },
    }
}

impl Specification for ZnodeSpec {
    type State = RegState;
    type Operation = RegOp;

    fn init() -> Self::State {
        None
    }

    fn apply(op: &Self::Operation, state: &Self::State) -> (bool, Self::State) {
        if out_of_time() {
            return (false, *state);
        }
        let (ok, next) = apply_known(op, state);
        if ok {
            (true, next)
        } else {
            (false, *state)
        }
    }
}

/// State of the "unknown start" specification used to narrow failing histories to a window:
/// `Unknown` until an operation pins the state down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WildState {
    Unknown,
    Known(RegState),
}

/// A specification whose initial state is unknown (any state). It accepts a history iff some
/// initial state makes the exact specification accept it, or more (it forgets what a failed CAS
/// or an existing-node create says about an unknown state), so a history it rejects is rejected
/// by the exact specification from every initial state.
pub struct WildSpec;

impl Specification for WildSpec {
    type State = WildState;
    type Operation = RegOp;

    fn init() -> Self::State {
        WildState::Unknown
    }

    fn apply(op: &Self::Operation, state: &Self::State) -> (bool, Self::State) {
        if out_of_time() {
            return (false, *state);
        }
        match state {
            WildState::Known(s) => {
                let (ok, next) = apply_known(op, s);
                if ok {
                    (true, WildState::Known(next))
                } else {
                    (false, *state)
                }
            }
            WildState::Unknown => match *op {
                RegOp::Create { value, res } => match res {
                    CreateRes::Ok => (true, WildState::Known(Some((value, 0)))),
                    _ => (true, WildState::Unknown),
                },
                RegOp::Read { data } => (true, WildState::Known(data)),
                RegOp::Write { value, res } => match res {
                    WriteRes::Ok { version } => (true, WildState::Known(Some((value, version)))),
                    WriteRes::NoNode => (true, WildState::Known(None)),
                    WriteRes::BadVersion => (false, *state),
                    WriteRes::Unknown => (true, WildState::Unknown),
                },
                RegOp::Cas {
                    expected,
                    value,
                    res,
                } => match res {
                    WriteRes::Ok { version } => (
                        version == expected + 1,
                        WildState::Known(Some((value, version))),
                    ),
                    WriteRes::NoNode => (true, WildState::Known(None)),
                    WriteRes::BadVersion | WriteRes::Unknown => (true, WildState::Unknown),
                },
            },
        }
    }
}

/// One register operation prepared for the checker.
#[derive(Debug, Clone)]
pub struct Entry {
    pub op: RegOp,
    pub invoke_ns: u64,
    /// `None`: indeterminate, the response is at the end of time.
    pub complete_ns: Option<u64>,
    /// Index of the source `Op` in the caller's slice.
    pub source: usize,
}

impl Entry {
    fn has_effect(&self) -> bool {
        match self.op {
            RegOp::Read { .. } => false,
            RegOp::Create { res, .. } => res != CreateRes::Exists,
            RegOp::Write { res, .. } | RegOp::Cas { res, .. } => {
                matches!(res, WriteRes::Ok { .. } | WriteRes::Unknown)
            }
        }
    }
}

/// Converts a recorded register op into a checker entry; `None` for ops the model ignores
/// (indeterminate reads, non-register ops, failures that are not part of the model).
pub fn to_entry(op: &Op, source: usize) -> Option<Entry> {
    let info = op.outcome.is_info();
    let complete_ns = if info { None } else { Some(op.complete_ns) };
    let err = |o: &Outcome| match o {
        Outcome::Fail { error } => Some(error.clone()),
        _ => None,
    };
    let reg = match &op.call {
        Call::RegCreate { value, .. } => {
            let res = match &op.outcome {
                Outcome::Ok(_) => CreateRes::Ok,
                Outcome::Info { .. } => CreateRes::Unknown,
                o if err(o).as_deref() == Some("NodeExists") => CreateRes::Exists,
                _ => return None,
            };
            RegOp::Create { value: *value, res }
        }
        Call::RegRead { .. } => match &op.outcome {
            Outcome::Ok(Ret::Read { data }) => RegOp::Read {
                data: data.map(|v: Versioned| (v.value, v.version)),
            },
            Outcome::Fail { error } if error == "NoNode" => RegOp::Read { data: None },
            _ => return None,
        },
        Call::RegWrite { value, .. } | Call::RegCas { value, .. } => {
            let res = match &op.outcome {
                Outcome::Ok(Ret::Written { version }) => WriteRes::Ok { version: *version },
                Outcome::Ok(_) => return None,
                Outcome::Info { .. } => WriteRes::Unknown,
                Outcome::Fail { error } if error == "BadVersion" => WriteRes::BadVersion,
                Outcome::Fail { error } if error == "NoNode" => WriteRes::NoNode,
                Outcome::Fail { .. } => return None,
            };
            match &op.call {
                Call::RegCas { expected, .. } => RegOp::Cas {
                    expected: *expected,
                    value: *value,
                    res,
                },
                _ => RegOp::Write { value: *value, res },
            }
        }
        _ => return None,
    };
    Some(Entry {
        op: reg,
        invoke_ns: op.invoke_ns,
        complete_ns,
        source,
    })
}

/// Builds a `todc` history: one process per operation (so calls and responses pair trivially),
/// events sorted by time, invocations before responses on ties (the weaker order), indeterminate
/// responses last.
fn build_history(entries: &[&Entry]) -> Option<History<RegOp>> {
    if entries.is_empty() {
        return None;
    }
    // (time, kind: 0 = call, 1 = response, order, process)
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(entries.len() * 2);
    for (i, e) in entries.iter().enumerate() {
        events.push((e.invoke_ns, 0, i));
        events.push((e.complete_ns.unwrap_or(u64::MAX), 1, i));
    }
    events.sort();
    let actions = events
        .into_iter()
        .map(|(_, kind, i)| {
            let op = entries[i].op;
            (
                i,
                if kind == 0 {
                    Action::Call(op)
                } else {
                    Action::Response(op)
                },
            )
        })
        .collect();
    Some(History::from_actions(actions))
}

/// Result of checking one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    NotLinearizable,
    /// The search ran out of time.
    Unknown,
}

fn run_with_deadline<F: FnOnce() -> bool>(deadline: Instant, f: F) -> Verdict {
    DEADLINE.with(|d| d.set(Some(deadline)));
    EXPIRED.with(|e| e.set(false));
    let ok = f();
    let expired = EXPIRED.with(|e| e.get());
    DEADLINE.with(|d| d.set(None));
    EXPIRED.with(|e| e.set(false));
    if expired {
        Verdict::Unknown
    } else if ok {
        Verdict::Linearizable
    } else {
        Verdict::NotLinearizable
    }
}

/// Checks one key's entries with the exact specification.
pub fn check_entries(entries: &[&Entry], deadline: Instant) -> Verdict {
    match build_history(entries) {
        None => Verdict::Linearizable,
        Some(h) => run_with_deadline(deadline, || WGLChecker::<ZnodeSpec>::is_linearizable(h)),
    }
}

fn check_wild(entries: &[&Entry], deadline: Instant) -> Verdict {
    match build_history(entries) {
        None => Verdict::Linearizable,
        Some(h) => run_with_deadline(deadline, || WGLChecker::<WildSpec>::is_linearizable(h)),
    }
}

/// The prefix of `entries` up to time `t`: operations invoked at or before `t`; those still
/// running at `t` become indeterminate, and such reads are dropped. If the full history is
/// linearizable, so is every such prefix (every op completed by `t` is linearized before `t`),
/// so the shortest failing prefix can be found by bisection.
fn prefix_at(entries: &[Entry], t: u64) -> Vec<Entry> {
    entries
        .iter()
        .filter(|e| e.invoke_ns <= t)
        .filter_map(|e| match e.complete_ns {
            Some(c) if c <= t => Some(e.clone()),
            _ => {
                let op = match e.op {
                    RegOp::Read { .. } => return None,
                    RegOp::Create { value, .. } => RegOp::Create {
                        value,
                        res: CreateRes::Unknown,
                    },
                    RegOp::Write { value, .. } => RegOp::Write {
                        value,
                        res: WriteRes::Unknown,
                    },
                    RegOp::Cas {
                        expected, value, ..
                    } => RegOp::Cas {
                        expected,
                        value,
                        res: WriteRes::Unknown,
                    },
                };
                Some(Entry {
                    op,
                    complete_ns: None,
                    ..e.clone()
                })
            }
        })
        .collect()
}

/// A small failing sub-history of a non-linearizable key, as indices into the entries given to
/// [`minimize`] (for prefix ops turned indeterminate, the index of the original entry).
#[derive(Debug, Clone)]
pub struct Minimal {
    /// Source indices of the operations in the witness, in invocation order.
    pub sources: Vec<usize>,
    /// Source index of the first operation that could not be linearized (the end of the
    /// shortest failing prefix).
    pub culprit: Option<usize>,
    /// Operations in the witness that were still running at the cut and are shown as
    /// indeterminate.
    pub cut_pending: Vec<usize>,
    /// Whether the witness starts from an unknown state (the window step applied).
    pub unknown_start: bool,
}

/// Narrows a non-linearizable history to a small failing witness, in three sound steps:
///
/// 1. the shortest failing prefix by time (bisection over completion times, see `prefix_at`);
/// 2. a suffix window: the latest *quiescent* cut (no operation with an effect in flight across
///    it) after which the window still fails under [`WildSpec`], i.e. from every initial state —
///    sound because at a quiescent cut every linearization puts all earlier ops first;
/// 3. greedy removal of operations without effect (reads, refused writes, failed creates),
///    keeping a removal only if the rest still fails.
///
/// Every intermediate result is checked by the real checker, so the witness is itself a
/// non-linearizable history.
pub fn minimize(entries: &[Entry], budget: Duration) -> Option<Minimal> {
    let deadline = Instant::now() + budget;
    let all: Vec<&Entry> = entries.iter().collect();
    if check_entries(&all, deadline) != Verdict::NotLinearizable {
        return None;
    }
    // 1. Shortest failing prefix.
    let mut cuts: Vec<u64> = entries.iter().filter_map(|e| e.complete_ns).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let fails_at = |t: u64| {
        let p = prefix_at(entries, t);
        let refs: Vec<&Entry> = p.iter().collect();
        check_entries(&refs, deadline) == Verdict::NotLinearizable
    };
    let (mut lo, mut hi) = (0usize, cuts.len());
    // Invariant: prefix at cuts[hi] fails (hi == len means the full history, which fails).
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails_at(cuts[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    let (mut current, culprit) = if hi < cuts.len() {
        let t = cuts[hi];
        let culprit = entries
            .iter()
            .find(|e| e.complete_ns == Some(t))
            .map(|e| e.source);
        (prefix_at(entries, t), culprit)
    } else {
        (entries.to_vec(), None)
    };
    let cut_pending: Vec<usize> = current
        .iter()
        .filter(|e| {
            e.complete_ns.is_none()
                && entries
                    .iter()
                    .any(|o| o.source == e.source && o.complete_ns.is_some())
        })
        .map(|e| e.source)
        .collect();

    // 2. Window after the latest quiescent cut that still fails from an unknown state.
    current.sort_by_key(|e| e.invoke_ns);
    let mut unknown_start = false;
    let mut quiescent: Vec<u64> = Vec::new();
    {
        // A cut at time t is quiescent if every op with an effect either completed before t or
        // was invoked after t. Candidates: invocation times.
        for e in &current {
            let t = e.invoke_ns;
            let ok = current.iter().all(|o| {
                !o.has_effect() || o.invoke_ns >= t || o.complete_ns.is_some_and(|c| c < t)
            });
            if ok {
                quiescent.push(t);
            }
        }
    }
    quiescent.dedup();
    for &t in quiescent.iter().rev() {
        if Instant::now() >= deadline {
            break;
        }
        // Ops invoked at/after t; reads in flight across t are dropped (no effect).
        let window: Vec<&Entry> = current.iter().filter(|e| e.invoke_ns >= t).collect();
        if window.len() == current.len() {
            break;
        }
        if check_wild(&window, deadline) == Verdict::NotLinearizable {
            current = window.into_iter().cloned().collect();
            unknown_start = true;
            break;
        }
    }

    // 3. Drop operations without effect while the rest still fails.
    let check = |es: &[Entry]| {
        let refs: Vec<&Entry> = es.iter().collect();
        if unknown_start {
            check_wild(&refs, deadline)
        } else {
            check_entries(&refs, deadline)
        }
    };
    let mut i = current.len();
    while i > 0 {
        i -= 1;
        if Instant::now() >= deadline {
            break;
        }
        if current[i].has_effect() || Some(current[i].source) == culprit {
            continue;
        }
        let mut trial = current.clone();
        trial.remove(i);
        if check(&trial) == Verdict::NotLinearizable {
            current = trial;
        }
    }
    let sources = current.iter().map(|e| e.source).collect();
    Some(Minimal {
        sources,
        culprit,
        cut_pending,
        unknown_start,
    })
}

/// Per-key result of [`check_register`].
#[derive(Debug, Clone)]
pub struct KeyResult {
    pub key: u64,
    pub ops: usize,
    pub verdict: Verdict,
    pub elapsed: Duration,
    pub minimal: Option<Minimal>,
}

/// Checks every key of the register workload; `ops` is the whole history.
pub fn check_register(ops: &[Op], budget_per_key: Duration) -> Vec<KeyResult> {
    let mut by_key: BTreeMap<u64, Vec<Entry>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(key) = op.call.register_key() {
            if let Some(e) = to_entry(op, i) {
                by_key.entry(key).or_default().push(e);
            }
        }
    }
    by_key
        .into_iter()
        .map(|(key, entries)| {
            let started = Instant::now();
            let refs: Vec<&Entry> = entries.iter().collect();
            let verdict = check_entries(&refs, started + budget_per_key);
            let minimal = if verdict == Verdict::NotLinearizable {
                minimize(&entries, budget_per_key)
            } else {
                None
            };
            KeyResult {
                key,
                ops: entries.len(),
                verdict,
                elapsed: started.elapsed(),
                minimal,
            }
        })
        .collect()
}

//! The checkers on hand-made histories: known non-linearizable (and otherwise anomalous)
//! histories must be reported invalid, known-good ones valid.

use std::time::Duration;

use ferrokeeper_jepsen::checker::{self, Status};
use ferrokeeper_jepsen::history::{Call, Op, Outcome, Ret, Versioned, Workload};
use ferrokeeper_jepsen::linear;

const BUDGET: Duration = Duration::from_secs(10);

/// Builds histories: times are in milliseconds.
struct H {
    ops: Vec<Op>,
}

fn ms(t: u64) -> u64 {
    t * 1_000_000
}

impl H {
    fn new() -> Self {
        H { ops: Vec::new() }
    }

    #[allow(clippy::too_many_arguments)]
    fn op(
        &mut self,
        wl: Workload,
        process: u32,
        session: Option<i64>,
        call: Call,
        t0: u64,
        t1: u64,
        outcome: Outcome,
        zxid: Option<i64>,
    ) -> &mut Self {
        let id = self.ops.len() as u64 + 1;
        self.ops.push(Op {
            id,
            workload: wl,
            process,
            node: (process as usize) % 3,
            session,
            call,
            invoke_ns: ms(t0),
            complete_ns: ms(t1),
            outcome,
            zxid,
        });
        self
    }

    fn create(&mut self, p: u32, value: u64, t0: u64, t1: u64) -> &mut Self {
        self.op(
            Workload::Register,
            p,
            None,
            Call::RegCreate { key: 1, value },
            t0,
            t1,
            Outcome::Ok(Ret::Done),
            None,
        )
    }

    fn write(&mut self, p: u32, value: u64, version: i32, t0: u64, t1: u64) -> &mut Self {
        self.op(
            Workload::Register,
            p,
            None,
            Call::RegWrite { key: 1, value },
            t0,
            t1,
            Outcome::Ok(Ret::Written { version }),
            None,
        )
    }

    fn write_info(&mut self, p: u32, value: u64, t0: u64, t1: u64) -> &mut Self {
        self.op(
            Workload::Register,
            p,
            None,
            Call::RegWrite { key: 1, value },
            t0,
            t1,
            Outcome::Info {
                error: "ConnectionLoss".into(),
            },
            None,
        )
    }

    fn cas(
        &mut self,
        p: u32,
        expected: i32,
        value: u64,
        res: Result<i32, &str>,
        t0: u64,
        t1: u64,
    ) -> &mut Self {
        let outcome = match res {
            Ok(version) => Outcome::Ok(Ret::Written { version }),
            Err(e) => Outcome::Fail { error: e.into() },
        };
        self.op(
            Workload::Register,
            p,
            None,
            Call::RegCas {
                key: 1,
                expected,
                value,
            },
            t0,
            t1,
            outcome,
            None,
        )
    }

    fn read(&mut self, p: u32, data: Option<(u64, i32)>, t0: u64, t1: u64) -> &mut Self {
        self.op(
            Workload::Register,
            p,
            None,
            Call::RegRead { key: 1 },
            t0,
            t1,
            Outcome::Ok(Ret::Read {
                data: data.map(|(value, version)| Versioned { value, version }),
            }),
            None,
        )
    }

    fn register_status(&self) -> Status {
        checker::check_register(&self.ops, BUDGET).status
    }
}

#[test]
fn sequential_history_is_linearizable() {
    let mut h = H::new();
    h.read(0, None, 0, 1)
        .create(0, 10, 2, 3)
        .read(1, Some((10, 0)), 4, 5)
        .write(1, 11, 1, 6, 7)
        .cas(2, 1, 12, Ok(2), 8, 9)
        .cas(0, 1, 13, Err("BadVersion"), 10, 11)
        .read(2, Some((12, 2)), 12, 13);
    assert_eq!(h.register_status(), Status::Valid);
}

#[test]
fn stale_read_is_not_linearizable() {
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write(0, 11, 1, 2, 3)
        // Invoked after the write completed, yet sees the old value.
        .read(1, Some((10, 0)), 4, 5);
    assert_eq!(h.register_status(), Status::Invalid);
}

#[test]
fn lost_acknowledged_write_is_not_linearizable() {
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write(0, 11, 1, 2, 3)
        .write(1, 12, 2, 4, 5)
        // Later reads see version 1 again: the write of 12 was lost.
        .read(2, Some((11, 1)), 6, 7);
    assert_eq!(h.register_status(), Status::Invalid);
}

#[test]
fn concurrent_writes_may_linearize_in_either_order() {
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write(0, 11, 2, 2, 20)
        .write(1, 12, 1, 2, 20)
        .read(2, Some((12, 1)), 3, 4)
        .read(2, Some((11, 2)), 5, 6)
        .read(2, Some((11, 2)), 21, 22);
    assert_eq!(h.register_status(), Status::Valid);
}

#[test]
fn sequentially_consistent_but_not_linearizable() {
    // Two writes finish, then reads observe them in an order contradicting their versions.
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write(0, 11, 1, 2, 4)
        .write(1, 12, 2, 3, 5)
        .read(2, Some((12, 2)), 6, 7)
        .read(2, Some((11, 1)), 8, 9);
    assert_eq!(h.register_status(), Status::Invalid);
}

#[test]
fn indeterminate_write_may_have_happened() {
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write_info(0, 11, 2, 3)
        .read(1, Some((11, 1)), 50, 51);
    assert_eq!(h.register_status(), Status::Valid);
}

#[test]
fn indeterminate_write_may_not_have_happened() {
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write_info(0, 11, 2, 3)
        .read(1, Some((10, 0)), 50, 51)
        .write(1, 12, 1, 52, 53)
        .read(1, Some((12, 1)), 54, 55);
    assert_eq!(h.register_status(), Status::Valid);
}

#[test]
fn indeterminate_write_may_take_effect_late() {
    // Knossos semantics: an indeterminate op may take effect any time after its invocation.
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write_info(0, 11, 2, 3)
        .read(1, Some((10, 0)), 50, 51)
        .read(1, Some((11, 1)), 100, 101);
    assert_eq!(h.register_status(), Status::Valid);
}

#[test]
fn indeterminate_write_cannot_be_undone() {
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write_info(0, 11, 2, 3)
        .read(1, Some((11, 1)), 50, 51)
        .read(1, Some((10, 0)), 60, 61);
    assert_eq!(h.register_status(), Status::Invalid);
}

#[test]
fn cas_against_a_stale_version_must_fail() {
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write(0, 11, 1, 2, 3)
        // Expected version 0, but the node is at version 1: success is impossible.
        .cas(1, 0, 12, Ok(1), 4, 5);
    assert_eq!(h.register_status(), Status::Invalid);
}

#[test]
fn cas_with_the_current_version_must_not_fail() {
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write(0, 11, 1, 2, 3)
        .cas(1, 1, 12, Err("BadVersion"), 4, 5);
    assert_eq!(h.register_status(), Status::Invalid);
}

#[test]
fn two_writes_cannot_produce_the_same_version() {
    let mut h = H::new();
    h.create(0, 10, 0, 1)
        .write(0, 11, 1, 2, 10)
        .write(1, 12, 1, 2, 10);
    assert_eq!(h.register_status(), Status::Invalid);
}

#[test]
fn create_cannot_find_an_absent_node_existing() {
    let mut h = H::new();
    h.read(0, None, 0, 1).op(
        Workload::Register,
        1,
        None,
        Call::RegCreate { key: 1, value: 5 },
        2,
        3,
        Outcome::Fail {
            error: "NodeExists".into(),
        },
        None,
    );
    assert_eq!(h.register_status(), Status::Invalid);
}

#[test]
fn the_todc_example_from_its_docs() {
    // todc-utils' own example of a sequentially consistent, non-linearizable register history,
    // expressed through our model: P0 and P1 write concurrently, both finish, then P2 reads 1
    // and P3 reads 0 afterwards.
    let mut h = H::new();
    h.create(9, 0, 0, 1)
        .write(0, 100, 1, 2, 5)
        .write(1, 101, 2, 3, 5)
        .read(2, Some((101, 2)), 6, 7)
        .read(3, Some((100, 1)), 8, 9);
    assert_eq!(h.register_status(), Status::Invalid);
}

#[test]
fn minimal_witness_of_a_stale_read_is_small() {
    let mut h = H::new();
    h.create(0, 10, 0, 1);
    let mut t = 2;
    let mut version = 0;
    for i in 0..60u64 {
        version += 1;
        h.write((i % 3) as u32, 100 + i, version, t, t + 1);
        h.read(((i + 1) % 3) as u32, Some((100 + i, version)), t + 2, t + 3);
        t += 4;
    }
    // A stale read at the end (value of write #30).
    h.read(2, Some((130, 31)), t, t + 1);
    let check = checker::check_register(&h.ops, BUDGET);
    assert_eq!(check.status, Status::Invalid);
    let witness = &check.anomalies[0].ops;
    assert!(
        witness.len() <= 4,
        "witness should be tiny, got {} ops: {:#?}",
        witness.len(),
        witness.iter().map(|o| o.describe()).collect::<Vec<_>>()
    );
    assert!(witness
        .iter()
        .any(|o| o.id == h.ops.last().map(|o| o.id).unwrap_or(0)));
}

#[test]
fn minimize_returns_none_for_linearizable_histories() {
    let mut h = H::new();
    h.create(0, 10, 0, 1).read(1, Some((10, 0)), 2, 3);
    let entries: Vec<linear::Entry> = h
        .ops
        .iter()
        .enumerate()
        .filter_map(|(i, o)| linear::to_entry(o, i))
        .collect();
    assert!(linear::minimize(&entries, BUDGET).is_none());
}

// ---- other checkers ------------------------------------------------------------------------

fn final_list(h: &mut H, node: usize, path: &str, names: Vec<String>) {
    let id = h.ops.len() as u64 + 1;
    h.ops.push(Op {
        id,
        workload: Workload::Final,
        process: 10_000 + node as u32,
        node,
        session: Some(99),
        call: Call::FinalList { path: path.into() },
        invoke_ns: ms(1000),
        complete_ns: ms(1001),
        outcome: Outcome::Ok(Ret::Children {
            names,
            cversion: None,
        }),
        zxid: None,
    });
}

fn add(h: &mut H, element: u64, outcome: Outcome) {
    h.op(
        Workload::Set,
        0,
        Some(1),
        Call::SetAdd { element },
        0,
        1,
        outcome,
        None,
    );
}

#[test]
fn set_with_every_ack_present_is_valid() {
    let mut h = H::new();
    add(&mut h, 1, Outcome::Ok(Ret::Done));
    add(
        &mut h,
        2,
        Outcome::Info {
            error: "Timeout".into(),
        },
    );
    for n in 0..3 {
        final_list(&mut h, n, "/jepsen/set", vec!["e-1".into(), "e-2".into()]);
    }
    assert_eq!(checker::check_set(&h.ops, 3).status, Status::Valid);
}

#[test]
fn set_with_a_lost_ack_is_invalid() {
    let mut h = H::new();
    add(&mut h, 1, Outcome::Ok(Ret::Done));
    add(&mut h, 2, Outcome::Ok(Ret::Done));
    final_list(&mut h, 0, "/jepsen/set", vec!["e-1".into(), "e-2".into()]);
    final_list(&mut h, 1, "/jepsen/set", vec!["e-1".into()]);
    final_list(&mut h, 2, "/jepsen/set", vec!["e-1".into(), "e-2".into()]);
    let c = checker::check_set(&h.ops, 3);
    assert_eq!(c.status, Status::Invalid);
    assert!(c.anomalies.iter().any(|a| a.kind == "lost"));
    assert!(c.summary.contains("lost-count 1"), "{}", c.summary);
}

#[test]
fn set_with_a_failed_add_present_is_invalid() {
    let mut h = H::new();
    add(
        &mut h,
        1,
        Outcome::Fail {
            error: "NoNode".into(),
        },
    );
    add(&mut h, 2, Outcome::Ok(Ret::Done));
    for n in 0..3 {
        final_list(&mut h, n, "/jepsen/set", vec!["e-1".into(), "e-2".into()]);
    }
    assert_eq!(checker::check_set(&h.ops, 3).status, Status::Invalid);
}

fn seq(h: &mut H, token: u64, seq: i64, zxid: i64) {
    h.op(
        Workload::Seq,
        0,
        Some(1),
        Call::SeqCreate { token },
        0,
        1,
        Outcome::Ok(Ret::Created {
            seq: Some(seq),
            owner: 0,
        }),
        Some(zxid),
    );
}

fn seq_names(v: &[i64]) -> Vec<String> {
    v.iter().map(|s| format!("s-{s:010}")).collect()
}

#[test]
fn seq_in_zxid_order_and_durable_is_valid() {
    let mut h = H::new();
    seq(&mut h, 1, 0, 0x100);
    seq(&mut h, 2, 1, 0x101);
    for n in 0..3 {
        final_list(&mut h, n, "/jepsen/seq", seq_names(&[0, 1]));
    }
    assert_eq!(checker::check_seq(&h.ops, 3).status, Status::Valid);
}

#[test]
fn seq_duplicates_disorder_and_losses_are_invalid() {
    let mut h = H::new();
    seq(&mut h, 1, 0, 0x100);
    seq(&mut h, 2, 0, 0x101); // duplicate name
    seq(&mut h, 3, 5, 0x102);
    seq(&mut h, 4, 4, 0x103); // later zxid, smaller sequence
    for n in 0..3 {
        final_list(&mut h, n, "/jepsen/seq", seq_names(&[0, 5]));
    }
    let c = checker::check_seq(&h.ops, 3);
    assert_eq!(c.status, Status::Invalid);
    for kind in ["duplicate", "order", "lost"] {
        assert!(c.anomalies.iter().any(|a| a.kind == kind), "missing {kind}");
    }
}

fn eph(h: &mut H, session: i64, call: Call, t0: u64, outcome: Outcome) {
    h.op(
        Workload::Session,
        0,
        Some(session),
        call,
        t0,
        t0 + 1,
        outcome,
        Some(t0 as i64),
    );
}

#[test]
fn ephemeral_missing_while_session_alive_is_invalid() {
    let mut h = H::new();
    let name = || "w1-g1".to_string();
    eph(
        &mut h,
        7,
        Call::EphCreate { name: name() },
        0,
        Outcome::Ok(Ret::Created {
            seq: None,
            owner: 7,
        }),
    );
    eph(
        &mut h,
        7,
        Call::EphCheckOwn { name: name() },
        5,
        Outcome::Ok(Ret::Exists { owner: Some(7) }),
    );
    eph(
        &mut h,
        7,
        Call::EphCheckOwn { name: name() },
        10,
        Outcome::Ok(Ret::Exists { owner: None }),
    );
    eph(
        &mut h,
        7,
        Call::EphAlive { name: name() },
        12,
        Outcome::Ok(Ret::Written { version: 1 }),
    );
    for n in 0..3 {
        final_list(&mut h, n, "/jepsen/eph", vec![]);
    }
    let c = checker::check_sessions(&h.ops, 3);
    assert_eq!(c.status, Status::Invalid);
    assert!(c.anomalies.iter().any(|a| a.kind == "ephemeral-lost"));
}

#[test]
fn ephemeral_missing_after_session_died_is_fine() {
    let mut h = H::new();
    let name = || "w1-g1".to_string();
    eph(
        &mut h,
        7,
        Call::EphCreate { name: name() },
        0,
        Outcome::Ok(Ret::Created {
            seq: None,
            owner: 7,
        }),
    );
    eph(
        &mut h,
        7,
        Call::EphCheckOwn { name: name() },
        10,
        Outcome::Ok(Ret::Exists { owner: None }),
    );
    eph(
        &mut h,
        7,
        Call::EphAlive { name: name() },
        12,
        Outcome::Info {
            error: "SessionExpired".into(),
        },
    );
    for n in 0..3 {
        final_list(&mut h, n, "/jepsen/eph", vec![]);
    }
    assert_eq!(checker::check_sessions(&h.ops, 3).status, Status::Valid);
}

#[test]
fn ephemeral_surviving_its_session_is_invalid() {
    let mut h = H::new();
    eph(
        &mut h,
        7,
        Call::EphCreate {
            name: "w1-g1".into(),
        },
        0,
        Outcome::Ok(Ret::Created {
            seq: None,
            owner: 7,
        }),
    );
    final_list(&mut h, 0, "/jepsen/eph", vec![]);
    final_list(&mut h, 1, "/jepsen/eph", vec!["w1-g1".into()]);
    final_list(&mut h, 2, "/jepsen/eph", vec![]);
    let c = checker::check_sessions(&h.ops, 3);
    assert_eq!(c.status, Status::Invalid);
    assert!(c
        .anomalies
        .iter()
        .any(|a| a.kind == "ephemeral-outlived-session"));
}

fn fifo(h: &mut H, call: Call, outcome: Outcome, zxid: i64) {
    h.op(Workload::Fifo, 4, Some(4), call, 0, 1, outcome, Some(zxid));
}

#[test]
fn fifo_in_order_is_valid_and_reordered_is_invalid() {
    let build = |get_value: u64| {
        let mut h = H::new();
        fifo(
            &mut h,
            Call::FifoSet {
                burst: 1,
                index: 0,
                value: 1,
            },
            Outcome::Ok(Ret::Written { version: 1 }),
            0x10,
        );
        fifo(
            &mut h,
            Call::FifoGet { burst: 1, index: 0 },
            Outcome::Ok(Ret::Read {
                data: Some(Versioned {
                    value: get_value,
                    version: 1,
                }),
            }),
            0x10,
        );
        fifo(
            &mut h,
            Call::FifoSet {
                burst: 1,
                index: 1,
                value: 2,
            },
            Outcome::Ok(Ret::Written { version: 2 }),
            0x11,
        );
        fifo(
            &mut h,
            Call::FifoGet { burst: 1, index: 1 },
            Outcome::Ok(Ret::Read {
                data: Some(Versioned {
                    value: 2,
                    version: 2,
                }),
            }),
            0x11,
        );
        h
    };
    assert_eq!(checker::check_fifo(&build(1).ops).status, Status::Valid);
    // The first read saw the second write, issued after it.
    assert_eq!(checker::check_fifo(&build(2).ops).status, Status::Invalid);
}

#[test]
fn session_zxids_must_not_go_backwards() {
    let mut h = H::new();
    h.op(
        Workload::Register,
        0,
        Some(5),
        Call::RegRead { key: 1 },
        0,
        1,
        Outcome::Ok(Ret::Read {
            data: Some(Versioned {
                value: 1,
                version: 3,
            }),
        }),
        Some(0x200),
    );
    h.op(
        Workload::Register,
        0,
        Some(5),
        Call::RegWrite { key: 1, value: 2 },
        2,
        3,
        Outcome::Ok(Ret::Written { version: 4 }),
        Some(0x1ff),
    );
    assert_eq!(checker::check_monotonic(&h.ops).status, Status::Invalid);

    let mut ok = H::new();
    ok.op(
        Workload::Register,
        0,
        Some(5),
        Call::RegRead { key: 1 },
        0,
        1,
        Outcome::Ok(Ret::Read {
            data: Some(Versioned {
                value: 1,
                version: 3,
            }),
        }),
        Some(0x200),
    );
    ok.op(
        Workload::Register,
        0,
        Some(5),
        Call::RegWrite { key: 1, value: 2 },
        2,
        3,
        Outcome::Ok(Ret::Written { version: 4 }),
        Some(0x201),
    );
    assert_eq!(checker::check_monotonic(&ok.ops).status, Status::Valid);
}

#[test]
fn a_node_that_never_serves_again_is_reported() {
    let mut h = H::new();
    final_list(&mut h, 0, "/jepsen/set", vec![]);
    final_list(&mut h, 2, "/jepsen/set", vec![]);
    let c = checker::check_recovery(&h.ops, 3);
    assert_eq!(c.status, Status::Invalid);
    assert!(c.anomalies[0].message.starts_with("n2 "));
}

#[test]
fn an_intractable_search_ends_unknown_within_its_budget() {
    // 24 concurrent indeterminate writes, then a read of a version no subset of them can reach:
    // proving that takes an exhaustive search over subsets and orders.
    let mut h = H::new();
    h.create(0, 10, 0, 1);
    for i in 0..24u64 {
        h.write_info((i % 5) as u32, 100 + i, 2 + i, 3 + i);
    }
    h.read(7, Some((100, 30)), 200, 201);
    let started = std::time::Instant::now();
    let c = checker::check_register(&h.ops, Duration::from_millis(300));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the budget must bound the search"
    );
    assert_eq!(c.status, Status::Unknown, "{:?}", c.notes);
}

"""Differential test: the same seeded operation sequence against two servers.

Pair selection (env ``DIFF_PAIR``): ``java,ferrokeeper`` (default) or
``java,java`` (self-check of the harness: must always give zero mismatches).
Other knobs: ``DIFF_SEEDS`` (comma list, default 1..6), ``DIFF_OPS`` (ops per
seed, default 300), ``DIFF_DUMP_DIR`` (write raw and normalized traces there).

A missing ferrokeeper binary, or a server that does not start, is a failure,
never a skip.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for p in (str(HERE), str(HERE.parent)):
    if p not in sys.path:
        sys.path.insert(0, p)

import normalize  # noqa: E402
import ops  # noqa: E402
from servers import ZkServer  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("DIFF_SEEDS", "1,2,3,4,5,6").split(",") if s.strip()]
NOPS = int(os.environ.get("DIFF_OPS", "300"))
EXTRA_CFG = {"extendedTypesEnabled": "true"}


def diff_pair() -> tuple[str, str]:
    raw = os.environ.get("DIFF_PAIR", "java,ferrokeeper")
    parts = tuple(p.strip() for p in raw.split(","))
    if len(parts) != 2 or any(p not in ("java", "ferrokeeper") for p in parts):
        raise ValueError(f"DIFF_PAIR={raw!r}: expected two of java, ferrokeeper")
    return parts  # type: ignore[return-value]


@pytest.fixture
def server_pair(tmp_path):
    impls = diff_pair()
    servers = [ZkServer(impl, tmp_path / f"{i}-{impl}", extra_cfg=EXTRA_CFG)
               for i, impl in enumerate(impls)]
    errors: list[str] = []

    def start(srv):
        try:
            srv.start()
        except Exception as exc:  # noqa: BLE001 - any start failure fails the test
            errors.append(f"cannot start {srv.impl}: {exc}")

    try:
        threads = [threading.Thread(target=start, args=(s,)) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)
        yield servers
        died = [s for s in servers if not s.is_running()]
        if died:
            pytest.fail("server(s) died during the run: " + "; ".join(
                f"{s}: {s.log_tail()}" for s in died), pytrace=False)
    finally:
        for s in servers:
            s.stop()


def _dump(seed, names, raws, norms):
    out = os.environ.get("DIFF_DUMP_DIR")
    if not out:
        return
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    for i, (name, raw, norm) in enumerate(zip(names, raws, norms)):
        (d / f"seed{seed}-{i}-{name}.raw.json").write_text(json.dumps(raw, indent=1))
        (d / f"seed{seed}-{i}-{name}.norm.json").write_text(json.dumps(norm, indent=1))


@pytest.mark.parametrize("seed", SEEDS)
def test_differential(seed, server_pair):
    names = tuple(f"{s.impl}#{i}" for i, s in enumerate(server_pair))
    raws = ops.run_pair(seed, NOPS, [s.port for s in server_pair])
    norms = [normalize.normalize_trace(t) for t in raws]
    _dump(seed, names, raws, norms)

    # The reference trace must actually exercise the server (guards against a
    # vacuous pass, e.g. every op failing with a closed connection).
    ref = norms[0]
    replies = [r for r in ref if r.get("reply")]
    assert len(replies) > NOPS * 0.8, f"only {len(replies)} replies in {len(ref)} ops"
    assert any(r["reply"]["err"] == 0 for r in replies)
    assert any(r["reply"]["err"] != 0 for r in replies)
    assert sum(len(evs) for r in ref for evs in r["events"].values()) > 0, "no notification"

    for rec in ref:
        check_exception_rules(rec["op"])

    mismatches = normalize.compare_traces(norms[0], norms[1])
    if mismatches:
        pytest.fail(normalize.format_report(seed, names, norms[0], norms[1], mismatches),
                    pytrace=False)


def check_exception_rules(op: dict) -> None:
    """The generation rules behind normalize.NAMED_EXCEPTIONS hold for ``op``."""
    assert op["op"] != "check"
    assert all(s["op"] != "create2" for s in op.get("ops", []))
    if op["op"] in ("removeWatches", "checkWatches"):
        assert op["type"] in (1, 2, 3)
    for sub in [op] + op.get("ops", []):
        if sub.get("path", "").startswith("/n"):
            assert sub["op"] != "exists" and not sub.get("watch"), op
            assert sub["op"] not in ("addWatch", "removeWatches", "checkWatches"), op
            if sub["op"].startswith("create"):
                assert sub["flags"] not in (1, 3), f"ephemeral under /n: {op}"
        if sub.get("acl_name") in ops.ACLS_NO_READ:
            assert sub["path"].startswith("/n/"), op
    path = op.get("path", "")
    if op["op"] == "createTTL" and op["flags"] not in (5, 6):
        assert op["ttl"] >= 0
    if op["op"] == "addWatch" and path == "/":
        assert op["mode"] != 1
    if op["op"].startswith("setWatches"):
        for key in ("data", "exist", "child", "persistent", "recursive"):
            assert not any(p.startswith("/n") for p in op.get(key, [])), op
        assert "/" not in op.get("recursive", [])


# ----------------------------------------------------------------- offline tests


def _gen_ops(seed, n):
    """Ops the generator produces when every session stays alive (no server)."""
    gen = ops.Generator(seed)
    gen.alive = [True] * ops.NSLOTS
    out = []
    for _ in range(n):
        op = gen.next_op()
        if op["op"] == "closeSession":
            gen.alive[op["slot"]] = True  # pretend an immediate reconnect
        out.append(op)
    return out


def test_generator_is_deterministic_and_covers_every_opcode():
    a = _gen_ops(7, NOPS)
    assert a == _gen_ops(7, NOPS)
    kinds = Counter()
    flags = set()
    for seed in SEEDS:
        for op in _gen_ops(seed, NOPS):
            kinds[op["op"]] += 1
            if op["op"].startswith("create"):
                flags.add(op["flags"])
            for sub in op.get("ops", []):
                kinds["multi." + sub["op"]] += 1
    expected = {"create", "create2", "createContainer", "createTTL", "delete", "exists",
                "getData", "setData", "getACL", "setACL", "getChildren", "getChildren2",
                "getAllChildrenNumber", "getEphemerals", "sync", "multi", "multiRead",
                "addWatch", "removeWatches", "checkWatches", "setWatches", "setWatches2",
                "whoAmI", "auth", "closeSession", "multi.create", "multi.delete",
                "multi.setData", "multi.check", "multi.getData", "multi.getChildren",
                "multi.createContainer", "multi.createTTL"}
    assert expected <= set(kinds), f"never generated: {sorted(expected - set(kinds))}"
    assert {0, 1, 2, 3, 4, 5, 6} <= flags
    # Named exceptions are respected by construction.
    for seed in SEEDS:
        for op in _gen_ops(seed, NOPS):
            check_exception_rules(op)


def _stat(czxid, mzxid, pzxid, version=0, owner=0, ctime=1700000000000):
    return {"czxid": czxid, "mzxid": mzxid, "ctime": ctime, "mtime": ctime, "version": version,
            "cversion": 0, "aversion": 0, "ephemeralOwner": owner, "dataLength": 0,
            "numChildren": 0, "pzxid": pzxid}


def _trace(base_zxid, sid, version=0, same_cm=True, notif_zxid=-1, children=("a", "b")):
    """A tiny synthetic raw trace as the runner records it."""
    z = base_zxid
    return [
        {"op": {"op": "connect", "slot": 0}, "slot_session": "S0",
         "connect": {"protocolVersion": 0, "timeOut": 30000, "sessionId": sid,
                     "passwd": ops.zkraw.java_session_password(sid).hex(), "readOnly": False,
                     "length": 37}, "events": {}, "dead_slots": {}},
        {"op": {"op": "create2", "slot": 0, "path": "/d"}, "slot_session": "S0",
         "reply": {"xid": 1, "zxid": z + 1, "err": 0,
                   "body": {"path": "/d", "stat": _stat(z + 1, z + 1, z + 1, owner=sid)}},
         "events": {"S0": [{"zxid": notif_zxid, "err": 0, "type": 1, "state": 3,
                            "path": "/d"}]}, "dead_slots": {}},
        {"op": {"op": "setData", "slot": 0, "path": "/d"}, "slot_session": "S0",
         "reply": {"xid": 2, "zxid": z + 2, "err": 0,
                   "body": {"stat": _stat(z + 1, z + 2 if not same_cm else z + 1, z + 1,
                                          version=version, owner=sid, ctime=z * 7)}},
         "events": {}, "dead_slots": {}},
        {"op": {"op": "getChildren", "slot": 0, "path": "/d"}, "slot_session": "S0",
         "reply": {"xid": 3, "zxid": z + 2, "err": 0, "body": {"children": list(children)}},
         "events": {}, "dead_slots": {}},
        {"sessions": [sid]},
    ]


def _compare(a, b):
    return normalize.compare_traces(normalize.normalize_trace(a), normalize.normalize_trace(b))


def test_comparator_accepts_equivalent_traces():
    # Different absolute zxids, session ids, times and notification zxids (-1 vs the
    # event zxid): all masked, relations identical -> no mismatch.
    assert _compare(_trace(0x10, 0x0100000908200000),
                    _trace(0x500000020, 0x0200001234560000, notif_zxid=0x500000021)) == []


def test_comparator_reports_a_differing_stat_version():
    m = _compare(_trace(0x10, 0x0100000908200000, version=1),
                 _trace(0x10, 0x0100000908200000, version=2))
    assert len(m) == 1
    assert m[0]["index"] == 2 and m[0]["field"].endswith(".stat.version")
    assert (m[0]["a"], m[0]["b"]) == (1, 2)
    report = normalize.format_report(42, ("java#0", "ferrokeeper#1"),
                                     normalize.normalize_trace(_trace(0x10, 1, version=1)),
                                     normalize.normalize_trace(_trace(0x10, 1, version=2)), m)
    assert "seed 42" in report and "op index 2" in report and "setData" in report


def test_comparator_keeps_zxid_relations():
    # czxid == mzxid on one side, czxid != mzxid on the other (with otherwise
    # the same set of zxids) must be reported.
    m = _compare(_trace(0x10, 7, same_cm=True), _trace(0x10, 7, same_cm=False))
    assert any(x["field"].endswith(".stat.mzxid") for x in m), m


def test_comparator_reports_child_elements_and_passwords():
    # Named exception unordered-lists: order alone is not a mismatch, a different element is.
    assert _compare(_trace(0x10, 7), _trace(0x10, 7, children=("b", "a"))) == []
    m = _compare(_trace(0x10, 7), _trace(0x10, 7, children=("a", "c")))
    assert len(m) == 1 and "children" in m[0]["field"], m
    bad = _trace(0x10, 7)
    bad[0]["connect"]["passwd"] = "00" * 16
    m = _compare(_trace(0x10, 7), bad)
    assert len(m) == 1 and m[0]["field"] == ".connect.passwd"

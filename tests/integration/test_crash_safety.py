"""Crash safety of ferrokeeper's storage (issue 3).

* kill -9 at seeded random moments under a concurrent write load, many rounds:
  every acknowledged write survives with its value and zxid, and the one write
  each client had in flight is either wholly applied or not at all (a multi of
  several creates is all-or-nothing).
* Torn tails: a truncated last entry and a zero-filled tail are cut off; a
  flipped byte in the middle of a log refuses startup naming file and offset; a
  missing newest snapshot falls back to an older one plus the logs.
* Snapshots taken while writes continue recover to exactly the state served.
* A session created on ferrokeeper reconnects with its id and password after a
  restart.

Env knobs: ``CRASH_SEED`` (default 1234), ``CRASH_ROUNDS`` (default 25).
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from servers import wait_until
from storage_util import (EPHEMERAL, OPEN_ACL, Zk, diff_dumps, dump_tree, log_entries,
                          logs, make_server, newest_log, snapshots, spawn_expect_exit, zkraw,
                          zxid_of)

SEED = int(os.environ.get("CRASH_SEED", "1234"))
ROUNDS = int(os.environ.get("CRASH_ROUNDS", "25"))
WORKERS = 4
OP_CREATE, OP_SET = 1, 5


@pytest.fixture
def servers():
    started = []
    yield started.append
    for srv in started:
        srv.stop()


def fk_server(tmp_path: Path, name: str = "fk", port=None, **cfg):
    return make_server("ferrokeeper", tmp_path / name, tmp_path / "data", port=port, **cfg)


# ---------------------------------------------------------------- the kill -9 rounds

class Model:
    """What one worker knows about its own subtree /crash/w<i>: path -> (data, mzxid)."""

    def __init__(self, root: str):
        self.root = root
        self.nodes: dict[str, tuple[bytes, int]] = {}
        self.inflight = None  # (kind, args) of the one unacknowledged write, if any
        self.acked = 0
        self.seq = 0

    @staticmethod
    def apply(nodes: dict, op) -> dict:
        out = dict(nodes)
        kind, args = op
        if kind == "create":
            out[args[0]] = (args[1], None)
        elif kind == "set":
            out[args[0]] = (args[1], None)
        elif kind == "delete":
            out.pop(args[0], None)
        elif kind == "multi":
            for p, d in args["creates"]:
                out[p] = (d, None)
            p, d = args["set"]
            out[p] = (d, None)
        return out


def worker_loop(port: int, model: Model, rng: random.Random, stop: threading.Event,
                errors: list, counter: list):
    try:
        zk = Zk(port, timeout_ms=6000, io_timeout=5.0)
    except (OSError, zkraw.ConnectionClosed):
        return
    try:
        while not stop.is_set():
            model.seq += 1
            tag = f"{model.root}#{model.seq}".encode()
            value = tag + rng.randbytes(rng.randrange(0, 2000))
            existing = sorted(model.nodes)
            r = rng.random()
            if not existing or r < 0.35:
                op = ("create", (f"{model.root}/n{model.seq}", value))
            elif r < 0.75:
                op = ("set", (rng.choice(existing), value))
            elif r < 0.85:
                op = ("delete", (rng.choice(existing),))
            else:
                creates = [(f"{model.root}/m{model.seq}_{j}", value + bytes([j])) for j in range(3)]
                op = ("multi", {"creates": creates, "set": (rng.choice(existing), value)})
            model.inflight = op
            kind, args = op
            if kind == "create":
                _, stat, zxid = zk.create(args[0], args[1])
                assert stat["czxid"] == stat["mzxid"] == zxid, (stat, zxid)
                model.nodes[args[0]] = (args[1], zxid)
            elif kind == "set":
                stat, zxid = zk.set(args[0], args[1])
                assert stat["mzxid"] == zxid, (stat, zxid)
                model.nodes[args[0]] = (args[1], zxid)
            elif kind == "delete":
                zk.delete(args[0])
                model.nodes.pop(args[0])
            else:
                sub = [("create", zkraw.enc_create(p, d, OPEN_ACL, 0)) for p, d in args["creates"]]
                sub.append(("setData", zkraw.enc_set_data(args["set"][0], args["set"][1], -1)))
                err, res, zxid = zk.multi(sub)
                assert err == 0 and all(x.get("err", 0) == 0 for x in res[:-1]), res
                for p, d in args["creates"]:
                    model.nodes[p] = (d, zxid)
                model.nodes[args["set"][0]] = (args["set"][1], zxid)
            model.inflight = None
            model.acked += 1
            counter[0] += 1
    except (OSError, zkraw.ConnectionClosed, ValueError):
        pass  # the server was killed: model.inflight stays unknown
    except Exception as exc:  # a wrong reply is a test failure
        errors.append(f"{model.root}: {exc!r}")
    finally:
        zk.drop()


def read_subtree(zk: Zk, root: str) -> dict:
    out = {}
    for child in zk.children(root):
        p = f"{root}/{child}"
        data, stat = zk.get(p)
        out[p] = (data, stat["mzxid"])
    return out


def reconcile(model: Model, actual: dict) -> str | None:
    """Checks ``actual`` against the model; adopts it. Returns an error text or None."""
    acked = model.nodes
    if set(actual) == set(acked) and all(actual[p] == acked[p] for p in acked):
        model.inflight = None
        return None
    if model.inflight is not None:
        cand = Model.apply(acked, model.inflight)
        same_keys = set(actual) == set(cand)
        if same_keys and all(actual[p][0] == cand[p][0] and
                             (cand[p][1] is None or actual[p][1] == cand[p][1]) for p in cand):
            zx = [actual[p][1] for p in cand if cand[p][1] is None]
            last_acked = max([z for _, z in acked.values()] + [0])
            if all(z > last_acked for z in zx) and len(set(zx)) <= 1:
                model.nodes = dict(actual)
                model.inflight = None
                return None
    missing = sorted(set(acked) - set(actual))[:5]
    extra = sorted(set(actual) - set(acked))[:5]
    changed = [(p, acked[p][1], actual[p][1]) for p in acked if p in actual and actual[p] != acked[p]][:5]
    return (f"{model.root}: state after restart is neither the acknowledged state nor it plus the "
            f"in-flight {model.inflight and model.inflight[0]}: missing={missing} extra={extra} "
            f"changed(path, acked mzxid, actual mzxid)={changed}")


def test_kill9_under_concurrent_writes(tmp_path, servers):
    rng = random.Random(SEED)
    srv = fk_server(tmp_path, snapCount=60, preAllocSize=64)
    servers(srv)
    srv.start()
    zk = Zk(srv.port)
    zk.create("/crash", b"")
    models = []
    for i in range(WORKERS):
        zk.create(f"/crash/w{i}", b"")
        models.append(Model(f"/crash/w{i}"))
    zk.close()
    deadline = time.monotonic() + 60
    total_acked = 0
    rounds = 0
    failures = []
    while rounds < ROUNDS and time.monotonic() < deadline:
        rounds += 1
        stop, errors, counter = threading.Event(), [], [0]
        threads = [threading.Thread(target=worker_loop,
                                    args=(srv.port, m, random.Random(rng.random()), stop, errors, counter),
                                    daemon=True) for m in models]
        for t in threads:
            t.start()
        want = rng.randrange(1, 120)
        wait_until(lambda: counter[0] >= want or errors, 20, interval=0.002,
                   message=f"{want} acknowledged writes in round {rounds}")
        time.sleep(rng.uniform(0, 0.05))  # the random kill moment
        srv.kill()
        stop.set()
        for t in threads:
            t.join(15)
            assert not t.is_alive(), "a worker hangs after the server was killed"
        assert not errors, errors
        total_acked += counter[0]
        srv.start()
        zk = Zk(srv.port)
        for m in models:
            err = reconcile(m, read_subtree(zk, m.root))
            if err:
                failures.append(f"round {rounds}: {err}")
        zk.close()
        assert not failures, "\n".join(failures) + f"\nserver log tail:\n{srv.log_tail(30)}"
    assert rounds >= min(ROUNDS, 10), f"only {rounds} rounds in the time budget"
    assert total_acked > rounds * 5
    # the final state also survives a clean restart and loads in a fresh process twice
    zk = Zk(srv.port)
    before = dump_tree(zk, skip=("/zookeeper",))
    zk.close()
    srv.kill()
    srv.start()
    zk = Zk(srv.port)
    after = dump_tree(zk, skip=("/zookeeper",))
    zk.close()
    assert not diff_dumps(before, after)


# ---------------------------------------------------------------- torn tails

def write_nodes(port: int, prefix: str, count: int, keep_open: bool = False):
    """Creates prefix, prefix/n0..n<count-1>; returns {path: zxid} and the open client."""
    zk = Zk(port)
    if zk.exists(prefix) is None:
        zk.create(prefix, b"")
    out = {}
    for k in range(count):
        p = f"{prefix}/n{k}"
        _, _, zxid = zk.create(p, f"value {k}".encode() * 10)
        out[p] = zxid
    if keep_open:
        return out, zk
    zk.close()
    return out, None


def last_entry(path: Path, zxid: int) -> dict:
    ents = log_entries(path)
    assert ents and ents[-1]["zxid"] == zxid, (
        f"expected the last entry of {path.name} to be zxid {zxid:#x}, "
        f"got {ents[-1]['zxid'] if ents else None}")
    return ents[-1]


def check_nodes(port: int, present: dict, absent=()):
    zk = Zk(port)
    try:
        for p, zxid in present.items():
            st = zk.exists(p)
            assert st is not None, f"{p} (zxid {zxid:#x}) lost"
            assert st["czxid"] == zxid
        for p in absent:
            assert zk.exists(p) is None, f"{p} was in the torn entry but exists"
    finally:
        zk.close()


@pytest.mark.parametrize("damage", ["truncate-mid-entry", "truncate-mid-header", "zero-from-payload",
                                    "zero-whole-entry"])
def test_torn_tail_is_cut(tmp_path, servers, damage):
    srv = fk_server(tmp_path)
    servers(srv)
    srv.start()
    nodes, zk = write_nodes(srv.port, "/torn", 30, keep_open=True)
    srv.kill()  # no closeSession: the last entry is the last create
    zk.drop()
    last_path = "/torn/n29"
    log = newest_log(srv.data_dir)
    ent = last_entry(log, nodes[last_path])
    size = log.stat().st_size
    with open(log, "r+b") as f:
        if damage == "truncate-mid-entry":
            f.truncate(ent["offset"] + 12 + ent["len"] // 2)
        elif damage == "truncate-mid-header":
            f.truncate(ent["offset"] + 5)
        elif damage == "zero-from-payload":
            f.seek(ent["offset"] + 12 + ent["len"] // 2)
            f.write(bytes(size - f.tell()))
        else:
            f.seek(ent["offset"])
            f.write(bytes(size - ent["offset"]))
    del nodes[last_path]
    srv.start()
    check_nodes(srv.port, nodes, absent=[last_path])
    if damage != "zero-whole-entry":  # a zeroed entry is just the preallocated end of the file
        log_text = srv.log_text()
        assert log.name in log_text and str(ent["offset"]) in log_text, (
            "the cut torn tail is not logged with file and offset:\n" + srv.log_tail(20))
    # the server goes on writing and everything survives another crash
    more, _ = write_nodes(srv.port, "/torn2", 10)
    srv.kill()
    srv.start()
    check_nodes(srv.port, {**nodes, **more}, absent=[last_path])


@pytest.mark.parametrize("where", ["newest-log", "older-log"])
def test_flipped_byte_refuses_startup(tmp_path, servers, where):
    srv = fk_server(tmp_path, snapCount=40)
    servers(srv)
    srv.start()
    write_nodes(srv.port, "/flip", 120)
    srv.kill()
    all_logs = [p for p in logs(srv.data_dir) if len(log_entries(p)) >= 10]
    snaps = snapshots(srv.data_dir)
    if where == "newest-log":
        # the newest log holds txns after the newest snapshot: they must be replayed
        target = newest_log(srv.data_dir)
        # make sure the corrupted entry is replayed: write more after the last roll (no roll now)
        quiet = fk_server(tmp_path, name="fk-quiet", port=srv.port)
        servers(quiet)
        quiet.start()
        write_nodes(quiet.port, "/flip-more", 20)
        quiet.kill()
        target = newest_log(srv.data_dir)
        ents = log_entries(target)
    else:
        # a log older than the newest one that still has entries after the newest snapshot's
        # zxid is hard to arrange; instead delete newer snapshots so that older logs are replayed
        target = all_logs[len(all_logs) // 2]
        ents = log_entries(target)
        for s in snaps:
            if zxid_of(s.name) >= ents[0]["zxid"]:
                s.unlink()
    assert len(ents) >= 10, f"{target.name} has only {len(ents)} entries"
    victim = ents[len(ents) // 2]
    flip_at = victim["offset"] + 12 + victim["len"] // 2
    with open(target, "r+b") as f:
        f.seek(flip_at)
        b = f.read(1)
        f.seek(flip_at)
        f.write(bytes([b[0] ^ 0x5A]))
    before = target.read_bytes()
    srv2 = fk_server(tmp_path, name="fk2")
    servers(srv2)
    rc = spawn_expect_exit(srv2)
    out = srv2.log_text()
    assert rc != 0, out
    assert target.name in out, f"startup error does not name {target.name}:\n{out[-3000:]}"
    offsets = {str(victim["offset"]), hex(victim["offset"]), str(flip_at), hex(flip_at)}
    assert any(re.search(rf"\b{re.escape(o)}\b", out) for o in offsets), (
        f"startup error names none of the offsets {sorted(offsets)}:\n{out[-3000:]}")
    assert target.read_bytes() == before, "the corrupt log was modified"
    assert target.exists()


def test_missing_newest_snapshot_falls_back(tmp_path, servers):
    srv = fk_server(tmp_path, snapCount=30)
    servers(srv)
    srv.start()
    nodes, _ = write_nodes(srv.port, "/fb", 150)
    zk = Zk(srv.port)
    for k in range(0, 150, 3):
        zk.set(f"/fb/n{k}", b"updated %d" % k)
    before = dump_tree(zk, skip=("/zookeeper",))
    zk.close()
    srv.kill()
    snaps = snapshots(srv.data_dir)
    assert len(snaps) >= 4, [s.name for s in snaps]
    snaps[-1].unlink()
    snaps[-2].unlink()
    srv.start()
    zk = Zk(srv.port)
    after = dump_tree(zk, skip=("/zookeeper",))
    zk.close()
    diffs = diff_dumps(before, after)
    assert not diffs, "\n".join(diffs)
    # an unreadable (half-written) newest snapshot is skipped the same way
    srv.kill()
    newest = snapshots(srv.data_dir)[-1]
    raw = newest.read_bytes()
    newest.write_bytes(raw[: len(raw) // 2])
    srv.start()
    zk = Zk(srv.port)
    again = dump_tree(zk, skip=("/zookeeper",))
    zk.close()
    assert not diff_dumps(before, again)


def test_snapshot_during_writes_recovers_exact_state(tmp_path, servers):
    srv = fk_server(tmp_path, snapCount=16)
    servers(srv)
    srv.start()
    zk = Zk(srv.port)
    zk.create("/fz", b"")
    zk.close()
    errors = []

    def writer(i):
        rng = random.Random(SEED + i)
        try:
            c = Zk(srv.port)
            c.create(f"/fz/w{i}", b"")
            for k in range(150):
                p = f"/fz/w{i}/n{k % 25}"
                if k < 25:
                    c.create(p, rng.randbytes(rng.randrange(0, 500)))
                elif k % 9 == 0:
                    c.delete(p)
                    c.create(p, b"re")
                elif k % 13 == 0:
                    err, res, _ = c.multi([("create", zkraw.enc_create(f"/fz/w{i}/m{k}", b"m", OPEN_ACL, 0)),
                                           ("setData", zkraw.enc_set_data(f"/fz/w{i}", b"%d" % k, -1))])
                    assert err == 0, res
                else:
                    c.set(p, rng.randbytes(rng.randrange(0, 500)))
            c.close()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    zk = Zk(srv.port)
    before = dump_tree(zk)
    zk.close()
    n_snaps = len(snapshots(srv.data_dir))
    assert n_snaps >= 10, f"only {n_snaps} snapshots were taken"
    srv.kill()
    srv.start()
    zk = Zk(srv.port)
    after = dump_tree(zk)
    zk.close()
    diffs = diff_dumps(before, after)
    assert not diffs, "\n".join(diffs)
    # and from every snapshot on its own (+ the logs after it) -- fuzzy snapshots included
    for keep in snapshots(srv.data_dir)[1:-1:3]:
        srv.kill()
        hidden = tmp_path / "hidden"
        hidden.mkdir(exist_ok=True)
        for s in snapshots(srv.data_dir):
            if zxid_of(s.name) > zxid_of(keep.name):
                s.rename(hidden / s.name)
        srv.start()
        zk = Zk(srv.port)
        got = dump_tree(zk)
        zk.close()
        diffs = diff_dumps(before, got)
        assert not diffs, f"from {keep.name}:\n" + "\n".join(diffs)
        srv.kill()
        for s in hidden.iterdir():
            # put them back (the restart wrote a new snapshot of its own; keep that too)
            s.rename(srv.data_dir / "version-2" / s.name)
        srv.start()


def test_session_survives_restart(tmp_path, servers):
    srv = fk_server(tmp_path)
    servers(srv)
    srv.start()
    holder = Zk(srv.port, timeout_ms=30000)
    holder.create("/eph", b"mine", flags=EPHEMERAL)
    sid, pw = holder.session_id, holder.passwd
    srv.kill()
    holder.drop()
    srv.start()
    client = KazooClient(hosts=srv.hosts, client_id=(sid, pw), timeout=30)
    states = []
    client.add_listener(states.append)
    try:
        client.start(timeout=15)
        assert client.client_id[0] == sid, f"new session {client.client_id[0]:#x} instead of {sid:#x}"
        data, st = client.get("/eph")
        assert data == b"mine" and st.ephemeralOwner == sid
        # a wrong password is refused (the session is not hijackable)
        bad = KazooClient(hosts=srv.hosts, client_id=(sid, bytes(16)), timeout=30,
                          connection_retry={"max_tries": 0})
        lost = []
        bad.add_listener(lost.append)
        try:
            bad.start(timeout=5)
        except Exception:
            pass
        finally:
            bad.stop()
            bad.close()
        assert client.exists("/eph") is not None
        assert KazooState.LOST not in states
        # the session also survives a clean SIGTERM restart
        srv.stop()
        srv.start()
        wait_until(lambda: client.connected and client.exists("/eph") is not None, 20,
                   message="kazoo reconnects its session after the restart")
        assert client.client_id[0] == sid and KazooState.LOST not in states
    finally:
        client.stop()
        client.close()
    zk = Zk(srv.port)
    wait_until(lambda: zk.exists("/eph") is None, 10, message="ephemeral gone after close")
    zk.close()


def test_dead_sessions_ephemerals_expire_after_restart(tmp_path, servers):
    """Sessions restored from snapshot + log expire after a restart and take their ephemerals with
    them. snapCount=2 makes a snapshot start after nearly every txn while sessions are being created,
    so a session missing from a snapshot that claims to include it would leave an orphan
    ephemeral that never goes away."""
    srv = fk_server(tmp_path, snapCount=2)
    servers(srv)
    srv.start()
    zk = Zk(srv.port)
    zk.create("/eph", b"")
    zk.close()
    errors, created = [], []

    def churn(i):
        try:
            for k in range(25):
                c = Zk(srv.port, timeout_ms=4000)
                c.create(f"/eph/s{i}-{k}", b"", flags=EPHEMERAL)
                created.append(c.session_id)
                c.drop()  # no closeSession: the session lives until it expires
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=churn, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    srv.kill()
    srv.start()
    zk = Zk(srv.port)
    try:
        left = zk.children("/eph")
        assert left, "the ephemerals of live sessions vanished at restart"

        def expired():
            nonlocal left
            left = zk.children("/eph")
            return not left
        try:
            wait_until(expired, 25, interval=0.2, message="ephemerals of dead sessions to expire")
        except TimeoutError:
            owners = sorted({zk.exists(f"/eph/{n}")["ephemeralOwner"] for n in left[:20]})
            pytest.fail(f"{len(left)} ephemerals never expired after the restart (orphans: their "
                        f"sessions were not restored); owners {[hex(o) for o in owners]}\n"
                        f"{srv.log_tail(10)}", pytrace=False)
    finally:
        zk.close()


@pytest.mark.parametrize("damage", ["torn-older-log", "missing-middle-log"])
def test_hole_in_the_log_sequence_refuses_startup(tmp_path, servers, damage):
    """Txns missing in the middle of the replayed history (a torn entry at the end of a log that
    is not the newest, or a whole log file gone) must not be skipped silently: replaying later
    txns over the hole would serve a state that never existed."""
    srv = fk_server(tmp_path)
    servers(srv)
    srv.start()
    a, _ = write_nodes(srv.port, "/hole-a", 20)
    srv.kill()
    srv.start()  # every start opens a new log
    b, _ = write_nodes(srv.port, "/hole-b", 20)
    srv.kill()
    srv.start()
    c, _ = write_nodes(srv.port, "/hole-c", 20)
    srv.kill()
    lg = [p for p in logs(srv.data_dir) if log_entries(p)]
    assert len(lg) >= 3, [p.name for p in lg]
    first = log_entries(lg[0])
    # replay from snapshot.0 so that every log is needed
    for s in snapshots(srv.data_dir):
        if zxid_of(s.name) > 0:
            s.unlink()
    if damage == "torn-older-log":
        target = lg[0]
        with open(target, "r+b") as f:
            f.truncate(first[-3]["offset"] + 20)
        named = target.name
    else:
        target = lg[1]
        target.unlink()
        named = lg[2].name
    srv2 = fk_server(tmp_path, name="fk2")
    servers(srv2)
    rc = spawn_expect_exit(srv2)
    out = srv2.log_text()
    assert rc != 0, out[-2000:]
    assert named in out and "missing" in out, out[-2000:]


def test_fuzzy_snapshot_of_a_big_tree_under_writes(tmp_path, servers):
    """A tree bigger than one snapshot chunk (the snapshot copies nodes a chunk at a time while
    writes go on): every snapshot taken during the writes, plus the logs after it, recovers
    exactly the state served -- on ferrokeeper and on Java."""
    srv = fk_server(tmp_path, snapCount=30)
    servers(srv)
    srv.start()
    zk = Zk(srv.port)
    for top in ("/a", "/big", "/z"):
        zk.create(top, b"")
    for b in range(20):
        sub = [("create", zkraw.enc_create(f"/big/n{b:02d}_{k:03d}", b"%d" % k, OPEN_ACL, 0))
               for k in range(300)]
        err, res, _ = zk.multi(sub)
        assert err == 0 and all(r.get("err", 0) == 0 for r in res[:-1]), res[:3]
    zk.close()
    errors = []

    def writer(i):
        rng = random.Random(SEED * 7 + i)
        top = "/a" if i % 2 else "/z"
        base = f"{top}/w{i}"
        try:
            c = Zk(srv.port)
            c.create(base, b"")
            for k in range(120):
                p = f"{base}/n{k % 15}"
                r = rng.random()
                if c.exists(p) is None:
                    c.create(p, rng.randbytes(rng.randrange(0, 200)))
                    c.create(p + "/kid", b"k")
                elif r < 0.25:
                    c.delete(p + "/kid")
                    c.delete(p)
                    c.create(p, b"recreated %d" % k)
                    c.create(p + "/kid", b"k2")
                elif r < 0.45:
                    c.set_acl(p, [(zkraw.PERM_ALL, "world", "anyone"), (1, "ip", f"10.{i}.{k}.0/24")])
                elif r < 0.55:
                    c.set(f"/big/n{rng.randrange(20):02d}_{rng.randrange(300):03d}", b"w%d" % k)
                else:
                    c.set(p, rng.randbytes(rng.randrange(0, 200)))
            c.close()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    zk = Zk(srv.port)
    before = dump_tree(zk)
    zk.close()
    srv.kill()
    snaps = snapshots(srv.data_dir)
    assert len(snaps) >= 8, [s.name for s in snaps]
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    v2 = srv.data_dir / "version-2"

    def recover_from(keep, impl):
        for s in snapshots(srv.data_dir):
            if zxid_of(s.name) > zxid_of(keep.name):
                s.rename(hidden / s.name)
        other = make_server(impl, tmp_path / f"{impl}-{keep.name}", srv.data_dir, port=srv.port)
        servers(other)
        other.start()
        try:
            z = Zk(other.port)
            got = dump_tree(z)
            z.close()
        finally:
            other.kill()
        for s in list(hidden.iterdir()):
            if not (v2 / s.name).exists():
                s.rename(v2 / s.name)
            else:
                s.unlink()
        return diff_dumps(before, got)

    picks = snaps[1:-1]
    for keep in picks[:: max(1, len(picks) // 3)]:
        diffs = recover_from(keep, "ferrokeeper")
        assert not diffs, f"ferrokeeper from {keep.name}:\n" + "\n".join(diffs)
    for keep in (picks[len(picks) // 2],):
        diffs = recover_from(keep, "java")
        assert not diffs, f"Java from ferrokeeper's {keep.name}:\n" + "\n".join(diffs)

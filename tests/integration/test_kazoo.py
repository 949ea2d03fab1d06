"""kazoo (pure-Python ZooKeeper client) recipes and session behaviour."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from kazoo.exceptions import (BadVersionError, InvalidACLError, NoAuthError, NodeExistsError,
                              NoNodeError, NotEmptyError, RolledBackError, RuntimeInconsistency)
from kazoo.protocol.states import EventType, KazooState
from kazoo.security import ACL, OPEN_ACL_UNSAFE, Id, Permissions, make_digest_acl, make_digest_acl_credential

from servers import wait_until

EVENT_TIMEOUT = 10.0


def next_item(q: queue.Queue, what: str = "event"):
    try:
        return q.get(timeout=EVENT_TIMEOUT)
    except queue.Empty:
        raise AssertionError(f"no {what} within {EVENT_TIMEOUT}s") from None


# -- recipes -------------------------------------------------------------------

def test_lock_mutual_exclusion(kazoo_factory, zpath):
    a, b = kazoo_factory(), kazoo_factory()
    lock_path = f"{zpath}/lock"
    counter = f"{zpath}/counter"
    a.create(counter, b"0", makepath=True)

    lock_a, lock_b = a.Lock(lock_path, "A"), b.Lock(lock_path, "B")
    assert lock_a.acquire(timeout=EVENT_TIMEOUT)
    assert lock_b.acquire(blocking=False) is False
    assert lock_b.contenders() == ["A"]
    lock_a.release()
    assert lock_b.acquire(timeout=EVENT_TIMEOUT)
    assert lock_a.contenders() == ["B"]
    lock_b.release()
    assert a.get_children(lock_path) == []

    holders = []  # who is inside the critical section right now
    max_inside = []
    errors = []
    rounds = 15

    def worker(client, name):
        try:
            lock = client.Lock(lock_path, name)
            for _ in range(rounds):
                with lock:
                    holders.append(name)
                    max_inside.append(len(holders))
                    data, stat = client.get(counter)
                    # A versioned write: any interleaving would raise BadVersionError.
                    client.set(counter, str(int(data) + 1).encode(), version=stat.version)
                    holders.remove(name)
        except Exception as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(c, n)) for c, n in ((a, "A"), (b, "B"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "lock workers hung"
    assert errors == []
    assert max(max_inside) == 1
    data, stat = b.get(counter)
    assert data == str(2 * rounds).encode() and stat.version == 2 * rounds
    assert a.get_children(lock_path) == []


def test_election(kazoo_factory, zpath):
    a, b = kazoo_factory(), kazoo_factory()
    leaders = queue.Queue()
    done = {"alice": threading.Event(), "bob": threading.Event()}

    def lead(name):
        leaders.put(name)
        done[name].wait(EVENT_TIMEOUT * 3)

    e_alice, e_bob = a.Election(zpath, "alice"), b.Election(zpath, "bob")
    t_alice = threading.Thread(target=e_alice.run, args=(lead, "alice"))
    t_alice.start()
    assert next_item(leaders, "leader") == "alice"

    t_bob = threading.Thread(target=e_bob.run, args=(lead, "bob"))
    t_bob.start()
    wait_until(lambda: e_bob.contenders() == ["alice", "bob"], EVENT_TIMEOUT,
               message="bob to join the election")
    assert leaders.empty()

    done["alice"].set()  # alice's term ends, bob takes over
    assert next_item(leaders, "leader") == "bob"
    t_alice.join(EVENT_TIMEOUT)
    assert e_alice.contenders() == ["bob"]
    done["bob"].set()
    t_bob.join(EVENT_TIMEOUT)
    assert not t_alice.is_alive() and not t_bob.is_alive()
    assert a.get_children(zpath) == []


def test_data_watch_sequence(kazoo_factory, zpath):
    watcher, writer = kazoo_factory(), kazoo_factory()
    events = queue.Queue()

    @watcher.DataWatch(zpath)  # 3-argument callbacks also get the event
    def on_change(data, stat, event):
        events.put((data, stat.version if stat else None, event.type if event else None))

    assert next_item(events) == (None, None, None)  # initial call: node absent
    writer.create(zpath, b"v0")
    assert next_item(events) == (b"v0", 0, EventType.CREATED)
    writer.set(zpath, b"v1")
    assert next_item(events) == (b"v1", 1, EventType.CHANGED)
    writer.set(zpath, b"")
    assert next_item(events) == (b"", 2, EventType.CHANGED)
    writer.delete(zpath)
    assert next_item(events) == (None, None, EventType.DELETED)
    writer.create(zpath, b"again")
    assert next_item(events) == (b"again", 0, EventType.CREATED)
    assert events.empty()


def test_children_watch_sequence(kazoo_factory, zpath):
    watcher, writer = kazoo_factory(), kazoo_factory()
    writer.create(zpath)
    events = queue.Queue()

    @watcher.ChildrenWatch(zpath, send_event=True)
    def on_children(children, event):
        events.put((sorted(children), event.type if event else None))

    assert next_item(events) == ([], None)
    writer.create(f"{zpath}/a")
    assert next_item(events) == (["a"], EventType.CHILD)
    writer.create(f"{zpath}/b", ephemeral=True)
    assert next_item(events) == (["a", "b"], EventType.CHILD)
    writer.set(f"{zpath}/a", b"data changes do not fire child watches")
    writer.delete(f"{zpath}/a")
    assert next_item(events) == (["b"], EventType.CHILD)
    assert events.empty()


def test_exists_watch_and_one_shot(zk, kazoo_factory, zpath):
    writer = kazoo_factory()
    events = queue.Queue()
    assert zk.exists(zpath, watch=events.put) is None
    writer.create(zpath, b"x")
    event = next_item(events)
    assert (event.type, event.path) == (EventType.CREATED, zpath)
    writer.set(zpath, b"y")      # the watch was one-shot: no second event
    zk.get(zpath, watch=events.put)
    writer.delete(zpath)
    event = next_item(events)
    assert (event.type, event.path) == (EventType.DELETED, zpath)
    assert events.empty()


# -- transactions ----------------------------------------------------------------

def test_transaction_commit(zk, zpath):
    zk.create(zpath, b"0")
    zk.create(f"{zpath}/old")
    txn = zk.transaction()
    txn.create(f"{zpath}/new", b"n")
    txn.set_data(zpath, b"1", version=0)
    txn.check(zpath, 1)              # sees the set_data above
    txn.delete(f"{zpath}/old")
    results = txn.commit()
    assert results[0] == f"{zpath}/new"
    assert results[1].version == 1
    assert results[2:] == [True, True]
    assert sorted(zk.get_children(zpath)) == ["new"]
    data, stat = zk.get(zpath)
    assert data == b"1" and stat.version == 1
    # one transaction = one zxid
    assert zk.exists(f"{zpath}/new").czxid == stat.mzxid


def test_transaction_rollback(zk, zpath):
    zk.create(zpath, b"0")
    before = zk.exists(zpath)
    txn = zk.transaction()
    txn.create(f"{zpath}/child", b"c")
    txn.set_data(zpath, b"changed")
    txn.check(zpath, 99)             # wrong version: the whole transaction fails
    txn.delete(zpath)
    results = txn.commit()
    assert [type(r) for r in results] == [RolledBackError, RolledBackError,
                                          BadVersionError, RuntimeInconsistency]
    assert zk.get_children(zpath) == []
    data, stat = zk.get(zpath)
    assert data == b"0" and stat.version == 0 and stat.mzxid == before.mzxid


def test_transaction_failure_kinds(zk, zpath):
    zk.create(zpath)
    zk.create(f"{zpath}/a")
    txn = zk.transaction()
    txn.delete(f"{zpath}/a")
    txn.create(f"{zpath}/a/x")       # parent deleted earlier in the same txn
    assert [type(r) for r in txn.commit()] == [RolledBackError, NoNodeError]

    txn = zk.transaction()
    txn.create(f"{zpath}/b")
    txn.create(f"{zpath}/a")
    assert [type(r) for r in txn.commit()] == [RolledBackError, NodeExistsError]

    txn = zk.transaction()
    txn.delete(zpath)
    assert [type(r) for r in txn.commit()] == [NotEmptyError]
    assert zk.get_children(zpath) == ["a"]


# -- paths and sequence nodes ------------------------------------------------------

def test_ensure_path_and_sequences(zk, zpath):
    zk.ensure_path(f"{zpath}/x/y/z")
    zk.ensure_path(f"{zpath}/x/y/z")  # idempotent
    assert zk.get_children(f"{zpath}/x/y") == ["z"]
    assert zk.get(f"{zpath}/x/y/z")[0] == b""

    names = [zk.create(f"{zpath}/x/job-", b"j", sequence=True) for _ in range(3)]
    assert names == [f"{zpath}/x/job-{n:010d}" for n in (1, 2, 3)]  # y took cversion 0->1
    zk.delete(names[0])
    eph = zk.create(f"{zpath}/x/e-", ephemeral=True, sequence=True)
    assert eph == f"{zpath}/x/e-0000000004"  # deletes do not reuse counters
    assert zk.exists(eph).ephemeralOwner == zk.client_id[0]
    assert sorted(zk.get_children(f"{zpath}/x")) == ["e-0000000004", "job-0000000002",
                                                     "job-0000000003", "y"]
    parent = zk.exists(f"{zpath}/x")
    # Java stores the number of creates (5) and reports
    # cversion = 2 * creates - numChildren, i.e. creates + deletes.
    assert parent.cversion == 6 and parent.numChildren == 4
    with pytest.raises(NoNodeError):
        zk.create(f"{zpath}/missing/child")
    with pytest.raises(NodeExistsError):
        zk.create(f"{zpath}/x")


def test_concurrent_sequential_creates(kazoo_factory, zpath):
    clients = [kazoo_factory() for _ in range(4)]
    clients[0].create(zpath)
    created, errors = [], []

    def worker(client):
        try:
            for _ in range(25):
                created.append(client.create(f"{zpath}/s-", sequence=True))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(created) == [f"{zpath}/s-{n:010d}" for n in range(100)]
    assert sorted(clients[1].get_children(zpath)) == [c.rsplit("/", 1)[1] for c in sorted(created)]


def test_pipelined_async_requests_keep_order(zk, zpath):
    zk.create(zpath)
    pending = [zk.create_async(f"{zpath}/n{i:03d}", str(i).encode()) for i in range(200)]
    assert [p.get(timeout=EVENT_TIMEOUT) for p in pending] == [f"{zpath}/n{i:03d}" for i in range(200)]
    reads = [zk.get_async(f"{zpath}/n{i:03d}") for i in range(200)]
    results = [r.get(timeout=EVENT_TIMEOUT) for r in reads]
    assert [data for data, _ in results] == [str(i).encode() for i in range(200)]
    czxids = [stat.czxid for _, stat in results]
    assert czxids == sorted(czxids) and len(set(czxids)) == 200  # applied in request order
    assert zk.exists(zpath).numChildren == 200


# -- ACLs ------------------------------------------------------------------------

def test_digest_acl(kazoo_factory, zpath):
    owner = kazoo_factory(auth_data=[("digest", "dave:pw")])
    stranger = kazoo_factory()
    reader = kazoo_factory(auth_data=[("digest", "rita:pw2")])

    acl = [make_digest_acl("dave", "pw", all=True), make_digest_acl("rita", "pw2", read=True)]
    owner.create(zpath, b"guarded", acl=acl)

    with pytest.raises(NoAuthError):
        stranger.get(zpath)
    with pytest.raises(NoAuthError):
        stranger.set(zpath, b"x")
    with pytest.raises(NoAuthError):
        stranger.get_children(zpath)

    assert reader.get(zpath)[0] == b"guarded"
    with pytest.raises(NoAuthError):
        reader.set(zpath, b"x")
    with pytest.raises(NoAuthError):
        reader.create(f"{zpath}/child")

    owner.set(zpath, b"updated")
    owner.create(f"{zpath}/child")
    acls, stat = owner.get_acls(zpath)
    assert acls == acl and stat.aversion == 0

    # Late authentication on an open session works too.
    stranger.add_auth("digest", "dave:pw")
    assert stranger.get(zpath)[0] == b"updated"


def test_auth_scheme_and_set_acl(kazoo_factory, zpath):
    owner = kazoo_factory(auth_data=[("digest", "erin:pw")])
    anonymous = kazoo_factory()
    owner.create(zpath, b"a", acl=[ACL(Permissions.ALL, Id("auth", ""))])
    acls, _ = owner.get_acls(zpath)
    assert acls == [ACL(Permissions.ALL, Id("digest", make_digest_acl_credential("erin", "pw")))]

    with pytest.raises(InvalidACLError):  # no authenticated identity to substitute
        anonymous.create(f"{zpath}-x", acl=[ACL(Permissions.ALL, Id("auth", ""))])

    with pytest.raises(BadVersionError):
        owner.set_acls(zpath, OPEN_ACL_UNSAFE, version=5)
    stat = owner.set_acls(zpath, OPEN_ACL_UNSAFE, version=0)
    assert stat.aversion == 1 and stat.version == 0
    assert anonymous.get(zpath)[0] == b"a"
    assert anonymous.get_acls(zpath)[0] == OPEN_ACL_UNSAFE


# -- sessions ----------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=sys.argv[1], timeout=float(sys.argv[3]))
    zk.start(timeout=15)
    zk.create(sys.argv[2], b"held", ephemeral=True)
    session_id, password = zk.client_id
    print(session_id, password.hex(), flush=True)
    time.sleep(600)
""")


def start_holder(hosts: str, path: str, timeout: float):
    """A separate process that creates an ephemeral node and then hangs.
    Returns (process, session_id, password)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, hosts, path, str(timeout)],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        proc.wait()
        raise AssertionError("ephemeral holder process failed to start")
    sid, pw = line.split()
    return proc, int(sid), bytes.fromhex(pw)


def kill_group(proc) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_session_expiry_deletes_ephemeral(server, zk, zpath):
    zk.create(zpath)
    eph = f"{zpath}/holder"
    proc, session_id, _ = start_holder(server.hosts, eph, timeout=4.0)
    try:
        assert zk.exists(eph).ephemeralOwner == session_id
        events = queue.Queue()
        zk.exists(eph, watch=events.put)
        kill_group(proc)  # no closeSession: the session must live on until it times out
        killed_at = time.monotonic()
        assert zk.exists(eph) is not None, "ephemeral deleted at disconnect, before expiry"
        event = events.get(timeout=30)
        waited = time.monotonic() - killed_at
        assert (event.type, event.path) == (EventType.DELETED, eph)
        assert waited > 1.0, f"session expired after only {waited:.2f}s"
        assert zk.exists(eph) is None
        assert zk.get_children(zpath) == []
    finally:
        kill_group(proc)


def test_session_resume_and_expired_session(server, kazoo_factory, zpath):
    watcher = kazoo_factory()
    watcher.create(zpath)
    eph = f"{zpath}/e"
    proc, session_id, password = start_holder(server.hosts, eph, timeout=10.0)
    kill_group(proc)

    # Reattach to the orphaned session with its id and password: it is still alive.
    resumed = kazoo_factory(client_id=(session_id, password))
    assert resumed.client_id[0] == session_id
    assert resumed.exists(eph).ephemeralOwner == session_id
    assert resumed.get(eph)[0] == b"held"

    # A wrong password is answered like an expired session (kazoo's state stays
    # LOST until it has a new session, so only CONNECTED is reported).
    states = []
    intruder = kazoo_factory(start=False, client_id=(session_id, bytes(16)))
    intruder.add_listener(states.append)
    intruder.start(timeout=15)
    assert states == [KazooState.CONNECTED]
    assert intruder.client_id[0] not in (0, session_id)
    assert watcher.exists(eph).ephemeralOwner == session_id  # untouched
    assert resumed.get(eph)[0] == b"held" and resumed.state == KazooState.CONNECTED

    # Closing the resumed session removes its ephemeral immediately.
    events = queue.Queue()
    watcher.exists(eph, watch=events.put)
    resumed.stop()
    event = next_item(events)
    assert (event.type, event.path) == (EventType.DELETED, eph)

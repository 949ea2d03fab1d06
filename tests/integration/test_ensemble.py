"""Quorum mode on loopback: ferrokeeper ensembles of 3 and 5, mixed ensembles with Java 3.8 (the
leader on each side), rolling migration Java → ferrokeeper → Java under load, the 1 → 3 scale-up
that loses data with ZooKeeper, and crash/failover with no acknowledged write lost."""

from __future__ import annotations

import threading
import time

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NodeExistsError
from kazoo.retry import KazooRetry

from ensemble import Ensemble, dump_tree
from servers import wait_until

F, J = "ferrokeeper", "java"


def connect(hosts: str, timeout: float = 10.0) -> KazooClient:
    c = KazooClient(hosts=hosts, timeout=timeout,
                    connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=1),
                    command_retry=None)
    c.start(timeout=60)
    return c


def synced_tree(c: KazooClient) -> dict:
    c.sync("/")
    return dump_tree(c)


def assert_same_trees(ens: Ensemble, sids=None):
    trees = {}
    for sid in sids or ens.sids:
        c = connect(ens.node(sid).hosts)
        try:
            trees[sid] = synced_tree(c)
        finally:
            c.stop()
            c.close()
    first_sid, first = next(iter(trees.items()))
    for sid, t in trees.items():
        if t != first:
            only_a = set(first) - set(t)
            only_b = set(t) - set(first)
            diff = [p for p in set(first) & set(t) if first[p] != t[p]][:5]
            raise AssertionError(f"node {sid} differs from node {first_sid}: missing {sorted(only_a)[:5]}, "
                                 f"extra {sorted(only_b)[:5]}, different {diff}")
    return first


class Writer(threading.Thread):
    """Creates sequential znodes until stopped; remembers every acknowledged one."""

    def __init__(self, hosts: str, prefix: str):
        super().__init__(daemon=True)
        self.client = connect(hosts)
        self.client.ensure_path("/load")
        self.prefix = prefix
        self.acked: list[str] = []
        self.errors = 0
        self.halt = threading.Event()

    def run(self):
        i = 0
        while not self.halt.is_set():
            i += 1
            try:
                self.acked.append(self.client.create(f"/load/{self.prefix}-", str(i).encode(),
                                                     sequence=True))
            except KazooException:
                self.errors += 1
                time.sleep(0.05)
            except Exception:  # noqa: BLE001 - e.g. kazoo's timeouts while a leader is down
                self.errors += 1
                time.sleep(0.05)

    def finish(self):
        self.halt.set()
        self.join(timeout=30)
        self.client.stop()
        self.client.close()


def exercise(ens: Ensemble, tag: str, rounds: int = 20):
    """Writes of every kind through every node; returns nothing, asserts the answers."""
    clients = [connect(ens.node(sid).hosts) for sid in ens.sids if ens.node(sid).is_running()]
    try:
        clients[0].ensure_path(f"/{tag}")
        for i in range(rounds):
            c = clients[i % len(clients)]
            c.create(f"/{tag}/n{i}", f"v{i}".encode())
            c.set(f"/{tag}/n{i}", f"w{i}".encode())
            c.create(f"/{tag}/seq-", b"", sequence=True)
        tx = clients[-1].transaction()
        tx.create(f"/{tag}/m1", b"a")
        tx.set_data(f"/{tag}/n0", b"multi")
        tx.check(f"/{tag}/n1", 1)
        res = tx.commit()
        assert res[0] == f"/{tag}/m1" and res[2] is True, res
        with pytest.raises(NodeExistsError):
            clients[0].create(f"/{tag}/n1")
        clients[-1].create(f"/{tag}/eph", b"", ephemeral=True)
        for c in clients:
            c.sync(f"/{tag}")
            assert c.get(f"/{tag}/n0")[0] == b"multi"
            assert c.exists(f"/{tag}/eph") is not None
            assert len(c.get_children(f"/{tag}")) == 2 * rounds + 2
    finally:
        for c in clients:
            c.stop()
            c.close()


def test_three_ferrokeeper_nodes_replicate(tmp_path):
    with Ensemble(tmp_path, [F, F, F]) as ens:
        leader = ens.start().leader()
        modes = ens.modes()
        assert sorted(modes.values()) == ["follower", "follower", "leader"], modes
        assert ens.node(leader).mntr()["zk_server_state"] == "leader"
        exercise(ens, "a")
        # The ephemeral of a closed session is gone everywhere.
        t = assert_same_trees(ens)
        assert "/a/eph" not in t
        assert len([p for p in t if p.startswith("/a/seq-")]) == 20


def test_five_nodes_survive_two_failures(tmp_path):
    with Ensemble(tmp_path, [F] * 5) as ens:
        leader = ens.start().leader()
        exercise(ens, "b", rounds=10)
        w = Writer(ens.hosts, "five")
        w.start()
        wait_until(lambda: len(w.acked) >= 30, 30, message="writes before the failures")
        others = [s for s in ens.sids if s != leader]
        ens.node(leader).kill()
        ens.node(others[0]).kill()
        rest = others[1:]
        ens.wait_serving(rest, timeout=60)
        n = len(w.acked)
        wait_until(lambda: len(w.acked) >= n + 30, 60, message="writes after the failures")
        w.finish()
        t = assert_same_trees(ens, rest)
        missing = [p for p in w.acked if p not in t]
        assert not missing, f"acknowledged writes lost: {missing[:5]}"


def test_kill_leader_under_load_loses_nothing(tmp_path):
    with Ensemble(tmp_path, [F, F, F]) as ens:
        leader = ens.start().leader()
        followers = [s for s in ens.sids if s != leader]
        writers = [Writer(ens.node(s).hosts, f"w{s}") for s in followers]
        for w in writers:
            w.start()
        # A session on a follower (must survive) and one on the leader only (must expire).
        kept = connect(ens.node(followers[0]).hosts, timeout=10)
        kept.create("/kept-eph", b"", ephemeral=True)
        kept_id = kept.client_id[0]
        doomed = KazooClient(hosts=ens.node(leader).hosts, timeout=4)
        doomed.start(timeout=30)
        doomed.create("/doomed-eph", b"", ephemeral=True)
        wait_until(lambda: all(len(w.acked) >= 40 for w in writers), 30, message="load")
        ens.node(leader).kill()
        new_leader = ens.wait_serving(followers, timeout=60)
        assert new_leader in followers
        counts = [len(w.acked) for w in writers]
        wait_until(lambda: all(len(w.acked) >= c + 40 for w, c in zip(writers, counts)), 60,
                   message="load after failover")
        for w in writers:
            w.finish()
        check = connect(ens.node(new_leader).hosts)
        try:
            # The follower's session lives on, with its ephemeral.
            wait_until(lambda: kept.state == KazooState.CONNECTED, 30, message="kept session")
            assert kept.client_id[0] == kept_id
            check.sync("/")
            assert check.exists("/kept-eph") is not None
            # The dead leader's session expires and its ephemeral goes.
            wait_until(lambda: check.exists("/doomed-eph") is None, 30,
                       message="ephemeral of the expired session removed")
            tree = synced_tree(check)
        finally:
            check.stop()
            check.close()
        lost = [p for w in writers for p in w.acked if p not in tree]
        assert not lost, f"acknowledged writes lost: {lost[:5]}"
        doomed.stop()
        doomed.close()
        # The old leader comes back as a follower and catches up.
        ens.node(leader).start()
        ens.wait_serving(ens.sids)
        assert ens.leader() == new_leader
        final = assert_same_trees(ens)
        assert "/kept-eph" in final
        kept.stop()
        kept.close()


MIXES = {
    "java-leads-1-ferrokeeper": [F, J, J],
    "ferrokeeper-leads-2-java": [J, J, F],
    "java-leads-2-ferrokeeper": [F, F, J],
    "ferrokeeper-leads-1-java": [J, F, F],
}


@pytest.mark.parametrize("mix", list(MIXES))
def test_mixed_ensemble_with_java(tmp_path, mix):
    impls = MIXES[mix]
    # A negative snapshotSizeFactor stops a Java leader from syncing from its txn log, so the
    # follower that falls behind gets a SNAP from either implementation.
    with Ensemble(tmp_path, impls, extra_cfg={"snapshotSizeFactor": "-1"}) as ens:
        ens.start()
        # Which node wins an election of equals depends on timing: restart leaders of the other
        # implementation until this mix's side leads.
        want = impls[2]
        for _ in range(4):
            leader = ens.wait_serving(ens.sids)
            if ens.node(leader).impl == want:
                break
            ens.node(leader).kill()
            ens.wait_serving([s for s in ens.sids if s != leader])
            ens.node(leader).start()
        assert ens.node(leader).impl == want, ens.modes()
        check_role_outputs(ens, leader)
        exercise(ens, "x")
        # A follower of the other implementation crashes, misses writes (more than the DIFF window,
        # so it needs a SNAP), and rejoins.
        other = next(s for s in (1, 2) if ens.node(s).impl != ens.node(leader).impl)
        ens.node(other).kill()
        c = connect(ens.node(leader).hosts)
        try:
            for i in range(700):
                c.create(f"/bulk{i % 7}-", b"z" * 50, sequence=True, makepath=True)
        finally:
            c.stop()
            c.close()
        ens.node(other).start()
        ens.wait_serving(ens.sids)
        exercise(ens, "y", rounds=10)
        tree = assert_same_trees(ens)
        assert len([p for p in tree if p.startswith("/bulk")]) == 700
        # The tree digests (Java's `hash` word: zxid → digest every 128 txns) agree wherever two
        # nodes both logged one, Java and ferrokeeper alike.
        from servers import four_letter
        digests = {}
        for sid in ens.sids:
            out = four_letter(ens.node(sid).port, "hash")
            digests[sid] = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        pairs = 0
        for a in ens.sids:
            for b in ens.sids:
                common = set(digests[a]) & set(digests[b])
                pairs += len(common)
                for z in common:
                    assert digests[a][z] == digests[b][z], (a, b, z, digests)
        assert pairs > 0, digests


LEADER_KEYS = {"zk_learners", "zk_synced_followers", "zk_synced_non_voting_followers",
               "zk_synced_observers", "zk_pending_syncs", "zk_leader_uptime",
               "zk_last_proposal_size", "zk_max_proposal_size", "zk_min_proposal_size"}
QUORUM_KEYS = {"zk_quorum_size", "zk_peer_state"}


def status_mode(node) -> str:
    """``zkServer.sh status``'s verdict for a node (our script, same text as Java's)."""
    import subprocess
    from servers import REPO_ROOT
    out = subprocess.run(["bash", str(REPO_ROOT / "bin" / "zkServer.sh"), "status",
                          str(node.cfg_path)], capture_output=True, text=True, timeout=30)
    lines = [l for l in (out.stdout + out.stderr).splitlines() if l.startswith("Mode:")]
    return lines[0] if lines else out.stdout + out.stderr


def check_role_outputs(ens: Ensemble, leader: int):
    """srvr / mntr / conf / zkServer.sh status of every node, Java and ferrokeeper alike."""
    for sid, n in ens.nodes.items():
        role = "leader" if sid == leader else "follower"
        srvr = n.srvr() or ""
        assert f"Mode: {role}" in srvr.splitlines(), (sid, n.impl, srvr)
        assert any(l.startswith("Proposal sizes last/min/max: ") for l in srvr.splitlines()) == \
            (role == "leader"), (sid, n.impl, srvr)
        m = n.mntr()
        assert m["zk_server_state"] == role
        assert QUORUM_KEYS <= set(m), (sid, n.impl, sorted(QUORUM_KEYS - set(m)))
        assert m["zk_quorum_size"] == "3"
        assert m["zk_peer_state"] == f"{'leading' if role == 'leader' else 'following'} - broadcast"
        if role == "leader":
            assert LEADER_KEYS <= set(m), (sid, n.impl, sorted(LEADER_KEYS - set(m)))
            assert m["zk_synced_followers"] == "2", m["zk_synced_followers"]
        from servers import four_letter
        conf = four_letter(n.port, "conf")
        assert f"serverId={sid}" in conf.splitlines()
        assert "membership: " in conf.splitlines()
        assert status_mode(n) == f"Mode: {role}", (sid, n.impl)


def test_rolling_migration_java_to_ferrokeeper_and_back(tmp_path):
    with Ensemble(tmp_path, [J, J, J]) as ens:
        ens.start()
        w = Writer(ens.hosts, "roll")
        w.start()
        for target in (F, J):
            for sid in ens.sids:
                n = len(w.acked)
                ens.replace(sid, target)
                ens.wait_serving(ens.sids, timeout=90)
                wait_until(lambda: len(w.acked) >= n + 20, 60,
                           message=f"writes after replacing node {sid} with {target}")
            assert all(n.impl == target for n in ens.nodes.values())
            # Only what was acknowledged before the tree is read can be asked of it.
            acked = list(w.acked)
            c = connect(ens.node(1).hosts)
            try:
                tree = synced_tree(c)
            finally:
                c.stop()
                c.close()
            lost = [p for p in acked if p not in tree]
            assert not lost, f"acknowledged writes lost during migration to {target}: {lost[:5]}"
        w.finish()
        tree = assert_same_trees(ens)
        assert not [p for p in w.acked if p not in tree]


def test_scale_up_from_one_node_keeps_the_data(tmp_path):
    """One node with data; the config becomes three servers; the two empty nodes start first. They
    must not elect a leader of an empty history among themselves; once node 1 is back, all three
    hold its data."""
    ens = Ensemble(tmp_path, [F, F, F], members=[1])
    try:
        n1 = ens.node(1)
        # Standalone: a single server line is standalone for ZooKeeper too.
        n1.start()
        wait_until(lambda: n1.mode() == "standalone", 30, message="standalone node")
        c = connect(n1.hosts)
        for i in range(50):
            c.create(f"/data/k{i}", f"{i}".encode(), makepath=True)
        c.stop()
        c.close()
        n1.stop()
        ens.members = set(ens.sids)
        ens.start([2, 3], wait=False)
        # Both empty nodes see each other (a quorum of 3) yet must not serve: every few hundred
        # ms of election rounds, for several seconds.
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            modes = ens.modes([2, 3])
            assert all(m is None for m in modes.values()), f"empty nodes serve: {modes}"
            time.sleep(0.3)
        ens.start([1], wait=False)
        ens.wait_serving(ens.sids)
        tree = assert_same_trees(ens)
        assert all(f"/data/k{i}" in tree for i in range(50))
    finally:
        ens.stop()


def test_not_serving_without_quorum(tmp_path):
    with Ensemble(tmp_path, [F, F, F]) as ens:
        leader = ens.start().leader()
        others = [s for s in ens.sids if s != leader]
        ens.node(others[0]).kill()
        ens.node(others[1]).kill()
        n = ens.node(leader)
        wait_until(lambda: n.mode() is None, 30, message="the lone node stops serving")
        from servers import four_letter
        assert four_letter(n.port, "srvr").startswith(
            "This ZooKeeper instance is not currently serving requests")
        assert four_letter(n.port, "ruok") == "imok"
        with pytest.raises(Exception):
            KazooClient(hosts=n.hosts, timeout=2).start(timeout=3)



@pytest.mark.parametrize("impls", [[F, F, F, F], [J, J, F, F], [F, F, F, J]],
                         ids=["ferrokeeper", "ferrokeeper-observer", "java-observer"])
def test_observer_follows_the_stream_and_forwards_writes(tmp_path, impls):
    with Ensemble(tmp_path, impls, observers={4}) as ens:
        ens.start()
        obs = ens.node(4)
        assert obs.mode() == "observer"
        assert obs.mntr()["zk_peer_state"] == "observing - broadcast"
        assert status_mode(obs) == "Mode: observer"
        leader = ens.leader()
        m = ens.node(leader).mntr()
        assert m["zk_synced_observers"] == "1", m
        assert m["zk_quorum_size"] == "3"
        c = connect(obs.hosts)
        try:
            for i in range(20):
                c.create(f"/o{i}", b"x")
            c.sync("/")
            assert len([p for p in c.get_children("/") if p.startswith("o")]) == 20
        finally:
            c.stop()
            c.close()
        assert_same_trees(ens)
        # Observers do not vote: losing one of three participants keeps the ensemble serving,
        # losing two stops it even with the observer up.
        ens.node(1).kill()
        ens.wait_serving([2, 3, 4])


@pytest.mark.parametrize("impl", [F, J])
def test_read_only_mode_without_quorum(tmp_path, impl):
    """readonlymode.enabled: a node cut off from the quorum serves read-only clients (reads yes,
    writes NOTREADONLY, ordinary clients refused) and returns to normal once the quorum is back.
    Java and ferrokeeper side by side."""
    from kazoo.exceptions import NotReadOnlyCallError
    from servers import four_letter
    env = {"SERVER_JVMFLAGS": "-Dreadonlymode.enabled=true"}
    # Java creates sessions in read-only mode only as local sessions.
    cfg = {"localSessionsEnabled": "true"}
    with Ensemble(tmp_path, [impl] * 3, env=env, extra_cfg=cfg) as ens:
        leader = ens.start().leader()
        c = connect(ens.hosts)
        c.create("/ro", b"before")
        c.stop()
        c.close()
        others = [s for s in ens.sids if s != leader]
        ens.node(others[0]).kill()
        ens.node(others[1]).kill()
        n = ens.node(leader)
        wait_until(lambda: n.mode() == "read-only", 60, message="read-only mode")
        srvr = n.srvr() or ""
        assert "READ-ONLY mode; serving only read-only clients" in srvr.splitlines()
        assert four_letter(n.port, "isro") == "ro"
        ro = KazooClient(hosts=n.hosts, timeout=10, read_only=True)
        ro.start(timeout=30)
        try:
            assert ro.get("/ro")[0] == b"before"
            with pytest.raises(NotReadOnlyCallError):
                ro.create("/nope")
        finally:
            ro.stop()
            ro.close()
        with pytest.raises(Exception):
            KazooClient(hosts=n.hosts, timeout=2).start(timeout=3)
        ens.node(others[0]).start()
        ens.node(others[1]).start()
        ens.wait_serving(ens.sids)
        assert four_letter(n.port, "isro") == "rw"
        c = connect(n.hosts)
        c.create("/after", b"x")
        c.stop()
        c.close()
        assert_same_trees(ens)


def test_zookeeper_2164_listen_on_all_ips_members_rejoin_after_restart(tmp_path):
    """ZOOKEEPER-2164: with quorumListenOnAllIPs the peer ports bind the wildcard address; members
    that restart (the leader included) must rejoin."""
    with Ensemble(tmp_path, [F, F, F], extra_cfg={"quorumListenOnAllIPs": "true"}) as ens:
        leader = ens.start().leader()
        exercise(ens, "w", rounds=5)
        follower = next(s for s in ens.sids if s != leader)
        ens.node(follower).stop()
        ens.node(follower).start()
        ens.wait_serving(ens.sids)
        ens.node(leader).stop()
        ens.wait_serving([s for s in ens.sids if s != leader])
        ens.node(leader).start()
        ens.wait_serving(ens.sids)
        assert_same_trees(ens)


def test_admin_server_quorum_commands_match_java(tmp_path):
    """AdminServer on a mixed ensemble: `leader`, `voting_view`, `is_read_only`, `monitor` answer
    with Java's keys on every node, and /ready means "in quorum and synced"."""
    import json
    import urllib.request
    from ensemble import free_port as fp
    from servers import JAVA_ADMIN_CLASSPATH
    admin = {sid: fp() for sid in (1, 2, 3)}
    node_cfg = {sid: {"admin.enableServer": "true", "admin.serverPort": p,
                      "admin.serverAddress": "127.0.0.1"} for sid, p in admin.items()}
    with Ensemble(tmp_path, [J, F, F], node_cfg=node_cfg,
                  java_classpath_extra=JAVA_ADMIN_CLASSPATH) as ens:
        leader = ens.start().leader()

        def get(sid, cmd):
            url = f"http://127.0.0.1:{admin[sid]}/commands/{cmd}"
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read())

        def keys(d):
            return {k: keys(v) if isinstance(v, dict) and k != "current_config" else None
                    for k, v in d.items()}

        for cmd in ("leader", "voting_view", "is_read_only"):
            answers = {sid: get(sid, cmd) for sid in ens.sids}
            java = answers[1]
            for sid in (2, 3):
                assert keys(answers[sid]) == keys(java), (cmd, sid, answers[sid], java)
            if cmd == "leader":
                for sid, a in answers.items():
                    assert a["leader_id"] == leader and a["is_leader"] == (sid == leader)
                    assert a["leader_ip"] == "127.0.0.1"
            if cmd == "voting_view":
                for sid, a in answers.items():
                    view = a["current_config"]
                    assert sorted(view) == ["1", "2", "3"]
                    for m, v in view.items():
                        jv = java["current_config"][m]
                        assert set(v) == set(jv)
                        assert v["server_addresses"] == jv["server_addresses"]
                        assert v["election_addresses"] == jv["election_addresses"]
                        assert v["learner_type"] == jv["learner_type"] == "participant"
                    # A member's own entry carries its client address, as Java's does.
                    assert view[str(sid)]["client_address"] == \
                        f"0.0.0.0:{ens.node(sid).port}"
        java_mon = set(get(1, "monitor"))
        for sid in (2, 3):
            mon = set(get(sid, "monitor"))
            wanted = {"server_state", "peer_state", "quorum_size", "znode_count"}
            if sid == leader:
                wanted |= {"synced_followers", "learners", "pending_syncs"}
            assert wanted <= mon, sorted(wanted - mon)
            assert {k for k in wanted if k in java_mon or ens.node(1).mode() != "leader"} <= mon
        for sid in ens.sids:
            if ens.node(sid).impl == F:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin[sid]}/ready", timeout=10) as r:
                    assert r.status == 200

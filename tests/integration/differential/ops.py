"""Seeded random operation generator and the runner that applies it.

``Generator(seed)`` produces operations (plain dicts) over a small path space
so that collisions and errors are frequent, spread over several sessions
("slots" 0..NSLOTS-1). The generator is fed back the *reference* server's
results (``observe``) only to learn sequential node names; the same op objects
are applied, in lockstep, to every server of the pair (``Runner.apply``), so
both servers always see byte-identical requests.

Values that are server-specific (zxids for setWatches' relativeZxid) are
symbolic in the op and resolved per server by the runner.

Generation rules that avoid known *version* differences (see
``normalize.NAMED_EXCEPTIONS``):

* ``/d`` subtree: every ACL the generator uses there grants READ to every
  session (world:anyone READ or ip:127.0.0.0/8 READ), so ACL-filtered watch
  delivery (ZOOKEEPER-4799) can never apply.
* ``/n`` subtree: READ-less ACLs are allowed (NOAUTH on reads is exercised),
  but no watch of any kind, no ``exists`` (ZOOKEEPER-2590) and no ephemeral
  nodes are ever generated under it, and no recursive watch on ``/``.
* ``check`` is only generated inside multi; ``create2`` is never generated
  inside multi; checkWatches/removeWatches use WatcherType 1..3 only.
"""

from __future__ import annotations

import base64
import hashlib
import random
import socket
import struct

import zkraw
from zkraw import OP, RawClient, ConnectionClosed

NSLOTS = 3
SESSION_TIMEOUT_MS = 30000
IO_TIMEOUT = 8.0


def digest_id(user: str, password: str) -> str:
    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(raw).decode()}"


U1 = digest_id("u1", "p1")
U2 = digest_id("u2", "p2")

# Named ACLs. "R" = every session (all connect from 127.0.0.1) has READ.
ACLS_WITH_READ = {
    "open": [(31, "world", "anyone")],
    "world_read": [(1, "world", "anyone")],
    "world_rc": [(5, "world", "anyone")],
    "world_rwd": [(11, "world", "anyone")],
    "u1_all+read": [(31, "digest", U1), (1, "world", "anyone")],
    "u2_all+read": [(31, "digest", U2), (1, "world", "anyone")],
    "u1u2": [(31, "digest", U1), (15, "digest", U2), (1, "ip", "127.0.0.0/8")],
    "auth_all+read": [(31, "auth", ""), (1, "world", "anyone")],
    "auth_admin+ip": [(16, "auth", ""), (15, "ip", "127.0.0.1")],
    "ip_exact": [(31, "ip", "127.0.0.1")],
    "ip_cidr": [(31, "ip", "127.0.0.0/8")],
    "ip_cidr_read+u1": [(1, "ip", "127.0.0.0/8"), (30, "digest", U1)],
    "ip_other+read": [(31, "ip", "10.0.0.0/8"), (1, "world", "anyone")],
    "dup_open": [(31, "world", "anyone"), (31, "world", "anyone")],
    "u1_masked+read": [(31, "digest", U1), (17, "world", "anyone")],
}
ACLS_INVALID = {
    "empty": [],
    "bad_ip": [(31, "ip", "300.1.2.3.4")],
    "bad_digest": [(31, "digest", "nocolon")],
    "bad_scheme": [(31, "nosuchscheme", "x")],
}
ACLS_NO_READ = {  # only ever used under /n
    "u1_only": [(31, "digest", U1)],
    "world_no_read": [(30, "world", "anyone")],
    "ip_write_only": [(2, "ip", "127.0.0.1")],
    "auth_only": [(31, "auth", "")],  # INVALIDACL unless the session has a digest
}
ALL_ACLS = {**ACLS_WITH_READ, **ACLS_INVALID, **ACLS_NO_READ}

D_L1 = ["/d/a", "/d/b", "/d/c"]
D_L2 = ["/d/a/x", "/d/a/y", "/d/b/x", "/d/c/y"]
N_PATHS = ["/n/a", "/n/b", "/n/a/x", "/n/b/y"]
NAMES = ["a", "b", "c", "x", "y"]
ODD_PATHS = ["/d/", "d", "/d//a", "/d/a/../b", "/zookeeper", "/", "/zookeeper/quota",
             "/nonexistent/deep/path"]
DATAS = [b"", b"v1", b"hello", b"\x00\xff", None, b"x" * 40]
VERSIONS = [-1, -1, 0, 0, 0, 1, 1, 2, 3, 7]
TTLS = [1, 5000, 100000, 100000, 0, -5, 1 << 40]


class Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.seq_paths: list[str] = []
        self.alive = [False] * NSLOTS
        self.nops = 0
        # Paths on which each slot's connection holds a persistent or recursive watch
        # (named exception standard-over-persistent-3.8).
        self.persist: list[dict[str, int]] = [{} for _ in range(NSLOTS)]
        # Paths on which each slot's connection may hold a standard watch (never cleared: a
        # conservative over-approximation).
        self.std: list[set[str]] = [set() for _ in range(NSLOTS)]
        # Light model of the reference server's tree, learnt from its replies only:
        # path -> last seen Stat (or None if only known to exist).
        self.known: dict[str, dict | None] = {}

    # -- feedback from the reference server -----------------------------
    def observe(self, op: dict, rec: dict) -> None:
        rep = rec.get("reply") or {}
        body = rep.get("body") if isinstance(rep, dict) else None
        slot = op.get("slot")
        if op["op"] == "connect":
            self.alive[slot] = not rec.get("closed")
        if op["op"] == "closeSession":
            self.alive[slot] = False
        if rec.get("closed"):
            self.alive[slot] = False
        for s, dead in rec.get("dead_slots", {}).items():
            if dead:
                self.alive[int(s)] = False
        self._learn(op, rep if isinstance(rep, dict) else {}, body)
        paths = []
        if isinstance(body, dict) and op["op"].startswith("create") and "path" in body:
            paths.append(body["path"])
        if isinstance(body, dict) and "results" in body:
            paths += [r["path"] for r in body["results"] if "path" in r]
        for p in paths:
            if p and p.startswith("/d/") and p[-10:].isdigit() and p not in self.seq_paths:
                self.seq_paths.append(p)
        if len(self.seq_paths) > 12:
            self.seq_paths = self.seq_paths[-12:]

    def _learn(self, op: dict, rep: dict, body) -> None:
        k, path, err = op["op"], op.get("path"), rep.get("err")
        if err is None or path is None:
            if k == "multi" and isinstance(body, dict):
                for res in body.get("results", []):
                    if res.get("type") in (1, 15) and res.get("path"):
                        self.known[res["path"]] = res.get("stat")
            return
        stat = body.get("stat") if isinstance(body, dict) else None
        if err == 0 and k.startswith("create") and isinstance(body, dict):
            self.known[body["path"]] = stat
        elif err == -110:
            self.known.setdefault(path, None)
        elif err == -101 or (k == "delete" and err == 0):
            self.known.pop(path, None)
        elif err == 0 and stat is not None:
            self.known[path] = stat

    def known_paths(self, prefix: str) -> list[str]:
        return sorted(p for p in self.known if p.startswith(prefix))

    def version_for(self, path: str, field: str = "version") -> int:
        st = self.known.get(path)
        if st and self.rng.random() < 0.5:
            return st[field]
        return self.rng.choice(VERSIONS)

    # -- path choice --------------------------------------------------------
    def d_path(self) -> str:
        if self.rng.random() < 0.4:
            known = self.known_paths("/d/")
            if known:
                return self.rng.choice(known)
        r = self.rng.random()
        if r < 0.04:
            return "/d"
        if r < 0.50:
            return self.rng.choice(D_L1)
        if r < 0.80:
            return self.rng.choice(D_L2)
        if r < 0.95 and self.seq_paths:
            return self.rng.choice(self.seq_paths)
        return self.rng.choice(D_L1)

    def any_path(self, watch_ok: bool) -> str:
        r = self.rng.random()
        if r < 0.80:
            return self.d_path()
        if r < 0.93 and not watch_ok:
            return self.rng.choice(N_PATHS)
        if r < 0.93:
            return self.d_path()
        odd = [p for p in ODD_PATHS if not (watch_ok and p.startswith("/n"))]
        return self.rng.choice(odd)

    def write_path(self) -> tuple[str, bool]:
        """(path, under_n)."""
        if self.rng.random() < 0.15:
            known = self.known_paths("/n/")
            if known and self.rng.random() < 0.4:
                return self.rng.choice(known), True
            return self.rng.choice(N_PATHS), True
        if self.rng.random() < 0.03:
            return self.rng.choice(["/d/", "d", "/d//a", "/", "/zookeeper"]), False
        return self.d_path(), False

    def acl_for(self, under_n: bool) -> tuple[str, list]:
        r = self.rng.random()
        if r < 0.45:
            name = "open"
        elif r < 0.85:
            name = self.rng.choice(sorted(ACLS_WITH_READ))
        elif r < 0.93 or not under_n:
            name = self.rng.choice(sorted(ACLS_INVALID))
        else:
            name = self.rng.choice(sorted(ACLS_NO_READ))
        return name, [list(a) for a in ALL_ACLS[name]]

    def data(self):
        d = self.rng.choice(DATAS)
        return None if d is None else d.hex()

    # -- ops --------------------------------------------------------------------
    def next_op(self) -> dict:
        self.nops += 1
        slot = self.rng.randrange(NSLOTS)
        if not self.alive[slot]:
            self.persist[slot] = {}  # a new connection holds no watches
            self.std[slot] = set()
            # readOnly byte: false, absent (pre-3.4 client: 36-byte answer) or true.
            return {"op": "connect", "slot": slot,
                    "ro": self.rng.choice([False, False, False, None, True])}
        kinds = [
            ("create", 16), ("delete", 8), ("exists", 6), ("getData", 7), ("setData", 8),
            ("getACL", 3), ("setACL", 4), ("getChildren", 4), ("getChildren2", 4),
            ("getAllChildrenNumber", 2), ("getEphemerals", 2), ("sync", 2), ("multi", 9),
            ("multiRead", 3), ("addWatch", 4), ("removeWatches", 3), ("checkWatches", 3),
            ("setWatches", 2), ("setWatches2", 2), ("whoAmI", 1), ("auth", 2),
            ("closeSession", 1),
        ]
        names = [k for k, _ in kinds]
        kind = self.rng.choices(names, weights=[w for _, w in kinds])[0]
        op = getattr(self, "gen_" + kind)()
        op["slot"] = slot
        self._avoid_standard_over_persistent(op, slot)
        return op

    def _avoid_standard_over_persistent(self, op: dict, slot: int) -> None:
        """3.8 keeps one watch mode per (connection, path): a standard watch set where the
        connection holds a persistent/recursive one replaces it, so it fires once and is gone;
        3.9 keeps both. Named exception standard-over-persistent-3.8: such standard watches are
        not generated."""
        held = self.persist[slot]
        if op.get("watch") and op.get("path") in held:
            op["watch"] = False
        for key in ("data", "exist", "child"):
            if key in op and isinstance(op[key], list):
                op[key] = [p for p in op[key] if p not in held]
        std = self.std[slot]
        if op.get("watch"):
            std.add(op["path"])
        for key in ("data", "exist", "child"):
            if key in op and isinstance(op[key], list):
                std.update(op[key])
        k = op["op"]
        if k == "addWatch" and op["mode"] == 1 and op["path"] in std and op["path"] not in held:
            op["mode"] = 0  # 3.8 would let a recursive watch replace the standard one
        if k == "setWatches2":
            op["recursive"] = [p for p in op["recursive"] if p not in std]
        if k == "addWatch" and op["mode"] in (0, 1):
            # One persistent-type mode per (connection, path), as 3.8 keeps it.
            op["mode"] = held.setdefault(op["path"], op["mode"])
        elif k == "setWatches2":
            op["persistent"] = [p for p in op["persistent"] if held.get(p, 0) == 0]
            for p in op["persistent"]:
                held[p] = 0
            op["recursive"] = [p for p in op["recursive"] if held.get(p, 1) == 1]
            for p in op["recursive"]:
                held[p] = 1
        elif k == "removeWatches" and op["type"] == 3:
            held.pop(op["path"], None)

    def create_path(self) -> tuple[str, bool]:
        """Mostly a child of a node known to exist and not to be ephemeral."""
        if self.rng.random() < 0.7:
            under_n = self.rng.random() < 0.15
            top = "/n" if under_n else "/d"
            parents = [p for p in self.known_paths(top)
                       if (p == top or p.startswith(top + "/")) and p.count("/") < 4
                       and not self._ephemeral(p)]
            if parents:
                parent = self.rng.choice(parents)
                return parent + "/" + self.rng.choice(NAMES), under_n
        return self.write_path()

    def _ephemeral(self, path: str) -> bool:
        st = self.known.get(path)
        return bool(st) and st.get("ephemeralOwner", 0) not in (0, None)

    def gen_create(self) -> dict:
        path, under_n = self.create_path()
        variant = self.rng.choices(["create", "create2", "createContainer", "createTTL"],
                                   weights=[8, 6, 2, 3])[0]
        if variant in ("create", "create2"):
            if under_n:
                flags = self.rng.choice([0, 0, 2, 4])
            else:
                flags = self.rng.choice([0, 0, 1, 1, 2, 3, 3, 4, 5, 7])
        elif variant == "createContainer":
            flags = self.rng.choice([4, 4, 4, 0])
        else:
            flags = self.rng.choice([5, 5, 6, 6, 0, 4] if not under_n else [5, 6, 0])
        if flags & 2 and self.rng.random() < 0.5 and not path.endswith("/"):
            # sequential under a chosen parent: "/d/a/s-" -> "/d/a/s-0000000003"
            path += "/s-"
        name, acl = self.acl_for(under_n)
        op = {"op": variant, "path": path, "data": self.data(), "acl_name": name, "acl": acl,
              "flags": flags}
        if variant == "createTTL":
            ttl = self.rng.choice(TTLS)
            if flags not in (5, 6) and ttl < 0:
                # Named exception createTTL-negative-ttl-crash: Java 3.8.0 exits (status 2)
                # on createTTL with a non-TTL mode and a negative ttl.
                ttl = -ttl
            op["ttl"] = ttl
        return op

    def gen_delete(self) -> dict:
        path, _ = self.write_path()
        return {"op": "delete", "path": path, "version": self.version_for(path)}

    def gen_exists(self) -> dict:
        return {"op": "exists", "path": self.any_path(watch_ok=True),
                "watch": self.rng.random() < 0.6}

    def _read_watch(self, opname: str) -> dict:
        watch = self.rng.random() < 0.5
        path = self.any_path(watch_ok=watch)
        if path.startswith("/n/"):
            watch = False
        return {"op": opname, "path": path, "watch": watch}

    def gen_getData(self) -> dict:
        return self._read_watch("getData")

    def gen_getChildren(self) -> dict:
        return self._read_watch("getChildren")

    def gen_getChildren2(self) -> dict:
        return self._read_watch("getChildren2")

    def gen_setData(self) -> dict:
        path, _ = self.write_path()
        return {"op": "setData", "path": path, "data": self.data(),
                "version": self.version_for(path)}

    def gen_getACL(self) -> dict:
        return {"op": "getACL", "path": self.any_path(watch_ok=False)}

    def gen_setACL(self) -> dict:
        path, under_n = self.write_path()
        name, acl = self.acl_for(under_n)
        return {"op": "setACL", "path": path, "acl_name": name, "acl": acl,
                "version": self.version_for(path, "aversion")}

    def gen_getAllChildrenNumber(self) -> dict:
        return {"op": "getAllChildrenNumber", "path": self.any_path(watch_ok=False)}

    def gen_getEphemerals(self) -> dict:
        return {"op": "getEphemerals",
                "path": self.rng.choice(["/", "", "/d", "/d/a", "/d/a/", "/n", "/x"])}

    def gen_sync(self) -> dict:
        return {"op": "sync", "path": self.any_path(watch_ok=False)}

    def _multi_sub(self) -> dict:
        k = self.rng.choices(["create", "delete", "setData", "check", "createContainer",
                              "createTTL"], weights=[6, 4, 4, 4, 1, 1])[0]
        path, under_n = self.create_path() if k.startswith("create") else self.write_path()
        if k == "create":
            flags = self.rng.choice([0, 0, 2, 4] if under_n else [0, 0, 1, 2, 3, 4])  # no TTL modes: named exception ttl-flags-in-multi-create
            if flags & 2 and self.rng.random() < 0.5 and not path.endswith("/"):
                path += "/s-"
            name, acl = self.acl_for(under_n)
            return {"op": "create", "path": path, "data": self.data(), "acl_name": name,
                    "acl": acl, "flags": flags}
        if k == "createContainer":
            name, acl = self.acl_for(under_n)
            return {"op": "createContainer", "path": path, "data": self.data(),
                    "acl_name": name, "acl": acl, "flags": 4}
        if k == "createTTL":
            name, acl = self.acl_for(under_n)
            return {"op": "createTTL", "path": path, "data": self.data(), "acl_name": name,
                    "acl": acl, "flags": self.rng.choice([5, 6]),
                    "ttl": self.rng.choice(TTLS)}
        if k == "delete":
            return {"op": "delete", "path": path, "version": self.version_for(path)}
        if k == "setData":
            return {"op": "setData", "path": path, "data": self.data(),
                    "version": self.version_for(path)}
        return {"op": "check", "path": path, "version": self.version_for(path)}

    def gen_multi(self) -> dict:
        n = self.rng.choice([0, 1, 2, 2, 3, 3, 4, 5])
        subs = [self._multi_sub() for _ in range(n)]
        if self.rng.random() < 0.04:  # mixing read and write ops: rejected as a whole
            subs.insert(self.rng.randrange(len(subs) + 1),
                        {"op": "getData", "path": self.d_path(), "watch": False})
        return {"op": "multi", "ops": subs}

    def gen_multiRead(self) -> dict:
        n = self.rng.choice([0, 1, 2, 3, 3])
        subs = []
        for _ in range(n):
            k = self.rng.choice(["getData", "getChildren"])
            subs.append({"op": k, "path": self.any_path(watch_ok=False), "watch": False})
        return {"op": "multiRead", "ops": subs}

    def _watch_path(self) -> str:
        r = self.rng.random()
        if r < 0.85:
            return self.d_path()
        return self.rng.choice(["/", "/zookeeper", "/d/a/zz", "/e"])

    def gen_addWatch(self) -> dict:
        path = self._watch_path()
        mode = self.rng.choice([0, 1, 1, 2] if path != "/" else [0])
        if mode == 2 and self.rng.random() < 0.7:
            mode = 0
        return {"op": "addWatch", "path": path, "mode": mode}

    def gen_removeWatches(self) -> dict:
        # Type 3 (Any) only: named exception watch-modes-3.8.
        return {"op": "removeWatches", "path": self._watch_path(), "type": 3}

    def gen_checkWatches(self) -> dict:
        return {"op": "checkWatches", "path": self._watch_path(),
                "type": self.rng.choice([1, 2, 3])}

    def _rel_zxid(self) -> list:
        r = self.rng.random()
        if r < 0.25:
            return ["zero"]
        if r < 0.65:
            return ["last"]  # the last zxid this session saw on that server
        return ["op_back", self.rng.randrange(1, 30)]  # reply zxid of an earlier op

    def _some_paths(self, k: int) -> list[str]:
        return sorted({self._watch_path() for _ in range(self.rng.randrange(k + 1))})

    def gen_setWatches(self) -> dict:
        return {"op": "setWatches", "rel": self._rel_zxid(), "data": self._some_paths(2),
                "exist": self._some_paths(2), "child": self._some_paths(2)}

    def gen_setWatches2(self) -> dict:
        rec = [p for p in self._some_paths(1) if p != "/"]
        return {"op": "setWatches2", "rel": self._rel_zxid(), "data": self._some_paths(1),
                "exist": self._some_paths(1), "child": self._some_paths(1),
                "persistent": self._some_paths(1), "recursive": rec}

    def gen_whoAmI(self) -> dict:
        return {"op": "whoAmI"}

    def gen_auth(self) -> dict:
        cred = self.rng.choice(["u1:p1", "u1:p1", "u2:p2", "u1:wrong"])
        return {"op": "auth", "scheme": "digest", "auth": cred}

    def gen_closeSession(self) -> dict:
        return {"op": "closeSession"}


# ------------------------------------------------------------------- runner


def failure_text(exc: BaseException) -> str:
    """How a request failed: "timeout", "closed" (EOF/reset) or a protocol error."""
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, (ConnectionClosed, OSError)):
        return "closed"
    return f"protocol error: {type(exc).__name__}: {exc}"


def _acl(op) -> list:
    return [tuple(a) for a in op["acl"]]


def _data(op):
    return None if op.get("data") is None else bytes.fromhex(op["data"])


def encode_sub(op: dict) -> tuple[int, bytes]:
    """(opcode, body) for a multi/multiRead sub-op."""
    k = op["op"]
    if k in ("create", "create2", "createContainer"):
        return OP[k], zkraw.enc_create(op["path"], _data(op), _acl(op), op["flags"])
    if k == "createTTL":
        return OP[k], zkraw.enc_create_ttl(op["path"], _data(op), _acl(op), op["flags"],
                                           op["ttl"])
    if k in ("delete", "check"):
        return OP[k], zkraw.enc_path_version(op["path"], op["version"])
    if k == "setData":
        return OP[k], zkraw.enc_set_data(op["path"], _data(op), op["version"])
    if k in ("getData", "getChildren"):
        return OP[k], zkraw.enc_path_watch(op["path"], op.get("watch", False))
    raise ValueError(k)


class Runner:
    """Applies ops to one server; records raw (un-normalized) results."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.slots: list[RawClient | None] = [None] * NSLOTS
        self.slot_label: list[str | None] = [None] * NSLOTS
        self.session_ids: list[int] = []  # in order of creation: label S<k>
        self.last_zxid = [0] * NSLOTS
        self.op_zxids: list[int] = []  # reply zxid of every op (0 if none)

    def _label(self, slot: int) -> str:
        return self.slot_label[slot] or f"slot{slot}"

    def _encode(self, op: dict) -> tuple[int, bytes, int | None]:
        k = op["op"]
        if k in ("create", "create2", "createContainer", "createTTL", "delete", "setData"):
            opcode, body = encode_sub(op)
            return opcode, body, None
        if k in ("exists", "getData", "getChildren", "getChildren2"):
            return OP[k], zkraw.enc_path_watch(op["path"], op["watch"]), None
        if k in ("getACL", "sync", "getAllChildrenNumber", "getEphemerals"):
            return OP[k], zkraw.enc_path(op["path"]), None
        if k == "setACL":
            return OP[k], zkraw.enc_set_acl(op["path"], _acl(op), op["version"]), None
        if k in ("multi", "multiRead"):
            return OP[k], zkraw.enc_multi([encode_sub(s) for s in op["ops"]]), None
        if k == "addWatch":
            return OP[k], zkraw.enc_path_int(op["path"], op["mode"]), None
        if k in ("removeWatches", "checkWatches"):
            return OP[k], zkraw.enc_path_int(op["path"], op["type"]), None
        if k in ("setWatches", "setWatches2"):
            rel = self._resolve_rel(op)
            if k == "setWatches":
                body = zkraw.enc_set_watches(rel, op["data"], op["exist"], op["child"])
            else:
                body = zkraw.enc_set_watches2(rel, op["data"], op["exist"], op["child"],
                                              op["persistent"], op["recursive"])
            return OP[k], body, None
        if k == "whoAmI":
            return OP[k], b"", None
        if k == "auth":
            return OP[k], zkraw.enc_auth(op["scheme"], op["auth"].encode()), zkraw.XID_AUTH
        if k == "closeSession":
            return OP[k], b"", None
        raise ValueError(k)

    def _resolve_rel(self, op: dict) -> int:
        rel = op["rel"]
        if rel[0] == "zero":
            return 0
        if rel[0] == "last":
            return self.last_zxid[op["slot"]]
        idx = len(self.op_zxids) - rel[1]
        return self.op_zxids[idx] if idx >= 0 else 0

    @staticmethod
    def _reply_dict(rep) -> dict:
        d = {"xid": rep.xid, "zxid": rep.zxid, "err": rep.err}
        d.update(rep.decoded)
        return d

    def apply(self, op: dict) -> dict:
        slot = op["slot"]
        rec: dict = {"op": op, "slot_session": None}
        zxid = 0
        try:
            if op["op"] == "connect":
                cli = RawClient(self.host, self.port, SESSION_TIMEOUT_MS, IO_TIMEOUT)
                resp = cli.connect(read_only=op.get("ro", False))
                self.slots[slot] = cli
                self.session_ids.append(resp["sessionId"])
                self.slot_label[slot] = f"S{len(self.session_ids) - 1}"
                self.last_zxid[slot] = 0
                resp = dict(resp)
                resp["passwd"] = resp["passwd"].hex() if resp["passwd"] is not None else None
                rec["connect"] = resp
            else:
                cli = self.slots[slot]
                if cli is None or cli.closed:
                    rec["closed"] = "slot not connected"
                else:
                    opcode, body, xid = self._encode(op)
                    if op["op"] == "closeSession":
                        rep = cli.call(opcode, body, xid)
                        cli.shutdown()
                    else:
                        rep = cli.call(opcode, body, xid)
                    rec["reply"] = self._reply_dict(rep)
                    zxid = rep.zxid
                    if rep.zxid > 0:
                        self.last_zxid[slot] = max(self.last_zxid[slot], rep.zxid)
        except (ConnectionClosed, OSError, ValueError, EOFError, struct.error) as exc:
            rec["closed"] = failure_text(exc)
            cli = self.slots[slot]
            if cli is not None:
                cli.shutdown()
        rec["slot_session"] = self._label(slot)
        self.op_zxids.append(zxid)
        rec["events"], rec["dead_slots"], rec["pongs"] = self.drain()
        return rec

    def drain(self) -> tuple[dict, dict]:
        """Ping every live session and collect the notifications that precede the pong."""
        events: dict = {}
        dead: dict = {}
        pongs: dict = {}
        for s, cli in enumerate(self.slots):
            if cli is None:
                continue
            if cli.closed:
                evs = cli.take_events()
                if evs:
                    events[self._label(s)] = [self._event(e) for e in evs]
                self.slots[s] = None
                continue
            try:
                pong = cli.ping()
                pongs[self._label(s)] = {"zxid": pong.zxid, "err": pong.err,
                                         **({"trailing": pong.decoded["trailing"]}
                                            if "trailing" in pong.decoded else {})}
            except (ConnectionClosed, OSError, ValueError, EOFError, struct.error) as exc:
                cli.shutdown()
                self.slots[s] = None
                dead[str(s)] = failure_text(exc)
            evs = cli.take_events()
            if evs:
                events[self._label(s)] = [self._event(e) for e in evs]
        return events, dead, pongs

    @staticmethod
    def _event(n) -> dict:
        d = {"zxid": n.zxid, "err": n.err}
        d.update(n.event)
        return d

    def close(self) -> None:
        for cli in self.slots:
            if cli is not None:
                cli.shutdown()


def run_pair(seed: int, nops: int, ports: list[int], host: str = "127.0.0.1",
             setup: bool = True) -> list[list[dict]]:
    """Run ``nops`` generated ops in lockstep on every server; return the raw traces.

    The first server is the reference that feeds the generator.
    """
    gen = Generator(seed)
    runners = [Runner(host, p) for p in ports]
    traces: list[list[dict]] = [[] for _ in ports]
    script: list[dict] = []
    if setup:
        for slot in range(NSLOTS):
            script.append({"op": "connect", "slot": slot})
        for path in ("/d", "/n"):
            script.append({"op": "create", "slot": 0, "path": path, "data": None,
                           "acl_name": "open", "acl": [[31, "world", "anyone"]], "flags": 0})
    try:
        i = 0
        while i < nops:
            op = script[i] if i < len(script) else gen.next_op()
            recs = [r.apply(op) for r in runners]
            gen.observe(op, recs[0])
            for t, rec in zip(traces, recs):
                t.append(rec)
            i += 1
    finally:
        for r in runners:
            r.close()
    for t, r in zip(traces, runners):
        t.append({"sessions": list(r.session_ids)})
    return traces

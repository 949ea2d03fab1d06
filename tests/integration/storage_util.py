"""Helpers for the on-disk compatibility and crash-safety tests.

* ``Zk``: a thin synchronous wrapper over the raw client (``differential/zkraw.py``)
  that raises ``ZkError`` on an error reply and returns the reply zxid.
* ``dump_tree``: every znode with its exists-stat, data, ACL and children, as a
  client sees them (errors such as NOAUTH are recorded, not skipped).
* ``log_entries`` / ``newest_log`` / ``snapshots``: a tiny reader of the txn-log
  layout (16-byte ZKLG header, then ``crc(8) len(4) payload 'B'``) used to tear,
  zero or corrupt log files on purpose.
* ``make_server``: a ``ZkServer`` whose ``dataDir`` is a given directory, so that
  Java and ferrokeeper can be started one after the other on the same files.
"""

from __future__ import annotations

import hashlib
import base64
import socket
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _p in (str(HERE), str(HERE / "differential")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import zkraw  # noqa: E402
from servers import ZkServer  # noqa: E402

OP = zkraw.OP
PERM_ALL = zkraw.PERM_ALL
OPEN_ACL = [(PERM_ALL, "world", "anyone")]

# CreateMode flags
PERSISTENT, EPHEMERAL, PERSISTENT_SEQUENTIAL, EPHEMERAL_SEQUENTIAL = 0, 1, 2, 3
CONTAINER, PERSISTENT_WITH_TTL, PERSISTENT_SEQUENTIAL_WITH_TTL = 4, 5, 6


class ZkError(Exception):
    def __init__(self, op: str, path, code: int):
        super().__init__(f"{op} {path}: {zkraw.ERR.get(code, code)} ({code})")
        self.code = code
        self.name = zkraw.ERR.get(code, str(code))


def digest_id(user: str, password: str) -> str:
    h = base64.b64encode(hashlib.sha1(f"{user}:{password}".encode()).digest()).decode()
    return f"{user}:{h}"


class Zk:
    """One raw session. ``io_timeout`` bounds every socket read."""

    def __init__(self, port: int, timeout_ms: int = 30000, auths=(), io_timeout: float = 10.0):
        self.raw = zkraw.RawClient("127.0.0.1", port, timeout_ms=timeout_ms, io_timeout=io_timeout)
        self.raw.connect()
        if self.raw.negotiated_timeout <= 0:
            raise ZkError("connect", None, -112)
        for scheme, cred in auths:
            rep = self.raw.auth(scheme, cred.encode() if isinstance(cred, str) else cred)
            if rep.err:
                raise ZkError("auth", scheme, rep.err)

    @property
    def session_id(self) -> int:
        return self.raw.session_id

    @property
    def passwd(self) -> bytes:
        return self.raw.passwd

    def _call(self, opname: str, body: bytes, path=None):
        rep = self.raw.call(OP[opname], body)
        if rep.err:
            raise ZkError(opname, path, rep.err)
        return rep

    # writes: return (result, zxid)
    def create(self, path, data=b"", acl=OPEN_ACL, flags=PERSISTENT, ttl=None):
        if ttl is not None:
            rep = self._call("createTTL", zkraw.enc_create_ttl(path, data, acl, flags, ttl), path)
        elif flags == CONTAINER:
            rep = self._call("createContainer", zkraw.enc_create(path, data, acl, flags), path)
        else:
            rep = self._call("create2", zkraw.enc_create(path, data, acl, flags), path)
        body = rep.decoded["body"]
        return body["path"], body["stat"], rep.zxid

    def set(self, path, data, version=-1):
        rep = self._call("setData", zkraw.enc_set_data(path, data, version), path)
        return rep.decoded["body"]["stat"], rep.zxid

    def set_acl(self, path, acl, version=-1):
        rep = self._call("setACL", zkraw.enc_set_acl(path, acl, version), path)
        return rep.decoded["body"]["stat"], rep.zxid

    def delete(self, path, version=-1):
        rep = self._call("delete", zkraw.enc_path_version(path, version), path)
        return rep.zxid

    def multi(self, subops):
        """subops: list of (opname, body). Returns (results, zxid) even if the multi failed."""
        rep = self.raw.call(OP["multi"], zkraw.enc_multi([(OP[n], b) for n, b in subops]))
        body = rep.decoded.get("body") or {}
        return rep.err, body.get("results"), rep.zxid

    # reads
    def exists(self, path):
        rep = self.raw.call(OP["exists"], zkraw.enc_path_watch(path, False))
        if rep.err == -101:
            return None
        if rep.err:
            raise ZkError("exists", path, rep.err)
        return rep.decoded["body"]["stat"]

    def get(self, path):
        rep = self._call("getData", zkraw.enc_path_watch(path, False), path)
        d = rep.decoded["body"]
        return (None if d["data"] is None else bytes.fromhex(d["data"])), d["stat"]

    def children(self, path):
        rep = self._call("getChildren", zkraw.enc_path_watch(path, False), path)
        return rep.decoded["body"]["children"]

    def get_acl(self, path):
        rep = self._call("getACL", zkraw.enc_path(path), path)
        return rep.decoded["body"]["acl"], rep.decoded["body"]["stat"]

    def last_zxid(self) -> int:
        """The server's last zxid as returned in a reply header (after a sync)."""
        rep = self.raw.call(OP["sync"], zkraw.enc_path("/"))
        return rep.zxid

    def close(self):
        try:
            self.raw.close_session()
        except (OSError, zkraw.ConnectionClosed, ValueError):
            self.raw.shutdown()

    def drop(self):
        """Close the socket without closing the session."""
        self.raw.shutdown()


def _attempt(fn):
    try:
        return fn()
    except ZkError as exc:
        return f"error:{exc.name}"


def dump_tree(zk: Zk, root: str = "/", skip=(), batch: int = 400) -> dict:
    """{path: {"stat", "data" (sha256/len or error), "acl" (or error), "children"}} for every node.

    Requests are pipelined a level (at most ``batch`` nodes) at a time: exists, getData, getACL,
    getChildren per node, replies read in order."""
    raw = zk.raw
    out = {}
    level = [root]
    while level:
        nxt = []
        for i in range(0, len(level), batch):
            chunk = [p for p in level[i:i + batch] if p not in skip]
            sent = []
            for path in chunk:
                for opname, body in (("exists", zkraw.enc_path_watch(path, False)),
                                     ("getData", zkraw.enc_path_watch(path, False)),
                                     ("getACL", zkraw.enc_path(path)),
                                     ("getChildren", zkraw.enc_path_watch(path, False))):
                    sent.append((path, opname, raw.send_request(OP[opname], body)))
            replies = {}
            for path, opname, xid in sent:
                replies[(path, opname)] = raw.read_until_reply(xid, OP[opname])
            for path in chunk:
                ex, gd, ga, gc = (replies[(path, o)] for o in ("exists", "getData", "getACL", "getChildren"))
                if ex.err == -101:
                    out[path] = "vanished"
                    continue

                def err(rep):
                    return f"error:{zkraw.ERR.get(rep.err, rep.err)}"
                stat = err(ex) if ex.err else ex.decoded["body"]["stat"]
                if gd.err:
                    data = err(gd)
                else:
                    d = gd.decoded["body"]["data"]
                    data = None if d is None else hashlib.sha256(bytes.fromhex(d)).hexdigest() + f"/{len(d) // 2}"
                if ga.err:
                    acl = err(ga)
                else:
                    if stat == "error:NOAUTH":
                        # exists checks READ in 3.9 but not in 3.8.0: take the stat getACL returns
                        stat = ga.decoded["body"]["stat"]
                    acl = sorted(tuple(a) for a in ga.decoded["body"]["acl"])
                kids = err(gc) if gc.err else sorted(gc.decoded["body"]["children"])
                out[path] = {"stat": stat, "data": data, "acl": acl, "children": kids}
                if isinstance(kids, list):
                    nxt.extend(path.rstrip("/") + "/" + k for k in kids)
        level = nxt
    return out


def diff_dumps(before: dict, after: dict, limit: int = 40) -> list[str]:
    """Human-readable differences (empty list = identical)."""
    diffs = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path, "<missing>"), after.get(path, "<missing>")
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for key in ("data", "acl", "children"):
                if a[key] != b[key]:
                    diffs.append(f"{path}: {key}: {a[key]!r} != {b[key]!r}")
            if not (isinstance(a["stat"], dict) and isinstance(b["stat"], dict)):
                if a["stat"] != b["stat"]:
                    diffs.append(f"{path}: stat: {a['stat']!r} != {b['stat']!r}")
                continue
            for f in zkraw.STAT_FIELDS:
                if a["stat"][f] != b["stat"][f]:
                    diffs.append(f"{path}: stat.{f}: {a['stat'][f]:#x} != {b['stat'][f]:#x}"
                                 if "zxid" in f or f == "ephemeralOwner"
                                 else f"{path}: stat.{f}: {a['stat'][f]} != {b['stat'][f]}")
        else:
            diffs.append(f"{path}: {str(a)[:200]} != {str(b)[:200]}")
        if len(diffs) >= limit:
            diffs.append("...")
            break
    return diffs


# ---------------------------------------------------------------- files

LOG_HEADER = 16
TXN_HEADER = struct.Struct(">qiqqi")  # clientId, cxid, zxid, time, type


def zxid_of(name: str) -> int:
    return int(name.split(".")[1], 16)


def version2(data_dir: Path) -> Path:
    return Path(data_dir) / "version-2"


def logs(data_dir: Path) -> list[Path]:
    return sorted(version2(data_dir).glob("log.*"), key=lambda p: zxid_of(p.name))


def snapshots(data_dir: Path) -> list[Path]:
    return sorted((p for p in version2(data_dir).glob("snapshot.*")
                   if not p.name.endswith(".tmp")), key=lambda p: zxid_of(p.name))


def newest_log(data_dir: Path) -> Path:
    return logs(data_dir)[-1]


def log_entries(path: Path) -> list[dict]:
    """The intact entries of a txn log: offset, end, zxid, type, client_id."""
    buf = Path(path).read_bytes()
    assert buf[:4] == b"ZKLG", f"{path}: bad magic {buf[:4]!r}"
    off = LOG_HEADER
    out = []
    while off + 12 <= len(buf):
        crc, length = struct.unpack_from(">qi", buf, off)
        if length <= 0 or off + 12 + length + 1 > len(buf):
            break
        payload = buf[off + 12: off + 12 + length]
        if buf[off + 12 + length] != 0x42:
            break
        client_id, cxid, zxid, time_, typ = TXN_HEADER.unpack_from(payload, 0)
        out.append({"offset": off, "end": off + 12 + length + 1, "zxid": zxid, "type": typ,
                    "client_id": client_id, "len": length})
        off += 12 + length + 1
    return out


def all_log_entries(data_dir: Path) -> list[dict]:
    out = []
    for p in logs(data_dir):
        for e in log_entries(p):
            e["file"] = p
            out.append(e)
    return out


# ---------------------------------------------------------------- servers

def make_server(impl: str, workdir: Path, data_dir: Path, port: int | None = None,
                tick_time: int = 2000, java_cp=(), **cfg) -> ZkServer:
    """A ZkServer of ``impl`` in ``workdir`` whose dataDir is ``data_dir``.

    ``cfg`` keys become zoo.cfg keys (``__`` stands for a dot)."""
    extra = {"dataDir": Path(data_dir)}
    extra.update({k.replace("__", "."): v for k, v in cfg.items()})
    srv = ZkServer(impl, workdir, port=port, tick_time=tick_time, extra_cfg=extra,
                   java_classpath_extra=list(java_cp))
    srv.data_dir = Path(data_dir)
    return srv


def spawn_expect_exit(srv: ZkServer, timeout: float = 30.0) -> int:
    """Start ``srv`` expecting it to refuse to start; returns its exit status.

    If it comes up and serves instead, it is stopped and AssertionError raised.
    """
    srv.write_config()
    srv._spawn()
    try:
        return srv.proc.wait(timeout=timeout)
    except Exception:
        served = srv.srvr()
        srv.stop()
        raise AssertionError(f"{srv.impl} did not exit within {timeout}s (srvr: {served!r}); "
                             f"log tail:\n{srv.log_tail()}")


def port_is_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True

"""A minimal synchronous raw-protocol ZooKeeper client (no kazoo).

Everything is written by hand from the wire description (reference §1, §2):
jute primitives, every request body of the opcode table, a decoder for every
reply body, the connect handshake with the trailing readOnly byte, 4-byte
length framing, and separation of watch notifications (xid -1) from replies.

Decoders never guess: a reply is decoded according to the opcode of the
request it answers, and any bytes left over after the decoded record are kept
(``trailing``) so that the differential test also compares them.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

# ---------------------------------------------------------------- constants

OP = {
    "notification": 0, "create": 1, "delete": 2, "exists": 3, "getData": 4,
    "setData": 5, "getACL": 6, "setACL": 7, "getChildren": 8, "sync": 9,
    "ping": 11, "getChildren2": 12, "check": 13, "multi": 14, "create2": 15,
    "reconfig": 16, "checkWatches": 17, "removeWatches": 18,
    "createContainer": 19, "deleteContainer": 20, "createTTL": 21,
    "multiRead": 22, "auth": 100, "setWatches": 101, "sasl": 102,
    "getEphemerals": 103, "getAllChildrenNumber": 104, "setWatches2": 105,
    "addWatch": 106, "whoAmI": 107, "createSession": -10, "closeSession": -11,
    "error": -1,
}
OPNAME = {v: k for k, v in OP.items()}

XID_NOTIFICATION = -1
XID_PING = -2
XID_AUTH = -4

PERM_READ, PERM_WRITE, PERM_CREATE, PERM_DELETE, PERM_ADMIN = 1, 2, 4, 8, 16
PERM_ALL = 31

ERR = {
    0: "OK", -1: "SYSTEMERROR", -2: "RUNTIMEINCONSISTENCY", -3: "DATAINCONSISTENCY",
    -4: "CONNECTIONLOSS", -5: "MARSHALLINGERROR", -6: "UNIMPLEMENTED",
    -7: "OPERATIONTIMEOUT", -8: "BADARGUMENTS", -12: "UNKNOWNSESSION",
    -13: "NEWCONFIGNOQUORUM", -14: "RECONFIGINPROGRESS", -100: "APIERROR",
    -101: "NONODE", -102: "NOAUTH", -103: "BADVERSION",
    -108: "NOCHILDRENFOREPHEMERALS", -110: "NODEEXISTS", -111: "NOTEMPTY",
    -112: "SESSIONEXPIRED", -113: "INVALIDCALLBACK", -114: "INVALIDACL",
    -115: "AUTHFAILED", -118: "SESSIONMOVED", -119: "NOTREADONLY",
    -120: "EPHEMERALONLOCALSESSION", -121: "NOWATCHER", -122: "REQUESTTIMEOUT",
    -123: "RECONFIGDISABLED", -124: "SESSIONCLOSEDREQUIRESASLAUTH",
    -125: "QUOTAEXCEEDED", -127: "THROTTLEDOP",
}

EVENT = {-1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
         4: "NodeChildrenChanged", 5: "DataWatchRemoved", 6: "ChildWatchRemoved",
         7: "PersistentWatchRemoved"}

STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion",
               "aversion", "ephemeralOwner", "dataLength", "numChildren", "pzxid")


# ---------------------------------------------------------------- jute


class Writer:
    def __init__(self):
        self.parts: list[bytes] = []

    def int(self, v: int) -> "Writer":
        self.parts.append(struct.pack(">i", v))
        return self

    def long(self, v: int) -> "Writer":
        self.parts.append(struct.pack(">q", v))
        return self

    def bool(self, v: bool) -> "Writer":
        self.parts.append(b"\x01" if v else b"\x00")
        return self

    def buffer(self, b: bytes | None) -> "Writer":
        if b is None:
            return self.int(-1)
        self.int(len(b))
        self.parts.append(bytes(b))
        return self

    def ustring(self, s: str | None) -> "Writer":
        return self.buffer(None if s is None else s.encode("utf-8"))

    def vector(self, items, write_item) -> "Writer":
        if items is None:
            return self.int(-1)
        self.int(len(items))
        for it in items:
            write_item(self, it)
        return self

    def acl_list(self, acls) -> "Writer":
        # acls: list of (perms, scheme, id)
        return self.vector(acls, lambda w, a: w.int(a[0]).ustring(a[1]).ustring(a[2]))

    def strings(self, items) -> "Writer":
        return self.vector(items, lambda w, s: w.ustring(s))

    def bytes(self) -> bytes:
        return b"".join(self.parts)


class Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise EOFError(f"need {n} bytes at {self.pos}, have {len(self.data) - self.pos}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self) -> int:
        return struct.unpack(">i", self._take(4))[0]

    def long(self) -> int:
        return struct.unpack(">q", self._take(8))[0]

    def bool(self) -> bool:
        return self._take(1) != b"\x00"

    def buffer(self) -> bytes | None:
        n = self.int()
        if n < 0:
            return None
        return self._take(n)

    def ustring(self) -> str | None:
        b = self.buffer()
        return None if b is None else b.decode("utf-8", "replace")

    def vector(self, read_item):
        n = self.int()
        if n < 0:
            return None
        return [read_item(self) for _ in range(n)]

    def stat(self) -> dict:
        return {
            "czxid": self.long(), "mzxid": self.long(), "ctime": self.long(),
            "mtime": self.long(), "version": self.int(), "cversion": self.int(),
            "aversion": self.int(), "ephemeralOwner": self.long(),
            "dataLength": self.int(), "numChildren": self.int(), "pzxid": self.long(),
        }

    def acl_list(self):
        return self.vector(lambda r: [r.int(), r.ustring(), r.ustring()])

    def strings(self):
        return self.vector(lambda r: r.ustring())

    def remaining(self) -> bytes:
        b = self.data[self.pos:]
        self.pos = len(self.data)
        return b

    def at_end(self) -> bool:
        return self.pos >= len(self.data)


# ---------------------------------------------------------------- request bodies


def enc_create(path, data, acl, flags) -> bytes:
    return Writer().ustring(path).buffer(data).acl_list(acl).int(flags).bytes()


def enc_create_ttl(path, data, acl, flags, ttl) -> bytes:
    return Writer().ustring(path).buffer(data).acl_list(acl).int(flags).long(ttl).bytes()


def enc_path_version(path, version) -> bytes:  # delete, check
    return Writer().ustring(path).int(version).bytes()


def enc_path_watch(path, watch) -> bytes:  # exists, getData, getChildren, getChildren2
    return Writer().ustring(path).bool(watch).bytes()


def enc_path(path) -> bytes:  # getACL, sync, getAllChildrenNumber, getEphemerals
    return Writer().ustring(path).bytes()


def enc_set_data(path, data, version) -> bytes:
    return Writer().ustring(path).buffer(data).int(version).bytes()


def enc_set_acl(path, acl, version) -> bytes:
    return Writer().ustring(path).acl_list(acl).int(version).bytes()


def enc_path_int(path, value) -> bytes:  # addWatch (mode), checkWatches/removeWatches (type)
    return Writer().ustring(path).int(value).bytes()


def enc_set_watches(rel_zxid, data, exist, child) -> bytes:
    return Writer().long(rel_zxid).strings(data).strings(exist).strings(child).bytes()


def enc_set_watches2(rel_zxid, data, exist, child, persistent, recursive) -> bytes:
    return (Writer().long(rel_zxid).strings(data).strings(exist).strings(child)
            .strings(persistent).strings(recursive).bytes())


def enc_auth(scheme, auth: bytes, type_=0) -> bytes:
    return Writer().int(type_).ustring(scheme).buffer(auth).bytes()


def enc_multi(subops) -> bytes:
    """subops: list of (opcode, body bytes); header {type, done=false, err=-1}."""
    w = Writer()
    for opcode, body in subops:
        w.int(opcode).bool(False).int(-1)
        w.parts.append(body)
    w.int(-1).bool(True).int(-1)
    return w.bytes()


def enc_connect(session_id=0, passwd=b"\x00" * 16, timeout=30000, last_zxid=0,
                read_only: bool | None = False) -> bytes:
    w = Writer().int(0).long(last_zxid).int(timeout).long(session_id).buffer(passwd)
    if read_only is not None:
        w.bool(read_only)
    return w.bytes()


# ---------------------------------------------------------------- reply bodies


def _dec_none(r):
    return None


def _dec_create(r):
    return {"path": r.ustring()}


def _dec_create2(r):
    return {"path": r.ustring(), "stat": r.stat()}


def _dec_stat(r):
    return {"stat": r.stat()}


def _dec_get_data(r):
    data = r.buffer()
    return {"data": None if data is None else data.hex(), "stat": r.stat()}


def _dec_get_acl(r):
    return {"acl": r.acl_list(), "stat": r.stat()}


def _dec_children(r):
    return {"children": r.strings()}


def _dec_children2(r):
    return {"children": r.strings(), "stat": r.stat()}


def _dec_path(r):
    return {"path": r.ustring()}


def _dec_int(r):
    return {"value": r.int()}


def _dec_ephemerals(r):
    return {"ephemerals": r.strings()}


def _dec_whoami(r):
    return {"clientInfo": r.vector(lambda rr: [rr.ustring(), rr.ustring()])}


def _dec_error_response(r):
    return {"err": r.int()}


def dec_multi(r):
    results = []
    while True:
        typ, done, err = r.int(), r.bool(), r.int()
        if done:
            results.append({"end": [typ, err]})
            break
        ent = {"type": typ, "err": err}
        if typ == OP["create"]:
            ent.update(_dec_create(r))
        elif typ == OP["create2"]:
            ent.update(_dec_create2(r))
        elif typ in (OP["delete"], OP["check"]):
            pass
        elif typ == OP["setData"]:
            ent.update(_dec_stat(r))
        elif typ == OP["getChildren"]:
            ent.update(_dec_children(r))
        elif typ == OP["getData"]:
            ent.update(_dec_get_data(r))
        elif typ == OP["error"]:
            ent["errorResponse"] = r.int()
        else:
            raise ValueError(f"unknown multi result type {typ}")
        results.append(ent)
    return {"results": results}


REPLY_DECODERS = {
    OP["create"]: _dec_create,
    OP["create2"]: _dec_create2,
    OP["createContainer"]: _dec_create2,
    OP["createTTL"]: _dec_create2,
    OP["delete"]: _dec_none,
    OP["exists"]: _dec_stat,
    OP["getData"]: _dec_get_data,
    OP["setData"]: _dec_stat,
    OP["getACL"]: _dec_get_acl,
    OP["setACL"]: _dec_stat,
    OP["getChildren"]: _dec_children,
    OP["getChildren2"]: _dec_children2,
    OP["sync"]: _dec_path,
    OP["ping"]: _dec_none,
    OP["check"]: _dec_none,
    OP["multi"]: dec_multi,
    OP["multiRead"]: dec_multi,
    OP["checkWatches"]: _dec_none,
    OP["removeWatches"]: _dec_none,
    OP["auth"]: _dec_none,
    OP["setWatches"]: _dec_none,
    OP["setWatches2"]: _dec_none,
    OP["getEphemerals"]: _dec_ephemerals,
    OP["getAllChildrenNumber"]: _dec_int,
    OP["addWatch"]: _dec_error_response,
    OP["whoAmI"]: _dec_whoami,
    OP["closeSession"]: _dec_none,
}


def decode_reply_body(opcode: int, err: int, body: bytes) -> dict:
    """Decode a reply body; keep undecodable or extra bytes as hex."""
    out: dict = {}
    if not body:
        out["body"] = None
        return out
    if err != 0:
        # Error replies are expected to be header-only; keep whatever came.
        out["body"] = None
        out["trailing"] = body.hex()
        return out
    r = Reader(body)
    try:
        out["body"] = REPLY_DECODERS[opcode](r)
    except (EOFError, ValueError, KeyError) as exc:
        out["body"] = None
        out["decode_error"] = f"{type(exc).__name__}: {exc}"
        out["trailing"] = body.hex()
        return out
    rest = r.remaining()
    if rest:
        out["trailing"] = rest.hex()
    return out


def decode_notification(body: bytes) -> dict:
    r = Reader(body)
    ev = {"type": r.int(), "state": r.int(), "path": r.ustring()}
    rest = r.remaining()
    if rest:
        ev["trailing"] = rest.hex()
    return ev


# ---------------------------------------------------------------- client


class ConnectionClosed(Exception):
    pass


@dataclass
class Reply:
    xid: int
    zxid: int
    err: int
    opcode: int
    decoded: dict = field(default_factory=dict)
    raw: bytes = b""


@dataclass
class Notification:
    zxid: int
    err: int
    event: dict


class RawClient:
    """One connection = one session. Synchronous: one request in flight."""

    def __init__(self, host: str, port: int, timeout_ms: int = 30000,
                 io_timeout: float = 10.0):
        self.host, self.port = host, port
        self.timeout_ms = timeout_ms
        self.io_timeout = io_timeout
        self.sock: socket.socket | None = None
        self.buf = b""
        self.xid = 0
        self.session_id = 0
        self.passwd = b""
        self.negotiated_timeout = 0
        self.read_only = None
        self.connect_raw = b""
        self.events: list[Notification] = []
        self.closed = False

    # -- low level ----------------------------------------------------------
    def _open(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.io_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_frame(self, payload: bytes) -> None:
        if self.sock is None or self.closed:
            raise ConnectionClosed("socket closed")
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError) as exc:
                self.closed = True
                raise ConnectionClosed(str(exc)) from exc
            if not chunk:
                self.closed = True
                raise ConnectionClosed("EOF")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self) -> bytes:
        (length,) = struct.unpack(">i", self._recv_exact(4))
        if length < 0 or length > 64 * 1024 * 1024:
            raise ValueError(f"bad frame length {length}")
        return self._recv_exact(length)

    # -- handshake ----------------------------------------------------------
    def connect(self, read_only: bool | None = False) -> dict:
        self._open()
        self.send_frame(enc_connect(timeout=self.timeout_ms, read_only=read_only))
        payload = self.read_frame()
        self.connect_raw = payload
        r = Reader(payload)
        resp = {"protocolVersion": r.int(), "timeOut": r.int(), "sessionId": r.long(),
                "passwd": r.buffer()}
        if not r.at_end():
            resp["readOnly"] = r.bool()
        rest = r.remaining()
        if rest:
            resp["trailing"] = rest.hex()
        resp["length"] = len(payload)
        self.session_id = resp["sessionId"]
        self.passwd = resp["passwd"] or b""
        self.negotiated_timeout = resp["timeOut"]
        self.read_only = resp.get("readOnly")
        return resp

    # -- requests ------------------------------------------------------------
    def next_xid(self) -> int:
        self.xid += 1
        return self.xid

    def send_request(self, opcode: int, body: bytes = b"", xid: int | None = None) -> int:
        if xid is None:
            xid = self.next_xid()
        self.send_frame(struct.pack(">ii", xid, opcode) + body)
        return xid

    def read_until_reply(self, xid: int, opcode: int) -> Reply:
        """Read frames, queueing notifications, until the reply with ``xid``."""
        while True:
            payload = self.read_frame()
            rxid, zxid, err = struct.unpack(">iqi", payload[:16])
            body = payload[16:]
            if rxid == XID_NOTIFICATION:
                self.events.append(Notification(zxid, err, decode_notification(body)))
                continue
            if rxid != xid:
                raise ValueError(f"xid out of order: expected {xid}, got {rxid}")
            rep = Reply(rxid, zxid, err, opcode, decode_reply_body(opcode, err, body), payload)
            return rep

    def call(self, opcode: int, body: bytes = b"", xid: int | None = None) -> Reply:
        xid = self.send_request(opcode, body, xid)
        return self.read_until_reply(xid, opcode)

    def ping(self) -> Reply:
        return self.call(OP["ping"], b"", xid=XID_PING)

    def auth(self, scheme: str, auth: bytes) -> Reply:
        return self.call(OP["auth"], enc_auth(scheme, auth), xid=XID_AUTH)

    def close_session(self) -> Reply:
        rep = self.call(OP["closeSession"])
        self.shutdown()
        return rep

    def take_events(self) -> list[Notification]:
        ev, self.events = self.events, []
        return ev

    def shutdown(self) -> None:
        self.closed = True
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


def java_session_password(session_id: int) -> bytes:
    """The 16-byte password Java derives from a session id (java.util.Random)."""
    mask = (1 << 48) - 1
    seed = ((session_id ^ 0xB3415C00) ^ 0x5DEECE66D) & mask
    out = bytearray()
    while len(out) < 16:
        seed = (seed * 0x5DEECE66D + 0xB) & mask
        val = seed >> 16
        for _ in range(4):
            out.append(val & 0xFF)
            val >>= 8
    return bytes(out[:16])

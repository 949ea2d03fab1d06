#!/usr/bin/env python3
"""Records raw client-protocol frames from a real Java ZooKeeper server as hex fixtures.

Usage: capture.py HOST:PORT OUTDIR            capture client frames
       capture.py --txnlog LOGFILE OUTFILE       dump the entries of a txn log (after the sessions of a
                                                 capture run expired, so closeSession txns are there)

Speaks the protocol by hand (struct.pack), one connection per fixture file. Each fixture line is
    connect_req HEX       ConnectRequest payload (after the 4-byte frame length)
    connect_resp HEX      ConnectResponse payload
    req HEX               RequestHeader + request record
    resp OP HEX           ReplyHeader + response record; OP is the request's opcode
    event HEX             watch notification (ReplyHeader xid -1 + WatcherEvent)
Lines starting with '#' are comments. The server must be fresh-ish: paths live under /cap-*.
"""
import base64
import hashlib
import os
import socket
import struct
import sys


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def boolean(v):
    return b"\x01" if v else b"\x00"


def ustring(s):
    if s is None:
        return i32(-1)
    b = s.encode("utf-8")
    return i32(len(b)) + b


def buffer(b):
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def vector(items):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(items)


def acl(perms, scheme, ident):
    return i32(perms) + ustring(scheme) + ustring(ident)


OPEN_ACL = [acl(31, "world", "anyone")]


def digest_id(user, password):
    raw = f"{user}:{password}".encode()
    return f"{user}:" + base64.b64encode(hashlib.sha1(raw).digest()).decode()


def multi_header(op, done, err):
    return i32(op) + boolean(done) + i32(err)


def multi(ops):
    out = b""
    for op, body in ops:
        out += multi_header(op, False, -1) + body
    return out + multi_header(-1, True, -1)


class Conn:
    def __init__(self, addr, out, read_only=True, timeout_ms=30000):
        self.sock = socket.create_connection(addr, timeout=10)
        self.out = out
        self.xid = 0
        body = i32(0) + i64(0) + i32(timeout_ms) + i64(0) + buffer(b"\x00" * 16)
        if read_only is not None:
            body += boolean(read_only)
        self.send(body)
        self.out.append("connect_req " + body.hex())
        resp = self.recv()
        self.out.append("connect_resp " + resp.hex())

    def send(self, payload):
        self.sock.sendall(i32(len(payload)) + payload)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf

    def recv(self):
        (n,) = struct.unpack(">i", self.recv_exact(4))
        return self.recv_exact(n)

    def call(self, op, body=b"", xid=None, comment=None):
        if xid is None:
            self.xid += 1
            xid = self.xid
        payload = i32(xid) + i32(op) + body
        if comment:
            self.out.append("# " + comment)
        self.out.append("req " + payload.hex())
        self.send(payload)
        while True:
            frame = self.recv()
            (rxid,) = struct.unpack(">i", frame[:4])
            if rxid == -1 and xid != -1:
                self.out.append("event " + frame.hex())
                continue
            self.out.append(f"resp {op} " + frame.hex())
            return frame

    def expect_events(self, n):
        for _ in range(n):
            frame = self.recv()
            self.out.append("event " + frame.hex())

    def close(self):
        self.sock.close()


# opcodes
CREATE, DELETE, EXISTS, GET_DATA, SET_DATA, GET_ACL, SET_ACL, GET_CHILDREN, SYNC = 1, 2, 3, 4, 5, 6, 7, 8, 9
PING, GET_CHILDREN2, CHECK, MULTI, CREATE2, CHECK_WATCHES, REMOVE_WATCHES = 11, 12, 13, 14, 15, 17, 18
CREATE_CONTAINER, CREATE_TTL, MULTI_READ = 19, 21, 22
AUTH, SET_WATCHES, GET_EPHEMERALS, GET_ALL_CHILDREN_NUMBER, SET_WATCHES2, ADD_WATCH, WHO_AM_I = (
    100, 101, 103, 104, 105, 106, 107)
CLOSE_SESSION = -11


def create_req(path, data, acls, flags):
    return ustring(path) + buffer(data) + vector(acls) + i32(flags)


def dump_txnlog(logfile, outfile):
    """Writes `txn ADLER32 PAYLOAD` for every entry of a txn log (stops at the zero padding)."""
    import zlib
    data = open(logfile, "rb").read()
    magic, version, dbid = struct.unpack(">iiq", data[:16])
    assert magic == 0x5A4B4C47 and version == 2, "not a txn log"
    lines = [f"# {os.path.basename(logfile)} from Java ZooKeeper 3.8.0 (Debian): checksum, payload",
             "header " + data[:16].hex()]
    pos = 16
    while pos + 12 <= len(data):
        crc, n = struct.unpack(">qi", data[pos:pos + 12])
        if crc == 0 and n == 0:
            break
        payload = data[pos + 12:pos + 12 + n]
        assert data[pos + 12 + n] == 0x42, "missing end-of-record marker"
        assert zlib.adler32(payload) == crc, "bad checksum"
        lines.append(f"txn {crc:08x} {payload.hex()}")
        pos += 12 + n + 1
    with open(outfile, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(outfile, len(lines) - 2, "entries")


def main():
    if sys.argv[1] == "--txnlog":
        dump_txnlog(sys.argv[2], sys.argv[3])
        return
    host, port = sys.argv[1].rsplit(":", 1)
    addr = (host, int(port))
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    fixtures = {}

    def fixture(name, read_only=True):
        lines = [f"# {name}: captured from Java ZooKeeper 3.8.0 (Debian) by capture.py"]
        fixtures[name] = lines
        return Conn(addr, lines, read_only=read_only)

    # connect with and without the trailing readOnly byte, ping, closeSession
    c = fixture("connect_readonly")
    c.call(PING, xid=-2, comment="ping")
    c.call(CLOSE_SESSION, comment="closeSession")
    c.close()
    c = fixture("connect_old_client", read_only=None)
    c.call(PING, xid=-2, comment="ping")
    c.call(CLOSE_SESSION, comment="closeSession")
    c.close()

    # create in every mode
    c = fixture("create")
    c.call(CREATE, create_req("/cap-create", b"hello", OPEN_ACL, 0), comment="create persistent")
    c.call(CREATE, create_req("/cap-create/eph", b"", OPEN_ACL, 1), comment="create ephemeral, empty data")
    c.call(CREATE, create_req("/cap-create/pseq-", b"x", OPEN_ACL, 2), comment="create persistent sequential")
    c.call(CREATE, create_req("/cap-create/eseq-", None, OPEN_ACL, 3), comment="create ephemeral sequential, null data")
    c.call(CREATE, create_req("/cap-create/pseq-", b"y", OPEN_ACL, 2), comment="second sequential")
    c.call(CREATE_CONTAINER, create_req("/cap-container", b"c", OPEN_ACL, 4), comment="createContainer")
    c.call(CREATE_TTL, create_req("/cap-ttl", b"t", OPEN_ACL, 5) + i64(60000),
           comment="createTTL (extended types disabled: UNIMPLEMENTED)")
    c.call(CREATE, create_req("/cap-create", b"again", OPEN_ACL, 0), comment="create existing: NODEEXISTS")
    c.call(CREATE, create_req("/cap-missing/child", b"", OPEN_ACL, 0), comment="create without parent: NONODE")
    c.call(CREATE, create_req("/cap-create/eph/child", b"", OPEN_ACL, 0),
           comment="child of ephemeral: NOCHILDRENFOREPHEMERALS")
    c.close()

    c = fixture("create2")
    c.call(CREATE2, create_req("/cap-create2", b"v", OPEN_ACL, 0), comment="create2 persistent")
    c.call(CREATE2, create_req("/cap-create2/s-", b"", OPEN_ACL, 3), comment="create2 ephemeral sequential")
    c.call(CREATE2, create_req("/cap-create2", b"v", OPEN_ACL, 0), comment="create2 existing")
    c.close()

    c = fixture("get_set_data")
    c.call(CREATE, create_req("/cap-data", b"one", OPEN_ACL, 0))
    c.call(CREATE, create_req("/cap-data/null", None, OPEN_ACL, 0))
    c.call(GET_DATA, ustring("/cap-data") + boolean(True), comment="getData with watch")
    c.call(GET_DATA, ustring("/cap-data/null") + boolean(False), comment="getData of null data")
    c.call(GET_DATA, ustring("/cap-nonexistent") + boolean(False), comment="getData missing: NONODE")
    c.call(SET_DATA, ustring("/cap-data") + buffer(b"two") + i32(0), comment="setData version 0 (fires watch)")
    c.call(SET_DATA, ustring("/cap-data") + buffer(b"three") + i32(7), comment="setData BADVERSION")
    c.call(SET_DATA, ustring("/cap-data") + buffer(None) + i32(-1), comment="setData null, any version")
    c.call(GET_DATA, ustring("/cap-data") + boolean(False))
    c.close()

    c = fixture("exists")
    c.call(CREATE, create_req("/cap-exists", b"e", OPEN_ACL, 0))
    c.call(EXISTS, ustring("/cap-exists") + boolean(False), comment="exists present")
    c.call(EXISTS, ustring("/cap-absent") + boolean(True), comment="exists absent with watch")
    c.call(CREATE, create_req("/cap-absent", b"", OPEN_ACL, 0), comment="create fires NodeCreated")
    c.call(EXISTS, ustring("/cap-absent") + boolean(False))
    c.close()

    c = fixture("children")
    c.call(CREATE, create_req("/cap-kids", b"", OPEN_ACL, 0))
    for k in ("a", "b", "c"):
        c.call(CREATE, create_req("/cap-kids/" + k, b"", OPEN_ACL, 0))
    c.call(GET_CHILDREN2, ustring("/cap-kids") + boolean(True), comment="getChildren2 with watch")
    c.call(GET_CHILDREN, ustring("/cap-kids") + boolean(False), comment="getChildren")
    c.call(GET_CHILDREN2, ustring("/cap-kids/a") + boolean(False), comment="getChildren2 leaf")
    c.call(GET_CHILDREN2, ustring("/cap-nokids") + boolean(False), comment="getChildren2 missing")
    c.call(DELETE, ustring("/cap-kids/c") + i32(-1), comment="delete fires NodeChildrenChanged")
    c.call(GET_ALL_CHILDREN_NUMBER, ustring("/cap-kids"), comment="getAllChildrenNumber")
    c.call(GET_ALL_CHILDREN_NUMBER, ustring("/"), comment="getAllChildrenNumber root")
    c.close()

    c = fixture("acl")
    did = digest_id("user1", "pw1")
    c.call(AUTH, i32(0) + ustring("digest") + buffer(b"user1:pw1"), xid=-4, comment="auth digest")
    c.call(CREATE, create_req("/cap-acl", b"secret", [acl(31, "digest", did)], 0), comment="create with digest ACL")
    c.call(GET_ACL, ustring("/cap-acl"), comment="getACL")
    c.call(SET_ACL, ustring("/cap-acl") + vector([acl(1, "world", "anyone"), acl(31, "digest", did)]) + i32(0),
           comment="setACL two entries")
    c.call(SET_ACL, ustring("/cap-acl") + vector([acl(31, "digest", did)]) + i32(5), comment="setACL BADVERSION")
    c.call(GET_ACL, ustring("/cap-acl"))
    c.call(CREATE, create_req("/cap-acl2", b"", [acl(31, "auth", "")], 0), comment="create with auth ACL")
    c.call(GET_ACL, ustring("/cap-acl2"))
    c.call(WHO_AM_I, comment="whoAmI after digest auth")
    c.close()
    c = fixture("acl_noauth")
    c.call(GET_DATA, ustring("/cap-acl2") + boolean(False), comment="read without auth: NOAUTH")
    c.call(GET_ACL, ustring("/cap-acl2"), comment="getACL without READ or ADMIN: NOAUTH")
    c.call(AUTH, i32(0) + ustring("nosuchscheme") + buffer(b"x"), xid=-4, comment="auth unknown scheme: AUTHFAILED")
    c.close()

    c = fixture("delete")
    c.call(CREATE, create_req("/cap-del", b"", OPEN_ACL, 0))
    c.call(CREATE, create_req("/cap-del/x", b"", OPEN_ACL, 0))
    c.call(DELETE, ustring("/cap-del") + i32(-1), comment="delete non-empty: NOTEMPTY")
    c.call(DELETE, ustring("/cap-del/x") + i32(3), comment="delete BADVERSION")
    c.call(DELETE, ustring("/cap-del/x") + i32(0), comment="delete ok")
    c.call(DELETE, ustring("/cap-del/x") + i32(-1), comment="delete missing: NONODE")
    c.close()

    c = fixture("multi")
    c.call(CREATE, create_req("/cap-multi", b"m", OPEN_ACL, 0))
    c.call(MULTI, multi([
        (CREATE, create_req("/cap-multi/a", b"1", OPEN_ACL, 0)),
        (CREATE, create_req("/cap-multi/s-", b"2", OPEN_ACL, 2)),
        (SET_DATA, ustring("/cap-multi") + buffer(b"mm") + i32(0)),
        (CHECK, ustring("/cap-multi") + i32(1)),
        (DELETE, ustring("/cap-multi/a") + i32(-1)),
    ]), comment="multi success: create, create seq, setData, check, delete")
    c.call(MULTI, multi([
        (CREATE, create_req("/cap-multi/b", b"", OPEN_ACL, 0)),
        (CHECK, ustring("/cap-multi") + i32(99)),
        (DELETE, ustring("/cap-multi/nope") + i32(-1)),
    ]), comment="multi failure: create ok, check BADVERSION, delete after")
    c.call(MULTI, multi([]), comment="empty multi")
    c.call(MULTI, multi([(CREATE2, create_req("/cap-multi/c2", b"", OPEN_ACL, 1))]),
           comment="create2 inside multi (3.8.0 answers as create)")
    c.call(MULTI_READ, multi([
        (GET_CHILDREN, ustring("/cap-multi") + boolean(False)),
        (GET_DATA, ustring("/cap-multi") + boolean(False)),
        (GET_DATA, ustring("/cap-multi/missing") + boolean(False)),
        (GET_CHILDREN, ustring("/cap-multi/missing") + boolean(False)),
    ]), comment="multiRead: children, data, two failures")
    c.close()

    c = fixture("ephemerals")
    c.call(CREATE, create_req("/cap-eph", b"", OPEN_ACL, 0))
    c.call(CREATE, create_req("/cap-eph/e1", b"", OPEN_ACL, 1))
    c.call(CREATE, create_req("/cap-eph/e2", b"", OPEN_ACL, 1))
    c.call(GET_EPHEMERALS, ustring("/cap-eph"), comment="getEphemerals prefix")
    c.call(GET_EPHEMERALS, ustring("/"), comment="getEphemerals all")
    c.call(GET_EPHEMERALS, ustring("/cap-none"), comment="getEphemerals none")
    c.close()

    c = fixture("watches")
    c.call(CREATE, create_req("/cap-w", b"", OPEN_ACL, 0))
    c.call(ADD_WATCH, ustring("/cap-w") + i32(1), comment="addWatch persistent recursive")
    c.call(ADD_WATCH, ustring("/cap-w2") + i32(0), comment="addWatch persistent")
    c.call(CREATE, create_req("/cap-w/x", b"", OPEN_ACL, 0), comment="triggers NodeCreated on /cap-w/x")
    c.call(SET_DATA, ustring("/cap-w/x") + buffer(b"d") + i32(-1), comment="triggers NodeDataChanged")
    c.call(CHECK_WATCHES, ustring("/cap-w") + i32(3), comment="checkWatches any")
    c.call(REMOVE_WATCHES, ustring("/cap-w") + i32(3), comment="removeWatches any")
    c.call(REMOVE_WATCHES, ustring("/cap-w") + i32(3), comment="removeWatches again: NOWATCHER")
    c.call(GET_DATA, ustring("/cap-w") + boolean(True), comment="data watch")
    c.call(REMOVE_WATCHES, ustring("/cap-w") + i32(2), comment="removeWatches data")
    c.call(CHECK_WATCHES, ustring("/cap-w") + i32(1), comment="checkWatches children: NOWATCHER")
    c.close()

    c = fixture("set_watches")
    c.call(CREATE, create_req("/cap-sw", b"", OPEN_ACL, 0))
    c.call(SET_WATCHES, i64(0) + vector([ustring("/cap-sw")]) + vector([ustring("/cap-sw-absent")])
           + vector([ustring("/cap-sw")]), xid=-8, comment="setWatches (C-client xid -8)")
    c.call(SET_WATCHES2, i64(0x7fffffff) + vector([]) + vector([]) + vector([])
           + vector([ustring("/cap-sw")]) + vector([ustring("/cap-sw-r")]), comment="setWatches2")
    c.call(CREATE, create_req("/cap-sw-r", b"", OPEN_ACL, 0), comment="fires recursive persistent watch")
    c.close()

    c = fixture("misc")
    c.call(WHO_AM_I, comment="whoAmI")
    c.call(SYNC, ustring("/"), comment="sync")
    c.call(SYNC, ustring("/cap-sync-missing"), comment="sync missing path")
    c.call(PING, xid=-2, comment="ping")
    c.call(GET_CHILDREN2, ustring("/zookeeper") + boolean(False))
    c.call(GET_DATA, ustring("/zookeeper/config") + boolean(False), comment="standalone config node")
    c.close()

    for name, lines in fixtures.items():
        with open(os.path.join(outdir, name + ".hex"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(name, len(lines))


if __name__ == "__main__":
    main()

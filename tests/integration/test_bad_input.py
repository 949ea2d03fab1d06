"""Malformed client traffic over raw sockets.

Each bad connection must be closed (or answered with an error) on its own,
while a well-behaved kazoo client keeps working during and after the abuse.
"""

from __future__ import annotations

import random
import socket
import struct
import threading

import pytest

from servers import LOCALHOST

MAX_FRAME = 0xFFFFF  # jute.maxbuffer default: 1048575
IO_TIMEOUT = 10.0

OP_GETDATA = 4
ERR_MARSHALLING = -5
ERR_UNIMPLEMENTED = -6


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def connect_request(timeout_ms: int = 10000, session_id: int = 0,
                    password: bytes = bytes(16)) -> bytes:
    """A ConnectRequest as a 3.x client sends it (with the trailing readOnly byte)."""
    body = struct.pack(">iqiq", 0, 0, timeout_ms, session_id)
    body += struct.pack(">i", len(password)) + password + b"\x00"
    return frame(body)


def read_until_closed(sock: socket.socket, timeout: float = IO_TIMEOUT) -> bytes:
    """Read everything until the server closes the connection (then close our
    end too); fail if the server keeps it open."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data
    except socket.timeout:
        raise AssertionError(f"server kept the connection open (received {data.hex()})") from None
    finally:
        sock.close()


def read_exact(sock: socket.socket, size: int, timeout: float = IO_TIMEOUT) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise AssertionError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def read_frame(sock: socket.socket) -> bytes:
    (length,) = struct.unpack(">i", read_exact(sock, 4))
    return read_exact(sock, length)


def parse_connect_response(payload: bytes) -> dict:
    proto, timeout, session_id, pw_len = struct.unpack(">iiqi", payload[:20])
    return {"protocol": proto, "timeout": timeout, "session_id": session_id,
            "password": payload[20:20 + pw_len], "rest": payload[20 + pw_len:]}


def parse_reply_header(payload: bytes) -> tuple[int, int, int]:
    return struct.unpack(">iqi", payload[:16])


def open_session(server) -> socket.socket:
    """A raw connection with an established session."""
    sock = socket.create_connection((LOCALHOST, server.port), timeout=IO_TIMEOUT)
    sock.sendall(connect_request())
    response = parse_connect_response(read_frame(sock))
    assert response["timeout"] > 0 and response["session_id"] != 0
    return sock


def raw(server) -> socket.socket:
    return socket.create_connection((LOCALHOST, server.port), timeout=IO_TIMEOUT)


class Bystander:
    """A kazoo client doing writes and reads in a loop in the background."""

    def __init__(self, client, path: str):
        self.client, self.path = client, path
        self.states: list = []
        self.errors: list = []
        self.rounds = 0
        self.stop_flag = threading.Event()
        client.add_listener(self.states.append)
        client.create(path, b"0")
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        try:
            while not self.stop_flag.is_set():
                self.rounds += 1
                self.client.set(self.path, str(self.rounds).encode())
                assert self.client.get(self.path)[0] == str(self.rounds).encode()
        except Exception as exc:
            self.errors.append(exc)

    def finish(self) -> None:
        self.stop_flag.set()
        self.thread.join(IO_TIMEOUT)
        assert not self.thread.is_alive(), "bystander client hung"
        assert self.errors == []
        assert self.states == [], f"bystander connection changed state: {self.states}"
        assert self.rounds > 0


@pytest.fixture
def bystander(zk, zpath):
    watcher = Bystander(zk, zpath)
    yield watcher
    watcher.finish()
    # and it still works afterwards
    zk.set(zpath, b"after")
    assert zk.get(zpath)[0] == b"after"


def assert_server_healthy(server) -> None:
    assert server.is_running(), f"server died:\n{server.log_tail()}"
    assert "Mode: standalone" in server.srvr()


def test_oversized_frame_before_connect(server, bystander):
    sock = raw(server)
    sock.sendall(struct.pack(">i", MAX_FRAME + 1))
    assert read_until_closed(sock) == b""
    assert_server_healthy(server)


def test_negative_length_before_connect(server, bystander):
    for length in (-1, -5, -0x7FFFFFFF):
        sock = raw(server)
        sock.sendall(struct.pack(">i", length))
        assert read_until_closed(sock) == b""
    assert_server_healthy(server)


def test_max_length_frame_is_accepted(server, bystander):
    # Exactly jute.maxbuffer bytes: an all-zero ConnectRequest (timeout 0 is raised
    # to minSessionTimeout = 2 * tickTime) followed by padding is still a valid connect.
    sock = raw(server)
    sock.sendall(frame(bytes(MAX_FRAME)))
    response = parse_connect_response(read_frame(sock))
    assert response["protocol"] == 0
    assert response["timeout"] == 2 * server.tick_time
    assert response["session_id"] != 0 and len(response["password"]) == 16
    sock.close()
    assert_server_healthy(server)


def test_garbage_connect_requests(server, bystander):
    # Password length far beyond the frame: undecodable, closed without a reply.
    bad_len = struct.pack(">iqiq", 0, 0, 10000, 0) + struct.pack(">i", 0x7FFFFFFF) + bytes(17)
    for payload in (frame(bad_len), frame(b"\x01\x02\x03"), frame(b"")):
        sock = raw(server)
        sock.sendall(payload)
        assert read_until_closed(sock) == b"", payload.hex()

    # Truncated: the client gives up half way through the frame.
    sock = raw(server)
    sock.sendall(connect_request()[:20])
    sock.shutdown(socket.SHUT_WR)
    assert read_until_closed(sock) == b""
    assert_server_healthy(server)


def test_connect_with_unknown_session_is_expired(server, bystander):
    # An all-0xff ConnectRequest decodes as a reconnect of session -1: the
    # server answers "expired" (timeout 0, session 0, zero password) and closes.
    sock = raw(server)
    sock.sendall(frame(b"\xff" * 45))
    data = read_until_closed(sock)
    (length,) = struct.unpack(">i", data[:4])
    assert length == len(data) - 4 == 37
    response = parse_connect_response(data[4:])
    assert response == {"protocol": 0, "timeout": 0, "session_id": 0,
                        "password": bytes(16), "rest": b"\x00"}
    assert_server_healthy(server)


def test_bad_frames_after_connect(server, bystander):
    for prefix in (struct.pack(">i", MAX_FRAME + 1), struct.pack(">i", -1),
                   struct.pack(">i", -0x10000000)):
        sock = open_session(server)
        sock.sendall(prefix + bytes(64))
        assert read_until_closed(sock) == b""
    assert_server_healthy(server)


def test_unknown_opcodes_with_random_bodies(server, bystander):
    rng = random.Random(20241121)
    for xid in range(1, 11):
        opcode = rng.choice([-99, 10, 23, 99, 1000, 0x7ABCDEF0])
        body = rng.randbytes(rng.randrange(0, 200))
        sock = open_session(server)
        sock.sendall(frame(struct.pack(">ii", xid, opcode) + body))
        data = read_until_closed(sock)
        (length,) = struct.unpack(">i", data[:4])
        assert length == 16 and len(data) == 20, data.hex()
        reply_xid, _zxid, err = parse_reply_header(data[4:])
        assert (reply_xid, err) == (xid, ERR_UNIMPLEMENTED), (opcode, data.hex())
    assert_server_healthy(server)


def test_random_stream_after_connect(server, bystander):
    rng = random.Random(7)
    for _ in range(10):
        sock = open_session(server)
        junk = rng.randbytes(300)
        # A first byte >= 0x80 makes the length negative: always invalid.
        sock.sendall(bytes([junk[0] | 0x80]) + junk[1:])
        assert read_until_closed(sock) == b""
    assert_server_healthy(server)


def test_undecodable_request_body_keeps_connection(server, bystander):
    sock = open_session(server)
    # getData whose path length (0x7f7f7f7f) overruns the frame.
    sock.sendall(frame(struct.pack(">ii", 5, OP_GETDATA) + b"\x7f" * 20))
    xid, zxid, err = parse_reply_header(read_frame(sock))
    assert (xid, err) == (5, ERR_MARSHALLING)
    # The connection stays usable: a valid getData("/zookeeper", watch=false).
    path = b"/zookeeper"
    sock.sendall(frame(struct.pack(">ii", 6, OP_GETDATA) + struct.pack(">i", len(path))
                       + path + b"\x00"))
    payload = read_frame(sock)
    xid, _, err = parse_reply_header(payload)
    assert (xid, err) == (6, 0)
    (data_len,) = struct.unpack(">i", payload[16:20])
    assert data_len in (-1, 0)  # /zookeeper has no data
    sock.close()
    assert_server_healthy(server)


def test_many_bad_connections_at_once(server, bystander):
    socks = [raw(server) for _ in range(20)]
    for i, sock in enumerate(socks):
        sock.sendall(struct.pack(">i", -1 - i) if i % 2 else struct.pack(">i", MAX_FRAME + 1 + i))
    for sock in socks:
        assert read_until_closed(sock) == b""
    assert_server_healthy(server)

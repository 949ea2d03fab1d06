"""Connection limits and session negotiation, on every implementation in ZK_IMPLS.

maxClientCnxns per client IP, session timeout clamping to min/maxSessionTimeout (2x / 20x tickTime
by default, or as configured), and the refusal of a client that has seen a newer zxid than the
server.
"""

from __future__ import annotations

import socket
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "differential"))

import zkraw  # noqa: E402
from servers import ServerStartError, ZkServer, selected_impls  # noqa: E402


def _start(impl, workdir, **kw) -> ZkServer:
    srv = ZkServer(impl, workdir, **kw)
    try:
        srv.start()
    except ServerStartError as exc:
        srv.stop()
        pytest.fail(f"cannot start {impl}: {exc}", pytrace=False)
    return srv


def _connect(port: int, timeout_ms: int = 30000, last_zxid: int = 0):
    """Sends a ConnectRequest; returns (socket, negotiated timeout or None if closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = zkraw.enc_connect(timeout=timeout_ms, last_zxid=last_zxid)
    s.sendall(struct.pack(">i", len(body)) + body)
    head = b""
    try:
        while len(head) < 4:
            chunk = s.recv(4 - len(head))
            if not chunk:
                return s, None
            head += chunk
    except (ConnectionResetError, socket.timeout):
        return s, None
    (n,) = struct.unpack(">i", head)
    payload = b""
    while len(payload) < n:
        chunk = s.recv(n - len(payload))
        if not chunk:
            return s, None
        payload += chunk
    _proto, negotiated = struct.unpack(">ii", payload[:8])
    return s, negotiated


@pytest.mark.parametrize("impl", selected_impls())
def test_session_timeout_is_clamped(impl, tmp_path):
    srv = _start(impl, tmp_path / "a", tick_time=1000,
                 extra_cfg={"minSessionTimeout": 3000, "maxSessionTimeout": 9000})
    try:
        for asked, got in [(100, 3000), (5000, 5000), (60000, 9000)]:
            s, negotiated = _connect(srv.port, asked)
            s.close()
            assert negotiated == got, (asked, negotiated)
    finally:
        srv.stop()


@pytest.mark.parametrize("impl", selected_impls())
def test_default_timeout_bounds_follow_tick_time(impl, tmp_path):
    srv = _start(impl, tmp_path / "b", tick_time=1500)
    try:
        s1, lo = _connect(srv.port, 1)
        s2, hi = _connect(srv.port, 10_000_000)
        s1.close()
        s2.close()
        assert (lo, hi) == (3000, 30000)
    finally:
        srv.stop()


@pytest.mark.parametrize("impl", selected_impls())
def test_max_client_cnxns_per_ip(impl, tmp_path):
    srv = _start(impl, tmp_path / "c", extra_cfg={"maxClientCnxns": 3})
    socks = []
    try:
        for _ in range(3):
            s, negotiated = _connect(srv.port)
            assert negotiated is not None
            socks.append(s)
        s, negotiated = _connect(srv.port)
        socks.append(s)
        assert negotiated is None, "the 4th connection from one IP must be closed"
        # Closing one makes room again.
        socks.pop(0).close()

        def room():
            s, n = _connect(srv.port)
            socks.append(s)
            return n is not None

        from servers import wait_until
        wait_until(room, timeout=10, message="a free connection slot")
    finally:
        for s in socks:
            s.close()
        srv.stop()


@pytest.mark.parametrize("impl", selected_impls())
def test_client_ahead_of_server_is_refused(impl, tmp_path):
    srv = _start(impl, tmp_path / "d")
    try:
        s, negotiated = _connect(srv.port, last_zxid=1 << 40)
        s.close()
        assert negotiated is None, "a client that has seen a newer zxid must be sent elsewhere"
        s, negotiated = _connect(srv.port, last_zxid=0)
        s.close()
        assert negotiated == 30000
    finally:
        srv.stop()

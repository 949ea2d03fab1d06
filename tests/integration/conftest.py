"""Shared fixtures for the real-client integration tests.

``server`` is parametrized over the implementations listed in ``ZK_IMPLS``
(default ``ferrokeeper``). One server is started per test module and
implementation; tests use their own znode paths (``zpath``) so they do not
interfere. ``fresh_server`` gives a test a server of its own.
"""

from __future__ import annotations

import itertools
import re

import pytest

from servers import ServerStartError, ZkServer, selected_impls

_counter = itertools.count()


def _start(impl: str, workdir, **kwargs) -> ZkServer:
    srv = ZkServer(impl, workdir, **kwargs)
    try:
        srv.start()
    except ServerStartError as exc:
        srv.stop()
        # A missing or broken server must fail the run, never skip it.
        pytest.fail(f"cannot start {impl} server: {exc}", pytrace=False)
    return srv


@pytest.fixture(scope="module", params=selected_impls())
def server(request, tmp_path_factory):
    """A running server shared by the tests of one module."""
    srv = _start(request.param, tmp_path_factory.mktemp(f"{request.param}-server"))
    yield srv
    alive = srv.is_running()
    srv.stop()
    if not alive:
        pytest.fail(f"{srv} died during the module; log tail:\n{srv.log_tail()}", pytrace=False)


@pytest.fixture(params=selected_impls())
def fresh_server(request, tmp_path):
    """A server of the test's own (for tests that need a pristine tree)."""
    srv = _start(request.param, tmp_path / f"{request.param}-server")
    yield srv
    srv.stop()


@pytest.fixture
def zpath(request) -> str:
    """A unique top-level znode path for the current test."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)
    return f"/t{next(_counter)}_{name}"


@pytest.fixture
def kazoo_factory(server):
    """``make(**kwargs)`` returns a started KazooClient; all are closed afterwards."""
    from kazoo.client import KazooClient

    clients = []

    def make(start=True, **kwargs):
        kwargs.setdefault("hosts", server.hosts)
        kwargs.setdefault("timeout", 10.0)
        client = KazooClient(**kwargs)
        clients.append(client)
        if start:
            client.start(timeout=15)
        return client

    yield make
    for client in clients:
        try:
            client.stop()
        finally:
            client.close()


@pytest.fixture
def zk(kazoo_factory):
    """One connected KazooClient."""
    return kazoo_factory()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the server's log tail to the report of a failed test."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for name in ("server", "fresh_server"):
        srv = getattr(item, "funcargs", {}).get(name)
        if isinstance(srv, ZkServer):
            state = "running" if srv.is_running() else f"exited ({srv.proc.returncode})"
            report.sections.append((f"{srv.impl} server log tail [{state}, port {srv.port}]",
                                    srv.log_tail(60) or "(empty)"))

"""AdminServer (HTTP JSON commands) compared with Java ZooKeeper 3.8's Jetty AdminServer.

Same zoo.cfg (admin on 127.0.0.1:<free port>), same client history; then every command both
list is fetched from both and the JSON *keys* compared (order included where Java's order is
fixed; for maps keyed by data — session ids, paths, hash-ordered metrics — the key sets).
Values that are deterministic for the history are compared too.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from kazoo.client import KazooClient

from servers import JAVA_ADMIN_CLASSPATH, LOCALHOST, free_port
from test_four_letter import DASHBOARD_KEYS, start

# Java commands ferrokeeper does not serve (yet), by name.
NOT_IMPLEMENTED = {
    "system_properties": "a native server has no JVM system properties",
}
# Objects whose keys are data (ids, paths, epochs): compared as key sets / counts.
DATA_KEYED = {"expiry_time_to_session_ids", "session_id_to_ephemeral_paths",
              "session_id_to_watched_paths", "path_to_session_ids", "current_config"}
# Named exception: Java keeps emptied session-expiry buckets until their time passes, so the
# number of buckets depends on timing; their keys are clock values.
UNCOUNTED = {"expiry_time_to_session_ids"}
# Commands whose key order Java does not fix (hash maps): compared as key sets.
UNORDERED = {"monitor"}


def get(port: int, path: str) -> tuple[int, dict | str, str]:
    try:
        with urllib.request.urlopen(f"http://{LOCALHOST}:{port}{path}", timeout=10) as r:
            body = r.read().decode()
            ctype = r.headers.get("Content-Type", "")
            return r.status, (json.loads(body) if "json" in ctype else body), body
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), ""


@pytest.fixture(scope="module")
def admins(tmp_path_factory):
    servers, clients = {}, []
    try:
        for impl in ("java", "ferrokeeper"):
            aport = free_port()
            srv = start(impl, tmp_path_factory.mktemp(f"admin-{impl}"),
                        extra_cfg={"admin.enableServer": "true", "admin.serverPort": aport,
                                   "admin.serverAddress": LOCALHOST},
                        java_classpath_extra=JAVA_ADMIN_CLASSPATH)
            srv.admin_port = aport
            servers[impl] = srv
            c = KazooClient(hosts=srv.hosts, timeout=30)
            c.start()
            clients.append(c)
            c.create("/a", b"x")
            c.create("/e", b"", ephemeral=True)
            c.get("/a", watch=lambda e: None)
            c.get_children("/a", watch=lambda e: None)
        yield servers
    finally:
        for c in clients:
            c.stop()
            c.close()
        for s in servers.values():
            s.stop()


def listing(port: int) -> list[str]:
    status, body, _ = get(port, "/commands")
    assert status == 200
    return re.findall(r'<a href="/commands/([a-z_]+)">\1</a>\n<br/>\n', body)


def test_command_listing(admins):
    java = listing(admins["java"].admin_port)
    ferro = listing(admins["ferrokeeper"].admin_port)
    assert ferro == sorted(ferro)
    assert sorted(set(java) - set(ferro)) == sorted(NOT_IMPLEMENTED)
    assert set(ferro) <= set(java)


def shape(v, key=None):
    """The key structure of a JSON value."""
    if isinstance(v, dict):
        if key in UNCOUNTED:
            return ("data-keyed", "uncounted")
        if key in DATA_KEYED:
            return ("data-keyed", len(v))
        if key in UNORDERED:
            return ("unordered", sorted(v))
        return [(k, shape(x, k)) for k, x in v.items()]
    if isinstance(v, list):
        shapes = [shape(x) for x in v]
        return ("list", len(v), shapes[0] if shapes else None)
    return type(v).__name__ if not isinstance(v, (int, float)) or isinstance(v, bool) else "number"


def both(admins, path):
    return (get(admins["java"].admin_port, path), get(admins["ferrokeeper"].admin_port, path))


def commands(admins):
    return [c for c in listing(admins["java"].admin_port) if c not in NOT_IMPLEMENTED]


def test_every_command_has_javas_keys(admins):
    for name in commands(admins):
        if name in ("connection_stat_reset", "stat_reset"):
            continue  # would reset counters other tests read; checked below
        (js, j, _), (fs, f, _) = both(admins, f"/commands/{name}")
        assert js == fs == 200, name
        if name == "monitor":
            assert list(f)[-2:] == ["command", "error"]
            invented = set(f) - set(j)
            assert not invented, f"monitor keys Java does not have: {sorted(invented)}"
            for k in DASHBOARD_KEYS:
                assert k in f and k in j, k
            continue
        assert shape(f) == shape(j), f"{name}:\njava {json.dumps(j, indent=1)}\nferrokeeper {json.dumps(f, indent=1)}"


@pytest.mark.parametrize("path", [
    "/commands/ruok", "/commands/nonexist", "/commands/leader", "/commands/lead",
    "/commands/stmk", "/commands/stmk?traceMask=42", "/commands/gtmk", "/commands/isro",
    "/commands/obsr", "/commands/voting_view", "/commands/zabstate", "/commands/wchs",
    "/commands/dirs", "/commands/orst", "/commands/crst", "/commands/srst",
])
def test_exact_json(admins, path):
    (js, _, jbody), (fs, _, fbody) = both(admins, path)
    assert fs == js == 200
    assert fbody == jbody


def test_aliases_and_values(admins):
    for alias, primary in [("srvr", "server_stats"), ("conf", "configuration"), ("config", "configuration"),
                           ("cons", "connections"), ("envi", "environment"), ("env", "environment"),
                           ("wchc", "watches"), ("wchp", "watches_by_path"), ("mntr", "monitor")]:
        _, f, _ = get(admins["ferrokeeper"].admin_port, f"/commands/{alias}")
        assert f["command"] == primary and f["error"] is None
    (_, j, _), (_, f, _) = both(admins, "/commands/configuration")
    for k in ("tick_time", "max_client_cnxns", "min_session_timeout", "max_session_timeout",
              "server_id", "client_port_listen_backlog"):
        assert f[k] == j[k], k
    (_, j, _), (_, f, _) = both(admins, "/commands/stats")
    assert f["server_stats"]["server_state"] == "standalone"
    assert f["node_count"] == j["node_count"]
    assert len(f["connections"]) == len(j["connections"]) == 1


def test_initial_configuration_and_last_snapshot(admins):
    for impl, srv in admins.items():
        _, f, _ = get(srv.admin_port, "/commands/icfg")
        assert f["initial_configuration"] == srv.cfg_path.read_text(), impl
    (_, j, _), (_, f, _) = both(admins, "/commands/lsnp")
    assert f["zxid"] == j["zxid"] == "0"  # the snapshot both write at startup
    assert isinstance(f["timestamp"], int) and f["timestamp"] > 1_600_000_000


def test_readiness_endpoint(admins):
    status, body, _ = get(admins["ferrokeeper"].admin_port, "/ready")
    assert status == 200 and body == "ready\n"

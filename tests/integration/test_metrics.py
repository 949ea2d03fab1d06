"""Prometheus `/metrics` (metricsProvider.className = Java's PrometheusMetricsProvider).

Debian does not package Java's Prometheus provider, so names are checked against the ones Java's
provider exports (the `mntr` metric names without `zk_`, summaries as `<name>{quantile=...}`,
`<name>_count`, `<name>_sum`) and the ones Grafana's ZooKeeper dashboards query.
"""

from __future__ import annotations

import urllib.request

import pytest
from kazoo.client import KazooClient
from prometheus_client.parser import text_string_to_metric_families

from servers import LOCALHOST, free_port
from test_four_letter import flw, parse_mntr, start

PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
# Names the Grafana "ZooKeeper by Prometheus" dashboards query (standalone subset: quorum_size,
# election_time, learners and jvm_* are not exported by a standalone server — see docs).
GRAFANA_GAUGES = [
    "znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
    "num_alive_connections", "outstanding_requests", "avg_latency", "min_latency", "max_latency",
    "packets_received", "packets_sent", "open_file_descriptor_count", "max_file_descriptor_count",
    "global_sessions", "uptime", "connection_drop_probability", "auth_failed_count",
]
GRAFANA_SUMMARIES = ["readlatency", "updatelatency", "fsynctime"]


@pytest.fixture(scope="module")
def metrics_server(tmp_path_factory):
    mport = free_port()
    srv = start("ferrokeeper", tmp_path_factory.mktemp("metrics"),
                extra_cfg={"metricsProvider.className": PROVIDER,
                           "metricsProvider.httpPort": mport,
                           "metricsProvider.httpHost": LOCALHOST})
    srv.metrics_port = mport
    c = KazooClient(hosts=srv.hosts, timeout=30)
    c.start()
    for i in range(5):
        c.create(f"/m{i}", b"v" * i)
        c.get(f"/m{i}", watch=lambda e: None)
    yield srv
    c.stop()
    c.close()
    srv.stop()


def scrape(srv) -> tuple[str, str]:
    with urllib.request.urlopen(f"http://{LOCALHOST}:{srv.metrics_port}/metrics", timeout=10) as r:
        return r.read().decode(), r.headers.get("Content-Type", "")


def test_parses_as_prometheus_text(metrics_server):
    text, ctype = scrape(metrics_server)
    assert ctype.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in GRAFANA_GAUGES:
        assert name in families, name
        assert families[name].type == "gauge", name
    for name in GRAFANA_SUMMARIES:
        fam = families[name]
        assert fam.type == "summary", name
        labels = {s.labels.get("quantile") for s in fam.samples if s.name == name}
        assert labels == {"0.5", "0.9", "0.99"}, (name, labels)
        assert {s.name for s in fam.samples} >= {f"{name}_count", f"{name}_sum"}


def test_labelled_per_namespace_summaries(metrics_server):
    text, _ = scrape(metrics_server)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("read_per_namespace", "write_per_namespace"):
        fam = families[name]
        assert fam.type == "summary"
        keys = {s.labels["key"] for s in fam.samples}
        assert {"m0", "m4"} <= keys, keys
    # create /m4 with 4 bytes: path length 3 + 4
    sums = {s.labels["key"]: s.value for s in families["write_per_namespace"].samples
            if s.name == "write_per_namespace_sum"}
    assert sums["m4"] == 7.0


def test_values_agree_with_mntr(metrics_server):
    text, _ = scrape(metrics_server)
    values = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
              if not s.labels}
    mntr = parse_mntr(flw(metrics_server.port, "mntr")[0])
    for name in ("znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
                 "global_sessions", "outstanding_requests"):
        assert values[name] == float(mntr[name]), name
    assert values["znode_count"] == 10.0  # 5 of the tree's own + 5 created
    assert values["watch_count"] == 5.0
    assert values["updatelatency_count"] >= 6.0  # createSession + 5 creates
    assert values["readlatency_count"] >= 5.0


def test_every_name_is_a_zookeeper_metric(metrics_server):
    """No invented names: each exported family is one Java's mntr/Prometheus provider has."""
    text, _ = scrape(metrics_server)
    mntr = parse_mntr(flw(metrics_server.port, "mntr")[0])
    summaries = [k[len("avg_"):] for k in mntr if k.startswith("avg_")]
    # Labelled summaries print as <label>_<name> in mntr: every "_"-suffix is a candidate name.
    known = set(mntr) | {"_".join(k.split("_")[i:]) for k in summaries for i in range(len(k.split("_")))}
    for fam in text_string_to_metric_families(text):
        assert fam.name in known, fam.name

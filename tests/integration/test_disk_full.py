"""A full dataLogDir: the server stops (as Java does) instead of staying up unable to log, no
acknowledged write is lost, and it serves again once restarted with space. Needs root to mount a
small tmpfs; skipped otherwise."""

from __future__ import annotations

import os
import subprocess

import pytest
from kazoo.client import KazooClient

from servers import ZkServer, wait_until


@pytest.fixture
def small_log_dir(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tmp_path / "datalog"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_full_txn_log_disk_stops_the_server_and_loses_nothing(tmp_path, small_log_dir):
    srv = ZkServer("ferrokeeper", tmp_path / "srv",
                   extra_cfg={"dataLogDir": small_log_dir, "preAllocSize": 1024})
    srv.start()
    acked = []
    c = KazooClient(hosts=srv.hosts, timeout=10)
    c.start(timeout=30)
    try:
        c.ensure_path("/full")
        payload = b"x" * 100_000
        for i in range(200):
            try:
                acked.append(c.create(f"/full/n{i}", payload))
            except Exception:  # noqa: BLE001 - the server goes away mid-request
                break
    finally:
        c.stop()
        c.close()
    wait_until(lambda: not srv.is_running(), 30, message="the server exits on a full log disk")
    assert srv.proc.returncode == 14, srv.log_tail()
    assert "exiting" in srv.log_text()
    assert acked, "some writes fit before the disk filled"
    # Make room (drop the preallocated tail is not enough: grow the tmpfs) and restart.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_log_dir)], check=True)
    srv.start()
    c = KazooClient(hosts=srv.hosts, timeout=10)
    c.start(timeout=30)
    try:
        missing = [p for p in acked if c.exists(p) is None]
        assert not missing, f"acknowledged writes lost: {missing[:3]}"
        c.create("/full/after", b"ok")
    finally:
        c.stop()
        c.close()
        srv.stop()

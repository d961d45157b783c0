"""`dev up` / `dev down` / `dev status` as processes, and the errors for bad situations."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from module_controller_dev.devcluster import BinariesError, DevCluster, DevClusterError, State
from module_controller_dev.devcluster import binaries, processes


@pytest.mark.cluster
def test_up_is_idempotent_and_down_leaves_nothing_listening(tmp_path: Path, dev_cluster: State):
    # A second cluster beside the session's one: it must not fight over ports.
    cluster = DevCluster(tmp_path / "second", log=lambda _: None)
    state = cluster.up(bases=0)
    try:
        pids = list(state.pids.values())
        listening = processes.listening_ports(pids)
        assert ("127.0.0.1", state.ports["kube-apiserver"]) in listening
        assert ("127.0.0.1", state.ports["etcd"]) in listening
        assert not set(state.ports.values()) & set(dev_cluster.ports.values())

        again = cluster.up(bases=0)
        assert again.pids == state.pids, "a second `up` must reuse the running cluster"
        assert cluster.status()["running"] is True
    finally:
        assert cluster.down() is True

    assert not any(processes.is_ours(pid, cluster.dir) for pid in pids)
    still = set(processes.listening_sockets().values()) & listening
    assert not still, f"still listening after down: {still}"
    assert cluster.status()["running"] is False
    assert cluster.down() is False


@pytest.mark.cluster
def test_state_from_a_crashed_run_is_cleaned_up(tmp_path: Path):
    directory = tmp_path / "crashed"
    directory.mkdir()
    # PIDs that are certainly not ours: this test process and PID 1.
    State(dir=str(directory.resolve()), pids={"etcd": 1, "kube-apiserver": os.getpid()},
          ports={"kube-apiserver": 1}).save()
    cluster = DevCluster(directory, log=lambda _: None)
    state = cluster.up(bases=0)
    try:
        assert cluster.status()["running"] is True
        assert state.pids["etcd"] != 1
    finally:
        cluster.down()


def test_port_in_use_is_a_one_line_error(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DevClusterError, match=f"port {port} .* in use") as info:
            DevCluster(tmp_path, log=lambda _: None).up(bases=0, apiserver_port=port)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "state.json").exists(), "nothing may be left half-started"


def test_partly_running_cluster_says_run_down_first(tmp_path: Path):
    directory = tmp_path.resolve()
    # This test process's own command line does not mention the directory, so use a child that does.
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(directory)],
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not processes.is_ours(child.pid, directory):  # until exec has finished
            assert time.monotonic() < deadline, "child never showed its command line"
            time.sleep(0.01)
        State(dir=str(directory), pids={"etcd": child.pid, "kube-apiserver": 1}).save()
        with pytest.raises(DevClusterError, match="dev down"):
            DevCluster(directory, log=lambda _: None).up(bases=0)
        assert DevCluster(directory, log=lambda _: None).down() is True
        assert child.wait(timeout=10) is not None
    finally:
        child.kill()


def test_missing_binaries_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path / "assets"))
    monkeypatch.setenv("MODULE_CONTROLLER_CACHE", str(tmp_path / "cache"))
    with pytest.raises(BinariesError, match="make controlplane") as info:
        DevCluster(tmp_path / "dev", log=lambda _: None).up(bases=0)
    assert "\n" not in str(info.value)


def test_missing_go_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path / "assets"))
    monkeypatch.setenv("MODULE_CONTROLLER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(binaries, "find_go", lambda: None)
    with pytest.raises(BinariesError, match="no `go` on PATH.*KUBEBUILDER_ASSETS"):
        binaries.ensure(log=lambda _: None)


def test_kubebuilder_assets_come_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assets = tmp_path / "assets"
    assets.mkdir()
    fake = assets / "etcd"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    monkeypatch.setenv("MODULE_CONTROLLER_CACHE", str(tmp_path / "cache"))
    found, missing = binaries.find()
    assert found == {"etcd": fake}
    assert missing == ["kube-apiserver", "kube-controller-manager"]


def test_status_of_nothing(tmp_path: Path):
    status = DevCluster(tmp_path, log=lambda _: None).status()
    assert json.loads(json.dumps(status))["running"] is False

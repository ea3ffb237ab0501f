"""`npu-lab down` when dockerd refuses to delete a network ("has active endpoints" with none
listed, a Docker 20.10 fault): the teardown finishes and warns (a test's teardown must not
fail on it), and `npu-lab up` of the same name retries the removal, then says what to do."""
from types import SimpleNamespace

import pytest

from npu_cluster.lab import cli


class FakeDocker:
    def __init__(self, removable):
        self.removable = removable
        self.calls = []
        self.networks = ["net-hccs"]

    def ids(self, kind, label):
        return {"container": ["c1"], "network": list(self.networks), "volume": ["v1"]}[kind]

    def inspect(self, kind, ids):
        if kind == "network":
            return [{"Name": "npu-lab-t-hccs", "Containers": {}} for _id in ids]
        return [{"Name": "/npu-lab-t-a3-node-0"} for _id in ids]

    def run(self, argv, check=True, **_kw):
        self.calls.append(argv)
        ok = argv[:2] != ["network", "rm"] or self.removable
        if ok and argv[:2] == ["network", "rm"]:
            self.networks = []
        return SimpleNamespace(returncode=0 if ok else 1, stdout=b"", stderr=b"")

    def engine_ok(self):
        return True


def test_down_warns_and_finishes_when_a_network_is_stuck(monkeypatch, capsys):
    fake = FakeDocker(removable=False)
    monkeypatch.setattr(cli, "docker", fake)
    monkeypatch.setattr(cli, "clusters", lambda: {})
    monkeypatch.setattr(cli.time, "sleep", lambda _s: None)
    res = cli.down("t")
    assert res["stuck_networks"] == ["npu-lab-t-hccs"]
    err = capsys.readouterr().err
    assert "WARNING: Docker refuses to remove network(s) npu-lab-t-hccs" in err
    assert "restart dockerd, then run `npu-lab down --all`" in err
    # it tried: force-disconnect of the cluster's containers, five retries
    assert ["network", "disconnect", "-f", "net-hccs", "npu-lab-t-a3-node-0"] in fake.calls
    assert sum(1 for c in fake.calls if c[:2] == ["network", "rm"]) == 6
    assert ["rm", "-f", "-v", "c1"] in fake.calls and ["volume", "rm", "-f", "v1"] in fake.calls


def _next():
    raise RuntimeError("next")


def test_up_of_the_same_name_retries_then_explains(monkeypatch):
    fake = FakeDocker(removable=False)
    monkeypatch.setattr(cli, "docker", fake)
    monkeypatch.setattr(cli, "clusters", lambda: {})
    monkeypatch.setattr(cli.time, "sleep", lambda _s: None)
    with pytest.raises(SystemExit, match="restart dockerd, or pick another --name"):
        cli.up("a3x2", cluster="t")
    fake = FakeDocker(removable=True)
    monkeypatch.setattr(cli, "docker", fake)
    monkeypatch.setattr(cli.images, "build", _next)
    with pytest.raises(RuntimeError, match="next"):  # the leftover went; up carries on
        cli.up("a3x2", cluster="t")
    assert fake.networks == []

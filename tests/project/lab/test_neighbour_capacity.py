"""`npu-lab up` raises the kernel's ARP table limits for big labs (every container shares one
table: past gc_thresh3 the kernel drops new neighbours and healthy pings are lost)."""
import pytest

from npu_cluster.lab import cli


def thresholds(tmp_path, values):
    for index, value in zip((1, 2, 3), values):
        (tmp_path / ("gc_thresh%d" % index)).write_text("%d\n" % value)
    return str(tmp_path / "gc_thresh%d")


def read(tmp_path):
    return [int((tmp_path / ("gc_thresh%d" % i)).read_text()) for i in (1, 2, 3)]


def test_a3x60_needs_more_than_the_kernel_default(tmp_path):
    paths = thresholds(tmp_path, (128, 512, 1024))
    assert cli.neighbour_need([60]) == 40 * 60 * 60
    assert cli.ensure_neighbour_capacity([60], paths) == (1024, 144000)
    # thresh1 untouched (garbage collection still runs below thresh2), the others raised
    assert read(tmp_path) == [128, 72000, 144000]


def test_small_labs_and_high_limits_are_left_alone(tmp_path):
    paths = thresholds(tmp_path, (128, 512, 1024))
    assert cli.ensure_neighbour_capacity([2, 4], paths) == (1024, 1024)
    assert read(tmp_path) == [128, 512, 1024]
    paths = thresholds(tmp_path, (128, 500000, 1000000))
    assert cli.ensure_neighbour_capacity([60, 8], paths) == (1000000, 1000000)
    assert read(tmp_path) == [128, 500000, 1000000]


def test_labs_already_up_count_too(tmp_path):
    paths = thresholds(tmp_path, (128, 512, 1024))
    assert cli.ensure_neighbour_capacity([16, 16], paths) == (1024, 2 * 40 * 16 * 16)


def test_a_limit_it_cannot_write_is_a_clear_error(tmp_path):
    (tmp_path / "gc_thresh3").write_text("1024\n")
    (tmp_path / "gc_thresh2").mkdir()  # cannot be opened for writing, even by root
    with pytest.raises(SystemExit) as exc:
        cli.ensure_neighbour_capacity([60], str(tmp_path / "gc_thresh%d"))
    assert "holds at most 1024 entries" in str(exc.value)
    assert "sysctl -w net.ipv4.neigh.default.gc_thresh2=72000 " \
           "net.ipv4.neigh.default.gc_thresh3=144000" in str(exc.value)


def test_no_neighbour_table_is_nothing_to_do(tmp_path):
    assert cli.ensure_neighbour_capacity([60], str(tmp_path / "missing%d")) == (None, None)

"""Concurrent tool runner: order, timeout, busy retry, missing binary, LC_ALL=C."""
import time

from ansible_collections.npu.cluster.plugins.module_utils.runner import run_many


def test_order_and_concurrency():
    argvs = [["sh", "-c", "sleep 0.3; echo $0", str(i)] for i in range(8)]
    start = time.monotonic()
    res = run_many(argvs, concurrency=8)
    assert [r[1] for r in res] == ["%d\n" % i for i in range(8)]
    assert time.monotonic() - start < 2.0  # 8 x 0.3 s serially would be 2.4 s


def test_timeout_missing_binary_and_locale():
    (rc, out, err), = run_many([["sleep", "5"]], timeout=1)
    assert rc == 124 and "timed out after 1s: sleep 5" in err
    (rc, out, err), = run_many([["/nonexistent/hccn_tool"]])
    assert rc == 127 and "cannot run /nonexistent/hccn_tool" in err
    (rc, out, err), = run_many([["sh", "-c", "echo $LC_ALL"]])
    assert out == "C\n"


def test_busy_is_retried(tmp_path):
    counter = tmp_path / "n"
    counter.write_text("0")
    script = ("n=$(cat %s); echo $((n+1)) > %s; if [ $n -lt 2 ]; then "
              "echo 'hccn_tool is busy, please try again.'; exit 11; fi; echo 'link status: UP'"
              % (counter, counter))
    (rc, out, err), = run_many([["sh", "-c", script]], busy_wait=0.01)
    assert (rc, out) == (0, "link status: UP\n") and counter.read_text() == "3\n"

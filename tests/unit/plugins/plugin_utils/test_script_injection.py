"""No inventory or profile value can run as shell on a node: every value that reaches a launch
script -- host names, model, served name, environment values, engine arguments, per-host
additions -- is tried with shell metacharacters, command substitution, quotes and line breaks,
and the rendered script is run with a stand-in `vllm` that records what it received."""
import json
import os
import subprocess
from pathlib import Path

import yaml

from ansible_collections.npu.cluster.plugins.plugin_utils import planner

REPO = Path(__file__).resolve().parents[4]


def hostile(marker):
    """Every way a value could escape a script, each touching `marker` if it ever runs."""
    return ("a'; touch %(m)s; '\" $(touch %(m)s) `touch %(m)s` ${IFS}; touch %(m)s\n"
            "touch %(m)s #\r\\" % {"m": marker})


def test_hostile_values_reach_the_engine_verbatim_and_never_run(tmp_path):
    marker = tmp_path / "PWNED"
    evil = hostile(marker)
    prof = yaml.safe_load((REPO / "profiles" / "000-a2-dsv31-w8a8-dp4.yml").read_text())
    prof["model"] = "m/" + evil
    prof["served_model_name"] = evil
    prof["env"]["EVIL_ENV"] = evil
    prof["head"]["env"] = {"EVIL_HEAD_ENV": evil}
    prof["engine_args"]["additional-config"] = {"note": evil}
    prof["engine_args"]["seed"] = evil
    head_name = "node\n$(touch %s)\n0" % marker
    hosts = [{"name": head_name, "vars": {"npu_cluster_serving_ip": "10.0.0.1",
                                          "npu_cluster_serving_nic": "eth0",
                                          "npu_cluster_extra_env": {"EVIL_HOST_ENV": evil},
                                          "npu_cluster_extra_engine_args": {"kv-cache-dtype": evil}},
              "facts": None},
             {"name": "node1", "vars": {"npu_cluster_serving_ip": "10.0.0.2",
                                        "npu_cluster_serving_nic": "eth0"}, "facts": None}]
    result = planner.plan(prof, hosts)
    # the engine's own option table refuses the nonsense values; the scripts are still what
    # would be written, and that is what is checked here
    proc = result["hosts"][head_name]["processes"][0]
    assert proc["argv"][2] == "m/" + evil and evil in proc["argv"]

    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "record.json"
    (bindir / "vllm").write_text(
        "#!/usr/bin/env python3\nimport json, os, sys\n"
        "json.dump({'argv': sys.argv[1:], 'env': dict(os.environ)}, open(%r, 'w'))\n"
        % str(record))
    (bindir / "vllm").chmod(0o755)
    for script_key in ("script", "launch_script"):
        script = tmp_path / ("%s.sh" % script_key)
        script.write_text(proc[script_key])
        # every line of the script is either a comment on one line or shell we wrote
        for line in proc[script_key].splitlines():
            assert "\r" not in line
        env = {"PATH": "%s:/usr/bin:/bin" % bindir, "LC_ALL": "C"}
        res = subprocess.run(["/bin/sh", str(script), "run"], env=env, capture_output=True,
                             text=True, timeout=30, check=False)
        assert res.returncode == 0, res.stderr
        got = json.loads(record.read_text())
        assert got["argv"] == proc["argv"][1:]
        for key, value in proc["env"].items():
            assert got["env"][key] == value
        assert got["env"]["EVIL_ENV"] == evil
        assert got["env"]["EVIL_HEAD_ENV"] == evil
        assert got["env"]["EVIL_HOST_ENV"] == evil
        assert not marker.exists(), "a value ran as shell: %s" % script_key
        record.unlink()
    # the host name only appears in comments, made one line
    assert "\n# vllm-serve on node?$(touch %s)?0 (000-a2-dsv31-w8a8-dp4, head)\n" % marker \
        in proc["launch_script"]
    assert "# Written by npu.cluster (vllm-serve on node?$(touch %s)?0)" % marker in proc["script"]
    assert not os.path.exists(str(marker))


def test_hostile_names_are_refused_before_any_script():
    prof = yaml.safe_load((REPO / "profiles" / "000-a2-dsv31-w8a8-dp4.yml").read_text())
    hs = [{"name": n, "vars": {"npu_cluster_serving_ip": ip}, "facts": None}
          for n, ip in (("a", "10.0.0.1"), ("b", "10.0.0.2"))]
    bad = dict(prof, env=dict(prof["env"], **{"X=$(reboot)": "1"}))
    assert planner.plan(bad, hs)["errors"] == [
        "profile 000-a2-dsv31-w8a8-dp4: env: 'X=$(reboot)' is not a valid environment variable "
        "name (letters, digits and _, not starting with a digit)"]
    bad = dict(prof, name="x\n$(reboot)")
    assert planner.plan(bad, hs)["errors"] == [
        "profile x\n$(reboot): name: 'x\\n$(reboot)' must be letters, digits, '.', '_' or '-' "
        "(it is a file name, and it appears in scripts)"]
    hs[1]["vars"]["npu_cluster_serving_nic"] = "eth0\nreboot"
    assert planner.plan(prof, hs)["errors"] == [
        "b: npu_cluster_serving_nic='eth0\\nreboot' is not an interface name"]

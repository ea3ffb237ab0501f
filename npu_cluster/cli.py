"""`npu-cluster`: the project's command line.

    npu-cluster plan -i <inventory> [-e key=value ...] [--json]

`plan` prints what would run on each node (argv, env, ports, devices) for the deployment
profile the inventory selects, without connecting to any host: values that need a host's
facts (the NIC that owns the serving IP, the default-route address) come from inventory
variables or are shown as marked unknowns.  Exit code 0 when the plan has no errors, 1 when it
has (they are printed), 2 on usage errors.
"""
import argparse
import json
import sys
from pathlib import Path

import yaml

SERVING_GROUP = "npu_nodes"


def _collection():
    """The npu.cluster collection this CLI runs: the checkout (through the editable install or
    ./collections) or the copy the wheel installs in site-packages/ansible_collections."""
    try:
        from ansible_collections.npu.cluster.plugins.plugin_utils import planner
    except ImportError:
        raise SystemExit("npu-cluster: the npu.cluster collection is not importable; install "
                         "this package with pip (it carries the collection)")
    return planner, Path(planner.__file__).resolve().parents[2]


def _profiles_dir():
    return _collection()[1] / "profiles"


def parse_extra_vars(items):
    """-e key=value [key=value ...], -e '{"json": 1}', -e @file.yml, like ansible-playbook."""
    out = {}
    for item in items or []:
        item = item.strip()
        if item.startswith("@"):
            data = yaml.safe_load(Path(item[1:]).read_text()) or {}
        elif item.startswith("{"):
            data = json.loads(item)
        else:
            data = {}
            for pair in item.split():
                key, sep, value = pair.partition("=")
                if not sep:
                    raise SystemExit("npu-cluster: -e %r: expected key=value" % pair)
                data[key] = yaml.safe_load(value) if value else ""
        out.update(data)
    return out


def resolve_profile(value, base=None):
    """A profile name (profiles/<name>.yml) or a path to a profile file -> (path, dict)."""
    profiles = _profiles_dir()
    if not value:
        raise SystemExit("npu-cluster: no profile: set npu_cluster_profile in the inventory's "
                         "group_vars or pass -e npu_cluster_profile=<name>; shipped profiles: "
                         + ", ".join(sorted(p.stem for p in profiles.glob("*.yml"))))
    text = str(value)
    candidates = [Path(text)] if ("/" in text or text.endswith((".yml", ".yaml"))) else []
    if base:
        candidates.append(Path(base) / text)
    candidates.append(profiles / (text + ".yml"))
    for path in candidates:
        if path.is_file():
            return path, yaml.safe_load(path.read_text())
    raise SystemExit("npu-cluster: profile %r not found (looked at %s); shipped profiles: %s" % (
        text, ", ".join(str(c) for c in candidates),
        ", ".join(sorted(p.stem for p in profiles.glob("*.yml")))))


def inventory_hostvars(inventory, extra_vars):
    """(ordered serving hosts, {host: vars}) from an Ansible inventory, without connecting."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager
    from ansible import context
    from ansible.module_utils.common.collections import ImmutableDict

    context.CLIARGS = ImmutableDict(extra_vars=[])
    loader = DataLoader()
    inv = InventoryManager(loader=loader, sources=[str(inventory)])
    variables = VariableManager(loader=loader, inventory=inv)
    variables._extra_vars = dict(extra_vars)
    group = extra_vars.get("npu_cluster_serving_group", SERVING_GROUP)
    hosts = inv.get_hosts(pattern=group)
    if not hosts:
        raise SystemExit("npu-cluster: inventory %s has no hosts in group %s" % (inventory, group))
    out = {}
    for host in hosts:
        hv = variables.get_vars(host=host, include_hostvars=False)
        out[host.name] = _plain(hv)
    return [h.name for h in hosts], out


def _plain(value):
    """Template-free plain data (inventory values may be AnsibleUnicode etc.)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return value
    return str(value)


def cmd_plan(args):
    planner = _collection()[0]
    extra = parse_extra_vars(args.extra_vars)
    hosts, hostvars = inventory_hostvars(args.inventory, extra)
    name = extra.get("npu_cluster_profile") or hostvars[hosts[0]].get("npu_cluster_profile")
    path, profile = resolve_profile(name, base=Path(args.inventory).resolve().parent
                                    if Path(args.inventory).is_file()
                                    else Path(args.inventory).resolve())
    # the playbooks' own filter; without gathered facts every host's facts are None
    from ansible_collections.npu.cluster.plugins.filter.serving import serving_plan
    result = serving_plan(hostvars, profile, hosts)
    result["profile_path"] = str(path)
    if args.json:
        hosts = {h: {"role": e["role"], "processes": [
            {k: p[k] for k in ("name", "argv", "env", "ports", "devices")}
            for p in e["processes"]]} for h, e in result["hosts"].items()}
        out = {"hosts": hosts, "errors": result["errors"], "warnings": result["warnings"],
               "unknowns": result["unknowns"], "profile": result["profile"],
               "endpoint": result.get("endpoint"), "stages": result["stages"]}
        print(json.dumps(out, indent=2))
    else:
        sys.stdout.write(planner.render_text(result))
    return 1 if result["errors"] else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="npu-cluster",
                                     description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    plan = sub.add_parser("plan", help="print what would run on each node (no host contacted)")
    plan.add_argument("-i", "--inventory", required=True, help="inventory file or directory")
    plan.add_argument("-e", "--extra-vars", action="append", default=[],
                      help="key=value, JSON or @file, like ansible-playbook -e")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    args = parser.parse_args(argv)
    if args.verb == "plan":
        return cmd_plan(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())

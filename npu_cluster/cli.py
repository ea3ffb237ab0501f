"""`npu-cluster`: the project's command line.

    npu-cluster plan -i <inventory> [-e key=value ...] [--json]

`plan` prints what would run on each node (processes with their argv, env, ports, devices,
the launch stages and the endpoint) for the deployment profile the inventory selects, without
connecting to any host: values that need a host's facts (the NIC that owns the serving IP, the
default-route address) come from inventory variables or are shown as marked unknowns.  With
--json it prints the plan itself, the format the roles consume
(plugins/plugin_utils/schemas/plan.schema.json).  Exit code 0 when the plan has no errors, 1
when it has (they are printed), 2 on usage errors.
"""
import argparse
import json
import os
import sys
from pathlib import Path

SERVING_GROUP = "npu_nodes"


def _collection():
    """The npu.cluster collection this CLI runs: the checkout (through the editable install or
    ./collections) or the copy the wheel installs in site-packages/ansible_collections."""
    try:
        from ansible_collections.npu.cluster.plugins.filter import serving
    except ImportError:
        raise SystemExit("npu-cluster: the npu.cluster collection is not importable; install "
                         "this package with pip (it carries the collection)")
    return serving, Path(serving.__file__).resolve().parents[2]


def _profiles_dir():
    return _collection()[1] / "profiles"


def inventory_hostvars(inventory, extra_vars):
    """(ordered serving hosts, {host: vars}, extra vars) from an Ansible inventory, without
    connecting; -e is parsed by Ansible's own extra-vars parser (key=value, JSON/YAML, @file)."""
    from ansible import context
    from ansible.inventory.manager import InventoryManager
    from ansible.module_utils.common.collections import ImmutableDict
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager
    from ansible.errors import AnsibleError

    context.CLIARGS = ImmutableDict(extra_vars=tuple(extra_vars or ()))
    loader = DataLoader()
    try:
        inv = InventoryManager(loader=loader, sources=[str(inventory)])
        variables = VariableManager(loader=loader, inventory=inv)
        extra = dict(variables.extra_vars)
    except AnsibleError as exc:
        raise SystemExit("npu-cluster: %s" % exc)
    group = extra.get("npu_cluster_serving_group", SERVING_GROUP)
    hosts = inv.get_hosts(pattern=group)
    if not hosts:
        raise SystemExit("npu-cluster: inventory %s has no hosts in group %s" % (inventory, group))
    out = {}
    for host in hosts:
        out[host.name] = variables.get_vars(host=host, include_hostvars=False)
    return [h.name for h in hosts], out, extra


def cmd_plan(args):
    serving, _root = _collection()
    hosts, hostvars, extra = inventory_hostvars(args.inventory, args.extra_vars)
    name = extra.get("npu_cluster_profile") or hostvars[hosts[0]].get("npu_cluster_profile")
    inv_dir = os.path.dirname(os.path.abspath(args.inventory)) if os.path.isfile(args.inventory) \
        else os.path.abspath(args.inventory)
    loaded = serving.serving_profile(name, [os.path.join(inv_dir, "profiles"),
                                            str(_profiles_dir())])
    if loaded["profile"] is None:
        sys.stderr.write("npu-cluster: %s\n" % "\n".join(loaded["problems"]))
        return 2
    result = serving.serving_plan(hostvars, loaded["profile"], hosts,
                                  {"profile_file": loaded["stem"]})
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        sys.stdout.write(serving.serving_plan_text(result))
    return 1 if result["errors"] else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="npu-cluster",
                                     description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    plan = sub.add_parser("plan", help="print what would run on each node (no host contacted)")
    plan.add_argument("-i", "--inventory", required=True, help="inventory file or directory")
    plan.add_argument("-e", "--extra-vars", action="append", default=[],
                      help="key=value, JSON/YAML or @file, as ansible-playbook -e")
    plan.add_argument("--json", action="store_true",
                      help="print the plan itself (plugins/plugin_utils/schemas/plan.schema.json)")
    args = parser.parse_args(argv)
    if args.verb == "plan":
        return cmd_plan(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())

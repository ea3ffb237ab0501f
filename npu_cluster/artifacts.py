"""The run's artifacts folder index: one self-contained HTML page (no script, no network) that
shows the run's verdict at a glance and links every file the run wrote.

Layout of a run's folder (`artifacts/<UTC time>-<verb>/` by default):

    index.html                 this page
    result.json                the typed Result (npu_cluster.api.Result.to_dict())
    plan.json                  the deployment plan the roles used (deploy)
    fabric/fabric-report.html  the fabric grid (nodes x devices), and .json
    drivers/versions.txt       the cluster's version table, and versions.json
    runner/                    ansible-runner's own files (events, stdout)
"""
import html
import os

# (relative path, what it is), in the order the page lists them
FILES = [
    ("fabric/fabric-report.html", "fabric report (nodes x devices grid)"),
    ("fabric/fabric-report.json", "fabric report (JSON)"),
    ("drivers/versions.txt", "version table"),
    ("drivers/versions.json", "version table (JSON)"),
    ("plan.json", "deployment plan"),
    ("result.json", "run result (JSON)"),
    ("runner/run/stdout", "Ansible's output"),
]

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .4em}
.verdict{display:inline-block;padding:.4em 1em;border-radius:4px;font-weight:bold;color:#fff}
.ok{background:#2e7d32}.bad{background:#c62828}
table{border-collapse:collapse;margin:.8em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
tr.fail td{background:#fde0e0}
ul{margin:.3em 0}
"""


def _e(value):
    return html.escape("" if value is None else str(value))


def index_html(result, present):
    """The page for `result` (Result.to_dict()); `present`: the relative paths that exist."""
    ok = bool(result.get("ok"))
    fabric = result.get("fabric") or {}
    parts = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<title>npu-cluster %s: %s</title><style>%s</style></head><body>" % (
                 _e(result.get("verb")), "OK" if ok else _e(str(result.get("status")).upper()),
                 STYLE),
             "<h1>npu-cluster %s</h1>" % _e(result.get("verb")),
             "<p><span id=\"verdict\" class=\"verdict %s\">%s</span> in %.1f s" % (
                 "ok" if ok else "bad", "OK" if ok else "FAILED (%s)" % _e(result.get("status")),
                 float(result.get("seconds") or 0))]
    if fabric.get("verdict"):
        parts.append(" &middot; fabric <b id=\"fabric-verdict\">%s</b>" % _e(fabric["verdict"]))
    parts.append("</p>")
    failures = result.get("failures") or []
    if failures:
        parts.append("<h2>Failed</h2><ul id=\"failures\">")
        for f in failures:
            parts.append("<li><b>%s</b> %s: %s</li>" % (
                _e(f.get("host")), _e(f.get("task")), _e(f.get("message"))))
        parts.append("</ul>")
    problems = [(h, p) for h, info in sorted((fabric.get("hosts") or {}).items())
                for p in info.get("problems") or []]
    if problems:
        parts.append("<h2>Fabric problems</h2><ul id=\"fabric-problems\">")
        parts.extend("<li>%s</li>" % _e(p) for _h, p in problems)
        parts.append("</ul>")
    hosts = result.get("hosts") or {}
    if hosts:
        parts.append("<h2>Hosts</h2><table id=\"hosts\"><tr><th>host</th><th>ok</th>"
                     "<th>changed</th><th>failed</th><th>fabric</th><th>versions</th>"
                     "<th>processes</th></tr>")
        for name, h in sorted(hosts.items()):
            drivers = (h.get("drivers") or {}).get("versions") or h.get("versions") or {}
            fabric_cell = {True: "PASS", False: "FAIL", None: "-"}[h.get("fabric_passed")]
            bad = h.get("failed") or h.get("unreachable") or h.get("fabric_passed") is False
            parts.append("<tr%s><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                         "<td>%s</td><td>%s</td></tr>" % (
                             " class=\"fail\"" if bad else "", _e(name), _e(h.get("ok")),
                             _e(h.get("changed")),
                             "unreachable" if h.get("unreachable") else _e(h.get("failed")),
                             fabric_cell,
                             _e(", ".join("%s %s" % kv for kv in sorted(drivers.items()) if kv[1])),
                             _e(", ".join("%s %s" % kv for kv in sorted(
                                 (h.get("processes") or {}).items())))))
        parts.append("</table>")
    parts.append("<h2>Files</h2><ul id=\"files\">")
    for rel, text in FILES:
        if rel in present:
            parts.append("<li><a href=\"%s\">%s</a> &ndash; %s</li>" % (_e(rel), _e(rel), _e(text)))
    parts.append("</ul></body></html>\n")
    return "".join(parts)


def write_index(folder, result):
    """Write index.html into the run's folder; returns its path."""
    present = [rel for rel, _text in FILES if os.path.exists(os.path.join(folder, rel))]
    path = os.path.join(folder, "index.html")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(index_html(result, present))
    return path

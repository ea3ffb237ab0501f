"""Stand-in for vllm-ascend's examples/disaggregate[d]_prefill_v1/load_balance_proxy_server_example.py
in the lab (runbook 003): the same command line and the same request protocol, in the standard
library (the lab image has no FastAPI or httpx).

    python load_balance_proxy_server_example.py --port 8000 --host 0.0.0.0 \\
        --prefiller-hosts H [H ...] --prefiller-ports P [P ...] \\
        --decoder-hosts H [H ...] --decoder-ports P [P ...]

The v0.9.1 example (an image whose vLLM is below 0.10: NPU_LAB_VLLM_VERSION or
/etc/npu-lab-vllm/version) also takes --prefiller-hosts-num / --prefiller-ports-inc and the
decoder ones -- host i repeated num[i] times, its ports counting up from port[i] -- and the
current example refuses them, as argparse does.  Hosts and ports must pair up.

A completion goes to the prefill instance with the fewest requests in flight with
kv_transfer_params {do_remote_decode: true, ...}, stream false and max_tokens 1; the
kv_transfer_params of its answer go with the original request to the decode instance with the
fewest in flight, whose answer (streamed or not) is returned.  --max-retries and --retry-delay
are accepted as the example's command line has them, but a failed request is not retried: the
upstream error is returned (which the lab's failure tests want to see).  /v1/models asks the backends in
turn until one answers.  /healthcheck answers from the proxy's own state without asking any
backend, like the example's.
"""
import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def log(msg, level="INFO"):
    sys.stderr.write("%s %s [npu-lab pd proxy] %s\n" % (level, time.strftime("%m-%d %H:%M:%S"),
                                                        msg))
    sys.stderr.flush()


def engine_version():
    if os.environ.get("NPU_LAB_VLLM_VERSION"):
        return os.environ["NPU_LAB_VLLM_VERSION"]
    try:
        with open("/etc/npu-lab-vllm/version") as handle:
            return handle.read().strip()
    except OSError:
        return "0.33.0"


def old_form():
    parts = [int(p) for p in engine_version().split(".")[:2] if p.isdigit()]
    return tuple(parts) < (0, 10)


def parse(argv):
    parser = argparse.ArgumentParser(prog="load_balance_proxy_server_example.py")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--prefiller-hosts", nargs="+", default=["localhost"])
    parser.add_argument("--prefiller-ports", type=int, nargs="+", default=[8001])
    parser.add_argument("--decoder-hosts", nargs="+", default=["localhost"])
    parser.add_argument("--decoder-ports", type=int, nargs="+", default=[8002])
    if old_form():
        for side in ("prefiller", "decoder"):
            parser.add_argument("--%s-hosts-num" % side, type=int, nargs="+", default=None)
            parser.add_argument("--%s-ports-inc" % side, type=int, nargs="+", default=None)
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--retry-delay", type=float, default=0.001)
    args = parser.parse_args(argv)
    sides = {}
    for side in ("prefiller", "decoder"):
        hosts, ports = getattr(args, side + "_hosts"), getattr(args, side + "_ports")
        num = getattr(args, side + "_hosts_num", None)
        inc = getattr(args, side + "_ports_inc", None)
        if num is not None or inc is not None:
            num = num or [1] * len(hosts)
            inc = inc or [1] * len(ports)
            if not len(hosts) == len(num) == len(ports) == len(inc):
                parser.error("--%s-hosts, -hosts-num, -ports and -ports-inc must have the same "
                             "length" % side)
            hosts = [h for h, n in zip(hosts, num) for _i in range(n)]
            ports = [p + i for p, n in zip(ports, inc) for i in range(n)]
        if len(hosts) != len(ports):
            parser.error("Number of %s hosts must match number of %s ports" % (side, side))
        sides[side] = ["http://%s:%d" % (h, p) for h, p in zip(hosts, ports)]
    return args, sides


class Pool(object):
    """Instances of one side with their requests in flight; the least busy is chosen."""

    def __init__(self, urls):
        self.urls = list(urls)
        self.busy = dict((u, 0) for u in urls)
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            url = min(self.urls, key=lambda u: (self.busy[u], self.urls.index(u)))
            self.busy[url] += 1
            return url

    def give(self, url):
        with self.lock:
            self.busy[url] -= 1


def call(url, body, key, timeout=600):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None
                                 else None, headers=headers, method="POST" if body is not None
                                 else "GET")
    return urllib.request.urlopen(req, timeout=timeout)


def handler(pools, counter):
    key = os.environ.get("OPENAI_API_KEY")

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log("%s - %s" % (self.address_string(), fmt % args))

        def send_json(self, code, obj):
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/healthcheck":
                return self.send_json(200, {"status": "ok",
                                            "prefill_instances": len(pools["prefiller"].urls),
                                            "decode_instances": len(pools["decoder"].urls),
                                            "request_num": counter["n"]})
            if self.path == "/v1/models":
                failed = []
                for url in pools["prefiller"].urls + pools["decoder"].urls:
                    try:
                        with call(url + "/v1/models", None, key, timeout=5) as res:
                            data = res.read()
                    except (urllib.error.URLError, OSError) as exc:
                        failed.append("%s: %s" % (url, getattr(exc, "reason", exc)))
                        continue
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return None
                return self.send_json(503, {"error": "All backend instances failed to respond",
                                            "failed": failed})
            return self.send_json(404, {"detail": "Not Found"})

        def do_POST(self):
            if self.path not in ("/v1/completions", "/v1/chat/completions"):
                return self.send_json(404, {"detail": "Not Found"})
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            except ValueError:
                return self.send_json(400, {"error": "invalid JSON body"})
            counter["n"] += 1
            prefill = dict(body, stream=False, max_tokens=1, min_tokens=1,
                           kv_transfer_params={"do_remote_decode": True,
                                               "do_remote_prefill": False,
                                               "remote_engine_id": None, "remote_block_ids": None,
                                               "remote_host": None, "remote_port": None})
            prefill.pop("stream_options", None)
            if "max_completion_tokens" in body:
                prefill["max_completion_tokens"] = 1
            p_url = pools["prefiller"].take()
            try:
                with call(p_url + self.path, prefill, key) as res:
                    answer = json.loads(res.read() or b"{}")
            except urllib.error.HTTPError as exc:
                return self.upstream_error("prefill", p_url, exc.code, exc.read())
            except (urllib.error.URLError, OSError) as exc:
                return self.upstream_error("prefill", p_url, 502, str(getattr(exc, "reason",
                                                                              exc)).encode())
            finally:
                pools["prefiller"].give(p_url)
            decode = dict(body, kv_transfer_params=answer.get("kv_transfer_params"))
            d_url = pools["decoder"].take()
            try:
                with call(d_url + self.path, decode, key) as res:
                    self.send_response(res.status)
                    ctype = res.headers.get("Content-Type") or "application/json"
                    self.send_header("Content-Type", ctype)
                    if body.get("stream"):
                        self.send_header("Connection", "close")
                        self.end_headers()
                        for line in res:
                            self.wfile.write(line)
                            self.wfile.flush()
                        self.close_connection = True
                    else:
                        data = res.read()
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
            except urllib.error.HTTPError as exc:
                return self.upstream_error("decode", d_url, exc.code, exc.read())
            except (urllib.error.URLError, OSError) as exc:
                return self.upstream_error("decode", d_url, 502, str(getattr(exc, "reason",
                                                                             exc)).encode())
            finally:
                pools["decoder"].give(d_url)
            return None

        def upstream_error(self, side, url, code, data):
            text = data[:300].decode("utf-8", "replace")
            log("%s request to %s failed: HTTP %s %s" % (side, url, code, text), "ERROR")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Proxy


def main(argv=None):
    args, sides = parse(sys.argv[1:] if argv is None else argv)
    pools = dict((side, Pool(urls)) for side, urls in sides.items())
    server = ThreadingHTTPServer((args.host, args.port), handler(pools, {"n": 0}))
    server.daemon_threads = True
    log("proxy on http://%s:%d: %d prefill instances (%s), %d decode instances" % (
        args.host, args.port, len(sides["prefiller"]), ", ".join(sides["prefiller"]),
        len(sides["decoder"])))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Stand-in for the Enflame vLLM fork's `python3 -m vllm_utils.router` in the lab (runbook 004).

    python3 -m vllm_utils.router --server-urls URL [URL ...] --host HOST --port PORT --model M

Like the vendor router it forwards every request -- any path, any method, its body and its
Content-Type / Authorization headers -- to one backend, taking the backends in turn, and returns
that backend's answer; it checks no backend's health, so its own /health proves little (a
request that reaches a backend that is down answers 502).
"""
import argparse
import itertools
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def log(msg):
    sys.stderr.write("INFO %s [npu-lab router] %s\n" % (time.strftime("%m-%d %H:%M:%S"), msg))
    sys.stderr.flush()


def handler(backends):
    turn = itertools.cycle(backends)
    lock = threading.Lock()

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log("%s - %s" % (self.address_string(), fmt % args))

        def forward(self):
            with lock:
                backend = next(turn)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = dict((k, v) for k, v in self.headers.items()
                           if k.lower() in ("content-type", "authorization", "accept"))
            req = urllib.request.Request(backend.rstrip("/") + self.path, data=body,
                                         headers=headers, method=self.command)
            try:
                with urllib.request.urlopen(req, timeout=600) as res:
                    status, data, ctype = res.status, res.read(), res.headers.get("Content-Type")
            except urllib.error.HTTPError as exc:
                status, data, ctype = exc.code, exc.read(), exc.headers.get("Content-Type")
            except (urllib.error.URLError, OSError) as exc:
                status, ctype = 502, "application/json"
                data = ('{"error": "backend %s: %s"}' % (backend, getattr(exc, "reason", exc))
                        ).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype or "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = forward

    return Forward


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m vllm_utils.router")
    ap.add_argument("--server-urls", nargs="+", required=True)
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--model", required=True)
    args = ap.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), handler(args.server_urls))
    server.daemon_threads = True
    log("routing %s on http://%s:%d to %d servers: %s" % (
        args.model, args.host, args.port, len(args.server_urls), " ".join(args.server_urls)))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Uploads held at once by ``hwocr serve``: many clients each send all but the last byte of a large
multipart upload, hold it, then finish it. The server takes a place for a request before reading its
body, so only workers + queue uploads are read and held; the others get a JSON 503 from their headers.

    python benchmarks/bench_held_uploads.py [--clients 250] [--addresses 4] [--mb 10]

Prints the answers by status line and the server's RSS: before, while the uploads are held, and the peak
while they are answered (random bytes: the admitted ones get a 400, not an image). Loopback only; the
client addresses 127.0.0.1-N keep under the per-address connection limit.
"""

from __future__ import annotations

import argparse
import collections
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import RssSampler, free_port, rss_mb, stop_server, wait_healthy  # noqa: E402
import _bench_common as bc  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=250)
    ap.add_argument("--addresses", type=int, default=4)
    ap.add_argument("--mb", type=float, default=10.0)
    a = ap.parse_args()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hwocr", "serve", "--port", str(port), "--lang-preload", "zh"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid, every=0.05)
    sampler.start()
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", 120)
        before = rss_mb(proc.pid)
        data = os.urandom(int(a.mb * 1024 * 1024) - 1024)
        body = (b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
                b"Content-Type: image/png\r\n\r\n" + data + b"\r\n--B--\r\n")
        head = (f"POST /v1/page HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        socks = []
        for i in range(a.clients):
            s = socket.socket()
            s.bind((f"127.0.0.{1 + i % a.addresses}", 0))
            s.connect(("127.0.0.1", port))
            try:
                s.sendall(head + body[:-1])
            except OSError:  # refused at its headers and closed while sending: the answer is still there
                pass
            socks.append(s)
        time.sleep(3)
        held = rss_mb(proc.pid)
        codes: collections.Counter = collections.Counter()
        for s in socks:
            try:
                s.sendall(body[-1:])
            except OSError:
                pass
        for s in socks:
            s.settimeout(60)
            try:
                codes[s.recv(200).split(b"\r\n")[0].decode(errors="replace") or "closed"] += 1
            except OSError as e:
                codes[type(e).__name__] += 1
            s.close()
        time.sleep(0.5)
        peak = max((r for _, r in sampler.samples), default=held)
        print(f"CPU: {bc.machine().get('cpu')}")
        print(f"{a.clients} clients x {a.mb:g} MB multipart from {a.addresses} addresses: {dict(codes)}")
        print(f"server RSS: before {before:.0f} MB, holding {held:.0f} MB, peak {peak:.0f} MB")
    finally:
        stop_server(proc, sampler, 10)


if __name__ == "__main__":
    main()

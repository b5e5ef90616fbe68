"""Load test of ``hwocr serve`` over loopback: latency, throughput, errors and server memory.

Starts ``python -m hwocr serve`` on 127.0.0.1 and a free port, warms it up, then ``--concurrency`` clients
(one asyncio task each, keep-alive connections) post the same line image to /v1/line until ``--requests``
requests are done (or ``--duration`` seconds pass). Every response must be 200 with the same text as the
warm-up's: anything else counts as an error. The server's RSS is sampled from /proc every 0.25 s.

    python benchmarks/bench_server.py [--requests 10000] [--concurrency 8] [--workers N] [--image samples/zh-line.png]
                                      [--top-k 0] [--json]

Only loopback traffic. The clients run on the same machine as the server and take CPU from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        t0 = time.monotonic()
        while not self.stop.is_set():
            r = rss_mb(self.pid)
            if r is not None:
                self.samples.append((time.monotonic() - t0, r))
            self.stop.wait(self.every)


def stop_server(proc: subprocess.Popen, sampler: "RssSampler", wait_s: float) -> None:
    """Stop sampling, then the server ``proc`` (killed if it has not exited after ``wait_s``)."""
    sampler.stop.set()
    proc.terminate()
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_healthy(proc: subprocess.Popen, url: str, limit_s: float) -> None:
    """Wait until the server ``proc`` answers /healthz with 200 (SystemExit if it exits or takes too long)."""
    t = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() - t > limit_s:
            raise SystemExit(f"server did not start within {limit_s:g} s")
        time.sleep(0.1)


def default_image() -> bytes:
    sample = ROOT / "samples" / "zh-line.png"
    if sample.exists():
        return sample.read_bytes()
    import io

    import cv2
    import numpy as np
    from PIL import Image

    img = np.full((64, 192, 3), 255, np.uint8)
    for k, strokes in enumerate([[(8, 29, 56, 29), (32, 6, 32, 58)], [(16, 19, 48, 19), (8, 46, 56, 46)]]):
        for x0, y0, x1, y1 in strokes:
            cv2.line(img, (k * 64 + x0, y0), (k * 64 + x1, y1), (0, 0, 0), 5, cv2.LINE_AA)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))
    return xs[k]


async def load(url: str, image: bytes, n: int, concurrency: int, duration: float, params: dict, expect: str):
    lat: list[float] = []
    errors: dict[str, int] = {}
    done = 0
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        async def worker():
            nonlocal done
            while done < n and time.monotonic() < deadline:
                done += 1
                t = time.perf_counter()
                try:
                    r = await client.post("/v1/line", params=params, content=image,
                                          headers={"Content-Type": "image/png"})
                    ok = r.status_code == 200 and r.json().get("text") == expect
                    key = None if ok else f"HTTP {r.status_code}" if r.status_code != 200 else "wrong text"
                except httpx.HTTPError as e:
                    key = type(e).__name__
                lat.append((time.perf_counter() - t) * 1000)
                if key:
                    errors[key] = errors.get(key, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        wall = time.perf_counter() - t0
    return lat, errors, wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--duration", type=float, default=1800, help="stop after this many seconds at most")
    ap.add_argument("--workers", type=int, default=None, help="server recognition threads (default: its own)")
    ap.add_argument("--image", type=Path, default=None, help="line image to post (default: samples/zh-line.png)")
    ap.add_argument("--lang", default="zh")
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    image = a.image.read_bytes() if a.image else default_image()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "hwocr", "serve", "--host", "127.0.0.1", "--port", str(port), "--lang-preload", a.lang,
           "--log-level", "warning", "--max-queue", str(max(64, a.concurrency * 2)),
           # every client here is one address: let it hold all the connections it opens
           "--max-connections", str(max(256, a.concurrency + 8)),
           "--max-connections-per-client", str(max(256, a.concurrency + 8))]
    if a.workers:
        cmd += ["--workers", str(a.workers)]
    t_start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid)
    sampler.start()
    try:
        wait_healthy(proc, url, 120)
        startup_s = time.monotonic() - t_start
        params = {"lang": a.lang, "top_k": a.top_k}
        warm = [httpx.post(f"{url}/v1/line", params=params, content=image, headers={"Content-Type": "image/png"},
                           timeout=60) for _ in range(20)]
        if any(r.status_code != 200 for r in warm):
            raise SystemExit(f"warm-up failed: {warm[-1].status_code} {warm[-1].text[:200]}")
        expect = warm[0].json()["text"]
        rss_start = rss_mb(proc.pid)
        n_before = len(sampler.samples)
        lat, errors, wall = asyncio.run(load(url, image, a.requests, a.concurrency, a.duration, params, expect))
        rss_end = rss_mb(proc.pid)
        health = httpx.get(f"{url}/healthz", timeout=10).json()
    finally:
        stop_server(proc, sampler, 15)
    rss = [r for _, r in sampler.samples]
    load_rss = rss[n_before:]
    n = len(lat)
    out = {
        "requests": n,
        "concurrency": a.concurrency,
        "server_workers": health.get("workers"),
        "cpus": os.cpu_count(),
        "image_bytes": len(image),
        "text": expect,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "wall_s": round(wall, 2),
        "throughput_rps": round(n / wall, 1) if wall else None,
        "latency_ms": {"p50": round(pct(lat, 50), 1), "p90": round(pct(lat, 90), 1), "p99": round(pct(lat, 99), 1),
                       "max": round(max(lat), 1) if lat else None,
                       "mean": round(statistics.fmean(lat), 1) if lat else None},
        "server_startup_s": round(startup_s, 2),
        "rss_mb": {"after_warmup": round(rss_start or 0, 1), "end": round(rss_end or 0, 1),
                   "max": round(max(rss), 1) if rss else None, "samples": len(rss),
                   "growth": round((rss_end or 0) - (rss_start or 0), 1),
                   # RSS at 25/50/75/100 % of the load phase: flat after the first quarter = no leak
                   "quartiles": [round(load_rss[min(len(load_rss) - 1, len(load_rss) * q // 4)], 1)
                                 for q in (1, 2, 3, 4)] if load_rss else []},
    }
    if a.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        L, R = out["latency_ms"], out["rss_mb"]
        print(f"{n} requests ({a.concurrency} clients, {out['server_workers']} server threads, {out['cpus']} CPUs) "
              f"in {out['wall_s']} s: {out['throughput_rps']} req/s, errors {out['errors']} {errors or ''}")
        print(f"latency ms: p50 {L['p50']}  p90 {L['p90']}  p99 {L['p99']}  max {L['max']}  (text {expect!r})")
        print(f"server RSS MB: after warm-up {R['after_warmup']}  end {R['end']}  max {R['max']}  "
              f"growth {R['growth']}  at 25/50/75/100% of the run {R['quartiles']}  (startup {out['server_startup_s']} s)")
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

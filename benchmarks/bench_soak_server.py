"""Memory soak of ``hwocr serve``: many *distinct* lines and pages of varied size, mixed with hostile inputs.

Posting one image over and over (``bench_server.py``) hides what grows with distinct input shapes
(OpenVINO keeps compiled kernels per shape). This benchmark:

1. renders a pool of handwriting-like lines with ``scripts/make_samples.py`` (random GB2312 level-1
   hanzi / kana and JIS level-1 kanji, 1 to 24 characters; its stroke data must be fetched once, see
   that script), plus, with ``--eval DIR``, the real handwriting of ``DIR/zh-lines`` and ``DIR/zh-chars``
   read at run time (measuring only);
2. makes every request distinct: each line is rescaled (height 24 to 160 px), padded and saved as PNG
   or JPEG, so nearly every request has its own width; pages (``--pages`` of them) are composed from pool
   lines on paper of random size (500 to 2400 px a side) with ``compose_pages.degrade`` (JPEG);
3. mixes in the hostile inputs of issue 12 (``--hostile`` of them): the 59-byte looping EPS, the 86-byte
   2000x4 PNG, a 6000x6000 blank PNG (4 KB), a PNG header claiming 50 gigapixels, a truncated PNG, text;
   each must get its 4xx, never a 5xx;
4. starts ``hwocr serve`` on 127.0.0.1, warms it up with other distinct requests of every kind (both
   languages and decoders; ``--warmup-lines``, ``--warmup-pages``: enough to meet the bounded set of
   compiled shapes), then sends everything from ``--concurrency`` clients in a random order, sampling
   the server's RSS.

    python benchmarks/bench_soak_server.py [--requests 10000] [--pages 150] [--hostile 150] [--concurrency 4]
                                           [--eval ../shared/eval] [--duration 900] [--json]

It reports the RSS after warm-up -> end (and at each quarter), 5xx and other unexpected answers, and
p50/p99 latency per kind. Only loopback traffic; the clients share the machine with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import httpx
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_server import RssSampler, free_port, pct, rss_mb, stop_server, wait_healthy  # noqa: E402
from compose_pages import degrade, paste, trim  # noqa: E402

EPS_LOOP = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 64\n{ } loop\n"


# -- inputs ----------------------------------------------------------------------------------------------------
def render_pool(n: int, deps: Path, rng: random.Random) -> list[np.ndarray]:
    """``n`` rendered lines (gray, ink on white), half zh, half ja."""
    import make_samples as ms

    from first_char_prior import pool as charset

    sources = {"zh": (ms.HanziWriterData(deps), charset("zh")),
               "ja": (ms.KanjiVG(deps), charset("ja-kana") * 8 + charset("ja"))}  # about as much kana as kanji
    pool = []
    for k in range(n):
        src, chars = sources["zh" if k % 2 == 0 else "ja"]
        text = ""
        while len(text) < rng.randint(1, 24):
            ch = rng.choice(chars)
            try:
                src.strokes(ch)
            except KeyError:
                continue
            text += ch
        img = ms.render_line(text, src, rng.randrange(1 << 30))
        pool.append(np.asarray(img.convert("L")))
    return pool


def eval_pool(folder: Path, limit: int) -> list[np.ndarray]:
    out = []
    for sub in ("zh-lines", "zh-chars"):
        d = folder / sub
        if d.is_dir():
            for p in sorted(d.glob("*"))[:limit]:
                if p.suffix.lower() in (".png", ".jpg", ".jpeg"):
                    out.append(np.asarray(Image.open(p).convert("L")))
    return out


def encode(gray: np.ndarray, rng: random.Random) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if rng.random() < 0.3:
        Image.fromarray(gray).save(buf, "JPEG", quality=rng.randint(70, 95))
        return buf.getvalue(), "image/jpeg"
    Image.fromarray(gray).save(buf, "PNG")
    return buf.getvalue(), "image/png"


def line_request(pool: list[np.ndarray], rng: random.Random) -> tuple[bytes, str]:
    img = pool[rng.randrange(len(pool))]
    h = rng.randint(24, 160)
    w = max(8, round(img.shape[1] * h / img.shape[0] * rng.uniform(0.85, 1.15)))
    im = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if h < img.shape[0] else cv2.INTER_CUBIC)
    pad = [rng.randint(0, h // 3) for _ in range(4)]
    im = cv2.copyMakeBorder(im, pad[0], pad[1], pad[2], pad[3], cv2.BORDER_CONSTANT, value=int(rng.uniform(235, 255)))
    return encode(im, rng)


def page_request(pool: list[np.ndarray], rng: random.Random) -> tuple[bytes, str]:
    W, H = rng.randint(500, 2400), rng.randint(500, 2400)
    page = np.full((H, W), 255, np.uint8)
    y = rng.randint(30, 120)
    for _ in range(rng.randint(1, 10)):
        im = trim(pool[rng.randrange(len(pool))])
        h = rng.randint(30, 90)
        w = max(4, round(im.shape[1] * h / max(1, im.shape[0])))
        if w > W - 60:
            h, w = max(8, round(h * (W - 60) / w)), W - 60
        if y + h > H - 30:
            break
        im = cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA)
        paste(page, im, rng.randint(20, max(21, W - 20 - w)), y)
        y += h + rng.randint(20, 80)
    rgb, _ = degrade(page, rng, rng.uniform(-1.5, 1.5))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=rng.randint(75, 95))  # a noisy page as PNG can pass 10 MB
    return buf.getvalue(), "image/jpeg"


def hostile_inputs() -> list[tuple[str, str, bytes, str, set[int]]]:
    """(name, path, body, content type, the acceptable statuses)."""
    def png_of(w, h):
        buf = io.BytesIO()
        Image.new("L", (w, h), 255).save(buf, "PNG", optimize=True)
        return buf.getvalue()

    small = png_of(8, 8)
    ihdr = struct.pack(">IIBBBBB", 250_000, 200_000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    bomb = small[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF) + small[33:]
    line = png_of(400, 60)
    big = png_of(6000, 6000)
    out = []
    for path in ("/v1/line", "/v1/page"):
        out += [
            ("eps", path, EPS_LOOP, "application/octet-stream", {400}),
            ("strip-2000x4", path, png_of(2000, 4), "image/png", {413} if path == "/v1/line" else {200}),
            ("blank-6000x6000", path, big, "image/png", {413} if path == "/v1/line" else {200}),
            ("bomb-header", path, bomb, "image/png", {413}),
            ("truncated", path, line[: len(line) // 2], "image/png", {400}),
            ("text", path, b"hello, not an image", "application/octet-stream", {400}),
        ]
    return out


# -- load ------------------------------------------------------------------------------------------------------
async def run_load(url: str, items: list[dict], concurrency: int, duration: float):
    lat: dict[str, list[float]] = {}
    bad: dict[str, int] = {}
    n5xx = 0
    it = iter(items)
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    done = 0
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        async def worker():
            nonlocal n5xx, done
            for item in it:
                if time.monotonic() > deadline:
                    return
                t = time.perf_counter()
                try:
                    r = await client.post(item["path"], params=item["params"], content=item["body"],
                                          headers={"Content-Type": item["ctype"]})
                    status = r.status_code
                    ok = status in item["ok"] and (status < 400 or set(r.json()) == {"error"})
                except httpx.HTTPError as e:
                    status, ok = type(e).__name__, False
                lat.setdefault(item["kind"], []).append((time.perf_counter() - t) * 1000)
                done += 1
                if isinstance(status, int) and status >= 500:
                    n5xx += 1
                if not ok:
                    key = f"{item['kind']}:{status}"
                    bad[key] = bad.get(key, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        wall = time.perf_counter() - t0
    return lat, bad, n5xx, done, wall


def build_items(pool, n_lines: int, n_pages: int, n_hostile: int, rng: random.Random) -> list[dict]:
    items = []
    for _ in range(n_lines):
        body, ctype = line_request(pool, rng)
        params = {"lang": rng.choice(["zh", "ja"]), "decoder": rng.choice(["beam", "beam", "greedy"])}
        items.append({"kind": "line", "path": "/v1/line", "body": body, "ctype": ctype, "params": params, "ok": {200}})
    for _ in range(n_pages):
        body, ctype = page_request(pool, rng)
        items.append({"kind": "page", "path": "/v1/page", "body": body, "ctype": ctype,
                      "params": {"lang": rng.choice(["zh", "ja"])}, "ok": {200}})
    hostile = hostile_inputs()
    for k in range(n_hostile):
        name, path, body, ctype, ok = hostile[k % len(hostile)]
        items.append({"kind": f"hostile", "name": name, "path": path, "body": body, "ctype": ctype,
                      "params": {"lang": "zh"}, "ok": ok})
    rng.shuffle(items)
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=10_000, help="line requests (all distinct)")
    ap.add_argument("--pages", type=int, default=150, help="page requests (all distinct sizes)")
    ap.add_argument("--hostile", type=int, default=150, help="hostile requests (cycling through the issue's inputs)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--warmup-lines", type=int, default=600,
                    help="distinct lines sent before the RSS baseline (enough to meet every width bucket and batch)")
    ap.add_argument("--warmup-pages", type=int, default=60, help="pages sent before the baseline (detector sizes)")
    ap.add_argument("--pool", type=int, default=300, help="lines rendered by make_samples.py")
    ap.add_argument("--deps", type=Path, default=ROOT / "build" / "sample-deps", help="make_samples.py stroke data")
    ap.add_argument("--eval", type=Path, default=None, help="also use DIR/zh-lines and DIR/zh-chars (measuring only)")
    ap.add_argument("--duration", type=float, default=900, help="stop the load after this many seconds")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)

    t = time.monotonic()
    pool = render_pool(a.pool, a.deps, rng)
    if a.eval:
        pool += eval_pool(a.eval, 200)
    items = build_items(pool, a.requests, a.pages, a.hostile, rng)
    warm = build_items(pool, a.warmup_lines, a.warmup_pages, len(hostile_inputs()), random.Random(a.seed + 1))
    prep_s = time.monotonic() - t
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "hwocr", "serve", "--port", str(port), "--lang-preload", "zh,ja", "--log-level",
           "warning", "--max-queue", str(max(64, a.concurrency * 4)), "--timeout", "120",
           "--max-connections-per-client", str(max(64, a.concurrency + 8))]  # every client is one address
    if a.workers:
        cmd += ["--workers", str(a.workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid, every=1.0)
    sampler.start()
    try:
        wait_healthy(proc, url, 180)
        _, warm_bad, warm_5xx, _, _ = asyncio.run(run_load(url, warm, a.concurrency, 600))
        rss_start = rss_mb(proc.pid)
        n_before = len(sampler.samples)
        lat, bad, n5xx, done, wall = asyncio.run(run_load(url, items, a.concurrency, a.duration))
        rss_end = rss_mb(proc.pid)
        health = httpx.get(f"{url}/healthz", timeout=10)
    finally:
        stop_server(proc, sampler, 60)
    rss = [r for _, r in sampler.samples][n_before:]
    out = {
        "sent": done, "planned": len(items), "lines": a.requests, "pages": a.pages, "hostile": a.hostile,
        "pool": len(pool), "concurrency": a.concurrency, "cpus": os.cpu_count(), "prep_s": round(prep_s, 1),
        "wall_s": round(wall, 1), "throughput_rps": round(done / wall, 1) if wall else None,
        "5xx": n5xx, "unexpected": bad, "warmup_unexpected": warm_bad, "warmup_5xx": warm_5xx,
        "healthz_after": health.status_code,
        "latency_ms": {k: {"n": len(v), "p50": round(pct(v, 50), 1), "p99": round(pct(v, 99), 1),
                           "max": round(max(v), 1)} for k, v in sorted(lat.items())},
        "rss_mb": {"after_warmup": round(rss_start or 0, 1), "end": round(rss_end or 0, 1),
                   "max": round(max(rss), 1) if rss else None,
                   "growth_pct": round(100 * ((rss_end or 0) / (rss_start or 1) - 1), 1),
                   "quarters": [round(rss[min(len(rss) - 1, len(rss) * q // 4)], 1) for q in (1, 2, 3, 4)] if rss else []},
    }
    if a.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        R = out["rss_mb"]
        print(f"{done}/{len(items)} requests ({a.requests} distinct lines, {a.pages} pages, {a.hostile} hostile; "
              f"{a.concurrency} clients, {out['cpus']} CPUs) in {out['wall_s']} s: {out['throughput_rps']} req/s")
        print(f"5xx: {n5xx}  unexpected answers: {bad or 'none'}  (warm-up: {warm_bad or 'none'})  "
              f"/healthz after: {out['healthz_after']}")
        for k, v in out["latency_ms"].items():
            print(f"  {k:8s} n={v['n']:5d}  p50 {v['p50']:8.1f} ms  p99 {v['p99']:8.1f} ms  max {v['max']:8.1f} ms")
        print(f"server RSS MB: after warm-up {R['after_warmup']} -> end {R['end']} ({R['growth_pct']:+.1f}%), "
              f"max {R['max']}, at each quarter {R['quarters']}")
    return 1 if n5xx or bad else 0


if __name__ == "__main__":
    sys.exit(main())

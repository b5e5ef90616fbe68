#!/usr/bin/env python3
"""``hwocr batch`` throughput: pages/s with 1 and 2 workers (local Dask cluster, or --address) and
the local-process runner, against a plain loop of ``Reader.read_page`` over the same pages.

The pages are composed from the bundled samples (``samples/*.png``: no evaluation data), each with
``--lines`` handwriting-like lines at random crops and scales on an A5-like canvas::

    python benchmarks/bench_batch.py --pages 60 --rounds 2
    python benchmarks/bench_batch.py --address tcp://HOST:8786      # an existing cluster instead

Each configuration runs ``hwocr batch`` in its own process into a fresh output folder (so start-up,
model loading on every worker and commits are included) and reports the median over rounds,
interleaved; the plain loop runs in its own process too, models loaded before the clock starts
(``--loop-with-load`` adds the load)."""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def _line(rng: np.random.Generator, src: Image.Image, scale: float) -> Image.Image:
    w, h = src.size
    a = int(rng.integers(0, w // 3))
    b = int(rng.integers(a + w // 3, w + 1))
    part = src.crop((a, 0, b, h))
    return part.resize((max(8, round(part.width * scale)), max(8, round(h * scale))), Image.Resampling.LANCZOS)


def compose_page(seed: int, size: tuple[int, int] = (640, 224), lines: int = 2) -> Image.Image:
    """A page of ``lines`` crops of the sample lines (zh and ja alternating), distinct for each seed."""
    rng = np.random.default_rng(seed)
    srcs = [Image.open(SAMPLES / "zh-line.png").convert("RGB"), Image.open(SAMPLES / "ja-line.png").convert("RGB")]
    page = Image.new("RGB", size, (248, 247, 243))
    slot = size[1] // lines
    for j in range(lines):
        ln = _line(rng, srcs[(seed + j) % 2], float(rng.uniform(0.5, 0.75)))
        ln = ln.crop((0, 0, min(ln.width, size[0] - 24), ln.height))
        x = int(rng.integers(8, max(9, size[0] - ln.width - 8)))
        y = j * slot + int(rng.integers(4, max(5, slot - ln.height - 4)))
        page.paste(ln, (x, y))
    return page


def compose_archive(folder: Path, good: int = 30, size: tuple[int, int] = (640, 224), lines: int = 2,
                    bad: bool = True) -> list[Path]:
    """``good`` single-page files (PNG, every fifth JPEG), a 3-page TIFF, a 2-page PDF and, with
    ``bad``, 3 truncated PNGs, a text file named .png and a broken PDF: good + 5 (+ 5) pages."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(good):
        f = folder / (f"p{k:03d}.jpg" if k % 5 == 4 else f"p{k:03d}.png")
        compose_page(k, size, lines).save(f, quality=92) if f.suffix == ".jpg" else compose_page(k, size, lines).save(f)
        files.append(f)
    tif = [compose_page(1000 + k, size, lines) for k in range(3)]
    tif[0].save(folder / "multi.tif", save_all=True, append_images=tif[1:])
    pdf = [compose_page(2000 + k, size, lines) for k in range(2)]
    pdf[0].save(folder / "doc.pdf", save_all=True, append_images=pdf[1:], resolution=200.0)
    files += [folder / "multi.tif", folder / "doc.pdf"]
    if bad:
        for k in range(3):
            buf = io.BytesIO()
            compose_page(3000 + k, size, lines).save(buf, format="PNG")
            data = buf.getvalue()
            (folder / f"truncated{k}.png").write_bytes(data[: len(data) * (k + 2) // 6])
        (folder / "notes.png").write_text("this is not an image\n")
        (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n% not really\n")
        files += [folder / f"truncated{k}.png" for k in range(3)] + [folder / "notes.png", folder / "broken.pdf"]
    return files


LOOP = """
import json, sys, time
from pathlib import Path
from hwocr import Reader
from hwocr.batch.inputs import count_pages
files = sorted(Path(sys.argv[1]).iterdir())
t0 = time.perf_counter()
reader = Reader(lang="zh"); reader.detector("ppocr")
t1 = time.perf_counter()
n = 0
for f in files:
    for i in range(count_pages(str(f))):
        reader.read_page(str(f), page=i); n += 1
t2 = time.perf_counter()
print(json.dumps({"pages": n, "steady_s": t2 - t1, "load_s": t1 - t0}))
"""


def _cpu() -> float:
    """CPU seconds of this process's finished children (and theirs): robust to a shared machine."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_loop(folder: Path) -> dict:
    t, c = time.perf_counter(), _cpu()
    p = subprocess.run([sys.executable, "-c", LOOP, str(folder)], capture_output=True, text=True, check=True)
    d = json.loads(p.stdout)
    return {"pages": d["pages"], "wall_s": time.perf_counter() - t, "steady_s": d["steady_s"], "cpu_s": _cpu() - c}


def run_batch(folder: Path, runner: str, workers: int, address: str | None) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "hwocr", "batch", str(folder), "-o", out, "--json", "--runner", runner,
               "--workers", str(workers), "--no-progress"] + (["--address", address] if address else [])
        t, c = time.perf_counter(), _cpu()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - t, _cpu() - c
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    s = json.loads(p.stdout)
    return {"pages": s["read"], "wall_s": wall, "steady_s": s["seconds"], "cpu_s": cpu}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=30, help="single-page files to compose (plus a 3-page TIFF and a 2-page PDF)")
    ap.add_argument("--lines", type=int, default=6, help="lines per page")
    ap.add_argument("--size", type=int, nargs=2, default=(1024, 720), metavar=("W", "H"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--address", help="an existing Dask cluster: its workers replace the local 1/2-worker runs")
    ap.add_argument("--no-local", action="store_true", help="skip the local-process runner")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pages"
        compose_archive(folder, a.pages, tuple(a.size), a.lines, bad=False)
        configs: list[tuple[str, object]] = [("plain loop of Reader.read_page", lambda: run_loop(folder))]
        if a.address:
            configs.append((f"dask --address {a.address}", lambda: run_batch(folder, "dask", 1, a.address)))
        else:
            for w in (1, 2):
                configs.append((f"dask local cluster, {w} worker{'s' * (w > 1)}",
                                lambda w=w: run_batch(folder, "dask", w, None)))
        if not a.no_local:
            for w in (1, 2):
                configs.append((f"local processes, {w}", lambda w=w: run_batch(folder, "local", w, None)))
        got: dict[str, list[dict]] = {name: [] for name, _ in configs}
        for _ in range(a.rounds):  # interleaved rounds
            for name, fn in configs:
                got[name].append(fn())
    med = {name: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "steady_s", "cpu_s")} | {"pages": rs[0]["pages"]}
           for name, rs in got.items()}
    loop = med["plain loop of Reader.read_page"]
    print(f"{loop['pages']} pages ({a.size[0]}x{a.size[1]}, {a.lines} lines), median of {a.rounds} interleaved rounds")
    print("| configuration | pages/s (steady) | pages/s (whole command) | steady time vs plain loop "
          "| CPU s/page (whole command) | CPU vs plain loop |")
    print("|---|---|---|---|---|---|")
    for name, m in med.items():
        print(f"| {name} | {m['pages'] / m['steady_s']:.2f} | {m['pages'] / m['wall_s']:.2f} | "
              f"{m['steady_s'] / loop['steady_s']:.2f}x | {m['cpu_s'] / m['pages']:.3f} | "
              f"{m['cpu_s'] / loop['cpu_s']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

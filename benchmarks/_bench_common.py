"""Shared helpers of the line benchmarks: the evaluation lines, the random-weight OMZ graph, and
running one measurement in a child process (so each engine's peak RSS is its own).

The OMZ weights cannot be downloaded in the benchmark environment: the authentic graph from
``<shared>/omz/graphs`` is run with random weights of the right size, which gives the real
compute cost (and meaningless text).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HWOCR_SHARED", ROOT.parent / "shared"))
LINES = SHARED / "eval" / "zh-lines"
GRAPHS = SHARED / "omz" / "graphs"
OMZ_ZH = "handwritten-simplified-chinese-recognition-0001.FP16"
SCUT_CHARLIST = SHARED / "omz" / "charlists" / "scut_ept.txt"


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_omz_graph(workdir: Path) -> Path:
    """The authentic Chinese OMZ IR with random weights of the right size, written into ``workdir``."""
    xml = workdir / f"{OMZ_ZH}.xml"
    if not xml.exists():
        xml.write_bytes((GRAPHS / f"{OMZ_ZH}.xml").read_bytes())
        subprocess.run([sys.executable, str(GRAPHS / "make_random_bin.py"), str(xml), str(xml.with_suffix(".bin"))],
                       check=True, capture_output=True)
    return xml


@contextlib.contextmanager
def omz_workdir() -> Iterator[str]:
    """Where the random-weight graph is written: $HWOCR_BENCH_TMP (kept, reused) or a temporary folder."""
    keep = os.environ.get("HWOCR_BENCH_TMP")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="hwocr-bench-") as d:
        yield d


def labels(folder: Path = LINES) -> list[tuple[Path, str]]:
    from hwocr.metrics import read_labels

    return read_labels(folder)


def run_child(script: Path, args: list[str], timeout: float = 1800) -> dict:
    """Run ``script --child ARGS`` in a fresh interpreter; it prints one JSON object as its last line."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    p = subprocess.run([sys.executable, str(script), "--child", *args], capture_output=True, text=True,
                       timeout=timeout, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{p.stderr[-3000:]}")
    last = [ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1]
    return json.loads(last)


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def machine() -> dict:
    import platform

    info = {"python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        import openvino as ov

        info["openvino"] = ov.get_version().split("-")[0]
        info["cpu"] = ov.Core().get_property("CPU", "FULL_DEVICE_NAME")
    except Exception:  # noqa: BLE001
        pass
    try:
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info

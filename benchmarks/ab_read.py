"""Two hwocr source trees read the same folders, interleaved: ``hwocr read --json`` end to end (the CLI,
with its image decoding and shape check) and ``Reader().read_arrays`` (the Python API, images decoded
before timing); medians, the ratio, and whether both trees gave the same output.

For measuring one change against the code before it (``git clone`` the commit before into BASE):

    git clone -q . /tmp/base && git -C /tmp/base checkout -q HEAD~1
    python benchmarks/ab_read.py --base /tmp/base/src [--new src] [--rounds 5] DIR [DIR ...]

The folders' images are pooled (use varied lines: running text of both languages, isolated
characters). Each run is a fresh interpreter (``PYTHONPATH`` = the tree), so a CLI run includes its
start (model load, about 0.7 s here): the median of a one-line run is subtracted for lines per second
of reading.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402

EXTS = (".png", ".jpg", ".jpeg")


def api_child(folder: Path) -> dict:
    from hwocr import Reader
    from hwocr.imageio import load_image

    rgbs = [load_image(p).rgb for p in sorted(folder.iterdir())]
    r = Reader()
    r.read_arrays(rgbs[:16])  # compiles the shapes the first batches need, and the second model
    t = time.perf_counter()
    out = r.read_arrays(rgbs)
    dt = time.perf_counter() - t
    digest = hashlib.sha1(json.dumps([x.to_dict() for x in out], ensure_ascii=False).encode()).hexdigest()
    return {"lines_per_s": len(rgbs) / dt, "digest": digest}


def run_tree(src: str, args: list[str]) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": src, "PYTHONWARNINGS": "ignore"}
    t = time.perf_counter()
    p = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if p.returncode not in (0, 3):  # 3: warnings (a blank, a multi-line image): still a reading
        raise RuntimeError(f"{' '.join(args)} with {src} failed:\n{p.stderr[-2000:]}")
    return dt, p.stdout


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", type=Path)
    ap.add_argument("--base", help="the source tree to compare against (its src/ folder)")
    ap.add_argument("--new", default=str(bc.ROOT / "src"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(api_child(a.child)))
        return
    if not a.base or not a.dirs:
        ap.error("give --base and at least one folder")
    trees = {"base": str(Path(a.base).resolve()), "new": str(Path(a.new).resolve())}
    with tempfile.TemporaryDirectory(prefix="hwocr-ab-") as tmp:
        pool = Path(tmp) / "lines"
        pool.mkdir()
        n = 0
        for d in a.dirs:
            for p in sorted(d.iterdir()):
                if p.suffix.lower() in EXTS:
                    (pool / f"{n:05d}{p.suffix.lower()}").symlink_to(p.resolve())
                    n += 1
        one = Path(tmp) / "one"
        one.mkdir()
        (one / "a.png").symlink_to((bc.ROOT / "samples" / "zh-line.png").resolve())
        cli = ["-m", "hwocr.cli", "read", "--json", str(pool)]
        res: dict[str, dict[str, list]] = {k: {"cli": [], "start": [], "api": [], "out": [], "digest": []} for k in trees}
        for _ in range(a.rounds):
            for k, src in trees.items():
                dt, out = run_tree(src, cli)
                res[k]["cli"].append(dt)
                res[k]["out"].append(hashlib.sha1(out.encode()).hexdigest())
                res[k]["start"].append(run_tree(src, ["-m", "hwocr.cli", "read", str(one)])[0])
                _, out = run_tree(src, [__file__, "--child", str(pool)])
                d = json.loads(out.strip().splitlines()[-1])
                res[k]["api"].append(d["lines_per_s"])
                res[k]["digest"].append(d["digest"])
    med = {k: {m: statistics.median(v[m]) for m in ("cli", "start", "api")} for k, v in res.items()}
    print(f"{n} lines, {a.rounds} interleaved rounds; {json.dumps(bc.machine())}")
    print("| tree | hwocr read DIR (s, with start) | start (s) | read lines/s | Reader().read_arrays lines/s |")
    print("|---|---|---|---|---|")
    for k in trees:
        m = med[k]
        print(f"| {k} | {m['cli']:.2f} | {m['start']:.2f} | {n / (m['cli'] - m['start']):.1f} | {m['api']:.1f} |")
    b, w = med["base"], med["new"]
    print(f"new / base: hwocr read {(b['cli'] - b['start']) / (w['cli'] - w['start']):.3f}x, "
          f"Reader().read_arrays {w['api'] / b['api']:.3f}x")
    same_cli = len({*res["base"]["out"], *res["new"]["out"]}) == 1
    same_api = len({*res["base"]["digest"], *res["new"]["digest"]}) == 1
    print(f"same output: hwocr read --json {same_cli}, read_arrays {same_api}")


if __name__ == "__main__":
    main()

"""The OMZ accuracy metric: 1 - corpus CER after NFKC and white-space removal, and exact lines."""

from __future__ import annotations

import statistics
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import HwocrError


def normalize(s: str) -> str:
    return "".join(unicodedata.normalize("NFKC", s).split())


def edit_distance(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class Score:
    n: int
    accuracy: float  # 1 - corpus CER
    exact: float  # share of lines read exactly
    edits: int
    ref_chars: int
    median_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"n": self.n, "accuracy": round(self.accuracy, 4), "exact": round(self.exact, 4),
                "edits": self.edits, "ref_chars": self.ref_chars, "median_ms_per_line": round(self.median_ms, 2)}


def score(preds: list[str], refs: list[str], times_ms: list[float] | None = None) -> Score:
    edits = ref_chars = exact = 0
    for p, r in zip(preds, refs, strict=True):
        p, r = normalize(p), normalize(r)
        edits += edit_distance(p, r)
        ref_chars += len(r)
        exact += p == r
    n = len(refs)
    acc = 1.0 - edits / ref_chars if ref_chars else 0.0
    med = statistics.median(times_ms) if times_ms else 0.0
    return Score(n, acc, exact / n if n else 0.0, edits, ref_chars, med)


def read_labels(folder: str | Path) -> list[tuple[Path, str]]:
    """``labels.tsv`` in ``folder``: one ``name<TAB>text`` per line."""
    d = Path(folder)
    f = d / "labels.tsv"
    if not f.is_file():
        raise HwocrError(f"{f}: no labels.tsv in this folder (expected lines 'name<TAB>text')")
    out = []
    for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        name, sep, text = line.partition("\t")
        if not sep:
            raise HwocrError(f"{f}:{i}: expected 'name<TAB>text'")
        out.append((d / name.strip(), text))
    if not out:
        raise HwocrError(f"{f}: no labelled lines")
    return out

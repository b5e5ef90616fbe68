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



@dataclass(frozen=True)
class Paired:
    """Reading B against reading A of the same lines: ``net`` characters B reads right that A does not
    (A's edits minus B's), lines each reads better, and a paired bootstrap interval of B's accuracy
    minus A's (``lo``, ``hi``; accuracy units, 0.01 = one point)."""

    net: int
    better: int  # lines B reads with fewer edits
    worse: int  # lines B reads with more edits
    lo: float
    hi: float

    def to_dict(self) -> dict:
        return {"net_chars": self.net, "better_lines": self.better, "worse_lines": self.worse,
                "ci95": [round(self.lo, 4), round(self.hi, 4)]}


def paired(a: list[str], b: list[str], refs: list[str], rounds: int = 2000, seed: int = 0) -> Paired:
    """How much better reading ``b`` is than reading ``a`` of the same lines (see :class:`Paired`). The
    interval resamples lines with replacement (``rounds`` times, ``seed``: the same interval on every
    run) and takes the 2.5th and 97.5th percentiles of the corpus-accuracy difference: a difference of a
    character or two on a set of a few hundred is inside it, a real gain is not."""
    import numpy as np

    rows = [(edit_distance(normalize(p), normalize(r)), edit_distance(normalize(q), normalize(r)), len(normalize(r)))
            for p, q, r in zip(a, b, refs, strict=True)]
    ea, eb, n = np.array(rows, dtype=np.int64).reshape(-1, 3).T
    net = int(ea.sum() - eb.sum())
    if not n.sum():
        return Paired(net, int((eb < ea).sum()), int((eb > ea).sum()), 0.0, 0.0)
    idx = np.random.default_rng(seed).integers(0, len(n), size=(rounds, len(n)))
    diff = (ea[idx].sum(1) - eb[idx].sum(1)) / np.maximum(n[idx].sum(1), 1)
    lo, hi = np.percentile(diff, [2.5, 97.5])
    return Paired(net, int((eb < ea).sum()), int((eb > ea).sum()), float(lo), float(hi))


def matched_chars(pred: str, ref: str) -> list[bool]:
    """For each character of ``pred``: is it aligned to an equal character of ``ref`` in a minimal
    edit alignment? (Both strings are compared as given; normalise them first.)"""
    n, m = len(pred), len(ref)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (pred[i - 1] != ref[j - 1]))
    ok = [False] * n
    i, j = n, m
    while i > 0 and j > 0:
        if d[i][j] == d[i - 1][j - 1] + (pred[i - 1] != ref[j - 1]):
            ok[i - 1] = pred[i - 1] == ref[j - 1]
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return ok


def calibration_error(confidences: list[float], correct: list[bool], bins: int = 10) -> float:
    """Expected calibration error: the gap between confidence and accuracy, averaged over equal-width
    confidence bins weighted by their share of the characters (0 = perfectly calibrated)."""
    if not confidences:
        return 0.0
    total = len(confidences)
    err = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [k for k, c in enumerate(confidences) if lo <= c < hi or (b == bins - 1 and c == hi)]
        if idx:
            acc = sum(correct[k] for k in idx) / len(idx)
            conf = sum(confidences[k] for k in idx) / len(idx)
            err += len(idx) / total * abs(acc - conf)
    return err


def char_calibration(results, refs: list[str], bins: int = 10) -> float:
    """Expected calibration error of the per-character confidences of LineResults against their
    reference texts (characters that normalise to nothing are skipped)."""
    confs: list[float] = []
    correct: list[bool] = []
    for res, ref in zip(results, refs, strict=True):
        parts = [(normalize(c.char), c.confidence) for c in res.chars]
        parts = [(t, c) for t, c in parts if t]
        ok = matched_chars("".join(t for t, _ in parts), normalize(ref))
        k = 0
        for t, c in parts:
            confs.append(c)
            correct.append(all(ok[k : k + len(t)]))
            k += len(t)
    return calibration_error(confs, correct, bins)


#: the largest labels.tsv read (about a million labelled lines)
MAX_LABELS_BYTES = 64 << 20
#: the longest label: a line's text (scoring compares each label with its reading character by
#: character, work that grows with the product of their lengths)
MAX_LABEL_CHARS = 10_000


def _inside(name: str, f: Path, i: int) -> str:
    """A label's image name, refused unless it names a file inside the labels' own folder: a shared
    labels file must not make ``hwocr eval`` or ``finetune`` read ``/etc/...`` or ``../../``."""
    from pathlib import PurePosixPath, PureWindowsPath

    if not name:
        raise HwocrError(f"{f}:{i}: no image name before the TAB")
    if "\0" in name or PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() \
            or PureWindowsPath(name).drive or ".." in PureWindowsPath(name).parts:
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise HwocrError(f"{f}:{i}: image name {shown!r} is not inside the labels' folder "
                         "(names are relative to it, without '..')")
    return name


def read_labels(folder: str | Path) -> list[tuple[Path, str]]:
    """``labels.tsv`` in ``folder``: one ``name<TAB>text`` per line."""
    d = Path(folder)
    f = d / "labels.tsv"
    if not f.is_file():
        raise HwocrError(f"{f}: no labels.tsv in this folder (expected lines 'name<TAB>text')")
    from .files import read_small

    data = read_small(f, "labels file", MAX_LABELS_BYTES)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise HwocrError(f"{f}:{line}: not UTF-8 text") from None
    out = []
    # lines end at "\n" (or "\r\n") only: str.splitlines also cuts at U+2028, U+0085, a form feed ...,
    # which a label's text may hold
    for i, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if "\r" in line:  # a file with old Mac line endings: read as one line, its first label held all the others
            raise HwocrError(f"{f}:{i}: a carriage return (CR) inside the line: end lines with LF or CRLF")
        if not line.strip():
            continue
        name, sep, text = line.partition("\t")
        if not sep or "\t" in text:  # a third column (a note, a writer) was read as part of the label
            raise HwocrError(f"{f}:{i}: expected 'name<TAB>text'" + (" (one TAB only)" if sep else ""))
        # (measured as scored too: NFKC writes one character as up to 18, e.g. U+FDFA: 15 once its spaces go)
        n = max(len(text), len(normalize(text)) if len(text) <= MAX_LABEL_CHARS else 0)
        if n > MAX_LABEL_CHARS:
            raise HwocrError(f"{f}:{i}: label of {n} characters{' as scored (NFKC)' if n != len(text) else ''} "
                             f"(limit {MAX_LABEL_CHARS}): labels are the text of one line")
        out.append((d / _inside(name.strip(), f, i), text))
    if not out:
        raise HwocrError(f"{f}: no labelled lines")
    return out

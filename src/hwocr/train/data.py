"""A user's labelled folder (``labels.tsv``: name TAB text) -> checked training samples.

What cannot be used is reported, never silently dropped: a folder without labels, an empty list or a
label with characters the model cannot write is a one-line error (it names the first few offending
lines); an image that cannot be read, or one too wide for the model, is skipped and counted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import HwocrError, ImageError
from ..imageio import load_image
from ..metrics import normalize, read_labels
from ..preprocess import make_windows
from ..reader import check_line_shape
from ..registry import InputSpec

#: more labelled samples than this are refused (fine-tuning is for a person's own few hundred lines)
MAX_SAMPLES = 20000
#: a label longer than this many characters cannot be one line
MAX_LABEL = 200
#: images larger than this are refused before decoding
MAX_PIXELS = 8_000_000
#: a sample is kept at most this many times the model's input height (it is scaled to that height for
#: every step anyway): 40 photos of 2 800 x 2 800 px held 0.9 GB, 500 would have held 12 GB
KEEP_HEIGHTS = 4
#: the kept samples (each held as a PNG: :class:`Sample`) may hold at most this many bytes in all
MAX_KEPT_BYTES = 4 << 30


class DataError(HwocrError):
    """The training folder cannot be used."""


@dataclass(frozen=True)
class Sample:
    """One labelled line. Its pixels are held as a lossless PNG and decoded for each use: a line as
    wide as one window is 192 x 16 000 px (9 MB) at KEEP_HEIGHTS, an ordinary one about 0.9 MB, so
    20 000 samples held 17 GB (180 GB for wide blanks, each a 3 KB file) before the first step."""

    name: str
    png: bytes
    text: str  # as labelled, NFKC with white space removed
    targets: tuple[int, ...]  # class indices of ``text``

    @classmethod
    def of(cls, name: str, rgb: np.ndarray, text: str, targets: tuple[int, ...]) -> "Sample":
        import cv2

        ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise DataError(f"{name}: could not be kept as a training sample")
        return cls(name, buf.tobytes(), text, targets)

    @property
    def rgb(self) -> np.ndarray:
        """H x W x 3 uint8, the pixels :meth:`of` was given."""
        import cv2

        return cv2.imdecode(np.frombuffer(self.png, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]


@dataclass
class Dataset:
    samples: list[Sample]
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    examples: dict[str, str] = field(default_factory=dict)  # reason -> first file

    def summary(self) -> dict:
        chars = sum(len(s.text) for s in self.samples)
        return {"samples": len(self.samples), "characters": chars, "skipped": dict(self.skipped),
                "sha256": digest(self.samples)}


def digest(samples: list[Sample]) -> str:
    h = hashlib.sha256()
    for s in samples:
        h.update(s.name.encode() + b"\t" + s.text.encode() + b"\n")
    return h.hexdigest()


def char_index(charset: tuple[str, ...]) -> dict[str, int]:
    """Character -> class (blank at 0 excluded; the first class wins for a duplicate)."""
    out: dict[str, int] = {}
    for i, c in enumerate(charset):
        if i and c and c not in out:
            out[c] = i
    return out


def encode(text: str, index: dict[str, int]) -> tuple[int, ...] | None:
    try:
        return tuple(index[c] for c in text)
    except KeyError:
        return None


def load_folder(folder: str | Path, charset: tuple[str, ...], spec: InputSpec,
                allowed=None) -> Dataset:
    """Read ``folder/labels.tsv`` and its images. ``allowed``: an extra character filter (the
    language's characters); a label outside the charset or the filter is an error."""
    d = Path(folder)
    if not d.is_dir():
        raise DataError(f"{d}: not a folder")
    if not (d / "labels.tsv").is_file():
        raise DataError(f"{d}: no labels.tsv in this folder (expected lines 'name<TAB>text', one per image)")
    rows = read_labels(d)
    if len(rows) > MAX_SAMPLES:
        raise DataError(f"{d}/labels.tsv: {len(rows)} lines, more than the {MAX_SAMPLES} fine-tuning takes")
    index = char_index(charset)
    bad: list[str] = []
    encoded = []
    for path, text in rows:
        t = normalize(text)
        tg = encode(t, index) if t and len(t) <= MAX_LABEL else None
        if tg is None or (allowed is not None and not all(allowed(c) for c in t)):
            bad.append(f"{path.name} ({_why(t, index, allowed)})")
            continue
        encoded.append((path, t, tg))
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise DataError(f"{d}/labels.tsv: {len(bad)} label(s) the model cannot learn: {'; '.join(bad[:3])}{more}")
    ds = Dataset([])
    kept = 0
    for path, t, tg in encoded:
        try:
            rgb = load_image(path, MAX_PIXELS).rgb
            check_line_shape(rgb, str(path))
        except ImageError as e:
            _skip(ds, "unreadable image", path, str(e))
            continue
        if len(make_windows(rgb, spec)) > 1:
            _skip(ds, "too wide for one window", path)
            continue
        ds.samples.append(Sample.of(path.name, _kept(rgb, KEEP_HEIGHTS * spec.height), t, tg))
        kept += len(ds.samples[-1].png)
        if kept > MAX_KEPT_BYTES:  # (noise does not compress: 20 000 wide lines of it held 180 GB)
            raise DataError(f"{d}: the first {len(ds.samples)} of the {len(rows)} images already hold "
                            f"{kept / 2**30:.1f} GB as training samples (limit {MAX_KEPT_BYTES / 2**30:g} GB): "
                            "use fewer images, or crop them to their lines")
    if not ds.samples:
        raise DataError(f"{d}: none of the {len(rows)} labelled images could be read "
                        f"(first: {next(iter(ds.examples.values()), '?')})")
    return ds


def _kept(rgb: np.ndarray, height: int) -> np.ndarray:
    """``rgb`` scaled down (area interpolation) to ``height`` rows when it is taller."""
    import cv2

    h, w = rgb.shape[:2]
    if h <= height:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


def _why(t: str, index: dict[str, int], allowed) -> str:
    if not t:
        return "empty label"
    if len(t) > MAX_LABEL:
        return f"longer than {MAX_LABEL} characters"
    outside = "".join(dict.fromkeys(c for c in t if c not in index))
    if outside:
        return "characters outside the model's charset: " + outside[:10]
    other = "".join(dict.fromkeys(c for c in t if not allowed(c)))
    return "characters not of the chosen --lang: " + other[:10]


def _skip(ds: Dataset, reason: str, path: Path, detail: str = "") -> None:
    ds.skipped[reason] = ds.skipped.get(reason, 0) + 1
    ds.examples.setdefault(reason, detail or str(path))

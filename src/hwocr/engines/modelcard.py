"""Model cards: what hwocr needs to know to run a custom CTC recogniser, in one JSON file.

A card is ``hwocr-model.json`` inside a model directory, or a sidecar ``<model file>.hwocr.json``
beside a bare ``.xml`` / ``.onnx``::

    {"format": "hwocr-model/1", "name": "my-model", "model": "model.onnx", "charlist": "chars.txt",
     "lang": "zh", "input": {"height": 48, "channels": 3, "mean": 127.5, "scale": 0.00784},
     "decoder": "greedy", "provenance": {"trained_from": "..."}, "report": "report.md"}

``charlist`` has one character per line for classes 1..C-1 (the CTC blank at index 0 is implied;
a PaddleOCR-style trailing space class is recognised from the model's output size). ``input``
holds any fields of :class:`hwocr.registry.InputSpec`; the rest come from the model itself.
Paths are relative to the card's folder and may not leave it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from ..errors import ModelError
from ..registry import InputSpec

FORMAT = "hwocr-model/1"
CARD_NAME = "hwocr-model.json"
SIDECAR_SUFFIX = ".hwocr.json"
MODEL_SUFFIXES = (".xml", ".onnx")
CARD_LANGS = ("zh", "ja", "multi")
CARD_DECODERS = ("greedy", "beam")
#: a card is a small text file; anything bigger is not one
MAX_CARD_BYTES = 1 << 20

#: InputSpec field -> accepted JSON types, and the check of its value
_INPUT_RULES: dict[str, tuple[tuple[type, ...], Any, str]] = {
    "height": ((int,), lambda v: 8 <= v <= 1024, "an integer from 8 to 1024"),
    "channels": ((int,), lambda v: v in (1, 3), "1 (grey) or 3 (colour)"),
    "fixed_width": ((int, type(None)), lambda v: v is None or 8 <= v <= 16384, "null or an integer from 8 to 16384"),
    "pad": ((str,), lambda v: v in ("edge", "zero"), '"edge" or "zero"'),
    "interpolation": ((str,), lambda v: v in ("area", "linear"), '"area" or "linear"'),
    "mean": ((int, float), lambda v: -1e4 <= v <= 1e4, "a number"),
    "scale": ((int, float), lambda v: 0 < abs(v) <= 1e4, "a non-zero number"),
    "width_multiple": ((int,), lambda v: 1 <= v <= 256, "an integer from 1 to 256"),
    "round_up": ((bool,), lambda v: True, "true or false"),
    "max_width": ((int,), lambda v: 16 <= v <= 16384, "an integer from 16 to 16384"),
    "min_width": ((int,), lambda v: 1 <= v <= 16384, "an integer from 1 to 16384"),
    "bgr": ((bool,), lambda v: True, "true or false"),
    "side_margin": ((int, float), lambda v: 0 <= v <= 2, "a number from 0 to 2"),
    "line_squeeze": ((int, float), lambda v: 0.1 <= v <= 1, "a number from 0.1 to 1"),
    "squeeze_above": ((int, float, type(None)), lambda v: v is None or v > 0, "a positive number, or null (never)"),
    "width_buckets": ((list, tuple), lambda v: all(type(x) is int and 16 <= x <= 16384 for x in v)
                      and list(v) == sorted(set(v)), "a list of increasing integers from 16 to 16384"),
    "bucket_pad": ((str,), lambda v: v in ("zero", "background", "edge"), '"zero", "background" or "edge"'),
    "stroke_width": ((int, float), lambda v: 0 <= v <= 32, "a number from 0 to 32"),
    "blur": ((int, float), lambda v: 0 <= v <= 8, "a number from 0 to 8"),
    "char_fill": ((int, float), lambda v: 0.2 <= v <= 1, "a number from 0.2 to 1 (1: never)"),
    "char_aspect": ((int, float), lambda v: 0 < v <= 16, "a number above 0, at most 16"),
    "char_views": ((list, tuple), lambda v: len(v) <= 4 and all(type(x) in (int, float) and 0 < x <= 1 for x in v),
                   "a list of at most 4 numbers above 0, at most 1"),
}
assert set(_INPUT_RULES) == {f.name for f in fields(InputSpec)}


@dataclass(frozen=True)
class ModelCard:
    """A custom recogniser's description. ``model``, ``charlist`` and ``report`` are relative to
    ``root`` (the card's folder, not written to the file)."""

    name: str
    model: str
    lang: str = "multi"
    charlist: str | None = None
    input: Mapping[str, Any] = field(default_factory=dict)
    decoder: str | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    report: str | None = None
    format: str = FORMAT
    root: Path = field(default=Path("."), compare=False)

    @property
    def model_path(self) -> Path:
        return self.root / self.model

    @property
    def charlist_path(self) -> Path | None:
        return self.root / self.charlist if self.charlist else None

    @property
    def report_path(self) -> Path | None:
        return self.root / self.report if self.report else None

    def input_spec(self, base: InputSpec) -> InputSpec:
        """``base`` with the card's input fields applied."""
        return apply_input(base, self.input)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"format": self.format, "name": self.name, "model": self.model}
        for k in ("charlist", "lang", "input", "decoder", "provenance", "report"):
            v = getattr(self, k)
            if v not in (None, {}):
                d[k] = dict(v) if isinstance(v, Mapping) else v
        return d


_KEYS = {"format", "name", "model", "charlist", "lang", "input", "decoder", "provenance", "report"}


def card_file(path: str | os.PathLike) -> Path | None:
    """The card that describes ``path`` (a directory, a card file, or a model file with a sidecar),
    or None when there is none."""
    p = Path(path)
    if p.is_dir():
        c = p / CARD_NAME
        return c if c.is_file() else None
    if p.name.endswith(".json"):
        return p
    if p.suffix.lower() in MODEL_SUFFIXES:
        c = p.with_name(p.name + SIDECAR_SUFFIX)
        return c if c.is_file() else None
    return None


def _short(v: Any, n: int = 60) -> str:
    """``repr(v)`` cut to ``n`` characters: an error line never echoes a whole hostile value."""
    r = repr(v) if not isinstance(v, int) or abs(v) < 10**50 else f"<an integer of {len(str(abs(v)))} digits>"
    return r if len(r) <= n else r[: n - 3] + "..."


def load_card(path: str | os.PathLike) -> ModelCard:
    """Read and check the card for ``path`` (see :func:`card_file`). Every problem is a one-line
    :class:`ModelError`."""
    p = Path(path)
    cf = card_file(p)
    if cf is None:
        where = p / CARD_NAME if p.is_dir() else p.with_name(p.name + SIDECAR_SUFFIX)
        raise ModelError(f"{p}: no model card ({where} not found)")
    from ..files import read_small

    data = read_small(cf, "model card", MAX_CARD_BYTES, ModelError)
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # (JSONDecodeError is a ValueError)
        raise ModelError(f"{cf}: not a JSON model card ({str(e).splitlines()[0][:120] or type(e).__name__})") from None
    sidecar_of = cf.name[: -len(SIDECAR_SUFFIX)] if cf.name.endswith(SIDECAR_SUFFIX) else None
    return parse_card(raw, cf.parent, source=str(cf), default_model=sidecar_of)


def parse_card(raw: Any, root: Path, *, source: str = "model card", default_model: str | None = None) -> ModelCard:
    """Check a card's JSON value; ``root`` is the folder its paths are relative to."""

    def bad(msg: str) -> ModelError:
        return ModelError(f"{source}: {msg}")

    if not isinstance(raw, dict):
        raise bad("must be a JSON object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise bad(f"unknown key(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(_KEYS))})")
    if raw.get("format") != FORMAT:
        raise bad(f'"format" must be "{FORMAT}", got {_short(raw.get("format"))}')

    def text(key: str, required: bool = False) -> str | None:
        v = raw.get(key)
        if v is None and not required:
            return None
        if not isinstance(v, str) or not v.strip():
            raise bad(f'"{key}" must be a non-empty string')
        return v

    def rel(key: str, required: bool = False, default: str | None = None) -> str | None:
        v = text(key, required and default is None) or default
        if v is None:
            return None
        norm = os.path.normpath(v)
        if Path(v).is_absolute() or norm == ".." or norm.startswith(".." + os.sep) or "\\" in v:
            raise bad(f'"{key}" {_short(v)} leaves the model folder (paths are relative to {root})')
        if not (root / norm).is_file():
            raise bad(f'"{key}" {_short(v)}: no such file in {root}')
        return v

    name = text("name", required=True)
    model = rel("model", required=True, default=default_model)
    assert name is not None and model is not None
    if Path(model).suffix.lower() not in MODEL_SUFFIXES:
        raise bad(f'"model" {model!r} must be an OpenVINO .xml or an .onnx file')
    lang = raw.get("lang", "multi")
    if lang not in CARD_LANGS:
        raise bad(f'"lang" must be one of {", ".join(CARD_LANGS)}, got {_short(lang)}')
    decoder = raw.get("decoder")
    if decoder is not None and decoder not in CARD_DECODERS:
        raise bad(f'"decoder" must be one of {", ".join(CARD_DECODERS)}, got {_short(decoder)}')
    inp = check_input(raw.get("input", {}), source)
    prov = raw.get("provenance", {})
    if not isinstance(prov, dict):
        raise bad('"provenance" must be a JSON object')
    return ModelCard(name=name, model=model, lang=lang, charlist=rel("charlist"), input=inp, decoder=decoder,
                     provenance=prov, report=rel("report"), root=root)


def check_input(inp: Any, source: str) -> dict[str, Any]:
    """Check a mapping of InputSpec fields (from a card, model metadata or the command line)."""
    if not isinstance(inp, dict):
        raise ModelError(f'{source}: "input" must be a JSON object')
    out = {}
    for k, v in inp.items():
        rule = _INPUT_RULES.get(k)
        if rule is None:
            raise ModelError(f"{source}: unknown input field {k!r} (allowed: {', '.join(_INPUT_RULES)})")
        types, ok, what = rule
        if isinstance(v, bool) and bool not in types or not isinstance(v, types) or not ok(v):
            raise ModelError(f"{source}: input field {k[:40]!r} must be {what}, got {_short(v)}")
        if k == "squeeze_above" and v is None:
            v = float("inf")  # JSON has no infinity: null = never narrowed
        out[k] = float(v) if float in types and not isinstance(v, bool) else tuple(v) if list in types else v
    return out


def card_input(spec: InputSpec) -> dict[str, Any]:
    """Every field of ``spec`` as a card's JSON ``"input"`` (infinity as null, tuples as lists):
    ``check_input(card_input(spec))`` gives ``spec``'s fields back."""
    out: dict[str, Any] = {}
    for f in fields(InputSpec):
        v = getattr(spec, f.name)
        out[f.name] = None if f.name == "squeeze_above" and v == float("inf") else list(v) if isinstance(v, tuple) else v
    return out


def apply_input(base: InputSpec, overrides: Mapping[str, Any]) -> InputSpec:
    from dataclasses import replace

    return replace(base, **overrides) if overrides else base


def _top_level_split(value: str) -> list[str]:
    """``value`` cut at the commas outside brackets (``a=1,views=[0.2,0.4]`` -> two parts)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(value):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        elif ch == "," and not depth:
            parts.append(value[start:i])
            start = i + 1
    return parts + [value[start:]]


def parse_input_option(value: str, source: str = "--input-spec") -> dict[str, Any]:
    """``KEY=VAL,KEY=VAL`` (values as JSON: ``height=48,bgr=true,pad=zero,char_views=[0.2,0.4]``) ->
    checked input fields."""
    out: dict[str, Any] = {}
    for part in filter(None, (s.strip() for s in _top_level_split(value))):
        k, sep, v = part.partition("=")
        if not sep:
            raise ModelError(f"{source}: expected KEY=VALUE, got {_short(part)}")
        try:
            out[k.strip()] = json.loads(v)
        except (ValueError, RecursionError):  # not JSON (a bare word), or a number too long to convert
            out[k.strip()] = v.strip()
    return check_input(out, source)


def save_card(card: ModelCard, directory: str | os.PathLike) -> Path:
    """Write ``card`` as ``directory/hwocr-model.json`` (atomically) after checking it against the
    files in ``directory``; returns the card's path."""
    d = Path(directory)
    data = card.to_dict()
    parse_card(json.loads(json.dumps(data)), d, source=str(d / CARD_NAME))  # same checks as loading
    dest = d / CARD_NAME
    fd, tmp = tempfile.mkstemp(prefix=CARD_NAME + ".", suffix=".part", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # mkstemp makes the file private (0600): a model folder trained by one user and served by
            # another (a service account) could not read its card
            os.fchmod(f.fileno(), 0o644)
            json.dump(data, f, ensure_ascii=False, indent=2)
            f.write("\n")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest

"""Typed results of recognition."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


#: ``LineResult.notes`` of an image that holds no mark (``lineshape.has_ink``): read as nothing, without
#: running the model
BLANK_NOTE = "blank"


@dataclass(frozen=True)
class Alternative:
    char: str
    confidence: float


@dataclass(frozen=True)
class CharResult:
    """One recognised character.

    ``x0``/``x1`` is the horizontal span in input-image pixels (for a vertical line, the
    span along the reading direction, i.e. image rows).
    """

    char: str
    confidence: float
    x0: float
    x1: float
    alternatives: tuple[Alternative, ...] = ()


@dataclass(frozen=True)
class LineResult:
    text: str
    confidence: float
    chars: tuple[CharResult, ...] = ()
    engine: str = ""
    #: what was done to fit the line to the model: "" (nothing), "split:N" (N overlapping windows)
    policy: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: the precision the recogniser ran in (f32, bf16, INT8+bf16, ...; ``--precision auto`` picks one)
    precision: str = ""
    #: the language the line was read as ("zh" or "ja"; with lang auto, decided per line)
    lang: str = ""
    #: with lang auto, what decided ``lang``: "evidence" (the line's own characters), "hint" (the
    #: caller's), "document" (the majority of the lines read with it), "block" (its page block's
    #: lines together), "page" (a block that says little: the majority of its page's blocks that
    #: decide) or "guess" (none of these: little evidence either way); "" with a fixed lang
    lang_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["chars"] = [
            {
                "char": c.char,
                "confidence": round(c.confidence, 4),
                "x0": round(c.x0, 1),
                "x1": round(c.x1, 1),
                "alternatives": [
                    {"char": a.char, "confidence": round(a.confidence, 4)} for a in c.alternatives
                ],
            }
            for c in self.chars
        ]
        d["confidence"] = round(self.confidence, 4)
        d["notes"] = list(self.notes)
        return d

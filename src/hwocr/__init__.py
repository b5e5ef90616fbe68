"""hwocr: offline OCR for handwritten Chinese (simplified) and Japanese text lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Reader", "LineResult", "CharResult", "Alternative", "HwocrError", "__version__"]

if TYPE_CHECKING:
    from .errors import HwocrError
    from .reader import Reader
    from .results import Alternative, CharResult, LineResult


def __getattr__(name: str) -> Any:
    # lazy: importing hwocr must not load OpenVINO or OpenCV
    if name == "Reader":
        from .reader import Reader

        return Reader
    if name in ("LineResult", "CharResult", "Alternative"):
        from . import results

        return getattr(results, name)
    if name == "HwocrError":
        from .errors import HwocrError

        return HwocrError
    raise AttributeError(f"module 'hwocr' has no attribute {name!r}")

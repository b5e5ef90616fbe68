"""What a batch job reads with: the options that decide a page's record, and the key that names them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Settings:
    lang: str = "zh"
    engine: str = "ppocr"
    detector: str = "ppocr"
    decoder: str | None = None
    precision: str | None = None
    direction: str = "auto"
    vertical: str = "both"
    dpi: float = 200.0
    device: str = "CPU"
    model_dir: str | None = None
    offline: bool | None = None

    #: fields that do not change what is read (where the models come from, which device runs them)
    _NOT_IN_KEY = ("device", "model_dir", "offline")

    def key(self) -> str:
        """16 hex digits naming everything that changes a page's record (and the hwocr version)."""
        from .. import __version__

        d = {k: v for k, v in asdict(self).items() if k not in self._NOT_IN_KEY}
        d["hwocr"] = __version__
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def make_reader(self):
        from ..reader import Reader

        return Reader(lang=self.lang, engine=self.engine, device=self.device, decoder=self.decoder,
                      precision=self.precision, model_dir=self.model_dir, offline=self.offline)

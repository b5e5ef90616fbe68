"""What a batch run did, for people (one paragraph) and machines (``--json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Summary:
    out: str
    runner: str
    workers: int
    pages: int = 0  # pages in the input
    read: int = 0  # pages read by this run (good and failed)
    skipped: int = 0  # pages already written by an earlier run
    failed: int = 0  # of the pages read by this run
    failed_total: int = 0  # of all the input's pages, earlier runs included
    lines: int = 0  # text lines in the pages read by this run
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)  # the first few: file, page, error
    # arguments that gave nothing to read (an empty folder, a pattern matching nothing, an unreadable
    # manifest), one line each; the rest of the input is still read
    input_errors: list[str] = field(default_factory=list)

    @property
    def pages_per_s(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        d["pages_per_s"] = round(self.pages_per_s, 3)
        return d

    def text(self) -> str:
        s = (f"{self.pages} pages: {self.read} read ({self.failed} failed), {self.skipped} already done; "
             f"{self.lines} lines; {self.pages_per_s:.2f} pages/s on {self.runner}; records in {self.out}")
        if self.failed_total > self.failed:
            s += f"; {self.failed_total} failed in all"
        if self.input_errors:
            s += f"; {len(self.input_errors)} input{'s' if len(self.input_errors) > 1 else ''} gave nothing to read"
        return s

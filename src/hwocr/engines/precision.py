"""Which inference precision a CPU gets: ``auto`` = bf16 where the CPU computes bf16 natively, else f32.

bf16 is only chosen where OpenVINO lists BF16 among the CPU plugin's ``OPTIMIZATION_CAPABILITIES``
*and* the processor reports native bf16 arithmetic: AMX-BF16 tiles (``amx_bf16``) or AVX512-BF16
dot products (``avx512_bf16``) in /proc/cpuinfo. Measured (``benchmarks/bench_throughput.py``, CPU time
per line, PP-OCRv6 lines): an Intel Xeon with AMX reads 2.3x f32 in bf16, an AMD EPYC with AVX512-BF16
and no AMX 1.6x. A CPU whose flags cannot be read, or without either, gets f32 (bf16 emulated in f32
arithmetic gains nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

#: accepted spellings -> canonical name
_ALIASES = {"auto": "auto", "f32": "f32", "fp32": "f32", "bf16": "bf16", "int8": "INT8"}


@dataclass(frozen=True)
class Choice:
    """The OpenVINO ``INFERENCE_PRECISION_HINT`` to compile with (None: the plugin's default) and the
    name reported to the user."""

    hint: str | None
    label: str


def canonical(name: str | None, allowed: tuple[str, ...]) -> str:
    """``FP32`` -> ``f32`` etc.; a one-line ModelError for a precision the engine does not have."""
    key = _ALIASES.get((name or "auto").lower())
    if key is None or key not in allowed:
        raise ModelError(f"the ppocr engine has no {name} model (one of {', '.join(allowed)})")
    return key


def cpu_flags(path: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The processor's feature flags (empty where the OS does not expose them this way)."""
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


#: /proc/cpuinfo flags of native bf16 arithmetic
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def has_bf16_units(capabilities, flags: frozenset[str]) -> bool:
    return "BF16" in set(capabilities) and bool(BF16_FLAGS & flags)


def device_capabilities(core, device: str) -> list[str]:
    try:
        return list(core.get_property(device, "OPTIMIZATION_CAPABILITIES"))
    except Exception:  # noqa: BLE001 - a plugin without the property
        return []


def choose(precision: str, device: str, core, flags: frozenset[str] | None = None) -> Choice:
    """The compile setting for a canonical ``precision`` (auto, f32, bf16 or INT8) on ``device``.
    INT8 models keep their INT8 layers whatever the hint; the rest of them runs like ``auto``."""
    cpu = device.upper().startswith("CPU")
    if precision in ("f32", "bf16"):
        return Choice(precision if cpu else None, precision)
    if not cpu:  # another device: its plugin's default
        return Choice(None, "INT8" if precision == "INT8" else "device default")
    fast = has_bf16_units(device_capabilities(core, device), cpu_flags() if flags is None else flags)
    rest = "bf16" if fast else "f32"
    return Choice(rest, f"INT8+{rest}" if precision == "INT8" else rest)


def ran(label: str, session) -> str:
    """``label`` as the compiled model runs it: OpenVINO compiles a bf16 hint as f32 on a CPU that has
    no bf16 path at all (AVX2 only), and the results then say f32, not what was asked for."""
    if "bf16" not in label:
        return label
    try:
        got = str(session.compiled.get_property("INFERENCE_PRECISION_HINT"))
    except Exception:  # noqa: BLE001 - a plugin without the property: as asked
        return label
    return label if "bfloat16" in got else label.replace("bf16", "f32")  # got: "<Type: 'bfloat16'>"


def describe(device: str, core) -> str:
    """One line for ``hwocr devices``: the device, its name, capabilities and what ``auto`` runs there."""
    try:
        name = str(core.get_property(device, "FULL_DEVICE_NAME"))
    except Exception:  # noqa: BLE001
        name = "?"
    caps = device_capabilities(core, device)
    parts = [device, f"({name})", f"capabilities: {' '.join(caps) or '?'}"]
    if device.upper().startswith("CPU"):
        flags = cpu_flags()
        parts.append("native bf16: " + (", ".join(sorted(BF16_FLAGS & flags)) or "no"))
    parts.append(f"ppocr --precision auto runs: {choose('auto', device, core).label}")
    return "  ".join(parts)

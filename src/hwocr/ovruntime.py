"""The one place hwocr imports OpenVINO, with its telemetry kept off.

``import openvino`` imports ``openvino.tools.ovc``, which starts OpenVINO's telemetry
(the ``openvino_telemetry`` package): unless the user opted out, it writes ``~/intel/openvino_ga_cid``
and ``~/intel/stats`` and sends an HTTPS request to Google Analytics from a forked process, on every
start. hwocr promises no network use after ``pip install``, so it never lets telemetry start.

How (read from ``openvino_telemetry`` 2025.2 and ``openvino/tools/ovc``): the package has no
environment variable to opt out; its opt-out API (``opt_in_out --opt_out``) writes
``~/intel/openvino_telemetry`` and itself *sends* an opt-out event; its ``CI=true`` check would change
the environment of every child process. OpenVINO itself falls back to a no-op stub
(``openvino.tools.ovc.telemetry_stub``) when ``openvino_telemetry`` cannot be imported, so while
OpenVINO is first imported here, ``openvino_telemetry`` is made unimportable (``sys.modules`` entry
``None``), and the entry is removed again afterwards. Nothing is written to the user's home, and
other code that imports ``openvino_telemetry`` later still can.

Nothing happens at import of this module: only :func:`openvino` does it, on first call.
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType

_TELEMETRY = "openvino_telemetry"
_lock = threading.Lock()


def openvino() -> ModuleType:
    """The ``openvino`` module, imported with its telemetry off (see the module docstring)."""
    ov = sys.modules.get("openvino")
    if ov is not None:
        return ov
    with _lock:
        blocked = _TELEMETRY not in sys.modules
        if blocked:
            sys.modules[_TELEMETRY] = None  # type: ignore[assignment]  # "import openvino_telemetry" fails
        try:
            import openvino as ov
        finally:
            if blocked and sys.modules.get(_TELEMETRY, 0) is None:
                del sys.modules[_TELEMETRY]
    return ov


def telemetry_is_off() -> bool:
    """Whether OpenVINO (once imported) runs the no-op telemetry stub."""
    tm = getattr(sys.modules.get("openvino.tools.ovc.telemetry_utils"), "tm", None)
    return tm is None or tm.__name__.endswith("telemetry_stub")


__all__ = ["openvino", "telemetry_is_off"]

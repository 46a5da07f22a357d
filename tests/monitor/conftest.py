"""Make the analyzer's flat source folder importable, as it is inside its container."""

from __future__ import annotations

import sys
from pathlib import Path

MONITOR_SOURCE = Path(__file__).resolve().parents[2] / "programs" / "monitor"
if str(MONITOR_SOURCE) not in sys.path:
    sys.path.insert(0, str(MONITOR_SOURCE))

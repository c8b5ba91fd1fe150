"""The optional compiled helpers (ingest/_speedups.c), or None where they were not built."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

speedups: ModuleType | None
try:
    speedups = importlib.import_module("ingest._speedups")
except ImportError:  # installed without a C compiler: the pure-Python code does it all
    speedups = None
if sys.byteorder != "little":  # they read and write native uint32 where numpy says '<u4'
    speedups = None

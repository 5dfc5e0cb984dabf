"""Notebook kernels import this checkout, as the tests do through pytest's ``pythonpath``.

nbmake starts each kernel as a separate process, which pytest's ``pythonpath = ["."]`` does not
reach; without this an installed copy of lifecircle elsewhere would be the one tested.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [ROOT, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != ROOT]]
)

"""The block derivation before issue 15 item 2 (blocks at array speed), loaded from git.

``lifecircle/sources/{_halves,_osm_columns,planar,block_split,buildings,blocks}.py`` at
:data:`BEFORE_COMMIT` are read with ``git show`` and executed as modules of
``lifecircle.sources`` under other names (a module the commit does not have is today's), so
the old and the new derivation run side by side in one process. Each text is written to a
file in the temporary directory first and compiled under that name: numba caches a kernel
only for a function whose source file exists. Then tests/test_blocks.py checks that
they give the same blocks and people, and ``scripts/benchmark.py blocks`` times both.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
#: the last commit before the array-speed work (homes located once, rectangle clipping,
#: the coarser hull grid for large cities)
BEFORE_COMMIT = "4f27cef"
_NAMES = ("_halves", "_osm_columns", "planar", "block_split", "buildings", "blocks")


def old_blocks_module(commit: str = BEFORE_COMMIT) -> ModuleType | None:
    """The old ``lifecircle.sources.blocks`` (with its own helpers), or None without git."""
    loaded: dict[str, ModuleType] = {}
    texts: dict[str, str] = {}
    for name in _NAMES:
        try:
            texts[name] = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{commit}:lifecircle/sources/{name}.py"],
                check=True, capture_output=True, text=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            if name == "blocks":
                return None
    for name, text in texts.items():
        for other in texts:  # the old modules import each other, not today's
            text = text.replace(f"from .{other} import", f"from ._old_{commit}_{other} import")
        full = f"lifecircle.sources._old_{commit}_{name}"
        spec = importlib.util.spec_from_loader(full, loader=None)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        module.__package__ = "lifecircle.sources"
        sys.modules[full] = module
        where = Path(tempfile.gettempdir()) / f"lifecircle_old_{commit}" / f"{name}.py"
        where.parent.mkdir(exist_ok=True)
        if not where.exists() or where.read_text() != text:
            where.write_text(text)
        module.__file__ = str(where)
        exec(compile(text, str(where), "exec"), module.__dict__)
        loaded[name] = module
    return loaded["blocks"]

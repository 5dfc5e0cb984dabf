"""Runner hooks that make a batch region fail the hard way, shared by the fault tests and
``scripts/fault_injection.py``. Module-level functions, so that dask and process pools can
send them to worker processes by reference."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any


def kill_the_worker(**kwargs: Any) -> Any:
    """The region named ``killer`` dies like an out-of-memory kill (SIGKILL); others run."""
    from lifecircle.pipeline import run

    if Path(kwargs["out"]).name == "killer":
        os.kill(os.getpid(), signal.SIGKILL)
    return run(**kwargs)


def allocate_4gb(**kwargs: Any) -> Any:
    """The region named ``hog`` allocates and touches about 4 GB first; others just run."""
    from lifecircle.pipeline import run

    if Path(kwargs["out"]).name == "hog":
        import numpy as np

        blocks = []
        for _ in range(40):
            blocks.append(np.ones(100 * 2**20 // 8))
            time.sleep(0.05)
    return run(**kwargs)

"""Set-up of the dask worker processes a batch starts (loaded through dask's ``preload``).

Ctrl-C reaches every process of the terminal's process group. The batch's driver handles it
(cancels the regions, closes the cluster, exits 130 with one line); the workers ignore it, so
they do not print a traceback each while the driver shuts them down.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def dask_setup(worker: Any) -> None:
    """Called by dask in each worker process as it starts."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

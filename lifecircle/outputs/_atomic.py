"""Atomic output folders.

A run writes every file into a hidden staging folder beside the output, writes
``_SUCCESS.json`` (file names and sha256) last, and only then renames the staging folder into
place. A killed or failed run therefore leaves no folder that looks complete; a stale staging
folder is removed by the next run. A lock file stops two runs from writing the same folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from .._errors import OutputError

__all__ = ["StagedOutput", "clear_leftovers", "file_sha256", "write_json_atomic"]

SUCCESS = "_SUCCESS.json"

#: TEST HOOK (fault tests only): when this environment variable holds a number of seconds,
#: every write step prints ``lifecircle-test-checkpoint <step>`` to stderr and sleeps that
#: long, so a test can kill the process at a chosen step. Unset, it does nothing.
TEST_PAUSE_ENV = "LIFECIRCLE_TEST_WRITE_PAUSE_S"


def _checkpoint(step: str) -> None:
    pause = os.environ.get(TEST_PAUSE_ENV)
    if pause:
        import sys
        import time

        # one write with its newline: print() writes the text and the newline apart, so two
        # threads' checkpoints could interleave into one line and an empty one
        sys.stderr.write(f"lifecircle-test-checkpoint {step}\n")
        sys.stderr.flush()
        time.sleep(float(pause))


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON to a temporary name in the same folder, then rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    _checkpoint(f"json-written {path.name}")
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(name: str, marker: str) -> int | None:
    try:
        return int(name.split(marker)[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def clear_leftovers(out: str | Path) -> None:
    """Remove what an interrupted writer of ``out`` left beside it (its lock, staging and old
    folders) once the process that made them is gone; nothing while a writer is alive.

    A writer killed after its rename but before unlocking leaves a complete ``out`` and a
    stale lock; whoever skips rewriting ``out`` (a batch rerun) calls this to tidy up.
    """
    out = Path(out).absolute()
    lock = out.parent / f".{out.name}.lock"
    if lock.exists():
        try:
            pid = int(lock.read_text().strip() or 0)
        except (OSError, ValueError):
            pid = 0
        if pid and _pid_alive(pid):
            return
        lock.unlink(missing_ok=True)
    for p in out.parent.glob(f".{out.name}.staging-*"):
        owner = _owner_pid(p.name, "staging-")
        if owner is not None and not _pid_alive(owner):
            shutil.rmtree(p, ignore_errors=True)
    for p in out.parent.glob(f".{out.name}.old-*"):
        shutil.rmtree(p, ignore_errors=True)


def _real_out(out: Path) -> Path:
    """``out``, or the folder a symbolic link ``out`` points to (written through, not replaced).

    A dangling link (or a loop) is refused: renaming the finished folder onto it would fail
    only at the very end of a run.
    """
    if not out.is_symlink():
        return out
    if not out.exists():
        raise OutputError(
            f"{out}: is a symbolic link to {os.readlink(out)}, which does not exist (or the "
            "links loop); create that folder, remove the link, or choose another --out"
        )
    return out.resolve()


class StagedOutput:
    """An output folder that appears complete or not at all.

    Use as a context manager: files go to :meth:`path`; :meth:`commit` writes
    ``_SUCCESS.json`` and moves the folder into place; leaving the block with an exception
    removes the staging folder.
    """

    def __init__(
        self, out: str | Path, *, overwrite: bool = False, inputs: Iterable[str | Path] = ()
    ) -> None:
        self.out = _real_out(Path(out).absolute())
        self.overwrite = overwrite
        for item in inputs:
            if item is None:
                continue
            p = Path(item).absolute()
            if p == self.out or self.out in p.parents:
                raise OutputError(
                    f"{self.out}: the output folder would contain or replace the "
                    f"input {p}; choose another --out"
                )
            if p.is_file() and p in self.out.parents:
                raise OutputError(f"{self.out}: output inside the input file {p}")
        if self.out.exists() and not self.out.is_dir():
            raise OutputError(f"{self.out}: exists and is not a folder; choose another --out")
        if self.out.exists() and any(self.out.iterdir()) and not overwrite:
            raise OutputError(
                f"{self.out}: output folder exists; pass --overwrite to replace "
                "it or choose another --out"
            )
        self.parent = self.out.parent
        self.staging = (
            self.parent / f".{self.out.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        self.lock = self.parent / f".{self.out.name}.lock"
        self._locked = False
        self.files: dict[str, str] = {}

    # -- context ---------------------------------------------------------------------------
    def __enter__(self) -> StagedOutput:
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"{self.parent}: cannot create the output folder's parent ({exc.strerror})"
            ) from None
        self._acquire_lock()
        self._clean_stale()
        self.staging.mkdir()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
        self._release_lock()

    def _acquire_lock(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.lock.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and pid != os.getpid() and _pid_alive(pid):
                    raise OutputError(
                        f"{self.out}: another lifecircle run (pid {pid}) is writing "
                        "this folder; wait for it or choose another --out"
                    ) from None
                self.lock.unlink(missing_ok=True)
                continue
            except OSError as exc:
                raise OutputError(f"{self.parent}: not writable ({exc.strerror})") from None
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            self._locked = True
            return
        raise OutputError(f"{self.out}: could not lock the output folder")

    def _release_lock(self) -> None:
        if self._locked:
            self.lock.unlink(missing_ok=True)
            self._locked = False

    def _clean_stale(self) -> None:
        for p in self.parent.glob(f".{self.out.name}.staging-*"):
            pid = _owner_pid(p.name, "staging-")
            if pid is None:
                continue
            if not _pid_alive(pid) or pid == os.getpid():
                shutil.rmtree(p, ignore_errors=True)
        for p in self.parent.glob(f".{self.out.name}.old-*"):
            shutil.rmtree(p, ignore_errors=True)

    # -- writing ---------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """Where to write ``name`` (relative, no ``..``) inside the staging folder."""
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise OutputError(f"output file name {name!r} must stay inside the output folder")
        target = self.staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        _checkpoint(f"file {rel.as_posix()}")
        return target

    def commit(self, summary: dict[str, Any] | None = None) -> Path:
        """Hash every file, write ``_SUCCESS.json`` last, and move the folder into place."""
        _checkpoint("commit")
        files = {}
        for p in sorted(self.staging.rglob("*")):
            if p.is_file():
                files[p.relative_to(self.staging).as_posix()] = file_sha256(p)
        write_json_atomic(self.staging / SUCCESS, {"files": files, **(summary or {})})
        self.files = files
        old = None
        if self.out.exists():
            old = self.parent / f".{self.out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(self.out, old)
            _checkpoint("old-moved-aside")
        os.replace(self.staging, self.out)
        _checkpoint("renamed")
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out

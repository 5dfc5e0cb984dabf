"""Fuzz the file loaders and the map escaper; any crash other than a LifecircleError is a bug.

Targets (``--target``):

``osm``      bytes -> a ``.osm`` / ``.osm.pbf`` / ``.osm.gz`` file -> ``read_osm`` ->
             ``WalkNetwork.from_osm``
``csv``      bytes -> a ``.csv`` facility file -> ``read_facilities`` (walk15)
``geojson``  bytes -> a ``.geojson`` file -> ``read_facilities`` and ``read_polygons``
``profile``  bytes -> a ``.toml`` profile -> ``load_profile``
``escape``   bytes -> text -> ``escape_text`` / ``script_json``, checked to be inert and
             lossless

With atheris installed (``pip install atheris``; it has wheels for CPython 3.11 on Linux)
the harness runs under libFuzzer with coverage feedback from lifecircle's own modules; extra
arguments go to libFuzzer (``-max_total_time=60``, ``-runs=10000``). Without atheris it falls
back to a seeded mutation loop over the same corpus (bit flips, byte inserts and deletes,
chunk duplication, splices of two seeds) so the harness runs anywhere. The seed corpus is
``tests/fuzz_corpus/<target>/``.

Examples
--------
::

    python scripts/fuzz.py --target osm -- -max_total_time=60
    python scripts/fuzz.py --target csv --no-atheris --runs 2000 --seed 1
    python scripts/fuzz.py --all --no-atheris --runs 500     # every target, the fallback loop

Not part of CI's default run; crashes found become cases in ``tests/test_bad_inputs.py``.
"""

from __future__ import annotations

import argparse
import atexit
import gzip
import html
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # fuzz this checkout, not another installed copy
CORPUS = ROOT / "tests" / "fuzz_corpus"
TARGETS = ("osm", "csv", "geojson", "profile", "escape")

_TMP = Path(tempfile.mkdtemp(prefix="lifecircle-fuzz-"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


def _write(name: str, data: bytes) -> Path:
    path = _TMP / name
    path.write_bytes(data)
    return path


def _osm(data: bytes) -> None:
    from lifecircle.network import WalkNetwork
    from lifecircle.sources.osm import read_osm

    # the first byte picks the container, so one corpus exercises all three readers
    if data[:1] == b"\x1f" or data[:2] == b"\x1f\x8b":
        path = _write("f.osm.gz", data)
    elif data.lstrip()[:1] == b"<":
        path = _write("f.osm", data)
    elif len(data) > 4 and data[0] % 3 == 0:
        path = _write("f.osm.gz", gzip.compress(data[1:]))
    else:
        path = _write("f.osm.pbf", data)
    WalkNetwork.from_osm(read_osm(path))


def _profile_obj() -> object:
    from lifecircle.profiles import load_profile

    return load_profile("walk15")


def _csv(data: bytes) -> None:
    from lifecircle.sources.facilities import read_facilities

    read_facilities(_write("f.csv", data), _profile_obj())  # type: ignore[arg-type]


def _geojson(data: bytes) -> None:
    from lifecircle._errors import LifecircleError
    from lifecircle.sources.facilities import read_facilities
    from lifecircle.sources.tables import read_polygons

    path = _write("f.geojson", data)
    errors: list[Exception] = []
    for call in (
        lambda: read_facilities(path, _profile_obj()),  # type: ignore[arg-type]
        lambda: read_polygons(path),
    ):
        try:
            call()
        except Exception as exc:  # run both readers, then judge
            errors.append(exc)
    bugs = [e for e in errors if not isinstance(e, LifecircleError)]
    if bugs:
        raise bugs[0]
    if len(errors) == 2:  # neither reader could use it: a clean refusal
        raise errors[0]


def _toml(data: bytes) -> None:
    from lifecircle.profiles import load_profile

    load_profile(_write("p.toml", data))


def _escape(data: bytes) -> None:
    from lifecircle.outputs._escape import _DROP, _SPACE, escape_text, script_json

    text = data.decode("utf-8", errors="replace")
    out = escape_text(text, max_len=None)
    for bad in ("<", ">", "`", "${", "\\", '"', "'"):
        if bad in out:
            raise AssertionError(f"escape_text left {bad!r} in {out!r}")
    if _DROP.search(out) or "\n" in out:
        raise AssertionError(f"escape_text left a control character in {out!r}")
    shown = html.unescape(out)
    want = _DROP.sub("", _SPACE.sub(" ", text))
    if shown != want:
        raise AssertionError(f"escape_text lost text: {want!r} shown as {shown!r}")
    js = script_json({"t": text, "n": [len(text)]})
    low = js.lower()
    if "</" in low or "<!--" in low or "\u2028" in js or "\u2029" in js:
        raise AssertionError(f"script_json can break out of <script>: {js!r}")
    if json.loads(js) != {"t": text, "n": [len(text)]}:
        raise AssertionError("script_json does not round-trip")


RUNNERS: dict[str, Callable[[bytes], None]] = {
    "osm": _osm,
    "csv": _csv,
    "geojson": _geojson,
    "profile": _toml,
    "escape": _escape,
}


class Finding(Exception):
    """An exception that is not a LifecircleError: a bug."""


def one_input(target: str, data: bytes) -> str:
    """Run one input; return the outcome ("ok" or the LifecircleError class), raise Finding."""
    from lifecircle._errors import LifecircleError

    try:
        RUNNERS[target](data)
    except LifecircleError as exc:
        return type(exc).__name__
    except Exception as exc:
        raise Finding(f"{type(exc).__name__}: {exc}") from exc
    return "ok"


def seeds(target: str) -> list[bytes]:
    folder = CORPUS / target
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()]


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    """One to four random edits: bit flip, byte set/insert/delete, duplicate, splice."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        n = len(buf)
        if op == 0 and n:
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            buf[rng.randrange(n)] = rng.choice(b"\x00\xff<>\"'&;,\n\r=[]{}.-0123456789e")
        elif op == 2:
            i = rng.randrange(n + 1)
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3 and n:
            i = rng.randrange(n)
            del buf[i : i + rng.randint(1, 16)]
        elif op == 4 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 64))
            buf[j:j] = buf[i:j] * rng.randint(1, 4)
        elif op == 5 and pool:
            other = rng.choice(pool)
            cut = rng.randrange(len(buf) + 1)
            buf = buf[:cut] + other[rng.randrange(len(other) + 1) :]
        elif op == 6 and n:
            buf = buf[: rng.randrange(n)]  # truncate
    return bytes(buf)


def fallback(target: str, *, runs: int, seed: int, out: Path) -> dict[str, object]:
    """The seeded mutation loop: returns counts of outcomes and the findings."""
    rng = random.Random(seed)
    pool = seeds(target)
    outcomes: Counter[str] = Counter()
    findings: list[str] = []
    t0 = time.perf_counter()
    for data in pool:  # the seeds themselves first
        outcomes[_guard(target, data, findings, out)] += 1
    for _ in range(runs):
        data = mutate(rng, rng.choice(pool), pool)
        outcomes[_guard(target, data, findings, out)] += 1
    return {
        "target": target,
        "mode": "fallback",
        "seed": seed,
        "executions": sum(outcomes.values()),
        "seconds": round(time.perf_counter() - t0, 1),
        "outcomes": dict(outcomes),
        "findings": findings,
    }


def _guard(target: str, data: bytes, findings: list[str], out: Path) -> str:
    try:
        return one_input(target, data)
    except Finding as exc:
        out.mkdir(parents=True, exist_ok=True)
        name = f"crash-{target}-{len(findings)}"
        (out / name).write_bytes(data)
        detail = "".join(traceback.format_exception(exc.__cause__)).strip()
        (out / f"{name}.txt").write_text(detail + "\n")
        findings.append(f"{name}: {exc} | {detail.splitlines()[-1] if detail else ''}")
        return "FINDING"


def run_atheris(target: str, extra: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["lifecircle"]):
        import lifecircle.network
        import lifecircle.outputs._escape
        import lifecircle.profiles
        import lifecircle.sources.facilities
        import lifecircle.sources.osm
        import lifecircle.sources.tables  # noqa: F401

    def test_one_input(data: bytes) -> None:
        one_input(target, data)  # a Finding propagates: libFuzzer saves the input

    corpus = CORPUS / target
    work = _TMP / f"corpus-{target}"
    work.mkdir(exist_ok=True)
    atheris.Setup([sys.argv[0], *extra, str(work), str(corpus)], test_one_input)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=TARGETS)
    parser.add_argument("--all", action="store_true", help="every target (fallback loop)")
    parser.add_argument("--no-atheris", action="store_true", help="use the fallback loop")
    parser.add_argument("--runs", type=int, default=1000, help="fallback: mutated inputs")
    parser.add_argument("--seed", type=int, default=0, help="fallback: random seed")
    parser.add_argument(
        "--out", type=Path, default=Path("fuzz-findings"), help="where crashing inputs are saved"
    )
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    import logging

    logging.disable(logging.CRITICAL)  # the loaders' warnings are not findings
    try:
        import atheris  # noqa: F401

        have_atheris = True
    except ImportError:
        have_atheris = False
    if args.all or args.no_atheris or not have_atheris:
        if not have_atheris and not args.no_atheris:
            print("atheris is not installed: running the seeded mutation loop", file=sys.stderr)
        targets = TARGETS if args.all else (args.target,)
        if None in targets:
            parser.error("give --target or --all")
        reports = [fallback(t, runs=args.runs, seed=args.seed, out=args.out) for t in targets]
        print(json.dumps(reports, indent=2))
        return 1 if any(r["findings"] for r in reports) else 0
    if args.target is None:
        parser.error("give --target")
    run_atheris(args.target, extra)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        import shutil

        shutil.rmtree(_TMP, ignore_errors=True)

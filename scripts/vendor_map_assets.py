"""Fetch the JavaScript and CSS that ``map.html`` needs into ``lifecircle/outputs/assets/``.

A self-contained map (``make_map(..., self_contained=True)``) inlines these files instead of
linking the CDN addresses folium uses, so it opens on an intranet with no internet. The script
reads which files and versions the installed folium links to, downloads exactly those versions
with ``npm pack`` (npm registry only), keeps the minified files, the images the CSS refers to
and the licences, and writes ``manifest.json`` (files, versions, licences, sha256) next to
them. Rerun it after upgrading folium:

    python scripts/vendor_map_assets.py            # fetch and write
    python scripts/vendor_map_assets.py --check    # verify the shipped files against npm
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "lifecircle" / "outputs" / "assets"

# folium resource name -> (npm package, file inside the package). Other folium resources
# (jQuery, Bootstrap, Font Awesome, awesome-markers) are not used by lifecircle's map.
RESOURCES = {
    "leaflet": ("leaflet", "dist/leaflet.js"),
    "leaflet_css": ("leaflet", "dist/leaflet.css"),
    "markerclusterjs": ("leaflet.markercluster", "dist/leaflet.markercluster.js"),
    "markerclustercss": ("leaflet.markercluster", "dist/MarkerCluster.css"),
    "markerclusterdefaultcss": ("leaflet.markercluster", "dist/MarkerCluster.Default.css"),
}
# Extra files per package: images referenced by the CSS (inlined as data: URIs when the map is
# written) and the licence text, which must travel with the code.
EXTRA = {
    "leaflet": {
        "dist/images/layers.png": "images/layers.png",
        "dist/images/layers-2x.png": "images/layers-2x.png",
        "dist/images/marker-icon.png": "images/marker-icon.png",
        "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
        "dist/images/marker-shadow.png": "images/marker-shadow.png",
        "LICENSE": "LICENSE.leaflet.txt",
    },
    "leaflet.markercluster": {"MIT-LICENCE.txt": "LICENSE.leaflet.markercluster.txt"},
}
# How to read a package version out of the CDN address folium uses.
VERSION_IN_URL = {
    "leaflet": re.compile(r"leaflet@(\d+\.\d+\.\d+)"),
    "leaflet.markercluster": re.compile(r"leaflet\.markercluster/(\d+\.\d+\.\d+)"),
}


def folium_urls() -> dict[str, str]:
    """The CDN address of every resource folium (and its MarkerCluster plugin) links to."""
    import folium.folium
    from folium.plugins import MarkerCluster

    pairs = [*folium.folium._default_js, *folium.folium._default_css]
    pairs += [*MarkerCluster.default_js, *MarkerCluster.default_css]
    return dict(pairs)


def wanted_versions(urls: dict[str, str]) -> dict[str, str]:
    """npm package -> version, read from folium's addresses (they must agree per package)."""
    versions: dict[str, str] = {}
    for name, (package, member) in RESOURCES.items():
        url = urls[name]
        match = VERSION_IN_URL[package].search(url)
        if not match:
            sys.exit(f"cannot read the {package} version from folium's address {url}")
        if Path(member).name != url.rsplit("/", 1)[-1]:
            sys.exit(f"folium links {url}, which is not {member} of {package}; update RESOURCES")
        if versions.setdefault(package, match.group(1)) != match.group(1):
            sys.exit(f"folium links two versions of {package}")
    return versions


def npm_pack(package: str, version: str, workdir: Path) -> tuple[Path, dict[str, str]]:
    """Download ``package@version`` with npm and unpack it; return the folder and metadata."""
    out = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--json", "--pack-destination", str(workdir)],
        check=True, capture_output=True, text=True, cwd=workdir,
    )
    info = json.loads(out.stdout)[0]
    target = workdir / package
    with tarfile.open(workdir / info["filename"]) as tar:
        tar.extractall(target, filter="data")
    view = subprocess.run(
        ["npm", "view", f"{package}@{version}", "license", "dist.tarball", "--json"],
        check=True, capture_output=True, text=True, cwd=workdir,
    )
    meta = json.loads(view.stdout)
    return target / "package", {
        "license": meta["license"],
        "tarball": meta["dist.tarball"],
        "integrity": info["integrity"],
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare the shipped files with npm instead of writing them")
    args = parser.parse_args(argv)
    if shutil.which("npm") is None:
        sys.exit("npm is needed (apt-get install npm, or Node.js from nodejs.org)")
    urls = folium_urls()
    versions = wanted_versions(urls)
    manifest: dict[str, object] = {"resources": {}, "packages": {}}
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        roots: dict[str, Path] = {}
        for package, version in versions.items():
            roots[package], meta = npm_pack(package, version, workdir)
            files = {
                dest: src for src, dest in EXTRA.get(package, {}).items()
            }
            files.update({Path(m).name: m for n, (p, m) in RESOURCES.items() if p == package})
            manifest["packages"][package] = {  # type: ignore[index]
                "version": version, **meta,
                "files": {dest: {"from": src, "sha256": sha256(roots[package] / src)}
                          for dest, src in sorted(files.items())},
            }
            for dest, src in files.items():
                source, target = roots[package] / src, ASSETS / dest
                if args.check:
                    if not target.is_file() or sha256(target) != sha256(source):
                        problems.append(f"{target} differs from {package}@{version}/{src}")
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
        for name, (package, member) in RESOURCES.items():
            manifest["resources"][name] = {  # type: ignore[index]
                "package": package, "file": Path(member).name, "folium_url": urls[name],
            }
    if args.check:
        for problem in problems:
            print(problem)
        print("assets match npm" if not problems else f"{len(problems)} file(s) differ")
        return 1 if problems else 0
    (ASSETS / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {ASSETS}: " + ", ".join(f"{p}@{v}" for p, v in versions.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

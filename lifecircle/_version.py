"""lifecircle's version, and the versions of the stack it runs on."""

__version__ = "0.1.0"


def stack_versions() -> str:
    """lifecircle's version and the geo stack's (``lifecircle --version``)."""
    from importlib.metadata import PackageNotFoundError, version

    lines = [f"lifecircle {__version__}"]
    for dist in (
        "numpy",
        "scipy",
        "pandas",
        "shapely",
        "pyproj",
        "geopandas",
        "pyogrio",
        "osmium",
        "osmnx",
        "networkx",
        "rasterio",
        "folium",
        "momepy",
        "numba",
    ):
        try:
            lines.append(f"  {dist} {version(dist)}")
        except PackageNotFoundError:
            lines.append(f"  {dist} (not installed)")
    try:
        import pyproj

        lines.append(f"  PROJ {pyproj.proj_version_str}")
    except ImportError:
        pass
    try:
        import pyogrio

        lines.append(f"  GDAL {pyogrio.__gdal_version_string__}")
    except (ImportError, AttributeError):
        pass
    return "\n".join(lines)

"""Worked example: where should the next three elderly-care centres go?

Runs the accessibility analysis, then

1. proposes ``--new`` sites for ``--category`` (greedy, then the exact model for comparison),
   keeping every existing facility;
2. asks the set-covering question: how many new sites bring coverage to ``--target``;
3. scores supply per resident (2SFCA and its distance-decayed variant) before and after;
4. shows what closing the busiest existing facility would cost;
5. writes everything (GeoPackage layers ``proposed_sites`` and ``siting_blocks``, report.json,
   the before/after CSV) into ``--out``.

Run from the repository root (bundled central-Helsinki extract by default)::

    python scripts/site_facilities.py
    python scripts/site_facilities.py --osm ../shared/data/osm/nanjing_xinjiekou.osm.gz \\
        --category childcare --new 3 --out nanjing-siting
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import math

from lifecircle import ConfigError, siting
from lifecircle.pipeline import run
from lifecircle.supply import supply_demand


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osm", default=None, help="OSM file (default: bundled Helsinki)")
    parser.add_argument("--category", default="elderly_care")
    parser.add_argument("--new", type=int, default=3)
    parser.add_argument("--target", type=float, default=0.8, help="set-covering target share")
    parser.add_argument("--spacing-m", type=float, default=150.0, help="candidate spacing")
    parser.add_argument("--out", default=None, help="output folder (default: none written)")
    args = parser.parse_args(argv)
    cat = args.category

    result = run(args.osm, categories=[cat])
    s = result.report["summary"]["categories"][cat]
    print(f"{cat}: {s['facilities']} facilities, {s['population_covered']:,.0f} of "
          f"{s['population']:,.0f} residents within {s['threshold_min']:g} min")

    # 1. maximal coverage, greedy and exact
    greedy = siting.site(result, cat, new=args.new, spacing_m=args.spacing_m)
    print(f"\n{greedy.report['candidates']:,} candidate points every {args.spacing_m:g} m; "
          f"coverage matrix in {greedy.matrix.seconds:.2f} s")
    print(greedy.proposed_sites[["rank", "candidate_id", "gain_population",
                                 "cumulative_population"]].to_string(index=False))
    try:
        exact = siting.site(result, cat, new=args.new, spacing_m=args.spacing_m,
                            method="exact")
        sol = exact.solution
        print(f"exact ({sol.status}, gap {sol.gap}): {sol.objective:,.0f} residents newly "
              f"covered; greedy: {greedy.solution.objective:,.0f}")
    except ConfigError as exc:  # too big for the exact model
        print(f"exact model skipped: {exc}")

    # 2. set covering
    try:
        cover = siting.site(result, cat, target_share=args.target, spacing_m=args.spacing_m)
        print(f"\nfewest new sites for {args.target:.0%} coverage (greedy): "
              f"{len(cover.proposed_sites)}")
    except ConfigError as exc:
        print(f"\nset covering: {exc}")

    # 3. supply per resident, plain and distance-decayed
    before = supply_demand(result, cat)
    decayed = supply_demand(result, cat, decay="gaussian")

    served = before["supply_per_1000"] > 0
    print(f"\n2SFCA: {served.mean():.0%} of blocks have a facility in reach; supply per 1000 "
          f"residents {before.loc[served, 'supply_per_1000'].min():.3f}"
          f"..{before.loc[served, 'supply_per_1000'].max():.3f} (gaussian decay: "
          f"{decayed.loc[served, 'supply_per_1000'].min():.3f}"
          f"..{decayed.loc[served, 'supply_per_1000'].max():.3f})")
    # 4. closing the facility with the most residents per unit of supply (lowest ratio)
    ratio = {f: r for f, r in before.attrs["facility_ratio"].items() if math.isfinite(r)}
    if ratio:
        busiest = min(ratio, key=lambda f: ratio[f])
        _, fig = siting.scenario(result, cat, remove=[busiest])
        print(f"closing {busiest}: population covered changes by "
              f"{fig['change']['population_covered']:+,.0f}, "
              f"{fig['blocks_lost']} blocks lose coverage")

    # 5. everything into one output folder
    if args.out:
        res, _ = siting.run_site(args.osm, category=cat, new=args.new,
                                    spacing_m=args.spacing_m, out=args.out, overwrite=True)
        print(f"\nwrote {res.out} (proposed_sites, siting_blocks, report.json['siting'])")


if __name__ == "__main__":
    main()

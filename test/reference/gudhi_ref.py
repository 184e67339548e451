"""Reference values from GUDHI (PyPI gudhi 3.13), for the tests that check the
engine's diagram distances (and vectorisations) against it in the same run.

Reads one JSON document on stdin:
  {"op": "distance", "cases": [{"a": [[b, d], ...], "b": [[b, d], ...],
                                "order": p, "internal_p": q, "delta": hera's relative error}, ...]}
and prints one JSON list: per case {"bottleneck": x, "wasserstein": y,
"wasserstein_exact": z} (infinite values as the string "inf"): y from hera
(auction, within the relative error delta, 1e-6 by default), z from
gudhi.wasserstein (the exact optimal transport of POT). Exits non-zero on any
other gudhi.
"""
import json
import math
import sys
import warnings

import gudhi
import gudhi.hera
import gudhi.wasserstein
import numpy as np

WANT = "3.13."
# gudhi.wasserstein warns when the essential parts differ (the answer is +inf, as expected)
warnings.filterwarnings("ignore", message="Cardinality of essential parts differs")


def diagram(points):
    arr = np.array(points, dtype=float).reshape(-1, 2)
    return arr


def has_finite(d):
    return bool(np.isfinite(d[:, 1]).any())


def only_essential(d):
    return len(d) > 0 and not has_finite(d)


def num(x):
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def distance(case):
    a, b = diagram(case["a"]), diagram(case["b"])
    q = float(case.get("internal_p", math.inf))
    out = {"bottleneck": num(gudhi.bottleneck_distance(a, b, e=0))}
    if case.get("order") is not None:
        # hera 3.13 never returns when one side has essential bars but no finite
        # one while the other has finite bars: no hera value then ("wasserstein": null)
        if any(only_essential(x) for x in (a, b)) and any(has_finite(x) for x in (a, b)):
            out["wasserstein"] = None
        else:
            out["wasserstein"] = num(
                gudhi.hera.wasserstein_distance(a, b, order=float(case["order"]), internal_p=q, delta=float(case.get("delta", 1e-6)))
            )
        out["wasserstein_exact"] = num(gudhi.wasserstein.wasserstein_distance(a, b, order=float(case["order"]), internal_p=q))
    return out


def main():
    if not gudhi.__version__.startswith(WANT):
        sys.exit(f"gudhi {gudhi.__version__} found; the reference is gudhi {WANT}x (scripts/bootstrap.sh installs it)")
    doc = json.load(sys.stdin, parse_constant=lambda c: {"Infinity": math.inf, "-Infinity": -math.inf}[c])
    if doc["op"] == "distance":
        res = [distance(c) for c in doc["cases"]]
    else:
        sys.exit(f"unknown op {doc['op']!r}")
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

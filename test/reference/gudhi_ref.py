"""Reference values from GUDHI (PyPI gudhi 3.13), for the tests that check the
engine's diagram distances (and vectorisations) against it in the same run.

Reads one JSON document on stdin:
  {"op": "distance", "cases": [{"a": [[b, d], ...], "b": [[b, d], ...],
                                "order": p, "internal_p": q, "delta": hera's relative error}, ...]}
or
  {"op": "sparse_rips", "cases": [{"points": [[x, ...], ...] | "lower": [d10, d20, d21, ...], "n": n,
   "e": GUDHI's sparse parameter, "max_dim": k, "seed": s, "exact": [[[b, d], ...] per dimension]}, ...]}
or
  {"op": "vectorize", "cases": [{"bars": [[b, d], ...], "kind": "betti" | "landscape" |
   "image" | "entropy" | "amplitudes", "lo", "hi", "resolution", "layers", "bandwidth",
   "power" (image weight p^power, or null for 1), "ylo", "yhi", "order", "internal_p"}, ...]}
and prints one JSON list: per vectorize case the flat list of values
(gudhi.representations BettiCurve on the grid numpy.linspace(lo, hi, resolution),
Landscape, PersistenceImage, Entropy; amplitudes: total persistence and the
bottleneck and Wasserstein distances to the empty diagram); per distance case {"bottleneck": x, "wasserstein": y,
"wasserstein_exact": z} (infinite values as the string "inf"): y from hera
(auction, within the relative error delta, 1e-6 by default), z from
gudhi.wasserstein (the exact optimal transport of POT); per sparse_rips case
{"simplices": N, "log_bottleneck_0": x0, ...}: RipsComplex(sparse=e) with
gudhi.random.set_seed(seed), persistence over Z/2, and per dimension the
bottleneck distance in log scale between its diagram and the given exact one
(a birth 0 counts as 1e-30 on both sides). Exits non-zero on any other gudhi.
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


def log_diagram(points):
    d = diagram(points)
    if len(d) == 0:
        return d
    return np.log(np.maximum(d, 1e-30))


def sparse_rips(case):
    import gudhi.random

    gudhi.random.set_seed(int(case.get("seed", 0)))
    if "points" in case:
        rc = gudhi.RipsComplex(points=np.array(case["points"], dtype=float), sparse=float(case["e"]))
    else:
        n, low = int(case["n"]), case["lower"]
        rows = [[low[i * (i - 1) // 2 + j] for j in range(i)] for i in range(n)]
        rc = gudhi.RipsComplex(distance_matrix=rows, sparse=float(case["e"]))
    k = int(case["max_dim"])
    st = rc.create_simplex_tree(max_dimension=k + 1)
    st.compute_persistence(homology_coeff_field=2, min_persistence=0)
    out = {"simplices": st.num_simplices()}
    for dim in range(k + 1):
        mine = st.persistence_intervals_in_dimension(dim)
        mine = mine[mine[:, 1] > mine[:, 0]] if len(mine) else np.zeros((0, 2))
        out["log_bottleneck_%d" % dim] = num(
            gudhi.bottleneck_distance(log_diagram(mine), log_diagram(case["exact"][dim]), e=0)
        )
    return out


def vectorize(case):
    import gudhi.representations as rep

    bars = diagram(case["bars"])
    finite = bars[np.isfinite(bars[:, 1]) & (bars[:, 1] > bars[:, 0])]
    kind = case["kind"]
    if kind == "betti":
        grid = np.linspace(case["lo"], case["hi"], case["resolution"])
        return rep.BettiCurve(predefined_grid=grid).fit_transform([bars])[0].astype(float).tolist()
    if kind == "landscape":
        ls = rep.Landscape(num_landscapes=case["layers"], resolution=case["resolution"], sample_range=[case["lo"], case["hi"]])
        return ls.fit_transform([finite])[0].tolist()
    if kind == "image":
        power = case.get("power")
        weight = (lambda p: 1.0) if power is None else (lambda p: p[1] ** power)
        pi = rep.PersistenceImage(
            bandwidth=case["bandwidth"],
            weight=weight,
            resolution=[case["resolution"], case["resolution"]],
            im_range=[case["lo"], case["hi"], case["ylo"], case["yhi"]],
        )
        return pi.fit_transform([finite])[0].tolist()
    if kind == "entropy":
        return [float(rep.Entropy(mode="scalar").fit_transform([finite])[0][0])]
    if kind == "amplitudes":
        order, q = float(case["order"]), float(case.get("internal_p", math.inf))
        empty = np.zeros((0, 2))
        total = float(np.sum((finite[:, 1] - finite[:, 0]) ** order))
        return [
            total,
            float(gudhi.bottleneck_distance(finite, empty, e=0)),
            float(gudhi.wasserstein.wasserstein_distance(finite, empty, order=order, internal_p=q)),
        ]
    sys.exit(f"unknown kind {kind!r}")


def main():
    if not gudhi.__version__.startswith(WANT):
        sys.exit(f"gudhi {gudhi.__version__} found; the reference is gudhi {WANT}x (scripts/bootstrap.sh installs it)")
    doc = json.load(sys.stdin, parse_constant=lambda c: {"Infinity": math.inf, "-Infinity": -math.inf}[c])
    if doc["op"] == "distance":
        res = [distance(c) for c in doc["cases"]]
    elif doc["op"] == "sparse_rips":
        res = [sparse_rips(c) for c in doc["cases"]]
    elif doc["op"] == "vectorize":
        res = [vectorize(c) for c in doc["cases"]]
    else:
        sys.exit(f"unknown op {doc['op']!r}")
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

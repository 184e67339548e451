#!/usr/bin/env python3
"""Vietoris–Rips benchmark: the engine's CLI against Debian's ripser and giotto-ph.

Every input is run by the engine and by the anchors in the same run, on the same
machine; barcodes are compared per dimension as multisets at Ripser's printed
precision. Reads the datasets from ../shared/datasets (say so when missing).

  python3 bench/rips_bench.py [--threads N] [--only NAME,...] [--quick] [--timeout S] [--collapse-rows]
                              [--baseline ENGINE [--rounds R]] [--no-ripser] [--estimate]

Prints one line per input (wall seconds; CPU = user + sys matters on a loaded machine):
  NAME engine_s=… ripser_s=… ratio=… engine_rss_mb=… ripser_rss_mb=… equal=yes|no engine_cpu_s=… ripser_cpu_s=…
then the same against giotto-ph, then `worst ratio vs ripser: X`.

With --collapse-rows, each input also runs with the edge collapse forced off and forced on
(the main row is the default, `--collapse auto`), both compared with ripser, and giotto-ph
runs with `collapse_edges=True` at the same thread count:
  NAME collapse_off_s=… collapse_on_s=… auto_s=… rule=… equal=yes|no giotto_collapse_s=… ratio_auto_vs_giotto_collapse=…

giotto-ph computes point-cloud distances in float64 before rounding them to float32,
where Ripser (and the engine) accumulate in float32, so some printed values differ in
the 6th significant digit: its `equal=` allows 3 units there, `exact=` says whether
the printed barcodes are identical.

With --estimate, each input also runs `tda-engine --estimate` (the figure the server admits a
job with: the complex measured below the threshold) and prints
  NAME estimate_mb=… engine_rss_mb=… estimate_over_rss=… estimate_s=… pilot_s=… predicted_s=… engine_s=… predicted_over_wall=…
(estimate_s: the whole --estimate process; pilot_s: its fill-in pilots, see fill_in.hpp;
predicted_s: the estimate's time, EstimateJob's `seconds`, over the run's wall time)
then `estimate/rss: min X max Y (goal: between 1 and 3 on every row)` and the time
ratio's range over the rows of 0.3 s and more.

With --baseline ENGINE (another build of tda-engine, e.g. the previous commit's, built into a
second build directory), each input also runs that binary, alternating with this one for
--rounds rounds (default 3; the best wall time of each), and prints
  NAME engine_s=… baseline_s=… ratio_vs_baseline=… equal_baseline=yes|no
then `geomean ratio vs baseline: X`. --no-ripser skips Debian's ripser (for such an A/B run).
"""
import argparse
import bisect
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("TDA_DATASETS", os.path.join(ROOT, "..", "shared", "datasets"))
ENGINE = os.path.join(ROOT, "engine-cpp", "build", "tda-engine")

# name, file, format, args (without --format), modulus, quick (fast enough for a short run)
CASES = [
    ("sphere_3_192", "ripser-examples/sphere_3_192.lower_distance_matrix", "lower-distance", ["--dim", "3"], 2, True),
    ("o3_1024", "ripser-examples/o3_1024.txt", "point-cloud", ["--threshold", "1.8", "--dim", "3"], 2, True),
    ("o3_4096", "ripser-examples/o3_4096.txt", "point-cloud", ["--threshold", "1.4", "--dim", "3"], 2, False),
    ("dragon_2000", "ph-roadmap/dragon_vrip.ply.txt_2000_.txt", "point-cloud", ["--dim", "1"], 2, True),
    ("fractal_r", "ph-roadmap/fractal_9_5_2_random_edge_list.txt_0.19795_distmat.txt", "distance", ["--dim", "2"], 2, True),
    ("random16", "ph-roadmap/random_point_cloud_50_16_.txt", "point-cloud", ["--dim", "7"], 2, False),
    ("celegans", "ripser-plusplus/celegans.distance_matrix", "distance", ["--dim", "2"], 2, True),
    ("vicsek300", "ripser-plusplus/Vicsek300_300_of_300.distance_matrix", "distance", ["--dim", "2"], 2, True),
    ("torus4_50000", "ripser-benchmark/clifford_torus_50000.points.txt", "point-cloud", ["--threshold", "0.15", "--dim", "2"], 2, False),
    ("rp2_600_mod2", "ripser-examples/rp2_600.lower_distance_matrix.csv", "lower-distance", ["--dim", "2"], 2, True),
    ("rp2_600_mod3", "ripser-examples/rp2_600.lower_distance_matrix.csv", "lower-distance", ["--dim", "2"], 3, True),
    ("projective_plane_mod2", "ripser-examples/projective_plane.lower_distance_matrix", "lower-distance", ["--dim", "2"], 2, True),
    ("projective_plane_mod3", "ripser-examples/projective_plane.lower_distance_matrix", "lower-distance", ["--dim", "2"], 3, True),
]
DEV_TESTS = "ripser-examples/dev-branch-tests"


def dev_cases():
    d = os.path.join(DATA, DEV_TESTS)
    out = []
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        fmt = "upper-distance" if "upper" in f else "lower-distance"
        out.append(("dev/" + f, os.path.join(DEV_TESTS, f), fmt, ["--dim", "2"], 2, True))
    return out


def parse_barcode(text):
    bars, dim = {}, None
    for line in text.splitlines():
        m = re.match(r"persistence intervals in dim (\d+):", line)
        if m:
            dim = int(m.group(1))
            bars[dim] = Counter()
        elif dim is not None and line.strip().startswith("["):
            bars[dim][line.strip()] += 1
    return bars


def bars_close(a, b, rel=3e-6):
    """Per-dimension multisets equal up to `rel` relative difference of each end."""
    def values(text):
        birth, _, death = text.strip()[1:-1].partition(",")
        return float(birth), (math.inf if death.strip() == "" else float(death))

    def close(x, y):
        return x == y or abs(x - y) <= rel * max(abs(x), abs(y))

    if set(a) != set(b):
        return False
    for dim in a:
        xs = sorted(values(t) for t, c in a[dim].items() for _ in range(c))
        ys = sorted(values(t) for t, c in b[dim].items() for _ in range(c))
        if len(xs) != len(ys):
            return False
        used = [False] * len(ys)
        births = [y[0] for y in ys]
        for x in xs:
            i = bisect.bisect_left(births, x[0] * (1 - rel) - 1e-12)
            while i < len(ys) and births[i] <= x[0] * (1 + rel) + 1e-12:
                if not used[i] and close(x[1], ys[i][1]):
                    used[i] = True
                    break
                i += 1
            else:
                return False
    return True


def timed(cmd, timeout):
    """Runs cmd under /usr/bin/time; returns (stdout, seconds, peak_rss_mb, cpu_seconds) or None on failure/timeout."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        try:
            p = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", tf.name] + cmd,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if p.returncode != 0:
            return None
        secs, kb, user, sys_ = tf.read().split()[-4:]
        return p.stdout, float(secs), int(kb) / 1024.0, float(user) + float(sys_)


GIOTTO_SNIPPET = r"""
import sys, time, numpy as np
from gph import ripser_parallel
path, fmt, maxdim, thresh, coeff, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
collapse = len(sys.argv) > 7 and sys.argv[7] == "collapse"
import re
nums = [np.array([float(t) for t in re.split(r"[^0-9eE.+-]+", l.strip()) if t], dtype=np.float32) for l in open(path) if l.strip()]
if fmt == "point-cloud":
    X, metric = np.vstack(nums), "euclidean"
elif fmt == "distance":
    L = np.tril(np.vstack(nums), -1)  # Ripser reads the lower triangle (some files are not symmetric)
    X, metric = L + L.T, "precomputed"
else:
    flat = np.concatenate(nums) if nums else np.zeros(0, np.float32)
    n = 1
    while n * (n - 1) // 2 < len(flat): n += 1
    X = np.zeros((n, n), np.float32)
    idx = np.tril_indices(n, -1) if fmt == "lower-distance" else np.triu_indices(n, 1)
    if fmt == "lower-distance":
        rows, cols = [], []
        for i in range(1, n):
            for j in range(i): rows.append(i); cols.append(j)
        X[rows, cols] = flat[:len(rows)]
    else:
        X[idx] = flat[:len(idx[0])]
    X = X + X.T
    metric = "precomputed"
t0 = time.perf_counter()
kw = dict(maxdim=maxdim, coeff=coeff, n_threads=threads, metric=metric, collapse_edges=collapse)
if thresh >= 0: kw["thresh"] = thresh
dgms = ripser_parallel(X, **kw)["dgms"]
el = time.perf_counter() - t0
print("elapsed", el)
for d, dg in enumerate(dgms):
    print("persistence intervals in dim %d:" % d)
    for b, e in dg:
        b32, e32 = np.float32(b), np.float32(e)
        if np.isfinite(e32) and e32 == b32: continue
        print(" [%s,%s)" % ("%g" % b32, ("%g" % e32) if np.isfinite(e32) else " "))
"""


def collapse_row(a, name, path, fmt, args, modargs, auto, ref):
    """Engine with the collapse forced off and on (auto is the main row), and giotto-ph with collapse_edges."""
    cells = [name]
    runs = {}
    for mode in ("off", "on"):
        runs[mode] = timed([ENGINE, "--format", fmt] + args + modargs + ["--threads", str(a.threads), "--collapse", mode,
                                                                          "--stats", path], a.timeout)
    rule = "?"
    st = timed_stderr([ENGINE, "--format", fmt] + args + modargs + ["--threads", str(a.threads), "--stats", path], a.timeout)
    if st:
        m = re.search(r"collapse=(\S+)", st)
        rule = m.group(1) if m else "?"
    for mode in ("off", "on"):
        cells.append(f"collapse_{mode}_s={runs[mode][1]:.2f}" if runs[mode] else f"collapse_{mode}=failed")
    cells.append(f"auto_s={auto[1]:.2f} rule={rule}")
    equal = ref is not None and all(r is not None and parse_barcode(r[0]) == parse_barcode(ref[0]) for r in list(runs.values()) + [auto])
    cells.append(f"equal={'yes' if equal else 'no'}")
    if not a.no_giotto:
        thr = args[args.index("--threshold") + 1] if "--threshold" in args else "-1"
        dim = args[args.index("--dim") + 1]
        mod = modargs[1] if modargs else "2"
        g = timed([a.python, "-c", GIOTTO_SNIPPET, path, fmt, dim, thr, mod, str(a.threads), "collapse"], a.timeout)
        if g is None:
            cells.append("giotto_collapse=failed")
        else:
            gsecs = float(g[0].split("\n", 1)[0].split()[1])
            gb = parse_barcode(g[0])
            cells.append(f"giotto_collapse_s={gsecs:.2f} ratio_auto_vs_giotto_collapse={auto[1] / max(gsecs, 0.01):.2f} "
                         f"giotto_equal={'yes' if gb == parse_barcode(auto[0]) or bars_close(gb, parse_barcode(auto[0])) else 'no'}")
    return " ".join(cells)


def baseline_row(a, name, cli_args, first):
    """This engine against --baseline on the same input, alternating; best wall time of each."""
    ours, theirs = [first], []
    for r in range(a.rounds):
        theirs.append(timed([a.baseline, "--format"] + cli_args, a.timeout))
        if r + 1 < a.rounds:
            ours.append(timed([ENGINE, "--format"] + cli_args, a.timeout))
    if any(x is None for x in ours + theirs):
        return f"{name} baseline failed or timed out", None, False
    best, base = min(x[1] for x in ours), min(x[1] for x in theirs)
    equal = all(parse_barcode(x[0]) == parse_barcode(first[0]) for x in ours + theirs)
    ratio = best / max(base, 0.01)
    return (f"{name} engine_s={best:.2f} baseline_s={base:.2f} ratio_vs_baseline={ratio:.3f} "
            f"equal_baseline={'yes' if equal else 'no'}"), ratio, equal


def estimate_row(a, name, cli_args, eng):
    """The engine's estimate of this input (--estimate) over the peak RSS of the engine's run."""
    fmt, rest = cli_args[0], cli_args[1:]
    t0 = time.monotonic()
    try:
        p = subprocess.run([ENGINE, "--estimate", "--format", fmt] + rest, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        return f"{name} estimate timed out", None, None
    secs = time.monotonic() - t0
    m = re.search(r"memory_bytes=(\d+)", p.stdout)
    if p.returncode != 0 or not m:
        return f"{name} estimate failed", None, None
    est_mb = int(m.group(1)) / 2**20
    ratio = est_mb / max(eng[2], 1e-3)
    pilot = re.search(r"pilot_s=([0-9.]+)", p.stdout)  # the fill-in pilots' share of estimate_s
    # the estimate's time (EstimateJob's `seconds`) over the engine's wall time at --threads
    predicted = float(re.search(r"seconds=([0-9.e+-]+)", p.stdout).group(1))
    return (f"{name} estimate_mb={est_mb:.1f} engine_rss_mb={eng[2]:.1f} estimate_over_rss={ratio:.2f} "
            f"estimate_s={secs:.2f} pilot_s={pilot.group(1) if pilot else 'none'} predicted_s={predicted:.3g} "
            f"engine_s={eng[1]:.2f} predicted_over_wall={predicted / max(eng[1], 0.01):.2f}"), ratio, \
        (predicted / eng[1] if eng[1] >= 0.3 else None)


def timed_stderr(cmd, timeout):
    try:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return p.stderr if p.returncode == 0 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--only", default="")
    ap.add_argument("--quick", action="store_true", help="only the inputs that run in seconds")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--no-giotto", action="store_true")
    ap.add_argument("--collapse-rows", action="store_true", help="collapse off/on rows and giotto-ph with collapse_edges")
    ap.add_argument("--python", default=sys.executable, help="interpreter with giotto-ph (gph) installed")
    ap.add_argument("--baseline", default="", help="another tda-engine binary to compare with, same run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds against --baseline (best of each)")
    ap.add_argument("--no-ripser", action="store_true", help="skip Debian's ripser")
    ap.add_argument("--estimate", action="store_true", help="print the engine's memory estimate over its measured peak RSS")
    a = ap.parse_args()
    if not os.path.isdir(DATA):
        print(f"datasets not found at {DATA} (../shared/datasets is missing): nothing to benchmark")
        return 2
    if not os.access(ENGINE, os.X_OK):
        print(f"engine binary missing: {ENGINE} (run `make build`)")
        return 2
    cases = CASES + dev_cases()
    if a.only:
        keep = set(a.only.split(","))
        cases = [c for c in cases if c[0] in keep]
    if a.quick:
        cases = [c for c in cases if c[5]]
    print(f"# threads={a.threads} datasets={os.path.relpath(DATA, ROOT)}")
    worst = 0.0
    baseline_rows, baseline_ratios = [], []
    giotto_rows = []
    collapse_rows = []
    estimate_rows, estimate_ratios, time_ratios = [], [], []
    all_equal = True
    for name, rel, fmt, args, mod, _ in cases:
        path = os.path.join(DATA, rel)
        modargs = ["--modulus", str(mod)] if mod != 2 else []
        ref_bin = "/usr/bin/ripser-coeff" if mod != 2 else "/usr/bin/ripser"
        eng = timed([ENGINE, "--format", fmt] + args + modargs + ["--threads", str(a.threads), path], a.timeout)
        ref = None if a.no_ripser else timed([ref_bin, "--format", fmt] + args + modargs + [path], a.timeout)
        if eng is None:
            print(f"{name} engine failed or timed out")
            all_equal = False
            continue
        eb = parse_barcode(eng[0])
        if a.baseline:
            row, ratio, equal = baseline_row(a, name, [fmt] + args + modargs + ["--threads", str(a.threads), path], eng)
            baseline_rows.append(row)
            all_equal &= equal
            if ratio:
                baseline_ratios.append(ratio)
            print(row, flush=True)
        if a.no_ripser:
            pass
        elif ref is None:
            print(f"{name} engine_s={eng[1]:.2f} ripser_s=timeout(>{a.timeout:.0f}) engine_rss_mb={eng[2]:.1f} equal=unknown")
        else:
            equal = eb == parse_barcode(ref[0])
            all_equal &= equal
            ratio = eng[1] / max(ref[1], 0.01)
            if ref[1] > 1.0:
                worst = max(worst, ratio)
            print(f"{name} engine_s={eng[1]:.2f} ripser_s={ref[1]:.2f} ratio={ratio:.2f} "
                  f"engine_rss_mb={eng[2]:.1f} ripser_rss_mb={ref[2]:.1f} equal={'yes' if equal else 'no'} "
                  f"engine_cpu_s={eng[3]:.2f} ripser_cpu_s={ref[3]:.2f}", flush=True)
        if not a.no_giotto:
            thr = "-1"
            if "--threshold" in args:
                thr = args[args.index("--threshold") + 1]
            dim = args[args.index("--dim") + 1]
            g = timed([a.python, "-c", GIOTTO_SNIPPET, path, fmt, dim, thr, str(mod), str(a.threads)], a.timeout)
            if g is None:
                giotto_rows.append(f"{name} giotto failed or timed out")
            else:
                gsecs = float(g[0].split("\n", 1)[0].split()[1])
                gb = parse_barcode(g[0])
                gexact = gb == eb
                gequal = gexact or bars_close(gb, eb)
                giotto_rows.append(f"{name} engine_s={eng[1]:.2f} giotto_s={gsecs:.2f} ratio={eng[1] / max(gsecs, 0.01):.2f} "
                                   f"engine_rss_mb={eng[2]:.1f} giotto_rss_mb={g[2]:.1f} equal={'yes' if gequal else 'no'} exact={'yes' if gexact else 'no'}")
        if a.estimate:
            row, ratio, time_ratio = estimate_row(a, name, [fmt] + args + modargs + [path], eng)
            estimate_rows.append(row)
            if ratio:
                estimate_ratios.append(ratio)
            if time_ratio:
                time_ratios.append(time_ratio)
        if a.collapse_rows:
            row = collapse_row(a, name, path, fmt, args, modargs, eng, ref)
            all_equal &= " equal=yes" in row
            collapse_rows.append(row)
    if collapse_rows:
        print(f"# edge collapse (threads={a.threads}; seconds are wall; equal = all three engine runs equal ripser)")
        for r in collapse_rows:
            print(r)
    if estimate_rows:
        print("# memory estimate (tda-engine --estimate, what the server admits with) over the engine's peak RSS")
        for r in estimate_rows:
            print(r)
        if estimate_ratios:
            ok = all(1 <= r <= 3 for r in estimate_ratios)
            print(f"estimate/rss: min {min(estimate_ratios):.2f} max {max(estimate_ratios):.2f} "
                  f"(goal: between 1 and 3 on every row: {'met' if ok else 'NOT met'})")
        if time_ratios:
            print(f"estimated time/wall (rows of 0.3 s and more): min {min(time_ratios):.2f} max {max(time_ratios):.2f}")
    if giotto_rows:
        print(f"# against giotto-ph (n_threads={a.threads}; giotto_s excludes Python start-up and parsing, RSS includes the interpreter)")
        for r in giotto_rows:
            print(r)
    if baseline_ratios:
        print(f"geomean ratio vs baseline: {math.exp(sum(map(math.log, baseline_ratios)) / len(baseline_ratios)):.3f} "
              f"(min {min(baseline_ratios):.3f}, max {max(baseline_ratios):.3f}, {len(baseline_ratios)} inputs)")
    if not a.no_ripser:
        print(f"worst ratio vs ripser: {worst:.2f}")
    return 0 if all_equal else 1


if __name__ == "__main__":
    sys.exit(main())

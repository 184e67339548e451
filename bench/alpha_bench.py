#!/usr/bin/env python3
"""Alpha-complex benchmark: the engine's CLI against GUDHI, in the same run.

Point clouds are generated with a fixed seed (numpy): 3-D uniform in the unit
cube, on a torus (R=1, r=0.35) and on the unit sphere, at 10k, 100k and 1M
points, and 2-D uniform clouds. For every cloud:
  - the engine: `tda-engine --algorithm alpha --stats FILE`, wall time and peak
    RSS of the whole process (parsing the text file included) from /usr/bin/time;
    the core's own time (`core_s`, printed by --stats) is shown too;
  - GUDHI: `AlphaComplex(points).create_simplex_tree().persistence()` in a
    separate python process (Debian's python3-gudhi by default), timing that
    call only (`gudhi_s`), peak RSS of the process from /usr/bin/time;
  - the diagrams are compared per dimension as multisets within 1e-9 relative
    (bars shorter than that dropped on both sides): equal=yes|no;
  - the floor: `tda_delaunay_floor` (built with the engine) times the bare CGAL
    Delaunay triangulation of the same points with the same kernel and threads
    (`floor_s`, file reading excluded); `core/floor` is the engine's core time
    over it, the engine's cost relative to its own floor (goal <= 3x).
  - --repeat K runs the engine and the floor K times each, alternating, and
    reports the medians of core_s and floor_s (with their ranges) and the ratio
    of the medians: on a shared machine one run of either swings by 10 %.

  python3 bench/alpha_bench.py [--engine PATH] [--floor PATH] [--threads 1] [--python PATH] [--sizes 10000,100000,1000000]
                               [--shapes uniform,torus,sphere,uniform2d] [--modulus 11]
                               [--precision safe|exact] [--gudhi-max-n N] [--quick] [--timeout S] [--repeat K]

Both sides use the same coefficient field (default Z/11, GUDHI's default; the
dimension-1 diagram in R^3 can depend on it). GUDHI's default precision 'safe'
rounds some filtration values by more than 1e-9 relative (it converts interval
approximations whose relative width is below 1e-5); the engine's values are
within ~1e-13 of the exact ones, so a handful of bars can differ at 100k+
points: `unmatched=` counts them; `--precision exact` makes GUDHI exact (slower).
GUDHI is skipped for a cloud when the peak RSS extrapolated from the previous
size of the same shape exceeds 70% of the available memory (it is printed as
skipped, with the estimate). --quick runs 10k and 100k only. Prints one line
per cloud, then the worst ratios.
"""
import argparse
import bisect
import math
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE_CANDIDATES = [
    os.path.join(ROOT, "engine-cpp", "build", "tda-engine"),
    os.path.join(ROOT, "engine-cpp", "build", "tda_alpha_cli"),
]
TOL = 1e-9
FLOOR_DEFAULT = os.path.join(ROOT, "engine-cpp", "build", "tda_delaunay_floor")

GEN = r"""
import sys, numpy as np
shape, n, seed, txt, npy = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rng = np.random.default_rng(seed)
if shape == "uniform":
    P = rng.random((n, 3))
elif shape == "uniform2d":
    P = rng.random((n, 2))
elif shape == "torus":
    u, v = rng.random(n) * 2 * np.pi, rng.random(n) * 2 * np.pi
    R, r = 1.0, 0.35
    P = np.stack([(R + r * np.cos(v)) * np.cos(u), (R + r * np.cos(v)) * np.sin(u), r * np.sin(v)], axis=1)
elif shape == "sphere":
    G = rng.normal(size=(n, 3))
    P = G / np.linalg.norm(G, axis=1)[:, None]
else:
    raise SystemExit("unknown shape " + shape)
np.savetxt(txt, P, fmt="%.17g")
np.save(npy, P)
"""

GUDHI = r"""
import sys, time, numpy as np, gudhi
P = np.load(sys.argv[1])
out, field, precision = sys.argv[2], int(sys.argv[3]), sys.argv[4]
t = time.perf_counter()
st = gudhi.AlphaComplex(points=P, precision=precision).create_simplex_tree()
pers = st.persistence() if field == 11 else st.persistence(homology_coeff_field=field)
el = time.perf_counter() - t
with open(out, "w") as f:
    for d, (b, e) in pers:
        f.write("%d %r %r\n" % (d, float(b), float(e)))
print("gudhi_seconds=%.6f simplices=%d" % (el, st.num_simplices()))
"""


def run_timed(cmd, timeout):
    """Runs cmd under /usr/bin/time; returns (stdout, stderr, wall_s, rss_mb) or None on timeout/failure."""
    full = ["/usr/bin/time", "-f", "TIME %e %M"] + cmd
    try:
        p = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    m = re.search(r"TIME ([0-9.]+) ([0-9]+)", p.stderr)
    if p.returncode != 0 or not m:
        sys.stderr.write("command failed: %s\n%s\n" % (" ".join(cmd), p.stderr[-2000:]))
        return None
    return p.stdout, p.stderr, float(m.group(1)), int(m.group(2)) / 1024.0


def median(xs):
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def spread(name, xs):
    return " %s_range=%.2f-%.2f(%d)" % (name, min(xs), max(xs), len(xs)) if len(xs) > 1 else ""


def repeated_runs(eng_cmd, floor_cmd, repeat, timeout):
    """The engine and the floor (if any), `repeat` times each, alternating. Returns
    (the engine's first run, its core times, the floor's first run, its times); a
    failed first run gives None and no times."""
    eng = fl = None
    cores, floors = [], []
    for r in range(repeat):
        e = run_timed(eng_cmd, timeout)
        if r == 0:
            eng = e
        if e and eng:
            m = re.search(r"core_seconds=([0-9.]+)", e[1])
            if m:
                cores.append(float(m.group(1)))
        if floor_cmd:
            f = run_timed(floor_cmd, timeout)
            if r == 0:
                fl = f
            if f and fl:
                floors.append(float(re.search(r"delaunay_seconds=([0-9.]+)", f[0]).group(1)))
    return eng, cores, fl, floors


def parse_engine(text):
    bars, d = {}, None
    for line in text.splitlines():
        if line.startswith("persistence intervals in dim"):
            d = int(line.split()[-1].rstrip(":"))
            bars[d] = []
        elif line.startswith(" [") and d is not None:
            b, e = line.strip()[1:-1].split(",")
            bars[d].append((float(b), float(e) if e.strip() else math.inf))
    return bars


def parse_gudhi(path):
    bars = {}
    with open(path) as f:
        for line in f:
            d, b, e = line.split()
            bars.setdefault(int(d), []).append((float(b), float(e)))
    return bars


def close(a, b):
    return a == b or (not math.isinf(a) and not math.isinf(b) and abs(a - b) <= TOL * max(abs(a), abs(b)))


def same_multiset(A, B, report=None):
    """Multiset equality within TOL. Both sides are sorted by (birth, death); as
    the values differ by rounding only, a bar's partner sits at (nearly) the same
    position, so each bar is looked for among the unused ones within +-64 positions."""
    A = sorted((b, e) for b, e in A if math.isinf(e) or e - b > TOL * max(abs(b), abs(e)))
    B = sorted((b, e) for b, e in B if math.isinf(e) or e - b > TOL * max(abs(b), abs(e)))
    if len(A) != len(B):
        if report is not None:
            report.append("sizes %d vs %d" % (len(A), len(B)))
        return False
    used = [False] * len(B)
    ok = True
    for i, (b, e) in enumerate(A):
        if not used[i] and close(B[i][0], b) and close(B[i][1], e):  # the usual case
            used[i] = True
            continue
        found = False
        for j in range(max(0, i - 64), min(len(B), i + 65)):
            if not used[j] and close(B[j][0], b) and close(B[j][1], e):
                used[j] = found = True
                break
        if not found:
            ok = False
            if report is not None:
                report.append("engine bar [%r, %r) unmatched" % (b, e))
    return ok


def available_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024.0
    return float("inf")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default=None)
    ap.add_argument("--floor", default=FLOOR_DEFAULT, help="the bare CGAL triangulation timer ('' to skip)")
    ap.add_argument("--python", default=os.environ.get("TDA_GUDHI_PYTHON", "/usr/bin/python3"))
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--shapes", default="uniform,torus,sphere,uniform2d")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=7200)
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--modulus", type=int, default=11)
    ap.add_argument("--threads", type=int, default=1,
                    help="engine and floor threads (R^3: CGAL's parallel Delaunay with TBB); GUDHI runs one")
    ap.add_argument("--gudhi-max-n", type=int, default=0, help="skip GUDHI above this many points (0: no limit)")
    ap.add_argument("--precision", default="safe", choices=["safe", "exact", "fast"])
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of the engine and of the floor per cloud, alternating; medians reported")
    args = ap.parse_args()
    if args.repeat < 1:
        sys.exit("--repeat must be at least 1")

    engine = args.engine or next((p for p in ENGINE_CANDIDATES if os.path.exists(p)), ENGINE_CANDIDATES[0])
    if not os.path.exists(engine):
        sys.exit("engine binary not found: %s (build engine-cpp first, or pass --engine)" % engine)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes = [s for s in sizes if s <= 100000]
    shapes = args.shapes.split(",")
    print("engine: %s" % engine)
    floor = args.floor if args.floor and os.path.exists(args.floor) else None
    if args.floor and not floor:
        sys.exit("floor binary not found: %s (build engine-cpp, or pass --floor '')" % args.floor)
    print("floor: %s (bare CGAL Delaunay triangulation of the same points)" % (floor or "skipped"))
    print("anchor: GUDHI via %s: AlphaComplex(points, precision=%r).create_simplex_tree().persistence(), Z/%d"
          % (args.python, args.precision, args.modulus))
    last_rss = {}  # shape -> (n, gudhi peak RSS in MB)
    worst_t, worst_m, worst_floor = 0.0, 0.0, 0.0
    with tempfile.TemporaryDirectory(prefix="alpha_bench_") as tmp:
        for n in sizes:
            for shape in shapes:
                name = "%s_%d" % (shape, n)
                txt, npy = os.path.join(tmp, name + ".txt"), os.path.join(tmp, name + ".npy")
                subprocess.run([args.python, "-c", GEN, shape, str(n), str(args.seed), txt, npy], check=True)
                eng_cmd = [engine, "--algorithm", "alpha", "--modulus", str(args.modulus), "--threads",
                           str(args.threads), "--stats", txt]
                floor_cmd = [floor, "--threads", str(args.threads), txt] if floor else None
                eng, cores, fl, floors = repeated_runs(eng_cmd, floor_cmd, args.repeat, args.timeout)
                gout = os.path.join(tmp, name + ".gudhi")
                skip = None
                if args.gudhi_max_n and n > args.gudhi_max_n:
                    skip = "gudhi=skipped(--gudhi-max-n %d)" % args.gudhi_max_n
                elif shape in last_rss:
                    est = last_rss[shape][1] * n / last_rss[shape][0]
                    if est > 0.7 * available_mb():
                        skip = "gudhi=skipped(estimated_rss_mb=%.0f, available_mb=%.0f)" % (est, available_mb())
                gud = None if skip else run_timed(
                    [args.python, "-c", GUDHI, npy, gout, str(args.modulus), args.precision], args.timeout)
                if gud:
                    last_rss[shape] = (n, gud[3])
                line = name
                core = median(cores) if cores else None
                if eng:
                    line += " engine_s=%.2f core_s=%s engine_rss_mb=%.0f" % (
                        eng[2], "%.3f" % core if core is not None else "?", eng[3])
                    line += spread("core", cores)
                else:
                    line += " engine=FAILED"
                if fl:
                    fs = median(floors)
                    line += " floor_s=%.2f floor_rss_mb=%.0f" % (fs, fl[3])
                    line += spread("floor", floors)
                    if eng and core is not None and fs > 0:
                        ratio = core / fs
                        worst_floor = max(worst_floor, ratio)
                        line += " core/floor=%.1fx" % ratio
                elif floor:
                    line += " floor=FAILED"
                if gud:
                    gs = float(re.search(r"gudhi_seconds=([0-9.]+)", gud[0]).group(1))
                    line += " gudhi_s=%.2f gudhi_rss_mb=%.0f" % (gs, gud[3])
                else:
                    line += " " + (skip or "gudhi=FAILED/TIMEOUT")
                if eng and gud:
                    rt, rm = gs / eng[2], gud[3] / eng[3]
                    worst_t = rt if worst_t == 0 else min(worst_t, rt)
                    worst_m = rm if worst_m == 0 else min(worst_m, rm)
                    A, B = parse_engine(eng[0]), parse_gudhi(gout)
                    unmatched = []
                    eq = all([same_multiset(A.get(d, []), B.get(d, []), unmatched) for d in sorted(set(A) | set(B))])
                    line += " speedup=%.1fx memory_ratio=%.1fx equal=%s" % (rt, rm, "yes" if eq else "no")
                    if not eq:
                        line += " unmatched=%d (%s)" % (len(unmatched), "; ".join(unmatched[:3]))
                print(line, flush=True)
                for f in (txt, npy, gout):
                    if os.path.exists(f):
                        os.remove(f)
    print("worst speedup vs GUDHI (gudhi_s / engine_s): %.1fx; worst memory ratio (gudhi_rss / engine_rss): %.1fx"
          % (worst_t, worst_m))
    if floor:
        print("worst engine core time over the bare triangulation (core_s / floor_s): %.1fx (goal <= 3x)" % worst_floor)


if __name__ == "__main__":
    main()

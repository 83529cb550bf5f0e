#!/usr/bin/env python3
"""Start-up of two builds on two images, interleaved (issue 17).

    bench/interleave.py ROUNDS IMAGE_A IMAGE_B HOST:COMPONENT... [-- COMMAND...]

Each round runs `HOST run --component COMPONENT --rootfs IMAGE -- COMMAND` (default
/bin/true) once for every build and image in turn, so that a change of load on a shared
machine falls on all of them alike (hyperfine runs one command N times in a row: a load
change between its blocks moves a ratio more than a change of friscy does). Prints the
mean +- sd and median wall time of each, and IMAGE_B/IMAGE_A by means, by medians and per
round. The first three rounds warm the caches and are not counted. Any stderr output
fails the run (a damaged or foreign-version index would print one line).
"""
import statistics as st
import subprocess
import sys
import time

args = sys.argv[1:]
command = ["/bin/true"]
if "--" in args:
    command = args[args.index("--") + 1 :]
    args = args[: args.index("--")]
rounds, image_a, image_b, builds = int(args[0]), args[1], args[2], args[3:]
runs = [(b, img) for b in builds for img in (image_a, image_b)]
times = {r: [] for r in runs}
for n in range(rounds + 3):
    for build, img in runs:
        host, component = build.split(":", 1)
        argv = [host, "run", "--component", component, "--rootfs", img, "--", *command]
        start = time.perf_counter()
        err = subprocess.run(argv, check=True, stderr=subprocess.PIPE).stderr
        if err:
            sys.exit(f"{' '.join(argv)}: {err.decode(errors='replace')}")
        if n >= 3:
            times[(build, img)].append((time.perf_counter() - start) * 1e3)
for build in builds:
    a, b = times[(build, image_a)], times[(build, image_b)]
    per_round = sorted(y / x for x, y in zip(a, b))
    q = len(per_round) // 4
    print(build)
    print(f"  A {st.mean(a):.2f} +- {st.stdev(a):.2f} ms (median {st.median(a):.2f})")
    print(f"  B {st.mean(b):.2f} +- {st.stdev(b):.2f} ms (median {st.median(b):.2f})")
    print(
        f"  B/A {st.mean(b) / st.mean(a):.3f} by means, {st.median(b) / st.median(a):.3f}"
        f" by medians, per round {st.median(per_round):.3f}"
        f" (quartiles {per_round[q]:.3f}-{per_round[-q - 1]:.3f})"
    )

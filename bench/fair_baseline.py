"""GEMM probe for bench/fairBaseline.ts: which OpenBLAS kernel this process got, whether it is correct, how fast.

Runs C = A @ B in float32 through NumPy (Debian's python3-numpy, a dependency of python3-torch: both call the
system libblas.so.3, i.e. the same OpenBLAS library and kernels PyTorch's GEMMs run; NumPy imports in about a
second where torch takes several, and the probe runs once per candidate and round), compares it with the same
product in float64, and times it. The thread count is set by the caller through OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS (Debian's OpenMP OpenBLAS reads them at load). Prints one JSON object:
  kernel     the core type OpenBLAS chose (its OPENBLAS_VERBOSE=2 "Core:" line on stderr is read by the
             caller; openblas_get_corename() here, as a cross-check)
  rel_err    max |C32 - C64| / max |C64|
  seconds    per product, each of --reps timed repetitions (the caller takes the median / best)
  blas       the BLAS shared object mapped into this process
The environment (OPENBLAS_CORETYPE, thread variables) is set by the caller for this process only.
"""

import argparse
import ctypes
import json
import os
import re
import sys
import time

import numpy as np


def loaded_blas() -> list:
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if len(line.split()) >= 6}
    return sorted({os.path.realpath(p) for p in paths if re.search(r"blas|lapack|mkl", os.path.basename(p))})


def corename(libs: list) -> str:
    for p in libs:
        if "openblas" in p:
            try:
                fn = ctypes.CDLL(p).openblas_get_corename
                fn.restype = ctypes.c_char_p
                return fn().decode()
            except (OSError, AttributeError):
                pass
    return "unknown"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=2048)
    ap.add_argument("--k", type=int, default=384)
    ap.add_argument("--n", type=int, default=1536)
    ap.add_argument("--threads", type=int, default=1, help="recorded only: the environment sets the threads")
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    g = np.random.default_rng(0)
    x = g.random((a.m, a.k)) - 0.5
    w = g.random((a.k, a.n)) - 0.5
    ref = x @ w
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    out = np.empty((a.m, a.n), np.float32)
    np.matmul(x32, w32, out=out)  # warm-up (first-touch, thread start)
    rel_err = float(np.abs(out.astype(np.float64) - ref).max() / np.abs(ref).max())
    # About 0.1 s per timed repetition at a nominal 50 GFLOP/s.
    calls = max(1, round(0.1 / (2 * a.m * a.k * a.n / 50e9)))
    seconds = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            np.matmul(x32, w32, out=out)
        seconds.append((time.perf_counter() - t0) / calls)
    libs = loaded_blas()
    print(json.dumps({
        "kernel": corename(libs),
        "rel_err": rel_err,
        "seconds": seconds,
        "flops": 2 * a.m * a.k * a.n,
        "threads": a.threads,
        "blas": ", ".join(libs) or "unknown",
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

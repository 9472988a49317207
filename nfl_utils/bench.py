"""Benchmarks that print ratios (never timed tests).

    python -m nfl_utils.bench spectrum [--n 50000] [--p 512 4096] [--C 10 100] [--no-svd-above 1024]

``spectrum``: the streaming accumulator (Φ fed in batches, never held: p×p, p×C and C×C state)
against a naive full SVD of the whole float64 Φ, for random ReLU features. Each case runs in its
own process so that its peak resident memory is its own.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch


def _features(n, p, C, batch, device, seed=0):
    """Random ReLU features of a random linear map of Gaussian inputs, with outputs and one-hot
    targets, generated batch by batch (deterministic)."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    d = 64
    W = torch.randn(d, p, generator=g).to(device) / d ** 0.5
    H = torch.randn(p, C, generator=g).to(device) / p ** 0.5
    for i in range(0, n, batch):
        m = min(batch, n - i)
        x = torch.randn(m, d, generator=g).to(device)
        phi = torch.relu(x @ W + 0.1)
        y = torch.nn.functional.one_hot(torch.randint(0, C, (m,), generator=g), C).double().to(device)
        yield phi, y, phi @ H


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_case(method, n, p, C, device_name):
    from nfl_utils.spectrum import SpectralAccumulator

    device = torch.device(device_name)
    batch = 5000
    gen_time = 0.0
    t_total = time.perf_counter()
    if method == "stream":
        acc = SpectralAccumulator()
        measure = 0.0
        it = _features(n, p, C, batch, device)
        while True:
            t0 = time.perf_counter()
            try:
                phi, y, f = next(it)
            except StopIteration:
                break
            _sync(device)
            t1 = time.perf_counter()
            gen_time += t1 - t0
            acc.update(phi, y, f)
            _sync(device)
            measure += time.perf_counter() - t1
        t0 = time.perf_counter()
        su, sc = acc.diagonalize(False), acc.diagonalize(True)
        d = acc.low_rank_measure()
        su.summary(C), sc.summary(C)
        _sync(device)
        measure += time.perf_counter() - t0
        result = {"rho1": float(su.eigenvalues[0]), "dlr": d, "pistar_C": su.summary(C)["pistar_C"]}
    else:   # naive: hold Φ, full thin SVD of it, quality from the left singular vectors
        parts = list(_features(n, p, C, batch, device))
        phi = torch.cat([a for a, _, _ in parts]).double()
        y = torch.cat([b for _, b, _ in parts])
        del parts
        _sync(device)
        t0 = time.perf_counter()
        U, s, Vh = torch.linalg.svd(phi, full_matrices=False)
        E = U * n ** 0.5                                   # eigenfunctions on the sample
        q = ((E.T @ y / n) ** 2).sum(1) / ((y * y).sum() / n)
        rho = s ** 2 / n
        _sync(device)
        measure = time.perf_counter() - t0
        result = {"rho1": float(rho[0]), "pistar_C": float(q[:C].sum())}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else 0.0
    print(json.dumps({"method": method, "n": n, "p": p, "C": C, "device": device_name, "seconds": measure,
                      "generate_s": gen_time, "peak_rss_mb": peak_mb, "peak_gpu_mb": gpu_mb, **result}))


def spectrum(args):
    device = "cuda" if torch.cuda.is_available() and not args.cpu else "cpu"
    threads = torch.get_num_threads()
    print(f"# spectrum benchmark: n = {args.n}, device = {device}"
          f"{' (' + torch.cuda.get_device_name() + ')' if device == 'cuda' else f' ({threads} threads)'}")
    print(f"{'p':>5} {'C':>4} {'stream s':>9} {'stream MB':>10} {'svd s':>8} {'svd MB':>8} {'speed-up':>9}  check")
    rows = []
    for p in args.p:
        for C in args.C:
            res = {}
            methods = ["stream"] + (["svd"] if p <= args.no_svd_above else [])
            for m in methods:
                out = subprocess.run([sys.executable, "-m", "nfl_utils.bench", "_case", m, str(args.n), str(p), str(C), device],
                                     capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(out.stderr)
                res[m] = json.loads(out.stdout.strip().splitlines()[-1])
            st, sv = res["stream"], res.get("svd")
            ok = "" if sv is None else ("same ρ1, Π*(C)" if abs(st["rho1"] - sv["rho1"]) < 1e-8 * sv["rho1"]
                                        and abs(st["pistar_C"] - sv["pistar_C"]) < 1e-8 else "MISMATCH")
            mem = lambda r: r["peak_gpu_mb"] if device == "cuda" else r["peak_rss_mb"]
            print(f"{p:>5} {C:>4} {st['seconds']:>9.2f} {mem(st):>10.0f} "
                  + (f"{sv['seconds']:>8.2f} {mem(sv):>8.0f} {sv['seconds'] / st['seconds']:>8.1f}x  {ok}" if sv else
                     f"{'skipped':>8} {'':>8} {'':>9}  (SVD above p = {args.no_svd_above} skipped: minutes here)"))
            rows.append(res)
    print("# stream: accumulate ΦᵀΦ, ΦᵀY, ΦᵀF batch by batch + uncentred and centred spectra + D_LR; "
          "time excludes generating Φ.\n# svd: torch.linalg.svd of the whole float64 Φ + quality; "
          "memory is the process's peak (GPU: peak allocated).")
    return rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_case":
        m, n, p, C, dev = argv[1:6]
        return run_case(m, int(n), int(p), int(C), dev)
    ap = argparse.ArgumentParser(prog="python -m nfl_utils.bench")
    sub = ap.add_subparsers(dest="what", required=True)
    s = sub.add_parser("spectrum", help="streaming spectrum vs full SVD")
    s.add_argument("--n", type=int, default=50_000)
    s.add_argument("--p", type=int, nargs="+", default=[512, 4096])
    s.add_argument("--C", type=int, nargs="+", default=[10, 100])
    s.add_argument("--no-svd-above", type=int, default=1024)
    s.add_argument("--cpu", action="store_true", help="stay on the CPU even if CUDA is present")
    args = ap.parse_args(argv)
    if args.what == "spectrum":
        spectrum(args)


if __name__ == "__main__":
    main()

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
    """Random ReLU features of a random linear map of Gaussian inputs, with one-hot targets and the
    outputs of a random linear head H, generated batch by batch (deterministic); last: H."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    d = 64
    W = torch.randn(d, p, generator=g).to(device) / d ** 0.5
    H = torch.randn(p, C, generator=g).to(device) / p ** 0.5
    for i in range(0, n, batch):
        m = min(batch, n - i)
        x = torch.randn(m, d, generator=g).to(device)
        phi = torch.relu(x @ W + 0.1)
        y = (
            torch.nn.functional.one_hot(torch.randint(0, C, (m,), generator=g), C)
            .double()
            .to(device)
        )
        yield phi, y, H


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_case(method: str, n: int, p: int, C: int, device_name: str, repeat: int = 1) -> dict:
    """One method on one (n, p, C), ``repeat`` times in this process; prints the fastest time."""
    runs = [_one_case(method, n, p, C, torch.device(device_name)) for _ in range(repeat)]
    seconds, gen_time, result = min(runs, key=lambda r: r[0])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if device_name == "cuda" else 0.0
    print(json.dumps({"method": method, "n": n, "p": p, "C": C, "device": device_name,
                      "seconds": seconds,
                      "all_seconds": [r[0] for r in runs], "generate_s": gen_time,
                      "peak_rss_mb": peak_mb,
                      "peak_gpu_mb": gpu_mb, **result}))


def _one_case(method, n, p, C, device):
    """(measurement s, time generating Φ s, result) of one method on a random Φ (n, p)."""
    batch = 5000
    if method == "stream":
        return _stream_case(n, p, C, batch, device)
    # naive: hold Φ, full thin SVD of it, quality from the left singular vectors
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
    return time.perf_counter() - t0, 0.0, {"rho1": float(rho[0]), "pistar_C": float(q[:C].sum())}


def _stream_case(n, p, C, batch, device):
    """The streaming accumulator over batches of Φ, then both spectra, Π*, D_LR (as measure())."""
    from nfl_utils.spectrum import SpectralAccumulator

    acc, measure, gen_time = SpectralAccumulator(), 0.0, 0.0
    it = _features(n, p, C, batch, device)
    while True:
        t0 = time.perf_counter()
        try:
            phi, y, H = next(it)
        except StopIteration:
            break
        _sync(device)
        t1 = time.perf_counter()
        gen_time += t1 - t0
        acc.update(phi, y)
        _sync(device)
        measure += time.perf_counter() - t1
    t0 = time.perf_counter()
    acc.linear_outputs(H.T)                   # outputs f = Φ H, as measure() does for a head
    su, sc = acc.diagonalize(False), acc.diagonalize(True)
    d = acc.low_rank_measure()
    su.summary(C), sc.summary(C)
    _sync(device)
    measure += time.perf_counter() - t0
    return measure, gen_time, {"rho1": float(su.eigenvalues[0]), "dlr": d,
                               "pistar_C": su.summary(C)["pistar_C"]}


def spectrum(args: argparse.Namespace) -> list[dict]:
    device = "cuda" if torch.cuda.is_available() and not args.cpu else "cpu"
    threads = torch.get_num_threads()
    where = f" ({torch.cuda.get_device_name()})" if device == "cuda" else f" ({threads} threads)"
    print(f"# spectrum benchmark: n = {args.n}, device = {device}{where}")
    print(f"{'p':>5} {'C':>4} {'stream s':>9} {'stream MB':>10} {'svd s':>8} {'svd MB':>8} "
          f"{'speed-up':>9}  check")
    rows = []
    for p in args.p:
        for C in args.C:
            res = {m: _case_in_child(args, m, p, C, device)
                   for m in ["stream"] + (["svd"] if p <= args.no_svd_above else [])}
            print(_spectrum_line(res, p, C, device, args.no_svd_above))
            rows.append(res)
    print("# stream: accumulate ΦᵀΦ and the one-hot class sums batch by batch, the outputs' "
          "moments from the head (f = ΦH), uncentred and centred spectra, Π, Π*, D_LR; time "
          f"excludes generating Φ.\n# svd: torch.linalg.svd of the whole float64 Φ + quality; "
          f"memory is the process's peak (GPU: peak allocated).\n# each time: the fastest of "
          f"{args.repeat} repeats in one process for both methods (1 above p = "
          f"{args.no_svd_above}); single cold runs here vary by ±30%.")
    return rows


def _case_in_child(args, method: str, p: int, C: int, device: str) -> dict:
    """One case in a fresh process (its own peak memory); the fastest of ``args.repeat``."""
    reps = args.repeat if p <= args.no_svd_above else 1
    out = subprocess.run([sys.executable, "-m", "nfl_utils.bench", "_case", method, str(args.n),
                          str(p), str(C), device, str(reps)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _spectrum_line(res: dict, p: int, C: int, device: str, no_svd_above: int) -> str:
    """One row of the spectrum table; the check compares ρ1 and Π*(C) of the two methods."""
    st, sv = res["stream"], res.get("svd")
    mem = (lambda r: r["peak_gpu_mb"]) if device == "cuda" else (lambda r: r["peak_rss_mb"])
    line = f"{p:>5} {C:>4} {st['seconds']:>9.2f} {mem(st):>10.0f} "
    if sv is None:
        return line + (f"{'skipped':>8} {'':>8} {'':>9}  (SVD above p = {no_svd_above} skipped: "
                       "minutes here)")
    same = (abs(st["rho1"] - sv["rho1"]) < 1e-8 * sv["rho1"]
            and abs(st["pistar_C"] - sv["pistar_C"]) < 1e-8)
    return line + (f"{sv['seconds']:>8.2f} {mem(sv):>8.0f} {sv['seconds'] / st['seconds']:>8.1f}x"
                   f"  {'same ρ1, Π*(C)' if same else 'MISMATCH'}")


def _plain_epoch(model, opt, x, y, batch):
    """A plain fp32 PyTorch loop: NCHW fp32, one .item() per step (the usual logging sync)."""
    model.train()
    perm = torch.randperm(len(y), device=x.device)
    total = 0.0
    for i in range(0, len(y), batch):
        b = perm[i:i + batch]
        loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    return total


def _time(fn, device, repeat=1):
    fn()                                   # warm-up (cudnn autotune, allocator)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / repeat


def train_bench(args: argparse.Namespace) -> list[tuple]:
    """(a) a ResNet18 epoch on CIFAR-shaped data with the companion's trainer vs a plain fp32 loop,
    (b) the measurement at a checkpoint as a fraction of that epoch, (c) both for the quick
    profile's runs on the CPU."""
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    cuda = device.type == "cuda"
    name = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} threads"
    rows = [_resnet_row(args.n or (50_000 if cuda else 1024), device)]
    if not args.skip_quick:
        rows += _quick_rows()
    print(f"# training benchmark on {name}")
    print(f"{'workload':44} {'plain fp32 s':>12} {'companion s':>12} {'speed-up':>9} "
          f"{'measure s':>10} {'measure/epoch':>14}")
    for w, tp, to, tm in rows:
        print(f"{w:44} {(f'{tp:.2f}' if tp else '-'):>12} {to:>12.2f} "
              f"{(f'{tp / to:.2f}x' if tp else '-'):>9} {tm:>10.3f} {100 * tm / to:>13.1f}%")
    print("# companion: the trainer's epoch (GPU: bf16 autocast + channels_last, augmentation on "
          "the device, no host sync in the loop); plain: fp32 NCHW with a .item() per step. "
          "measure: one checkpoint (train/test evaluation, uncentred + centred spectra on the "
          "measurement sets, D_LR, S_init, NC1-4).")
    return rows


def _resnet_row(n: int, device: torch.device) -> tuple:
    """(workload, plain epoch s, companion epoch s, measurement s) of ResNet18 on n random
    CIFAR-shaped images."""
    from nfl_utils.config import Config
    from nfl_utils.data import DataBundle
    from nfl_utils.measure import measure
    from nfl_utils.models import build_model
    from nfl_utils.train import setup, train_epoch

    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 32, 32, generator=g).to(device)        # random CIFAR-shaped stand-ins
    y = torch.randint(0, 10, (n,), generator=g).to(device)
    cfg = Config(dataset="cifar10", model="resnet18", lr=0.1, batch_size=512 if cuda else 128,
                 augment=True, amp=True, channels_last=True, weight_decay=5e-4, measure_size=5000,
                 test_measure_size=2000)
    nt = min(2000, n)
    data = DataBundle("cifar10", x.cpu(), y.cpu(), x[:nt].cpu(), y[:nt].cpu(), 10,
                      torch.arange(min(5000, n)), torch.arange(nt), y.cpu(),
                      torch.zeros(n, dtype=torch.bool))
    ours = setup(cfg.replace(device=device.type), data)          # the trainer's own set-up, once
    t_ours = _time(lambda: train_epoch(ours.model, ours.opt, ours.sched, x, y, cfg, ours.gen, 10),
                   device)
    torch.manual_seed(0)
    plain = build_model("resnet18", (3, 32, 32), 10).to(device)
    o2 = torch.optim.SGD(plain.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    t_plain = _time(lambda: _plain_epoch(plain, o2, x, y, cfg.batch_size), device)
    t_meas = _time(lambda: measure(ours.model, data, ours.cfg, ours.ref, ours.theta0), device)
    return f"ResNet18, {n} CIFAR-shaped images", t_plain, t_ours, t_meas


def _quick_rows() -> list[tuple]:
    """(workload, None, epoch s, measurement s) of each quick-profile main run on the CPU."""
    from nfl_utils import profiles
    from nfl_utils.measure import measure
    from nfl_utils.train import setup, train_epoch

    cpu, rows = torch.device("cpu"), []
    for pname, pcfg in profiles.main("quick").items():
        q = setup(pcfg.replace(device="cpu"))
        xq, yq = q.data.x_train, q.data.y_train
        t_ep = _time(lambda: train_epoch(q.model, q.opt, q.sched, xq, yq, q.cfg, q.gen,
                                         q.data.num_classes), cpu, repeat=3)
        t_m = _time(lambda: measure(q.model, q.data, q.cfg, q.ref, q.theta0), cpu, 3)
        rows.append((f"quick: {pname} (CPU)", None, t_ep, t_m))
    return rows


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m nfl_utils.bench")
    sub = ap.add_subparsers(dest="what", required=True)
    s = sub.add_parser("spectrum", help="streaming spectrum vs full SVD")
    s.add_argument("--n", type=int, default=50_000)
    s.add_argument("--p", type=int, nargs="+", default=[512, 4096])
    s.add_argument("--C", type=int, nargs="+", default=[10, 100])
    s.add_argument("--no-svd-above", type=int, default=1024)
    s.add_argument("--repeat", type=int, default=3,
                   help="repeats per case in one process; the fastest is reported")
    s.add_argument("--cpu", action="store_true", help="stay on the CPU even if CUDA is present")
    t = sub.add_parser("train", help="trainer epoch vs plain fp32 loop, and measurement cost")
    t.add_argument("--n", type=int, default=None,
                   help="images (default: 50,000 on a GPU, 1,024 on the CPU)")
    t.add_argument("--cpu", action="store_true")
    t.add_argument("--skip-quick", action="store_true", help="skip the quick-profile CPU rows")
    ms = sub.add_parser("measure",
                        help="measurement share of training per run of a profile (from the store)")
    ms.add_argument("--profile", default="quick")
    w = sub.add_parser("sweep", help="a grid on 2 local Ray workers vs serial")
    w.add_argument("--workers", type=int, default=2)
    w.add_argument("--epochs", type=int, default=15)
    sub.add_parser("sharing", help="what sharing Φ's side between a run and its control saves")
    tk = sub.add_parser("track", help="the tracker's measurement as a share of a training epoch")
    tk.add_argument("--n", type=int, nargs="+", default=[10_000, 60_000],
                    help="training samples per epoch (one row each)")
    tk.add_argument("--cpu", action="store_true", help="stay on the CPU even if CUDA is present")
    tk.add_argument("--m", type=int, default=2000, help="samples of the measurement set")
    tk.add_argument("--repeat", type=int, default=3)
    return ap


def main(argv: list[str] | None = None) -> object:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_case":
        m, n, p, C, dev = argv[1:6]
        return run_case(m, int(n), int(p), int(C), dev, int(argv[6]) if len(argv) > 6 else 1)
    ap = _parser()
    args = ap.parse_args(argv)
    if args.what == "track":
        from .track_bench import main as track_main
        return track_main(args)
    if args.what in ("sweep", "measure", "sharing"):
        from . import bench_runs
        return getattr(bench_runs, {"measure": "measure_share"}.get(args.what, args.what))(args)
    if args.what == "spectrum":
        spectrum(args)
    elif args.what == "train":
        train_bench(args)


if __name__ == "__main__":
    main()

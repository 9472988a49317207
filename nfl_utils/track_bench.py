"""The tracker's cost: one measurement (over a fixed 2,000-sample set) as a share of one training
epoch (batch 128, SGD) of 10,000 samples and of 60,000 (a full MNIST epoch), for a CPU MLP and CNN
loop (on a GPU too, when one is present), on the penultimate features and on every ReLU layer at
once. ``python -m nfl_utils.bench track`` prints the table. The measurement's cost is fixed (it
does not depend on the epoch), so its share falls as 1/epoch length."""
from __future__ import annotations

import time

import torch
from torch import nn

from .models import build_model
from .track import Tracker
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    import argparse


def _loop_and_tracker(kind: str, layers: str, n: int, m: int, device):
    torch.manual_seed(0)
    shape = (784,) if kind == "mlp" else (1, 28, 28)
    net = build_model(kind, shape, 10, width=512 if kind == "mlp" else 256, depth=2,
                      channels=16).to(device)
    x, y = torch.randn(n, *shape, device=device), torch.randint(0, 10, (n,), device=device)
    relus = [k for k, v in net.named_modules() if isinstance(v, nn.ReLU)]
    names = None if layers == "penultimate" else relus
    tracker = Tracker(net, [(x[i:i + 500], y[i:i + 500]) for i in range(0, m, 500)], layers=names)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def epoch(k: int = n):                                # one epoch over the first k samples
        net.train()
        for i in range(0, k, 128):
            loss = nn.functional.cross_entropy(net(x[i:i + 128]), y[i:i + 128])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return epoch, tracker


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def track_cost(ns: tuple[int, ...] = (10_000, 60_000), m: int = 2000, repeat: int = 3,
               device: str = "cpu") -> list[dict]:
    """Rows of (loop, layers, epoch n, epoch s, measurement s, share), the fastest of ``repeat``
    (one epoch, after a warm-up, for epochs over 20,000 samples)."""
    rows = []
    for kind in ("mlp", "cnn"):
        for layers in ("penultimate", "every ReLU"):
            epochs, tracker = _loop_and_tracker(kind, layers, max(ns), m, device)
            tracker.measure(0)                                # warm-up
            step = iter(range(1, 10 ** 6))
            t = _best(lambda: tracker.measure(next(step)), repeat)
            for n in ns:
                epochs(n)                                     # warm-up
                e = _best(lambda: epochs(n), repeat if n <= 20_000 else 1)
                rows.append({"loop": kind, "layers": layers, "epoch n": n, "epoch s": e,
                             "measure s": t, "share": t / e})
    return rows


def main(args: argparse.Namespace) -> None:
    device = "cuda" if torch.cuda.is_available() and not getattr(args, "cpu", False) else "cpu"
    rows = track_cost(tuple(args.n), args.m, args.repeat, device)
    print(f"tracker on {device}: one measurement on {args.m:,} samples vs one epoch (batch 128), "
          f"fastest of {args.repeat}; target ≤ 5% for the penultimate features")
    print(f"{'loop':<5} {'layers':<12} {'epoch n':>8} {'epoch s':>8} {'measure s':>10} "
          f"{'share':>7}")
    for r in rows:
        print(f"{r['loop']:<5} {r['layers']:<12} {r['epoch n']:>8,} {r['epoch s']:>8.3f} "
              f"{r['measure s']:>10.3f} {r['share']:>7.1%}")

"""The tracker's cost: one measurement (over a fixed 2,000-sample set) as a share of one training
epoch (10,000 samples, batch 128, SGD), for a CPU MLP and CNN loop, on the penultimate features and
on every ReLU layer at once. ``python -m nfl_utils.bench track`` prints the table."""
from __future__ import annotations

import time

import torch
from torch import nn

from .models import build_model
from .track import Tracker


def _loop_and_tracker(kind: str, layers: str, n: int, m: int, device):
    torch.manual_seed(0)
    shape = (784,) if kind == "mlp" else (1, 28, 28)
    net = build_model(kind, shape, 10, width=512 if kind == "mlp" else 256, depth=2, channels=16).to(device)
    x, y = torch.randn(n, *shape, device=device), torch.randint(0, 10, (n,), device=device)
    names = None if layers == "penultimate" else [k for k, v in net.named_modules() if isinstance(v, nn.ReLU)]
    tracker = Tracker(net, [(x[i:i + 500], y[i:i + 500]) for i in range(0, m, 500)], layers=names)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def epoch():
        net.train()
        for i in range(0, n, 128):
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


def track_cost(n: int = 10_000, m: int = 2000, repeat: int = 3, device="cpu") -> list[dict]:
    """Rows of (loop, layers, epoch s, measurement s, share), the fastest of ``repeat`` each."""
    rows = []
    for kind in ("mlp", "cnn"):
        for layers in ("penultimate", "every ReLU"):
            epoch, tracker = _loop_and_tracker(kind, layers, n, m, device)
            epoch()                                           # warm-up
            tracker.measure(0)
            e = _best(epoch, repeat)
            step = iter(range(1, 10 ** 6))
            t = _best(lambda: tracker.measure(next(step)), repeat)
            rows.append({"loop": kind, "layers": layers, "epoch s": e, "measure s": t, "share": t / e})
    return rows


def main(args) -> None:
    rows = track_cost(args.n, args.m, args.repeat)
    print(f"tracker: one measurement on {args.m:,} samples vs one epoch on {args.n:,} (batch 128), "
          f"fastest of {args.repeat}; target ≤ 5% for the penultimate features")
    print(f"{'loop':<5} {'layers':<12} {'epoch s':>8} {'measure s':>10} {'share':>7}")
    for r in rows:
        print(f"{r['loop']:<5} {r['layers']:<12} {r['epoch s']:>8.3f} {r['measure s']:>10.3f} {r['share']:>7.1%}")

"""Train a network, measure it at checkpoints, keep the result in the run store.

    python -m nfl_utils.train --dataset mnist1d --model mlp --epochs 30
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import signal
import sys
import time

import pandas as pd
import torch
import torch.nn.functional as F

from .config import HELP, Config
from .data import load_dataset
from .measure import centred_gram_norm, flat_params, forward_all, loss_fn, measure, stack_arrays
from .models import build_model
from .store import Run, commit_run, is_complete, load_partial, load_run, runs_dir, save_partial

SAVE_EVERY_S = 20.0   # progress is also saved between checkpoints when this much time has passed


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("invalid config field device='cuda': no CUDA device here; use 'auto' or 'cpu'")
    return torch.device(name)


def get_data(cfg: Config):
    return load_dataset(cfg.dataset, train_size=cfg.train_size, shuffle_fraction=cfg.shuffle_fraction,
                        measure_size=cfg.measure_size, test_measure_size=cfg.test_measure_size,
                        seed=cfg.data_seed)


def make_model(cfg: Config, data) -> torch.nn.Module:
    torch.manual_seed(cfg.seed)
    n_out = 1 if cfg.task == "regress" else data.num_classes
    return build_model(cfg.model, data.input_shape, n_out, width=cfg.width, depth=cfg.depth,
                       activation=cfg.activation, channels=cfg.channels, batch_norm=cfg.batch_norm,
                       dlgn_beta=cfg.dlgn_beta, value_input=cfg.value_input, init_scale=cfg.init_scale,
                       output_scale=cfg.output_scale)


def _optimizer(cfg, params):
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0,
                               weight_decay=cfg.weight_decay)
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _lr_factor(cfg, total_steps):
    def f(step):
        t = step / max(1, total_steps)
        if cfg.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
        if cfg.schedule == "step":
            return 0.1 ** ((t >= 0.5) + (t >= 0.75))
        return 1.0
    return f


def augment(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``pad``) and horizontal flip of an image batch, on its device."""
    B, C, H, W = x.shape
    flip = (torch.rand(B, generator=gen) < 0.5).to(x.device)
    dy, dx = (torch.randint(-pad, pad + 1, (2, B), generator=gen)).to(x.device)
    xp = F.pad(x, (pad, pad, pad, pad))
    rows = torch.arange(H, device=x.device)[None] + pad + dy[:, None]
    cols = torch.arange(W, device=x.device)[None] + pad + dx[:, None]
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    b = torch.arange(B, device=x.device)[:, None, None, None]
    c = torch.arange(C, device=x.device)[None, :, None, None]
    return xp[b, c, rows[:, None, :, None], cols[:, None, None, :]]


def train_epoch(model, opt, sched, xtr, ytr, cfg: Config, gen: torch.Generator, num_classes: int):
    """One pass over (xtr, ytr), both on the model's device: shuffled mini-batches, optional GPU-side
    augmentation, bf16 autocast and channels_last on CUDA, no host synchronisation inside."""
    device, n = xtr.device, len(ytr)
    is_image = xtr.ndim == 4
    model.train()
    if cfg.head_only:
        model.features.eval()          # Φ stays exactly frozen (batch-norm statistics too)
    perm = torch.randperm(n, generator=gen).to(device)
    for i in range(0, n, cfg.batch_size):
        b = perm[i:i + cfg.batch_size]
        xb, yb = xtr[b], ytr[b]
        if cfg.augment and is_image:
            xb = augment(xb, gen)
        if cfg.channels_last and is_image and device.type == "cuda":
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp and device.type == "cuda"):
            out = model(xb)
        loss = loss_fn(out, yb, cfg, num_classes)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()


def train(cfg: Config, progress: bool = True, force: bool = False) -> Run:
    """Train ``cfg`` (or load it from the store when finished) and return the :class:`Run`."""
    cfg.validate()
    final = runs_dir() / cfg.hash
    if is_complete(final) and not force:
        return load_run(final)
    device = resolve_device(cfg.device)
    data = get_data(cfg)
    model = make_model(cfg, data).to(device)
    if cfg.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    if cfg.init_gates_from:
        src = runs_dir() / cfg.init_gates_from
        if not is_complete(src):
            raise ValueError(f"invalid config field init_gates_from={cfg.init_gates_from!r}: no finished run "
                             f"at {src}; train that run first")
        state = load_run(src).model_state()
        model.features.gates.load_state_dict({k[len("features.gates."):]: v for k, v in state.items()
                                              if k.startswith("features.gates.")})
    if cfg.head_only:
        model.features.requires_grad_(False)
    if cfg.freeze_gates:
        model.features.gates.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(cfg, params)
    n = data.n_train
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_factor(cfg, steps_per_epoch * cfg.epochs))
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    xtr, ytr = data.x_train.to(device), data.y_train.to(device)
    checkpoints = set(cfg.checkpoint_epochs)

    state = None if force else load_partial(cfg.hash)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        start, rows, arrays = state["epoch"], state["rows"], state["arrays"]
        saved = state.get("saved", [])
        phi0, theta0, train_time = state["phi0"], state["theta0"], state["train_time"]
    else:
        start, rows, arrays, train_time, saved = 0, [], [], 0.0, []
        phi0, _ = forward_all(model, data.x_train[data.measure_idx], amp=cfg.amp)
        theta0 = flat_params(model).cpu()
        phi0 = phi0.cpu()

    phi0_norm = centred_gram_norm(phi0)

    def record(epoch):
        row, arr = measure(model, data, cfg, phi0, theta0, phi0_norm)
        rows.append({"epoch": epoch, "step": epoch * steps_per_epoch, **row, "train_time": train_time})
        arrays.append(arr)
        if cfg.save_models:
            saved.append({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})

    def save(epoch):
        save_partial(cfg.hash, {"epoch": epoch, "model": model.state_dict(), "opt": opt.state_dict(),
                                "sched": sched.state_dict(), "gen": gen.get_state(), "rows": rows,
                                "arrays": arrays, "phi0": phi0, "theta0": theta0, "train_time": train_time,
                                "saved": saved})

    if start == 0 and not rows and 0 in checkpoints:
        record(0)
        save(0)
    from tqdm.auto import tqdm
    bar = tqdm(range(start + 1, cfg.epochs + 1), desc=f"{cfg.dataset}/{cfg.model} {cfg.hash[:8]}",
               disable=not progress, leave=False, initial=start, total=cfg.epochs)
    last_save = time.perf_counter()
    for epoch in bar:
        t0 = time.perf_counter()
        train_epoch(model, opt, sched, xtr, ytr, cfg, gen, data.num_classes)
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_time += time.perf_counter() - t0
        if epoch in checkpoints:
            record(epoch)
            bar.set_postfix(test_acc=f"{rows[-1]['test_acc']:.3f}", dlr=f"{rows[-1]['train_dlr']:.3f}")
        if epoch in checkpoints or time.perf_counter() - last_save > SAVE_EVERY_S or epoch == cfg.epochs:
            save(epoch)
            last_save = time.perf_counter()
        _test_kill_hook(epoch)
    bar.close()
    metrics = pd.DataFrame(rows)
    state = {k: v.cpu() for k, v in model.state_dict().items()}
    out = stack_arrays(arrays)
    out["epochs"] = metrics["epoch"].to_numpy()
    out["measure_idx"] = data.measure_idx.numpy()
    out["test_measure_idx"] = data.test_measure_idx.numpy()
    config = {**cfg.to_dict(), "hash": cfg.hash, "num_classes": data.num_classes, "n_train": data.n_train,
              "device_used": str(device), "torch": torch.__version__}
    return load_run(commit_run(cfg.hash, config, metrics, out, state, saved or None))


def _test_kill_hook(epoch):
    """For crash-safety tests: NFL_KILL_AFTER_EPOCH=k makes the process SIGKILL itself after epoch k."""
    k = os.environ.get("NFL_KILL_AFTER_EPOCH")
    if k is not None and int(k) == epoch:
        os.kill(os.getpid(), signal.SIGKILL)


SUMMARY_COLUMNS = ["epoch", "train_acc", "test_acc", "train_u_pi_C", "train_u_pistar_C", "train_u_k90",
                   "train_c_d_eff", "train_dlr", "s_init", "nc1", "train_time", "measure_time"]


def summary_table(run: Run) -> str:
    cols = [c for c in SUMMARY_COLUMNS if c in run.metrics]
    return run.metrics[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}")


def _parser():
    p = argparse.ArgumentParser(prog="python -m nfl_utils.train",
                                description="Train one run (or load it from the store) and print its summary.")
    for f in dataclasses.fields(Config):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        name = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            p.add_argument(name, action=argparse.BooleanOptionalAction, default=default, help=HELP[f.name])
        elif f.name == "checkpoints":
            p.add_argument(name, type=int, nargs="*", default=[], help=HELP[f.name])
        elif f.name == "train_size":
            p.add_argument(name, type=int, default=None, help=HELP[f.name])
        else:
            p.add_argument(name, type=type(default), default=default, help=f"{HELP[f.name]} (default: {default})")
    p.add_argument("--force", action="store_true", help="retrain even if the run is in the store")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = vars(_parser().parse_args(argv))
    force, quiet = args.pop("force"), args.pop("quiet")
    try:
        cfg = Config(**args)
    except ValueError as e:
        sys.exit(f"error: {e}")
    run = train(cfg, progress=not quiet, force=force)
    print(f"run directory: {run.path}")
    print(summary_table(run))
    return run


if __name__ == "__main__":
    main()

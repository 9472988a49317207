"""The probe's command line and the helpers of its examples: a run of the store or a torchvision
architecture with a weights file, measured over a dataset split; weights files in any of the
common layouts; a short example training loop (``fit``) for notebooks, outside the measuring code.

    python -m nfl_utils.probe RUN_HASH [--split test]
    python -m nfl_utils.probe --arch resnet18 --weights FILE.pt --dataset cifar10 --split test
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from .errors import InputError
from .probe import probe

def as_rgb_images(x: torch.Tensor) -> torch.Tensor:
    """Inputs of the companion's datasets as images an ImageNet-style torchvision network accepts:
    grey images repeated to three channels; 1-D signals (n, L) as 1×L images."""
    if x.ndim == 2:
        x = x[:, None, None, :]
    if x.ndim != 4:
        raise InputError(f"expected (n, L) signals or (n, c, h, w) images, got shape "
                         f"{tuple(x.shape)}")
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def fit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int = 2, lr: float = 0.05,
        batch_size: int = 128, seed: int = 0) -> torch.nn.Module:
    """A plain SGD + momentum, cross-entropy fit of any classifier on tensors (for examples)."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            b = perm[i:i + batch_size]
            loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def _tensor_loader(x, y, batch_size):
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


def from_run(run_hash: str, split: str = "train", checkpoint: int | None = None,
             batch_size: int = 2048) -> tuple:
    """(report, title) for a stored run: its network at ``checkpoint`` (default: the end) on the
    run's measurement set of ``split`` (the points its recorded measures used)."""
    from .store import load_run, runs_dir

    path = runs_dir() / run_hash
    matches = (
        sorted(runs_dir().glob(f"{run_hash}*")) if not path.exists() and runs_dir().is_dir() else []
    )
    if matches:
        path = matches[0]
    run = load_run(path)
    if run.is_regression:
        raise InputError(f"run {run.hash} is a regression run: probe measures classifiers")
    data = run.data()
    idx = data.measure_idx if split == "train" else data.test_measure_idx
    x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    model = run.model(checkpoint)
    rep = probe(model, _tensor_loader(x[idx], y[idx], batch_size), num_classes=data.num_classes)
    return rep, f"run {run.hash[:8]} ({run.cfg.dataset}/{run.cfg.model}), {split} measurement set"


def from_torchvision(arch: str, weights: str | None, dataset: str, split: str, limit: int | None,
                     batch_size: int = 256, layer: str | None = None, reduce: str = "flatten",
                     num_classes: int | None = None) -> tuple:
    """(report, title) for a torchvision architecture with a state dict on a dataset of the
    companion."""
    import torchvision

    from .data import load_dataset

    if not hasattr(torchvision.models, arch):
        raise InputError(f"torchvision.models has no architecture {arch!r}")
    data = load_dataset(dataset, measure_size=10, test_measure_size=10)
    C = num_classes or data.num_classes
    model = getattr(torchvision.models, arch)(num_classes=C)
    if weights:
        load_weights(model, weights)
    x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    if limit:
        x, y = x[:limit], y[:limit]
    grey = x.ndim != 4 or x.shape[1] == 1
    x = as_rgb_images(x)
    if C < data.num_classes:
        raise InputError(f"--num-classes {C} is below the {data.num_classes} classes of {dataset}")
    rep = probe(model, _tensor_loader(x, y, batch_size), layer=layer, num_classes=C, reduce=reduce)
    if grey:
        rep.notes.append("grey images (or signals) repeated to three channels")
    state = "weights " + Path(weights).name if weights else "at initialisation"
    return rep, f"{arch} ({state}), {dataset} {split}"


def state_dict_of(obj: object, path: str | Path) -> dict:
    """The state dict inside what ``torch.save`` wrote: a plain state dict, or a checkpoint dict
    holding one under ``state_dict``/``model``/``model_state_dict``/``net``; DataParallel's and
    torch.compile's ``module.``/``_orig_mod.`` prefixes removed."""
    for key in ("state_dict", "model_state_dict", "model", "net"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(isinstance(v, torch.Tensor) for v in obj.values())
    ):
        raise InputError(f"{path} holds no state dict (name → tensor), nor a checkpoint dict with "
                         f"one under 'state_dict' or 'model'; save it with "
                         "torch.save(model.state_dict(), …)")
    for prefix in ("module.", "_orig_mod."):
        if all(k.startswith(prefix) for k in obj):
            obj = {k[len(prefix):]: v for k, v in obj.items()}
    return obj


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load a weights file into ``model``, with one-line errors for files that do not fit."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:              # not a torch file, or one that would run code: never loaded
        raise InputError(f"{path} cannot be read as plain tensors ({e.__class__.__name__}): give a "
                         f"file written by torch.save(model.state_dict(), …)") from None
    state = state_dict_of(obj, path)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[1:2] or [str(e)[:200]]
        raise InputError(f"{path} does not fit the architecture: {first[0].strip()} (check --arch "
                         f"and --num-classes)") from None


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m nfl_utils.probe",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("run", nargs="?", help="hash (or prefix) of a run in the store")
    ap.add_argument("--split", choices=("train", "test"), default="train")
    ap.add_argument("--checkpoint", type=int, default=None,
                    help="a stored run's checkpoint index (needs save_models)")
    ap.add_argument("--arch", help="a torchvision.models architecture, e.g. resnet18")
    ap.add_argument("--weights",
                    help="state dict file (torch.save) for --arch; omitted: at initialisation")
    ap.add_argument("--dataset", default="cifar10",
                    help="dataset for --arch (a name the companion reads)")
    ap.add_argument("--num-classes", type=int, default=None,
                    help="outputs of --arch's head (default: the dataset's classes)")
    ap.add_argument("--limit", type=int, default=None, help="use the first N samples of the split")
    ap.add_argument("--layer", default=None,
                    help="module whose output is Φ (default: input of the last Linear)")
    ap.add_argument("--pool", action="store_true", help="average non-2-D features over positions")
    ap.add_argument("--out", default="build/probe", help="folder for the figure and the JSON")
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return ap


def main(argv: list[str] | None = None) -> object:
    """The command line: a report, its figure and its JSON (see the module docstring)."""
    ap = _parser()
    args = ap.parse_args(argv)
    from .errors import one_line, user_errors

    try:
        if args.arch:
            rep, title = from_torchvision(args.arch, args.weights, args.dataset, args.split,
                                          args.limit,
                                          layer=args.layer,
                                          reduce="pool" if args.pool else "flatten",
                                          num_classes=args.num_classes)
            stem = f"{args.arch}_{args.dataset}_{args.split}"
        elif args.run:
            rep, title = from_run(args.run, args.split, args.checkpoint)
            stem = f"{args.run[:8]}_{args.split}"
        else:
            ap.error("give a run hash or --arch")
    except user_errors() as e:
        if args.debug:
            raise
        sys.exit(one_line(e))
    print(title)
    print(rep.text())
    _write(rep, title, Path(args.out), stem)
    return rep


def _write(rep, title: str, out: Path, stem: str) -> None:
    """``out/stem.png`` (the report's figure) and ``out/stem.json`` (its numbers)."""
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib
    matplotlib.use("Agg")
    fig = rep.plot(title)
    fig.savefig(out / f"{stem}.png", dpi=120)
    (out / f"{stem}.json").write_text(json.dumps({"title": title, **rep.to_dict()}, indent=1))
    print(f"wrote {out / (stem + '.png')} and {out / (stem + '.json')}")


if __name__ == "__main__":
    main()

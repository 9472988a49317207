"""One epoch of training, and what the sibling paper's recipe does after one: shuffled mini-batches
on the model's device (augmentation, autocast and memory format as configured), the loss and
accuracy of a whole split, and keep-best / stop-at-loss selection."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import Config
from .targets import correct, loss_fn

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


def train_epoch(model: torch.nn.Module, opt: torch.optim.Optimizer, sched: object,
                xtr: torch.Tensor, ytr: torch.Tensor, cfg: Config, gen: torch.Generator,
                num_classes: int) -> int:
    """One pass over (xtr, ytr), both on the model's device: shuffled mini-batches, optional
    GPU-side augmentation, bf16 autocast and channels_last on CUDA, no host synchronisation inside.
    Returns the index of the first batch whose loss was not finite, or -1."""
    device, n = xtr.device, len(ytr)
    is_image = xtr.ndim == 4
    model.train()
    if cfg.head_only:
        model.features.eval()          # Φ stays exactly frozen (batch-norm statistics too)
    perm = torch.randperm(n, generator=gen).to(device)
    bad = torch.full((), -1, dtype=torch.long, device=device)  # first batch with a non-finite loss
    for j, i in enumerate(range(0, n, cfg.batch_size)):
        b = perm[i:i + cfg.batch_size]
        xb, yb = xtr[b], ytr[b]
        if cfg.augment and is_image:
            xb = augment(xb, gen)
        if cfg.channels_last and is_image:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16,
                            enabled=cfg.amp and device.type == "cuda"):
            out = model(xb)
        loss = loss_fn(out, yb, cfg, num_classes)
        bad = torch.where((bad < 0) & ~torch.isfinite(loss.detach()), j, bad)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return int(bad)


@torch.no_grad()
def evaluate(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: Config, num_classes: int,
             batch: int = 8192) -> tuple[float, float]:
    """(mean loss, accuracy) of ``net`` in eval mode over all of (x, y)."""
    net.eval()
    loss = hits = 0.0
    for i in range(0, len(y), batch):
        out, yb = net(x[i:i + batch]), y[i:i + batch]
        loss += float(loss_fn(out, yb, cfg, num_classes)) * len(yb)
        hits += float(correct(out, yb, cfg, num_classes))
    return loss / len(y), hits / len(y)


def select(s: object, net: torch.nn.Module, xtr: torch.Tensor, ytr: torch.Tensor) -> bool:
    """The sibling paper's recipe after an epoch of the train.Session ``s`` (timed as training):
    keep the weights of the best validation accuracy (``keep_best``), and stop once the loss over
    the training set falls below ``stop_loss``. True when training ends here, with the kept
    weights loaded."""
    cfg, C = s.cfg, s.data.num_classes
    if cfg.keep_best:
        xv, yv = s.data.x_val.to(s.device), s.data.y_val.to(s.device)
        val = evaluate(s.model, xv, yv, cfg, C)[1]
        if s.best is None or val > s.best["val"]:
            state = {k: v.detach().cpu().clone() for k, v in s.model.state_dict().items()}
            s.best = {"val": val, "epoch": s.epoch, "state": state}
    if cfg.stop_loss > 0 and evaluate(net, xtr, ytr, cfg, C)[0] < cfg.stop_loss:
        s.stopped = True
    end = s.stopped or (cfg.keep_best and s.epoch == cfg.epochs)
    if end and cfg.keep_best:
        s.model.load_state_dict(s.best["state"])
    return end

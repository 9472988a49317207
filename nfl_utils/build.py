"""What a config builds: its device, data, network, optimiser and learning-rate schedule."""
from __future__ import annotations

import math

import torch

from .config import Config
from .data import load_dataset
from .models import build_model
from .errors import InputError
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    from .data import DataBundle


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("invalid config field device='cuda': no CUDA device here; use 'auto' or "
                         "'cpu'")
    return torch.device(name)


def get_data(cfg: Config) -> DataBundle:
    return load_dataset(cfg.dataset, train_size=cfg.train_size,
                        shuffle_fraction=cfg.shuffle_fraction,
                        measure_size=cfg.measure_size, test_measure_size=cfg.test_measure_size,
                        seed=cfg.data_seed, modadd_p=cfg.modadd_p,
                        modadd_fraction=cfg.modadd_fraction)


def make_model(cfg: Config, data: DataBundle) -> torch.nn.Module:
    """The network of ``cfg`` as initialised (seeded by ``cfg.seed``), on the CPU."""
    torch.manual_seed(cfg.seed)
    n_out = 1 if cfg.task == "regress" else data.num_classes
    return build_model(cfg.model, data.input_shape, n_out, width=cfg.width, depth=cfg.depth,
                       activation=cfg.activation, channels=cfg.channels, batch_norm=cfg.batch_norm,
                       dlgn_beta=cfg.dlgn_beta, value_input=cfg.value_input,
                       init_scale=cfg.init_scale,
                       output_scale=cfg.output_scale,
                       hot_inputs=2 if cfg.dataset == "modadd" else 0,
                       heads=cfg.heads, vgg_base=cfg.vgg_base)


def make_optimizer(cfg: Config, params: list) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov and cfg.momentum > 0,
                               weight_decay=cfg.weight_decay)
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=cfg.lr, betas=(0.9, cfg.adam_beta2), weight_decay=cfg.weight_decay)


def make_schedule(cfg: Config, opt: torch.optim.Optimizer,
                  total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-step LambdaLR: constant, cosine to 0, or step (×0.1 at 50% and 75% of training)."""
    def factor(step):
        t = step / max(1, total_steps)
        if cfg.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
        if cfg.schedule == "step":
            return 0.1 ** ((t >= 0.5) + (t >= 0.75))
        return 1.0
    return torch.optim.lr_scheduler.LambdaLR(opt, factor)

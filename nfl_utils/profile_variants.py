"""The profiles derived from a table of runs: ``offline`` (the same runs on mnist1d, generated on
the machine) and ``smoke`` (:func:`shrink`: the same labels and kinds of run, tiny, for the
tests). Both keep each DLGN's ``init_gates_from`` pointing at the run it named."""
from __future__ import annotations

from .config import Config

IMAGE_SETS = ("mnist", "fashion-mnist")


def _to_mnist1d(c: Config) -> Config:
    if c.dataset not in IMAGE_SETS:
        return c
    return c.replace(dataset="mnist1d",
                     train_size=None if (c.train_size or 8000) >= 8000 else c.train_size)


def offline(table: dict[str, Config]) -> dict[str, Config]:
    """The same table on mnist1d (generated on the machine): image datasets swapped, sizes capped
    at mnist1d's 8,000 training signals."""
    return _relink(table, {k: _to_mnist1d(v) for k, v in table.items()})


def shrink(table: dict[str, Config]) -> dict[str, Config]:
    """The smoke profile: the same labels and kinds of run, tiny (mnist1d, a few epochs, small
    nets)."""
    def small(c: Config) -> Config:
        c = _to_mnist1d(c)
        ep = min(c.epochs, 3)
        kw = dict(epochs=ep, checkpoints=tuple(sorted({0, 1, ep})),
                  measure_size=min(c.measure_size, 300),
                  test_measure_size=min(c.test_measure_size, 300), width=min(c.width, 48),
                  channels=min(c.channels, 8))
        if c.dataset == "mnist1d":
            kw["train_size"] = min(c.train_size or 1000, 1000)
        if c.dataset == "modadd":
            kw.update(modadd_p=23, measure_size=4096, test_measure_size=4096)
        if c.model.startswith("vgg16"):  # mnist1d is 1-D: the small convnet stands in for VGG16
            kw.update(model="cnn", batch_norm=c.model == "vgg16_bn", channels_last=False)
        return c.replace(**kw)
    return _relink(table, {k: small(v) for k, v in table.items()})


def _relink(before: dict, after: dict) -> dict:
    """Keep init_gates_from pointing at the (changed) run it named."""
    new_hash = {before[k].hash: after[k].hash for k in before}
    return {k: (v.replace(init_gates_from=new_hash[v.init_gates_from]) if v.init_gates_from else v)
            for k, v in after.items()}

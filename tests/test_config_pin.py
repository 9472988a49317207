"""Config's defaults and the hash of reference configs, pinned: a changed default silently renames
every stored run (the run directory is the hash), so such a change must be made here on purpose,
with the runs it renames retrained (docs/operations.md)."""
import dataclasses

from nfl_utils import profiles
from nfl_utils.config import Config

DEFAULTS = {
    "dataset": "mnist1d", "model": "mlp", "width": 256, "depth": 2, "heads": 4, "vgg_base": 64,
    "activation": "relu", "channels": 32, "batch_norm": False, "dlgn_beta": 30.0, "value_input": "pwc",
    "freeze_gates": False, "init_gates_from": None, "task": "classify", "loss": "ce", "target_scale": 1.0,
    "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "adam_beta2": 0.999, "nesterov": False,
    "weight_decay": 0.0, "schedule": "constant", "batch_size": 128, "epochs": 30, "stop_loss": 0.0,
    "keep_best": False, "augment": False, "train_size": None, "shuffle_fraction": 0.0, "head_only": False,
    "init_scale": 1.0, "output_scale": 1.0, "seed": 0, "data_seed": 0, "checkpoints": (),
    "measure_size": 1000, "test_measure_size": 1000, "test_spectra": False, "save_models": False,
    "device": "auto", "amp": False, "channels_last": False, "modadd_p": 97, "modadd_fraction": 0.4,
}


def test_config_defaults_are_pinned():
    c = Config()
    got = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}
    assert got == DEFAULTS, "a Config default changed: every stored run would be renamed (see the docstring)"


def test_reference_hashes_are_pinned():
    assert Config().hash == "a231e32cc3fc1f0f"
    t = profiles.table("full")
    assert {k: t[k].hash for k in ("main: MLP, MSE", "rich vs lazy: full [seed 1]",
                                    "grokking: transformer [seed 0]")} == {
        "main: MLP, MSE": "f69ebe55796b35bc", "rich vs lazy: full [seed 1]": "441636bc87e59d2a",
        "grokking: transformer [seed 0]": "7ff1df456611c78b"}

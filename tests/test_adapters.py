"""The tracker inside real frameworks: a PyTorch Lightning Trainer and a Hugging Face Trainer, each
with its callback, and real Hugging Face models built from configs (no download): their
ModelOutput and tokenised batches measured like probe measures them, independently checked."""
import warnings

import pytest
import torch
from torch import nn

from nfl_utils.callbacks import hf_callback, lightning_callback
from nfl_utils.errors import InputError
from nfl_utils.probe import probe
from nfl_utils.spectrum import low_rank_measure
from nfl_utils.track import Tracker

pl = pytest.importorskip("lightning.pytorch")
transformers = pytest.importorskip("transformers")


def _data(n=96, d=10, C=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % C
    return torch.randn(n, d, generator=g) + y[:, None] * 0.7, y


class Module(pl.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, i):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit_lightning(on):
    x, y = _data()
    module = Module()
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 96, 32)]
    tracker = Tracker(module.net, batches, layers=["1", "3"])
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[lightning_callback(tracker, on)])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # Lightning's advice on workers and logging
        trainer.fit(module, loader)
    return module, batches, tracker


def test_the_lightning_callback_measures_each_epoch_as_probe_would():
    module, batches, tracker = _fit_lightning("epoch")
    h = tracker.history
    assert list(h["step"].unique()) == [6, 12]                      # 6 batches an epoch
    assert set(h["layer"]) == {"1", "3"} and len(h) == 4
    final = h[h["step"] == 12].set_index("layer")
    for layer in ("1", "3"):
        assert final.loc[layer, "dlr"] == pytest.approx(
            probe(module.net, batches, layer=layer).numbers["dlr"], abs=1e-10)
    assert module.net.training                                     # left in train mode, as found


def test_the_lightning_callback_can_measure_every_step():
    _, _, tracker = _fit_lightning("step")
    assert list(tracker.history["step"].unique()) == list(range(1, 13))


def _bert(C=3):
    cfg = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=16, num_labels=C)
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(cfg)


def _tokens(n=64, t=8, C=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % C
    ids = torch.randint(5, 40, (n, t), generator=g)
    ids[:, 1] = y + 1                                   # a token that gives the class away
    mask = (torch.arange(t)[None] < torch.randint(3, t + 1, (n, 1), generator=g)).long()
    return ids, mask, y


def test_a_real_bert_from_a_config_is_probed_through_its_model_output():
    net = _bert().eval()
    ids, mask, y = _tokens()
    batches = [{"input_ids": ids[i:i + 32], "attention_mask": mask[i:i + 32], "labels": y[i:i + 32]}
               for i in range(0, 64, 32)]
    rep = probe(net, batches)                                       # penultimate: the classifier's input
    with torch.no_grad():
        out = net(input_ids=ids, attention_mask=mask)
        pooled = net.bert(input_ids=ids, attention_mask=mask).pooler_output
    assert rep.numbers["dlr"] == pytest.approx(low_rank_measure(pooled.double(), out.logits.double()), abs=1e-10)
    # token features of the encoder, by each explicit sequence reduction
    h = net.bert(input_ids=ids, attention_mask=mask).last_hidden_state.detach().double()
    m = mask[..., None].double()
    mean = probe(net, batches, layer="bert.encoder", reduce="mean")
    assert mean.numbers["dlr"] == pytest.approx(         # probe averages the float32 features: 1e-7
        low_rank_measure((h * m).sum(1) / m.sum(1), out.logits.double()), abs=1e-7)
    cls = probe(net, batches, layer="bert.encoder", reduce="cls")
    assert cls.numbers["dlr"] == pytest.approx(low_rank_measure(h[:, 0], out.logits.double()), abs=1e-10)


def test_a_real_vit_from_a_config_gives_its_logits_not_a_model_output_error():
    cfg = transformers.ViTConfig(image_size=8, patch_size=4, num_channels=1, hidden_size=16, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=32, num_labels=4)
    torch.manual_seed(0)
    net = transformers.ViTForImageClassification(cfg).eval()
    x, y = torch.randn(48, 1, 8, 8), torch.arange(48) % 4
    rep = probe(net, [(x[:24], y[:24]), (x[24:], y[24:])])
    with torch.no_grad():
        h = net.vit(pixel_values=x).last_hidden_state[:, 0]          # ViT's classifier reads the CLS token
        logits = net(pixel_values=x).logits
    assert rep.numbers["dlr"] == pytest.approx(low_rank_measure(h.double(), logits.double()), abs=1e-8)


class _Tokens(torch.utils.data.Dataset):
    def __init__(self, ids, mask, y):
        self.ids, self.mask, self.y = ids, mask, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": self.mask[i], "labels": self.y[i]}


def test_the_hugging_face_trainer_callback_measures_each_epoch(tmp_path):
    net = _bert()
    ids, mask, y = _tokens()
    batches = [{"input_ids": ids[i:i + 32], "attention_mask": mask[i:i + 32], "labels": y[i:i + 32]}
               for i in range(0, 64, 32)]
    tracker = Tracker(net, batches, layers=[None, "bert.encoder"], reduce="cls")
    args = transformers.TrainingArguments(output_dir=str(tmp_path), num_train_epochs=2, per_device_train_batch_size=16,
                                          learning_rate=1e-3, report_to=[], save_strategy="no", use_cpu=True,
                                          logging_strategy="no", disable_tqdm=True, seed=0)
    trainer = transformers.Trainer(model=net, args=args, train_dataset=_Tokens(ids, mask, y),
                                   callbacks=[hf_callback(tracker)])
    trainer.train()
    h = tracker.history
    assert list(h["step"].unique()) == [4, 8] and len(h) == 4       # 4 optimiser steps an epoch
    final = h[h["step"] == 8]
    enc = final[final["layer"] == "bert.encoder"].iloc[0]
    assert enc["dlr"] == pytest.approx(probe(net, batches, layer="bert.encoder", reduce="cls").numbers["dlr"],
                                       abs=1e-10)
    assert net.training                                            # the Trainer's mode, untouched


def test_an_unknown_moment_to_measure_is_refused():
    with pytest.raises(InputError, match="epoch, step"):
        hf_callback(None, on="batch")

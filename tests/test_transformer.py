"""The modular-addition transformer: an oracle forward pass, its Φ/head split, its configs."""
import math

import pytest
import torch
import torch.nn.functional as F

from nfl_utils import profiles, store
from nfl_utils.config import Config
from nfl_utils.data import modular_addition
from nfl_utils.models import build_model
from nfl_utils.train import train


def reference_phi(feats, x):
    """Φ written out by hand from the module's weights: explicit causal softmax attention."""
    p, d = feats.p, feats.embed.embedding_dim
    a, b = x[:, :p].argmax(1), x[:, p:].argmax(1)
    h = feats.embed.weight[torch.stack([a, b, torch.full_like(a, p)], 1)] + feats.pos
    mask = torch.triu(torch.ones(3, 3, dtype=torch.bool), 1)                # j > i is hidden
    for blk in feats.blocks:
        z = F.layer_norm(h, (d,), blk.ln1.weight, blk.ln1.bias)
        q, k, v = (z @ blk.qkv.weight.T + blk.qkv.bias).split(d, -1)
        nh, dh = blk.heads, d // blk.heads
        heads = []
        for i in range(nh):
            s = slice(i * dh, (i + 1) * dh)
            att = (q[..., s] @ k[..., s].transpose(1, 2)) / math.sqrt(dh)
            heads.append(att.masked_fill(mask, float("-inf")).softmax(-1) @ v[..., s])
        h = h + torch.cat(heads, -1) @ blk.out.weight.T + blk.out.bias
        z = F.layer_norm(h, (d,), blk.ln2.weight, blk.ln2.bias)
        h = h + blk.mlp(z)
    return F.layer_norm(h, (d,), feats.norm.weight, feats.norm.bias)[:, -1]


def test_transformer_phi_is_the_final_norm_residual_at_the_answer_token():
    torch.manual_seed(0)
    p = 11
    x, y, _, _ = modular_addition(p, 0.5, seed=0)
    net = build_model("transformer", (2 * p,), p, width=32, depth=2, heads=4).double()
    x = x.double()
    with torch.no_grad():
        phi = net.features(x)
        assert phi.shape == (len(x), 32) and net.feature_dim == 32
        assert torch.allclose(phi, reference_phi(net.features, x), atol=1e-12)
        assert torch.equal(net(x), phi @ net.head.weight.T)                    # bias-free unembedding
        tok = net.features.tokens(x)
        assert torch.equal((tok[:, 0] + tok[:, 1]) % p, y) and (tok[:, 2] == p).all()


def test_transformer_configs_are_checked():
    with pytest.raises(ValueError, match="model='transformer'"):
        Config(dataset="mnist", model="transformer")
    with pytest.raises(ValueError, match="model='cnn'"):
        Config(dataset="modadd", model="cnn")
    with pytest.raises(ValueError, match="heads=3"):
        Config(dataset="modadd", model="transformer", width=32, heads=3)
    with pytest.raises(ValueError, match="adam_beta2"):
        Config(adam_beta2=1.0)
    with pytest.raises(ValueError, match="inputs of shape"):
        build_model("transformer", (1, 28, 28), 10)


def test_new_fields_keep_every_stored_run_name():
    # heads and adam_beta2 arrived with defaults: the hashes of earlier runs must not move
    assert Config().hash == "a231e32cc3fc1f0f"
    assert profiles.MLP.hash == "e50017291be88233" and profiles.GROK.hash == "6ce79e11c1cb29e9"
    assert profiles.TGROK.replace(adam_beta2=0.999).hash != profiles.TGROK.hash


def test_transformer_trains_and_is_measured_like_any_net(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "runs"))
    cfg = Config(dataset="modadd", model="transformer", modadd_p=13, width=32, depth=1, heads=2,
                 optimizer="adamw", lr=3e-3, adam_beta2=0.98, weight_decay=0.0, batch_size=64,
                 epochs=300, measure_size=4096, test_measure_size=4096, checkpoints=(0, 300))
    run = train(cfg, progress=False)
    m = run.metrics
    assert m["train_acc"].iloc[-1] > 0.9         # it learns the training pairs
    assert 0 <= m["train_dlr"].min() and m["train_dlr"].max() <= 1
    assert run.eigenvalues(-1).shape[0] <= 32
    again = run.model()
    x = run.data().x_train[:5]
    with torch.no_grad():
        assert again.features(x).shape == (5, 32)

# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python (nfl companion)
#     language: python
#     name: nfl-companion
# ---

# %% [markdown]
# # 02 · Diagonalising the forward feature map
#
# A network's output is f̂(x) = W Φ(x) + b, with Φ(x) ∈ ℝᵖ the penultimate post-activations.
# Φ defines a kernel K(x, x') = Φ(x)·Φ(x') and, over the data distribution, an integral operator
# T\[u\](x) = E_x'[K(x, x') u(x')]. Its eigenfunctions e_k and eigenvalues ρ_k are the **features** of
# the paper: with Φ frozen and the head trained by gradient flow on the squared loss,
# ∂ₜ⟨e_k, f̂⟩ = −η ρ_k ⟨e_k, f̂ − f*⟩, so feature k is learned at rate ρ_k.
#
# **Estimator** (ours, the standard Nyström one for a linear kernel; `nfl_utils.spectrum`): on a
# fixed, class-balanced measurement set x₁…x_n, M = ΦᵀΦ/n (p×p, float64) has eigenpairs (ρ_k, v_k);
# e_k(x) = v_kᵀΦ(x)/√ρ_k is defined for *any* x and is orthonormal on the sample,
# ⟨e_k, e_l⟩ = (1/n)Σᵢ e_k(xᵢ)e_l(xᵢ) = δ_kl. The **centred** variant diagonalises the covariance of Φ
# instead; for ReLU features the uncentred top mode is close to the constant function.
#
# This notebook rebuilds one network at initialisation and after training, diagonalises it on the
# page, checks the identities, and shows what the top eigenfunctions look like.

# %% tags=["parameters"]
profile = "quick"

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from nfl_utils import plots, profiles
from nfl_utils.measure import forward_all
from nfl_utils.spectrum import diagonalize, one_hot

plots.setup()
name = "MLP, MSE"
run = profiles.load(profile, "main")[name]
cfg, data = run.cfg, run.data()
model0, model = run.model(at_init=True), run.model()
C = data.num_classes
x, y = data.x_train[data.measure_idx], data.y_train[data.measure_idx]
Y = one_hot(y, C)
(phi0, out0), (phi, out) = [(a.double(), b.double()) for a, b in (forward_all(model0, x), forward_all(model, x))]
s0, s = diagonalize(phi0, Y, out0), diagonalize(phi, Y, out)
s0c, sc = diagonalize(phi0, Y, out0, centre=True), diagonalize(phi, Y, out, centre=True)

# %% [markdown]
# ## The identities, checked on the page

# %%
n = len(x)
E = s.eigenfunctions(phi)
ortho = float((E.T @ E / n - torch.eye(s.rank, dtype=torch.float64)).abs().max())
W = model.head.weight.detach().double()
lhs = s.coefficients("outputs")
# the bias b lies outside span Φ, so the identity ⟨e_k, f̂⟩ = √ρ_k W v_k is checked on f̂ − b
s_nobias = diagonalize(phi, outputs=phi @ W.T)
identity = float((s_nobias.coefficients("outputs") - (s.eigenvalues.sqrt()[:, None] * (W @ s.eigenvectors).T)).abs().max())
stored = run.eigenvalues()[: s.rank]
agree_store = float(np.max(np.abs(stored - s.eigenvalues.numpy()) / s.eigenvalues.numpy()))
trace = float((phi ** 2).sum(1).mean())
x_test = data.x_test[data.test_measure_idx]
E_test = s.eigenfunctions(forward_all(model, x_test)[0].double())
ortho_test = float((E_test[:, :C].T @ E_test[:, :C] / len(x_test) - torch.eye(C, dtype=torch.float64)).abs().max())
display(Markdown(f"""
| check | value |
| --- | --- |
| max \\|⟨e_k, e_l⟩ − δ_kl\\| on the measurement set (n = {n}, p = {phi.shape[1]}, {s.rank} modes) | {ortho:.1e} |
| max \\|⟨e_k, Wφ⟩ − √ρ_k W v_k\\| | {identity:.1e} |
| Σ_k ρ_k vs mean ‖Φ(x)‖² | {float(s.eigenvalues.sum()):.6g} vs {trace:.6g} |
| largest relative difference from the eigenvalues stored by the trainer | {agree_store:.1e} |
| Π(p) with the bias removed (must be 1) | {float(s_nobias.cumulative_utility[-1]):.12f} |
| max \\|⟨e_k, e_l⟩ − δ_kl\\|, top {C} modes, on *test* inputs (Nyström: no longer exact) | {ortho_test:.3f} |
"""))

# %% [markdown]
# ## Eigenvalues at initialisation and after training

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
cols = plots.colors(2)
for ax, (a, b, title) in zip(axes, [(s0, s, "uncentred"), (s0c, sc, "centred (covariance)")]):
    for spec, label, col in ((a, "initialisation", cols[0]), (b, f"after {cfg.epochs} epochs", cols[1])):
        r = spec.eigenvalues.numpy()
        ax.loglog(np.arange(1, len(r) + 1), r / r[0], color=col, label=label)
    ax.axvline(C, color="0.3", ls="--", lw=1, label=f"k = C = {C}")
    ax.set(xlabel="k", ylabel=r"$\rho_k/\rho_1$", title=title)
    ax.legend(fontsize="small")
fig.suptitle(f"Spectrum of Φ, {name} ({profile} profile)")
fig.tight_layout()
share = lambda spec, k: float(spec.eigenvalues[:k].sum() / spec.eigenvalues.sum())
nums = {"top-C share of trace, uncentred, init": share(s0, C), "top-C share of trace, uncentred, trained": share(s, C),
        "top-(C-1) share, centred, init": share(s0c, C - 1), "top-(C-1) share, centred, trained": share(sc, C - 1),
        "d_eff centred, init": s0c.effective_dimension, "d_eff centred, trained": sc.effective_dimension}
plots.save(fig, "02_diagonalise_eigenvalues",
           f"Normalised eigenvalues ρ_k/ρ_1 of Φ for {name} at initialisation and after training, uncentred "
           "(left) and centred (right); the dashed line marks k = C.", nums, profile)
plt.show()
display(Markdown(
    f"After training (uncentred kernel) the top {C} modes hold **{nums['top-C share of trace, uncentred, trained']:.1%}** of "
    f"the trace (at initialisation {nums['top-C share of trace, uncentred, init']:.1%}); the centred effective "
    f"dimension went from {nums['d_eff centred, init']:.1f} to {nums['d_eff centred, trained']:.1f}."))

# %% [markdown]
# ## What the top eigenfunctions are
# Each row is one eigenfunction e_k; each column the mean of e_k over the measurement inputs of one
# class. A feature that separates classes has class means far from each other; the top uncentred
# eigenfunction of ReLU features is nearly constant (the same value for every class).

# %%
K = 2 * C
fig, axes = plt.subplots(1, 2, figsize=(11, 5))
plots.class_means_panel(axes[0], run, 0, False, K, "initialisation")
plots.class_means_panel(axes[1], run, -1, False, K, f"after {cfg.epochs} epochs")
fig.suptitle(f"Class-conditional means of the top {K} eigenfunctions, {name}")
fig.tight_layout()
between = lambda ck: float(np.std(run.class_means(ck)[:C], axis=1).mean())
nums = {"mean between-class std of top-C eigenfunctions, init": between(0),
        "mean between-class std of top-C eigenfunctions, trained": between(-1)}
plots.save(fig, "02_diagonalise_eigenfunctions",
           f"E[e_k | class] for the top {K} uncentred eigenfunctions of {name}, at initialisation (left) and "
           "after training (right). Eigenfunctions have unit norm on the sample, so a between-class spread "
           "near 1 means the feature is almost a function of the class.", nums, profile)
plt.show()
display(Markdown(
    f"The spread of the class means of the top {C} eigenfunctions (their mean between-class standard deviation) "
    f"goes from {nums['mean between-class std of top-C eigenfunctions, init']:.2f} at initialisation to "
    f"{nums['mean between-class std of top-C eigenfunctions, trained']:.2f} after training."))

# %% [markdown]
# ## The inputs that excite each feature most
# For the top four eigenfunctions after training (the first is the near-constant mode), the
# measurement inputs with the largest e_k, and the classes they belong to.

# %%
top = run.top_inputs()
fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
labels_of = {}
for k, ax in enumerate(axes):
    idx = top[k]
    labels_of[k + 1] = data.y_train[idx].tolist()
    plots.inputs_panel(ax, data.x_train[idx].numpy(), f"e_{k + 1}: classes {labels_of[k + 1]}", data.mean, data.std)
fig.suptitle(f"Most exciting inputs of the top eigenfunctions, {name}, after training")
fig.tight_layout()
purity = {f"e_{k} top-input class purity": max(np.bincount(v)) / len(v) for k, v in labels_of.items()}
plots.save(fig, "02_diagonalise_top_inputs",
           f"The {len(top[0])} measurement inputs with the largest value of each of the top four eigenfunctions "
           f"of {name} after training (title: their classes).", purity, profile)
plt.show()

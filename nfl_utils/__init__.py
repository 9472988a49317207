"""nfl_utils: train networks, diagonalise their forward feature map Φ, and plot what they learn.

Companion to Nam, Mingard, Lee, Hayou & Louis, arXiv 2410.04264. Definitions: docs/measures.md.
"""
import os

# OpenBLAS (NumPy's and SciPy's: the eigendecompositions, dsyrk) keeps its worker threads spinning
# for 2^28 cycles (~0.1 s) after each call; on a 2-core machine they then take a core from the
# torch operation that follows (a checkpoint's float64 product ran 26 ms instead of 15 ms, and
# the first checkpoints of a run ~1.5x slower). 2^18 cycles (~0.1 ms) keeps the eigendecomposition
# as fast (its BLAS calls follow each other closely) and frees the core. Read when OpenBLAS loads:
# set here before this package imports SciPy, and by the Makefile for every command it runs.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "18")

__version__ = "0.1.0"

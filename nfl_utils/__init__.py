"""nfl_utils: train networks, diagonalise their forward feature map Φ, and plot what they learn.

Companion to Nam, Mingard, Lee, Hayou & Louis, arXiv 2410.04264. Definitions: docs/measures.md.
"""
__version__ = "0.1.0"

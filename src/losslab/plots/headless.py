"""Figures are drawn to files (Agg), unless the host chose a backend: Jupyter's inline backend (MPLBACKEND) shows them."""

import os

import matplotlib

if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")

"""Figures (matplotlib, Agg backend): one module per owner. ``plots.runs``: trajectories and loss curves.

Importing :mod:`losslab` never imports matplotlib; each plotting module selects
the Agg backend when it is imported.
"""

"""Figures (matplotlib, Agg backend set inside each module): one module per owner."""

"""Adapters: one module per outside system (git, DVC, MLflow, Graphviz)."""

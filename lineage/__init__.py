"""lineage: join Git commits, DVC data hashes and MLflow runs and models, and rebuild them."""

from __future__ import annotations

__version__ = "0.1.0"

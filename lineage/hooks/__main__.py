"""`python -m lineage.hooks <hook> ARGS`: run one Git hook (what the shims call)."""

from __future__ import annotations

import sys

from lineage.hooks.dispatch import main

if __name__ == "__main__":
    sys.exit(main())

from __future__ import annotations

from lineage.cli import main

if __name__ == "__main__":
    main()

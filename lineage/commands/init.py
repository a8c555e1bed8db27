"""`lineage init`: prepare a repository (config file, index). Idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lineage import config
from lineage.adapters import dvc, git
from lineage.index import open_index
from lineage.store import Store


@dataclass(frozen=True)
class InitResult:
    root: Path
    created_config: bool
    has_commits: bool
    has_dvc: bool
    records: int


def init(*, paths: git.RepoPaths) -> InitResult:
    path = config.config_file(paths.root)
    created = not path.exists()
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config.DEFAULT_CONFIG, encoding="utf-8")
    config.load(paths.root)  # an existing file must still parse
    index = open_index(Store(paths))
    try:
        records = sum(1 for _ in index.runs())
    finally:
        index.close()
    return InitResult(
        root=paths.root,
        created_config=created,
        has_commits=git.head(paths).commit is not None,
        has_dvc=dvc.is_dvc_repo(paths.root),
        records=records,
    )

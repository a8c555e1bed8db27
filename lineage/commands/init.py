"""`lineage init`: prepare a repository (config file, index). Idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lineage import config
from lineage.adapters import dvc, git
from lineage.context import Context


@dataclass(frozen=True)
class InitResult:
    root: Path
    created_config: bool
    has_commits: bool
    has_dvc: bool
    records: int

    def messages(self) -> list[str]:
        """What `lineage init` tells the user, line by line."""
        where = config.CONFIG_PATH
        lines = [
            f"Initialised lineage in {self.root} (wrote {where}: commit it)."
            if self.created_config
            else f"lineage is already set up in {self.root}; {where} left as it is."
        ]
        if not self.has_commits:
            lines.append(
                "note: the repository has no commits yet; runs made now are kept as snapshot "
                "commits of the working tree."
            )
        if not self.has_dvc:
            lines.append(
                "note: no DVC project here (.dvc/ not found); runs will be recorded without "
                "data inputs. Run `dvc init` to track data."
            )
        lines.append(f"{self.records} run(s) recorded so far.")
        return lines


def init(ctx: Context) -> InitResult:
    """Write ``.lineage/config.toml`` unless it exists (an existing one must still parse), and
    bring the index level with the records."""
    root = ctx.paths.root
    path = config.config_file(root)
    created = not path.exists()
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config.DEFAULT_CONFIG, encoding="utf-8")
    config.load(root)  # an existing file must still parse
    return InitResult(
        root=root,
        created_config=created,
        has_commits=git.head(ctx.paths).commit is not None,
        has_dvc=dvc.is_dvc_repo(root),
        records=sum(1 for _ in ctx.index.runs()),
    )

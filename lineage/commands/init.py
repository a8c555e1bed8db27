"""`lineage init`: prepare a repository (config file, index, `.gitignore` for tools' stores).
Idempotent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lineage import config
from lineage.adapters import dvc, git
from lineage.adapters.tool_stores import ToolStores, gitignore_probe, shown_entries
from lineage.context import Context
from lineage.errors import LineageError

GITIGNORE = ".gitignore"

# Asked with the .gitignore entries that are missing; answers whether to add them.
DecideGitignore = Callable[[Sequence[str]], bool]


def never(_: Sequence[str]) -> bool:
    return False


@dataclass(frozen=True)
class InitResult:
    root: Path
    created_config: bool
    has_commits: bool
    has_dvc: bool
    records: int
    ignores_added: tuple[str, ...] = ()  # lines appended to .gitignore now
    ignores_missing: tuple[str, ...] = ()  # tools' stores still not gitignored (declined)

    def messages(self) -> list[str]:
        """What `lineage init` tells the user, line by line."""
        where = config.CONFIG_PATH
        lines = [
            f"Initialised lineage in {self.root} (wrote {where}: commit it)."
            if self.created_config
            else f"lineage is already set up in {self.root}; {where} left as it is."
        ]
        if self.ignores_added:
            lines.append(
                f"Added to {GITIGNORE}: {shown_entries(self.ignores_added)} (the stores of MLflow, "
                "W&B and DVC: never code)."
            )
        elif self.ignores_missing:
            lines.append(
                f"note: {shown_entries(self.ignores_missing)} not in {GITIGNORE}: lineage never "
                "counts these tool stores as code, but `git add -A` would commit them; "
                "`lineage init --gitignore` adds them."
            )
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


def init(ctx: Context, *, add_to_gitignore: DecideGitignore = never) -> InitResult:
    """Write ``.lineage/config.toml`` unless it exists (an existing one must still parse), offer
    ``add_to_gitignore`` the tools' stores no ignore rule covers yet (asked before anything is
    written) and append the accepted ones to the top-level ``.gitignore``, and bring the index
    level with the records."""
    root = ctx.paths.root
    has_dvc = dvc.is_dvc_repo(root)
    missing = stores_to_ignore(ctx, dvc=has_dvc)
    accepted = bool(missing) and add_to_gitignore(missing)
    path = config.config_file(root)
    created = not path.exists()
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config.DEFAULT_CONFIG, encoding="utf-8")
    config.load(root)  # an existing file must still parse
    if accepted:
        try:
            append_lines(root / GITIGNORE, missing)
        except OSError as exc:
            raise LineageError(
                f"cannot add to {GITIGNORE} ({exc.strerror or exc}); check its permissions, "
                "or run `lineage init --no-gitignore`"
            ) from None
    return InitResult(
        root=root,
        created_config=created,
        has_commits=git.head(ctx.paths).commit is not None,
        has_dvc=has_dvc,
        records=ctx.index.run_count(),
        ignores_added=tuple(missing) if accepted else (),
        ignores_missing=() if accepted else tuple(missing),
    )


def stores_to_ignore(ctx: Context, *, dvc: bool) -> list[str]:
    """The ``.gitignore`` entries for tools' stores that no ignore rule decides yet: a line
    already there, a broader pattern, the user's global excludes, or a ``!`` rule that keeps a
    store in on purpose each count as decided."""
    entries = ToolStores.of(ctx.paths.root, ctx.mlflow).gitignore_entries(dvc=dvc)
    probes = {entry: gitignore_probe(entry) for entry in entries}
    decided = git.ignore_rules(ctx.paths, list(probes.values()))
    return [entry for entry, probe in probes.items() if probe not in decided]


def append_lines(path: Path, lines: Sequence[str]) -> None:
    """Append ``lines`` to a text file, leaving every line already there as it was (a missing
    final newline is supplied; CRLF files get CRLF)."""
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = b""
    newline = b"\r\n" if b"\r\n" in existing else b"\n"
    text = b"".join(line.encode("utf-8") + newline for line in lines)
    if existing and not existing.endswith(b"\n"):
        text = newline + text
    with open(path, "ab") as f:
        f.write(text)

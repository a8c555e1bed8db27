"""The post-commit hook: attach runs made on a dirty tree to the commit that now holds their code.

A run on a dirty tree is recorded with a snapshot commit (parent: the base commit it was made
on). When the user later commits that edit, the new commit's tree equals the snapshot's except
for DVC's bookkeeping and what the run itself wrote: ``dvc.lock`` and ``*.dvc`` files, the run's
recorded outputs (metrics files, models), and the ``/<output>`` lines DVC adds to a
``.gitignore`` for them. Tools' stores (``adapters/tool_stores.py``: ``mlflow.db``, ``mlruns/``,
``wandb/``, ...) never enter a snapshot, so a commit that holds them (``git add -A`` without a
``.gitignore`` for them), or ``.gitignore`` lines for them (``lineage init --gitignore``),
differs from the snapshot only by what is not code. Then an ``attachment`` record says "the code
of run R is commit C".
Candidates are found in the index: runs whose snapshot's base is the new commit's first parent.
A run whose snapshot is never committed stays attached to the snapshot, which stays reachable
from the lineage ref.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lineage.adapters import git, git_content
from lineage.adapters.tool_stores import ToolStores
from lineage.context import Context
from lineage.hooks import quick
from lineage.records import OBSERVED, Attachment, Provenance, encode

if TYPE_CHECKING:
    from lineage.index import Index

GITIGNORE = ".gitignore"


@dataclass(frozen=True)
class Candidate:
    run: str  # run key
    snapshot: str
    outputs: tuple[str, ...]  # paths the run wrote (its record's outputs)
    tracking_uri: str | None = None  # the store the run was read from (a SQLite file, maybe)


def attach(ctx: Context, commit: str = "HEAD") -> list[Attachment]:
    """Record an attachment for every dirty-tree run whose code ``commit`` now holds."""
    from lineage.edges import node_key

    paths = ctx.paths
    if ctx.store.tip() is None:
        return []  # nothing recorded yet: no run to attach
    sha, parents = git_content.commit_parents(paths, commit)
    base = parents[0] if parents else None
    candidates = _candidates(ctx.index, base)
    if not candidates:
        return []
    done = {
        e.dst.partition(":")[2]
        for e in ctx.index.edges_touching(node_key("commit", sha))
        if e.rel == "code" and e.src == node_key("commit", sha)
    }
    # The stores as MLflow is set up now, and as it was for each run (the shell that commits
    # may not have the MLFLOW_TRACKING_URI the training had).
    recorded = [c.tracking_uri for c in candidates if c.tracking_uri]
    stores = ToolStores.of(paths.root, ctx.mlflow, recorded)
    attachments = []
    diffs: dict[str, list[str]] = {}
    created: Provenance | None = None
    for cand in candidates:
        if cand.run in done:
            continue
        if cand.snapshot not in diffs:
            diffs[cand.snapshot] = git_content.tree_diff(paths, cand.snapshot, sha)
        set_aside = _set_aside(paths, diffs[cand.snapshot], cand, sha, stores)
        if set_aside is not None:
            created = created or ctx.provenance()
            attachments.append(
                Attachment(
                    evidence=OBSERVED,
                    created=created,
                    run=cand.run,
                    snapshot=cand.snapshot,
                    commit=sha,
                    set_aside=tuple(set_aside),
                )
            )
    if attachments:
        ctx.store.append(
            [encode(a) for a in attachments],
            message=f"lineage: attach {len(attachments)} run(s) to commit {sha[:10]}",
        )
    return attachments


def _candidates(index: Index, base: str | None) -> list[Candidate]:
    """Runs recorded with a snapshot whose base commit is ``base`` (None: before any commit)."""
    from lineage.documents import run_key_of

    ids = index.snapshot_records(base)
    found: dict[str, Candidate] = {}
    for record_id in sorted(set(ids)):
        doc = index.record(record_id)
        if not doc or doc.get("kind") != "run" or not (doc.get("code") or {}).get("snapshot"):
            continue
        run = run_key_of(doc)
        outputs = tuple(sorted({o["path"] for o in doc.get("outputs") or ()}))
        tracking_uri = (doc.get("run") or {}).get("tracking_uri")
        found.setdefault(run, Candidate(run, doc["code"]["snapshot"], outputs, tracking_uri))
    return sorted(found.values(), key=lambda c: c.run)


def _set_aside(
    paths: git.RepoPaths,
    differing: Sequence[str],
    cand: Candidate,
    commit: str,
    stores: ToolStores,
) -> list[str] | None:
    """The differing paths when every one of them is bookkeeping; None when any is code."""
    ignores = [p for p in differing if posixpath.basename(p) == GITIGNORE]
    for path in differing:
        if path not in ignores and not _bookkeeping(path, cand.outputs, stores):
            return None
    if ignores and not _only_bookkeeping_ignores(paths, ignores, cand, commit, stores):
        return None
    return list(differing)


def _bookkeeping(path: str, outputs: Iterable[str], stores: ToolStores) -> bool:
    """A dvc.lock or .dvc file, a tool's store, or something the run wrote (an output, or
    inside one)."""
    if quick.is_pointer(path) or stores.holds(path):
        return True
    return any(path == out or path.startswith(f"{out}/") for out in outputs)


def _only_bookkeeping_ignores(
    paths: git.RepoPaths,
    ignores: Sequence[str],
    cand: Candidate,
    commit: str,
    stores: ToolStores,
) -> bool:
    """Whether the .gitignore files differ only by the ``/<name>`` lines DVC writes for the
    run's outputs, and lines that name tools' stores (``mlflow.db``, ``/wandb/``)."""
    names = [f"{side}:{path}" for path in ignores for side in (cand.snapshot, commit)]
    blobs = git_content.read_objects(paths, names)
    for path in ignores:
        directory = posixpath.dirname(path)
        before = _lines(blobs[f"{cand.snapshot}:{path}"])
        after = _lines(blobs[f"{commit}:{path}"])
        for line in before ^ after:
            if line.startswith("/") and posixpath.join(directory, line[1:]) in cand.outputs:
                continue
            if stores.holds(posixpath.join(directory, line.strip("/"))):
                continue
            return False
    return True


def _lines(blob: bytes | None) -> set[str]:
    text = blob.decode("utf-8", errors="replace") if blob else ""
    return {line.strip() for line in text.splitlines() if line.strip()}

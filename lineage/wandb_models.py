"""W&B model artifacts as model versions, beside MLflow's registered ones.

A run that logs an artifact of type ``model`` (``run.log_model``, or ``log_artifact`` of a
``wandb.Artifact(..., type="model")``, the type W&B's model registry takes) produced a version
of that model: ``model:wandb:<project>/<name>:<digest>`` (``lineage/edges.py``). Version
numbers (``v3``) and registry links exist only on W&B's server (``link_artifact`` raises
NotImplementedError offline, and an online run's transaction log holds no link), so a version
is named by its manifest digest, and its aliases are the ones the runs lineage recorded gave
it. An alias names one version of a model at a time: the newest version logged with it holds it
(``latest``: the newest version logged), as on W&B's server when nothing was moved by hand
there.

REFs: ``name:alias``, ``project/name:alias``, ``entity/project/name:alias``, and the same with
a digest prefix (4+ hex digits) instead of the alias.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from lineage.documents import WANDB_PREFIX
from lineage.edges import WANDB_MODEL_PREFIX, wandb_model_key, wandb_model_of_key
from lineage.errors import BadReferenceError
from lineage.index import Index, like_escaped

LATEST = "latest"  # the alias W&B gives the newest version of an artifact
_VERSION = re.compile(r"v\d+")  # W&B's server-side version numbers
_HEX = re.compile(r"[0-9a-f]{4,32}")
_NAME = re.compile(r"[\w.-]+")  # W&B artifact names: alphanumerics, dashes, underscores, dots


@dataclass(frozen=True)
class WandbModel:
    """A W&B model artifact version, as the record of the run that logged it says."""

    project: str
    name: str
    digest: str
    type: str = "model"
    run_key: str | None = None  # the run that logged it (None: no record of one)
    entity: str | None = None
    logged_ms: int = 0  # when its run started: orders the versions of one model
    aliases: tuple[str, ...] = ()  # the aliases it holds now, as far as lineage's records say
    files: tuple[tuple[str, str], ...] = ()  # (path in the artifact, md5)
    order: int = 0  # its place among the artifacts its run logged (one run may log several)

    @property
    def key(self) -> str:
        return wandb_model_key(self.project, self.name, self.digest)

    @property
    def version(self) -> str:
        """The version's identity: its digest (W&B's ``v3`` exists only on its server)."""
        return self.digest

    @property
    def run_id(self) -> str | None:
        """The run that logged it, as ``RegisteredVersion.run_id`` names MLflow's."""
        return self.run_key

    @property
    def ident(self) -> str:
        return self.key.partition(":")[2]

    def __str__(self) -> str:
        """As lines print it: W&B's ``name:version`` spelling, the version a digest prefix."""
        return f"{self.name}:{self.digest[:8]}"

    @property
    def path(self) -> str:
        head = f"{self.entity}/{self.project}" if self.entity else self.project
        return f"{head}/{self}"


def versions(index: Index, name: str, project: str | None = None) -> list[WandbModel]:
    """Every recorded version of the W&B model ``name`` (in ``project``, else in any), oldest
    first, each with the aliases it holds now."""
    head = f"{WANDB_MODEL_PREFIX}{project}/" if project else WANDB_MODEL_PREFIX
    tail = f"{like_escaped(name)}:%" if project else f"%/{like_escaped(name)}:%"
    keys = index.nodes_matching("model", head, tail)
    return _with_aliases(m for m in _read(index, keys) if m.name == name)


def any_recorded(index: Index) -> bool:
    """Whether any W&B model version is recorded (one index lookup, no record read)."""
    return bool(index.nodes_matching("model", WANDB_MODEL_PREFIX, limit=1))


def every_version(index: Index) -> list[WandbModel]:
    """Every recorded W&B model version, each with the aliases it holds now."""
    return _with_aliases(_read(index, index.nodes_matching("model", WANDB_MODEL_PREFIX)))


def model_of(index: Index, key: str) -> WandbModel | None:
    """The recorded W&B model version a key names, with its aliases now."""
    parsed = wandb_model_of_key(key)
    if parsed is None or not index.has_node(key):
        return None
    project, name, digest = parsed
    return next((m for m in versions(index, name, project) if m.digest == digest), None)


def _read(index: Index, keys: Iterable[str]) -> list[WandbModel]:
    """Each version as its producing run's record logged it (aliases: the ones given then).
    The records are read in one batch: a YOLOv5 run logs a version per epoch."""
    from lineage.subgraph import representative_records  # the graph code, only when asked

    wanted = [(key, parsed) for key in keys if (parsed := wandb_model_of_key(key))]
    producers = {key: index.producers(key) for key, _ in wanted}
    records = representative_records(index, sorted({r for rs in producers.values() for r in rs}))
    out = []
    for key, (project, name, digest) in wanted:
        out.append(
            next(
                (
                    m
                    for run_key in producers[key]
                    if run_key in records
                    and (m := _logged(records[run_key][1], run_key, project, name, digest))
                ),
                WandbModel(project, name, digest),
            )
        )
    return out


def _logged(
    doc: dict[str, Any], run_key: str, project: str, name: str, digest: str
) -> WandbModel | None:
    """The version ``digest`` of ``name`` as the run record ``doc`` logged it, if it did."""
    wandb = doc.get("wandb") or {}
    artifacts = list(wandb.get("artifacts") or ())
    logged = [
        a
        for a in artifacts
        if a.get("name") == name and a.get("digest") == digest and not a.get("used")
    ]
    if not logged:
        return None
    return WandbModel(
        project,
        name,
        digest,
        str(logged[0].get("type") or "model"),
        run_key,
        wandb.get("entity"),
        int(wandb.get("start_ms") or 0),
        tuple(sorted({alias for a in logged for alias in a.get("aliases") or ()})),
        tuple((f["path"], f["md5"]) for f in logged[0].get("files") or ()),
        artifacts.index(logged[-1]),
    )


def _with_aliases(found: Iterable[WandbModel]) -> list[WandbModel]:
    """The aliases each version holds now: an alias is held by the newest version of the same
    model logged with it; ``latest`` by the newest version logged."""
    ordered = sorted(found, key=lambda m: (m.project, m.name, m.logged_ms, m.order, m.digest))
    holder: dict[tuple[str, str, str], str] = {}  # (project, name, alias) -> digest
    for m in ordered:  # oldest first: a newer version takes the alias over
        holder[(m.project, m.name, LATEST)] = m.digest
        for alias in m.aliases:
            holder[(m.project, m.name, alias)] = m.digest
    return [
        replace(
            m,
            aliases=tuple(
                sorted(
                    a
                    for (p, n, a), d in holder.items()
                    if (p, n, d) == (m.project, m.name, m.digest)
                )
            ),
        )
        for m in ordered
    ]


def parse_ref(text: str) -> tuple[str | None, str, str] | None:
    """(project, name, alias or digest prefix) of a W&B artifact REF, or None when ``text``
    cannot be one: ``[[entity/]project/]name:spec``, or a key's ident
    ``wandb:project/name:digest``."""
    text = text.removeprefix("model:")
    if text.startswith(WANDB_PREFIX):
        text = text[len(WANDB_PREFIX) :]
    path, colon, spec = text.rpartition(":")
    if not colon or not path or not spec or not _NAME.fullmatch(spec):
        return None
    parts = path.split("/")
    if len(parts) > 3 or not all(_NAME.fullmatch(p) for p in parts):
        return None
    return (parts[-2] if len(parts) > 1 else None), parts[-1], spec


def resolve(index: Index, text: str) -> WandbModel | None:
    """The recorded W&B model version a REF names; None when it names no recorded W&B model
    (so the REF's other readings apply). Raises when it names one but no version of it."""
    parsed = parse_ref(text)
    if parsed is None:
        return None
    project, name, spec = parsed
    found = versions(index, name, project)
    if not found:
        return None
    projects = sorted({m.project for m in found})
    if len(projects) > 1:
        raise BadReferenceError(
            text,
            f"W&B model {name!r} is recorded in several projects ({', '.join(projects)}); "
            f"give one: {projects[0]}/{name}:{spec}",
        )
    by_alias = [m for m in found if spec in m.aliases]
    if by_alias:
        return by_alias[-1]
    by_digest = [
        m for m in found if _HEX.fullmatch(spec.lower()) and m.digest.startswith(spec.lower())
    ]
    if len(by_digest) == 1:
        return by_digest[0]
    listed = ", ".join(_version_text(m) for m in reversed(found[-5:]))
    if len(by_digest) > 1:
        raise BadReferenceError(
            text, f"{name}:{spec} is ambiguous: it matches {listed}; give more digits"
        )
    if _VERSION.fullmatch(spec):
        raise BadReferenceError(
            text,
            f"W&B numbers versions ({spec}) on its server, which lineage does not ask; name the "
            f"version by an alias or its digest: {listed}",
        )
    raise BadReferenceError(
        text, f"W&B model {name!r} has no recorded version {spec!r}; recorded versions: {listed}"
    )


def _version_text(m: WandbModel) -> str:
    held = f" ({', '.join(m.aliases)})" if m.aliases else ""
    return f"{m.name}:{m.digest[:8]}{held}"

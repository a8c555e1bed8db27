"""The lineage graph a record describes: node keys (``commit:<sha>``, ``data:<md5>``,
``run:<run key>``, ``model:<name>/<version>``) and edges, where src was used to make dst.

Pure: the index stores exactly these (``lineage/index.py``), and nothing else spells a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lineage.documents import run_key_of

if TYPE_CHECKING:
    from lineage.model_version import ModelVersion


def node_key(kind: str, ident: str) -> str:
    """A node's key in the index: ``commit:<sha>``, ``data:<md5>``, ``run:<run key>``,
    ``model:<name>/<version>``."""
    return f"{kind}:{ident}"


def model_key(name: str, version: int) -> str:
    """The key of a model version (``ModelVersion`` prints the same ``name/version``)."""
    return node_key("model", f"{name}/{int(version)}")


WANDB_MODEL_PREFIX = "wandb:"  # a W&B model artifact's ident: ``wandb:<project>/<name>:<digest>``
WANDB_MODEL_TYPE = "model"  # the artifact type W&B's model registry and ``log_model`` use


def wandb_model_key(project: str, name: str, digest: str) -> str:
    """The key of a W&B model artifact version. W&B numbers versions (``v3``) on its server;
    the run directory knows the manifest digest, which is the version's identity there too
    (W&B gives a logged artifact with an existing digest that version back)."""
    return node_key("model", f"{WANDB_MODEL_PREFIX}{project}/{name}:{digest}")


def wandb_model_of_key(key: str) -> tuple[str, str, str] | None:
    """(project, name, digest) of a W&B model key; None for an MLflow model version's. Neither
    a project nor an artifact name holds ``/`` or ``:``."""
    ident = key.partition(":")[2]
    if not ident.startswith(WANDB_MODEL_PREFIX):
        return None
    project, _, rest = ident[len(WANDB_MODEL_PREFIX) :].partition("/")
    name, _, digest = rest.rpartition(":")
    return project, name, digest


def model_of_key(key: str) -> ModelVersion:
    """The model version a ``model:<name>/<version>`` key stands for (MLflow's model names
    never hold a ``/``); never a W&B model's key (:func:`wandb_model_of_key`)."""
    from lineage.model_version import ModelVersion

    name, _, version = key.partition(":")[2].rpartition("/")
    return ModelVersion(name, int(version))


def edges_of(
    record_id: str, doc: dict[str, Any], run_key: str | None = None
) -> list[tuple[str, str, str, str | None]]:
    """The graph a record describes, as (src, rel, dst, path): src was used to make dst.
    ``run_key``: a run record's, when the caller has it already.

    A reproduction adds ``reproduced`` from the original run to the rerun; an attachment adds
    ``code`` from the commit that now holds a dirty-tree run's code to the run; a registration
    adds ``produced`` from a run to a version registered from it later."""
    kind = doc.get("kind")
    if kind == "registration":
        model = model_key(doc["model"]["name"], doc["model"]["version"])
        return [(node_key("run", doc["run"]), "produced", model, None)]
    if kind == "attachment":
        return [(node_key("commit", doc["commit"]), "code", node_key("run", doc["run"]), None)]
    if kind == "reproduction":
        rerun = doc.get("rerun_run")
        if not rerun:
            return []
        return [(node_key("run", doc["original_run"]), "reproduced", node_key("run", rerun), None)]
    if kind != "run":
        return []
    # A cold build reads a million of these: keys are spelled inline (as node_key does), and
    # W&B's edges are looked for only in W&B runs.
    run = f"run:{run_key_of(doc) if run_key is None else run_key}"
    out: list[tuple[str, str, str, str | None]] = []
    code = doc.get("code") or {}
    ran: str | None = code.get("snapshot") or code.get("commit")
    if ran:
        out.append((f"commit:{ran}", "code", run, None))
        if code.get("snapshot") and code.get("commit"):
            out.append((f"commit:{code['commit']}", "snapshot", f"commit:{ran}", None))
    inputs = doc.get("inputs") or ()
    for data in inputs:
        out.append((f"data:{data['md5']}", "input", run, data["path"]))
    for data in doc.get("outputs") or ():
        out.append((run, "output", f"data:{data['md5']}", data["path"]))
    for model in doc.get("models") or ():
        out.append((run, "produced", model_key(model["name"], model["version"]), None))
    wandb = doc.get("wandb")
    if wandb:
        out += _artifact_edges(run, wandb, {data["md5"] for data in inputs})
        out += _wandb_model_edges(run, wandb)
    parent = (doc.get("run") or {}).get("parent_run_id")
    if parent:
        out.append((f"run:{parent}", "parent", run, None))
    return out


ARTIFACT_PATH_PREFIX = "wandb:"


def artifact_path(artifact: str, path: str) -> str:
    """The path on a W&B artifact file's edge: ``wandb:<artifact>/<path in it>``, so it never
    reads as a path in the repository."""
    return f"{ARTIFACT_PATH_PREFIX}{artifact}/{path}"


def _artifact_edges(
    run: str, wandb: dict[str, Any], read: set[str]
) -> list[tuple[str, str, str, str | None]]:
    """A W&B run's artifact files as data: a file's md5 is DVC's md5 of the same bytes, so a
    file W&B logged and a file DVC tracks are one data node when their bytes are the same. A
    logged file the run also read (``read``: md5s) is not an output: the graph has no loops."""
    out: list[tuple[str, str, str, str | None]] = []
    for artifact in wandb.get("artifacts") or ():
        for entry in artifact.get("files") or ():
            data = node_key("data", entry["md5"])
            path = artifact_path(artifact["name"], entry["path"])
            if artifact.get("used"):
                out.append((data, "input", run, path))
            elif entry["md5"] not in read:
                out.append((run, "output", data, path))
    return out


def _wandb_model_edges(run: str, wandb: dict[str, Any]) -> list[tuple[str, str, str, None]]:
    """A model artifact the run logged (type ``model``: ``log_model``, or one the registry
    takes) is a model version it produced, beside MLflow's. One the run used has no digest in
    the run directory (the server resolves it), so it makes no node."""
    out: list[tuple[str, str, str, None]] = []
    for artifact in wandb.get("artifacts") or ():
        if artifact.get("used") or artifact.get("type") != WANDB_MODEL_TYPE:
            continue
        if not artifact.get("digest"):
            continue
        key = wandb_model_key(wandb["project"], artifact["name"], artifact["digest"])
        edge = (run, "produced", key, None)
        if edge not in out:  # logged twice (log_model, then link_model): one version
            out.append(edge)
    return out

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


def model_of_key(key: str) -> ModelVersion:
    """The model version a ``model:<name>/<version>`` key stands for (MLflow's model names
    never hold a ``/``)."""
    from lineage.model_version import ModelVersion

    name, _, version = key.partition(":")[2].rpartition("/")
    return ModelVersion(name, int(version))


def edges_of(record_id: str, doc: dict[str, Any]) -> list[tuple[str, str, str, str | None]]:
    """The graph a record describes, as (src, rel, dst, path): src was used to make dst.

    A reproduction adds ``reproduced`` from the original run to the rerun; an attachment adds
    ``code`` from the commit that now holds a dirty-tree run's code to the run; a registration
    adds ``produced`` from a run to a version registered from it later."""
    if doc.get("kind") == "registration":
        model = model_key(doc["model"]["name"], doc["model"]["version"])
        return [(node_key("run", doc["run"]), "produced", model, None)]
    if doc.get("kind") == "attachment":
        return [(node_key("commit", doc["commit"]), "code", node_key("run", doc["run"]), None)]
    if doc.get("kind") == "reproduction":
        rerun = doc.get("rerun_run")
        if not rerun:
            return []
        return [(node_key("run", doc["original_run"]), "reproduced", node_key("run", rerun), None)]
    if doc.get("kind") != "run":
        return []
    run = node_key("run", run_key_of(doc))
    out: list[tuple[str, str, str, str | None]] = []
    code = doc.get("code") or {}
    ran: str | None = code.get("snapshot") or code.get("commit")
    if ran:
        out.append((node_key("commit", ran), "code", run, None))
    if ran and code.get("snapshot") and code.get("commit"):
        base = node_key("commit", code["commit"])
        out.append((base, "snapshot", node_key("commit", ran), None))
    for data in doc.get("inputs") or ():
        out.append((node_key("data", data["md5"]), "input", run, data["path"]))
    for data in doc.get("outputs") or ():
        out.append((run, "output", node_key("data", data["md5"]), data["path"]))
    for model in doc.get("models") or ():
        out.append((run, "produced", model_key(model["name"], model["version"]), None))
    parent = (doc.get("run") or {}).get("parent_run_id")
    if parent:
        out.append((node_key("run", parent), "parent", run, None))
    return out

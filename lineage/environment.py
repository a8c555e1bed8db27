"""The Python environment of the interpreter that ran a command.

This file doubles as the script lineage runs in *another* interpreter (``python -c <this file>``),
which may not have lineage installed: its top level imports the standard library only, runs on
Python 3.8+, and `_probe` is the one implementation used both in process and out of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from lineage.records import Environment

# Variables that change what a training run computes, and never hold credentials. An allow-list:
# anything not named here is not recorded.
ALLOWED_VARIABLES = (
    "PYTHONHASHSEED",
    "CUDA_VISIBLE_DEVICES",
    "CUBLAS_WORKSPACE_CONFIG",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "TF_DETERMINISTIC_OPS",
    "TF_CUDNN_DETERMINISTIC",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "LANG",
    "LC_ALL",
    "TZ",
)
URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")  # recorded with credentials removed


def _probe(environ: Mapping[str, str]) -> dict[str, Any]:
    """Describe the running interpreter as a JSON-able document (URI variables not yet redacted)."""
    import importlib.metadata

    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        try:
            name, version = _name_and_version(dist)
        except Exception:  # a broken .dist-info: skip it, as pip does
            continue
        if name and version:
            # The first one on sys.path wins, as it does for `import`.
            packages.setdefault(re.sub(r"[-_.]+", "-", name).lower(), version)
    lines = "".join(f"{name}=={packages[name]}\n" for name in sorted(packages))
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{platform.system()}-{platform.machine()}",
        "packages": packages,
        "packages_hash": "sha256:" + hashlib.sha256(lines.encode("utf-8")).hexdigest(),
        "variables": {k: environ[k] for k in ALLOWED_VARIABLES if k in environ},
    }


def _name_and_version(dist: Any) -> tuple[str | None, str | None]:
    """The Name and Version headers of a distribution's metadata: what ``dist.metadata["Name"]``
    and ``dist.version`` answer, read from the header block alone. Those parse the whole file
    (long descriptions included) with the email package: ~3 ms a distribution, 0.6 s for the
    ~180 of an environment with mlflow, paid by every `lineage run` and `reproduce` plan."""
    text = _header_block(dist)
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon and key in ("Name", "Version") and key not in found:
            found[key] = value.strip()
    return found.get("Name"), found.get("Version")


def _header_block(dist: Any) -> str:
    """The metadata's header block, up to the first blank line. A distribution on the file
    system (``_path``, its .dist-info or .egg-info, CPython's PathDistribution since 3.8) is read
    up to there only: the long descriptions after it are most of the ~2 MB that ~200
    distributions hold, and reading them cost the probe ~10 ms. Anything else is read whole
    through importlib.metadata."""
    base = getattr(dist, "_path", None)
    if isinstance(base, os.PathLike):
        # The files importlib.metadata.Distribution.metadata reads, in its order ("": an
        # .egg-info that is itself the file).
        for name in ("METADATA", "PKG-INFO", ""):
            path = os.path.join(base, name) if name else os.fspath(base)
            try:
                with open(path, encoding="utf-8") as f:
                    text = ""
                    while chunk := f.read(4096):
                        text += chunk
                        if "\n\n" in text:
                            break
            except OSError:  # absent (or a directory): the next file, as read_text does
                continue
            if text:
                return text.split("\n\n", 1)[0]
        return ""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or dist.read_text("") or ""
    return str(text).split("\n\n", 1)[0]


def _environment(document: Mapping[str, Any], source: str = "child") -> Environment:
    from lineage.records import Environment
    from lineage.redact import redact_uri

    variables = {
        str(k): redact_uri(str(v)) if k in URI_VARIABLES else str(v)
        for k, v in dict(document.get("variables", {})).items()
        if k in ALLOWED_VARIABLES
    }
    return Environment(
        python=str(document["python"]),
        implementation=str(document["implementation"]),
        platform=str(document["platform"]),
        packages={str(k): str(v) for k, v in dict(document.get("packages", {})).items()},
        packages_hash=str(document.get("packages_hash", "")),
        variables=variables,
        source=str(document.get("source", source)),
    )


def capture(environ: Mapping[str, str] | None = None) -> Environment:
    """The environment of this interpreter."""
    return _environment(_probe(os.environ if environ is None else environ))


def to_json(env: Environment) -> str:
    from dataclasses import asdict

    return json.dumps(asdict(env), sort_keys=True, ensure_ascii=False)


def from_json(text: str) -> Environment:
    """Parse `to_json` output; ValueError if it is not an environment document."""
    document = json.loads(text)
    if not isinstance(document, dict) or not {"python", "implementation", "platform"} <= set(
        document
    ):
        raise ValueError("not an environment document")
    return _environment(document)


def capture_interpreter(
    python: str, timeout: float = 30, *, environ: Mapping[str, str] | None = None
) -> Environment | None:
    """The environment of another interpreter, or None if it cannot be run or probed."""
    try:
        with open(__file__, encoding="utf-8") as f:
            script = f.read()
        proc = subprocess.run(
            [python, "-c", script],
            env=None if environ is None else dict(environ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0 or not proc.stdout.strip():
            return None
        # The last line: a sitecustomize may print before us.
        document = json.loads(proc.stdout.strip().splitlines()[-1])
        return _environment(document)
    except (OSError, ValueError, KeyError, TypeError, subprocess.SubprocessError):
        return None


if __name__ == "__main__":
    # Run as `python -c`: sys.path[0] is the current directory, which `python train.py` would not
    # search for distributions.
    if sys.path and sys.path[0] == "":
        del sys.path[0]
    print(json.dumps(_probe(os.environ), sort_keys=True))

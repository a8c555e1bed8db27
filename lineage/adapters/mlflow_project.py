"""MLflow Projects: what an `mlflow run` command line asks for, what an ``MLproject`` file
declares, and the command line that runs the same entry point again.

Read without importing MLflow (the MLproject format is small YAML; see MLflow's
``mlflow/projects/_project_spec.py``) so `lineage run` stays cheap before its child starts.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lineage.errors import LineageError
from lineage.records import MlflowProject

MLPROJECT = "MLproject"
DEFAULT_ENTRY_POINT = "main"
# `mlflow run` options (MLflow 3.17, mlflow/cli/__init__.py) and whether each takes a value.
_OPTIONS = {
    "-e": "entry_point",
    "--entry-point": "entry_point",
    "-v": "version",
    "--version": "version",
    "-P": "param",
    "--param-list": "param",
    "-A": None,
    "--docker-args": None,
    "--experiment-name": "experiment_name",
    "--experiment-id": "experiment_id",
    "-b": "backend",
    "--backend": "backend",
    "-c": None,
    "--backend-config": None,
    "--env-manager": "env_manager",
    "--storage-dir": None,
    "--run-id": "run_id",
    "--run-name": "run_name",
}
_FLAGS = {"--build-image"}
# What each environment manager runs to build an environment (MLflow 3.17:
# mlflow/utils/virtualenv.py; virtualenv installs the MLproject's Python with pyenv).
_ENVIRONMENT_TOOLS = {
    "virtualenv": ("pyenv", "virtualenv"),
    "uv": ("uv",),
    "conda": ("conda",),
}


class ProjectError(LineageError):
    """An MLproject file that cannot be read."""


@dataclass(frozen=True)
class Invocation:
    """What one `mlflow run` command line asks for."""

    uri: str
    entry_point: str = DEFAULT_ENTRY_POINT
    version: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)  # every -P, as given
    env_manager: str | None = None  # None: MLflow picks from the MLproject's environment
    experiment_name: str | None = None
    experiment_id: str | None = None
    backend: str | None = None
    run_id: str | None = None
    run_name: str | None = None

    @property
    def local(self) -> bool:
        return is_local(self.uri)


@dataclass(frozen=True)
class Parameter:
    type: str
    default: str | None  # None: the parameter is required


@dataclass(frozen=True)
class EntryPoint:
    name: str
    command: str
    parameters: dict[str, Parameter]


@dataclass(frozen=True)
class Project:
    name: str | None
    environment: str | None  # python_env, conda_env, docker_env, or None
    entry_points: dict[str, EntryPoint]

    def effective_parameters(self, entry_point: str, given: Mapping[str, str]) -> dict[str, str]:
        """What MLflow passes the entry point: its declared parameters, given or defaulted,
        and any other given ones (which MLflow appends as ``--name value``)."""
        declared = self.entry_points.get(entry_point)
        values: dict[str, str] = {}
        if declared is not None:
            for name, parameter in declared.parameters.items():
                value = given.get(name, parameter.default)
                if value is not None:
                    values[name] = value
        return {**values, **{k: v for k, v in given.items() if k not in values}}


def is_local(uri: str) -> bool:
    """Whether a project URI is a directory here (not a Git URL MLflow would clone)."""
    return "://" not in uri and not uri.startswith("git@")


def is_mlflow_run(argv: Sequence[str]) -> bool:
    return bool(argv) and os.path.basename(argv[0]) == "mlflow" and list(argv[1:2]) == ["run"]


def parse_invocation(argv: Sequence[str], environ: Mapping[str, str]) -> Invocation | None:
    """The project, entry point, parameters and options of an `mlflow run` command line (None
    for any other command, or one lineage cannot read). The experiment falls back to
    ``MLFLOW_EXPERIMENT_NAME``/``_ID`` as `mlflow run`'s own options do."""
    if not is_mlflow_run(argv):
        return None
    values: dict[str, Any] = {}
    parameters: dict[str, str] = {}
    uri: str | None = None
    words = list(argv[2:])
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in _FLAGS:
            i += 1
            continue
        if name in _OPTIONS:
            if eq:
                value = inline
            elif i + 1 < len(words):
                value = words[i + 1]
                i += 1
            else:
                return None  # an option without its value: mlflow itself refused this
            target = _OPTIONS[name]
            if target == "param":
                key, sep, param_value = value.partition("=")
                if not sep:
                    return None
                parameters[key] = param_value
            elif target is not None:
                values[target] = value
        elif len(word) > 2 and word.startswith("-P") and "=" in word:  # -Palpha=0.4
            key, _, param_value = word[2:].partition("=")
            parameters[key] = param_value
        elif word.startswith("-"):
            return None  # an option this lineage does not know
        elif uri is None:
            uri = word
        else:
            return None
        i += 1
    if uri is None:
        return None
    values.setdefault("experiment_name", environ.get("MLFLOW_EXPERIMENT_NAME") or None)
    values.setdefault("experiment_id", environ.get("MLFLOW_EXPERIMENT_ID") or None)
    return Invocation(uri=uri, parameters=parameters, **values)


def load(directory: str) -> Project | None:
    """The MLproject file in ``directory`` (None when there is none)."""
    path = os.path.join(directory, MLPROJECT)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror}") from None
    return parse(text, where=path)


def parse(text: str, *, where: str = MLPROJECT) -> Project:
    """An MLproject file's entry points, parameters and environment kind."""
    import yaml

    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ProjectError(f"{where} is not valid YAML ({_first_line(exc)})") from None
    if not isinstance(doc, dict):
        raise ProjectError(f"{where} is not a mapping of MLproject fields")
    entry_points = {}
    for name, spec in (doc.get("entry_points") or {}).items():
        if not isinstance(spec, dict) or "command" not in spec:
            raise ProjectError(f"{where}: entry point {name!r} has no command")
        entry_points[str(name)] = EntryPoint(
            str(name), str(spec["command"]), _parameters(spec.get("parameters") or {})
        )
    environment = next(
        (key for key in ("docker_env", "conda_env", "python_env") if key in doc), None
    )
    name = doc.get("name")
    return Project(str(name) if name is not None else None, environment, entry_points)


def _parameters(spec: Mapping[str, Any]) -> dict[str, Parameter]:
    # MLflow: a parameter is `name: type` or `name: {type: ..., default: ...}`.
    out = {}
    for name, value in spec.items():
        if isinstance(value, dict):
            default = value.get("default")
            out[str(name)] = Parameter(
                str(value.get("type", "string")), None if default is None else str(default)
            )
        else:
            out[str(name)] = Parameter(str(value), None)
    return out


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def rerun_argv(project: MlflowProject, *, env_manager: str | None = None) -> list[str]:
    """`mlflow run` of the recorded project and entry point with every recorded parameter, in
    the recorded environment manager unless ``env_manager`` says otherwise. A local project
    runs from the checked-out code, so ``--version`` is given only for a remote one. The
    experiment is left to ``MLFLOW_EXPERIMENT_ID``, which `lineage reproduce` sets."""
    argv = ["mlflow", "run", project.uri, "-e", project.entry_point]
    if project.version and not is_local(project.uri):
        argv += ["-v", project.version]
    for name, value in project.parameters.items():
        argv += ["-P", f"{name}={value}"]
    manager = env_manager or project.env_manager
    if manager:
        argv += ["--env-manager", manager]
    return argv


def rerun_as_recorded(argv: Sequence[str], *, env_manager: str | None = None) -> list[str]:
    """A recorded `mlflow run` command line to run again: in ``env_manager`` when given, and
    without its experiment options, since `lineage reproduce` names the original run's
    experiment in ``MLFLOW_EXPERIMENT_ID`` (`mlflow run` refuses both a name and an id)."""
    dropped = {"--experiment-name", "--experiment-id"}
    if env_manager:
        dropped.add("--env-manager")
    out: list[str] = []
    words = list(argv)
    i = 0
    while i < len(words):
        name = words[i].partition("=")[0]
        if name in dropped:
            i += 1 if "=" in words[i] else 2
            continue
        out.append(words[i])
        i += 1
    return [*out, "--env-manager", env_manager] if env_manager else out


def missing_environment_tools(env_manager: str | None, path: str) -> list[str]:
    """The programs ``env_manager`` needs that are not on ``path`` (a PATH value)."""
    import shutil

    tools = _ENVIRONMENT_TOOLS.get(env_manager or "", ())
    return [t for t in tools if shutil.which(t, path=path) is None]


def chosen_env_manager(project: Project) -> str | None:
    """The manager `mlflow run` picks when given none (MLflow 3.17: virtualenv for a
    ``python_env``, conda for a ``conda_env``; None: docker, or nothing to build)."""
    return {"python_env": "virtualenv", "conda_env": "conda"}.get(project.environment or "")


def python_env_version(read_text: Callable[[str], str | None], directory: str) -> str | None:
    """The Python version the MLproject in ``directory`` asks its ``python_env`` for."""
    import yaml

    try:
        doc = yaml.safe_load(read_text(_join(directory, MLPROJECT)) or "") or {}
        name = doc.get("python_env") if isinstance(doc, dict) else None
        env = yaml.safe_load(read_text(_join(directory, str(name))) or "") if name else {}
    except yaml.YAMLError:
        return None
    version = env.get("python") if isinstance(env, dict) else None
    return str(version) if version is not None else None


def pyenv_python_missing(version: str, pyenv: str) -> str | None:
    """The Python `mlflow run --env-manager virtualenv` would have pyenv install for
    ``version`` when it is not installed (MLflow takes the newest release pyenv knows of a
    ``3.11``-style version and installs it with ``pyenv install``, which downloads it);
    None when it is there."""
    import subprocess

    def lines(*args: str) -> list[str]:
        proc = subprocess.run([pyenv, *args], capture_output=True, text=True, check=False)
        return [line.strip() for line in proc.stdout.splitlines()]

    wanted = version
    if version.count(".") == 1:  # MLflow's _find_latest_installable_python_version
        known = [v for v in lines("install", "--list") if v.startswith(version + ".")]
        releases = [v for v in known if v[len(version) + 1 :].isdigit()]
        if releases:
            wanted = max(releases, key=lambda v: int(v.rsplit(".", 1)[1]))
    return None if wanted in lines("versions", "--bare") else wanted


def _join(directory: str, name: str) -> str:
    return posixpath.normpath(posixpath.join(directory, name))

"""Everything lineage reads from DVC's own files, without importing ``dvc`` (``import dvc.repo``
alone costs ~140 ms, more than the git hook and ``lineage run``'s pre-child phase may spend):
``.dvc`` files, ``dvc.lock`` and ``dvc.yaml`` (parsed with PyYAML), params files, DVC's stage
addresses, and the grammar of DVC's pipeline commands (``dvc repro``, ``dvc exp run``).

Hashing the workspace as DVC does is ``dvc_hash.py``; DVC's config, ``dvc_config.py``; its
cache and remotes, ``dvc_store.py``.

Gaps: an entry without an md5 (etag, checksum, cloud-versioned ``files:``) is skipped; a
templated ``wdir`` (``${...}``) in dvc.yaml is refused.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from lineage.errors import CommandNotFoundError, LineageError, NotARepositoryError, UnsafePathError
from lineage.records import Data, Stage, repo_path

MD5 = "md5"
MD5_DOS2UNIX = "md5-dos2unix"  # DVC 2.x: pointers without a `hash:` field
LOCK = "dvc.lock"
PIPELINE = "dvc.yaml"
DVCIGNORE = ".dvcignore"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class PointerEntry:
    """One hash a ``.dvc`` file or ``dvc.lock`` records, with its path made repository-relative."""

    path: str
    md5: str  # as DVC writes it: md5 hex, or '<md5>.dir' for a directory
    size: int | None
    nfiles: int | None
    pointer: str  # the .dvc file or dvc.lock that names it
    stage: str | None  # dvc.lock entries: the stage name ("train@1"; "sub/dvc.yaml:train")
    role: str  # "out" or "dep"
    hash_name: str = MD5  # md5-dos2unix for pointers DVC 2 wrote

    def to_data(self) -> Data:
        return Data(
            path=self.path,
            md5=self.md5,
            size=self.size,
            nfiles=self.nfiles,
            pointer=self.pointer,
            stage=self.stage,
        )


def is_dvc_repo(root: Path) -> bool:
    return (root / ".dvc").is_dir()


def find_pointer_files(root: Path) -> list[str]:
    """Every ``*.dvc`` file and ``dvc.lock`` in the workspace that git does not ignore."""
    import subprocess  # ~5 ms, and not every caller needs it

    env = dict(os.environ)
    for var in ("GIT_LITERAL_PATHSPECS", "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS"):
        env.pop(var, None)  # they would turn the globs below into literal names
    args = [
        "git",
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
        "*.dvc",
        LOCK,
        f"*/{LOCK}",
    ]
    try:
        proc = subprocess.run(args, cwd=root, env=env, capture_output=True, check=False)
    except FileNotFoundError:
        raise CommandNotFoundError("git") from None
    if proc.returncode != 0:
        error = os.fsdecode(proc.stderr).strip()
        if "not a git repository" in error:
            raise NotARepositoryError(str(root))
        raise LineageError(f"`git ls-files` failed in {root}: {error}; fix the repository first")
    found = set()
    for name in os.fsdecode(proc.stdout).split("\0"):
        base = posixpath.basename(name)
        pointer = base == LOCK or (base.endswith(".dvc") and base != ".dvc")
        # --cached also lists files deleted from the workspace
        if pointer and not name.startswith(".dvc/") and os.path.isfile(root / name):
            found.add(name)
    return sorted(found)


def read_dvc_file(root: Path, pointer: str, text: str | None = None) -> list[PointerEntry]:
    """The deps and outs a ``.dvc`` file records; ``text`` is its content when not on disk."""
    pointer = repo_path(pointer)
    if text is None:
        text = (root / pointer).read_text(encoding="utf-8")
    return _parse_dvc_file(pointer, text)


def read_dvc_lock(
    root: Path,
    pointer: str,
    text: str | None = None,
    *,
    pipeline_text: str | None = None,
) -> list[PointerEntry]:
    """The deps and outs of every stage in a ``dvc.lock``.

    Lock paths are relative to the stage's ``wdir``, which only the sibling dvc.yaml holds: with
    ``text`` None both are read from disk; with ``text`` given, pass that dvc.yaml's content as
    ``pipeline_text`` (None means no stage has a ``wdir``).
    """
    pointer = repo_path(pointer)
    if text is None:
        text = (root / pointer).read_text(encoding="utf-8")
        if pipeline_text is None:
            pipeline_text = _read_optional(root / pipeline_of(pointer))
    return [e for stage in _parse_dvc_lock(pointer, text, pipeline_text) for e in stage.entries]


def lock_stages(
    root: Path,
    text: str | None = None,
    *,
    pipeline_text: str | None = None,
) -> list[Stage]:
    """The stages of the root ``dvc.lock`` (``text``), or of every dvc.lock in the workspace,
    their params read as DVC wrote them (YAML 1.2: see ``parse_yaml``)."""
    if text is not None:
        return _stages(LOCK, text, pipeline_text)
    stages: list[Stage] = []
    for pointer in find_pointer_files(root):
        if posixpath.basename(pointer) == LOCK:
            lock_text = (root / pointer).read_text(encoding="utf-8")
            pipeline = _read_optional(root / pipeline_of(pointer))
            stages += _stages(pointer, lock_text, pipeline)
    return stages


def pointers_at_tree(
    read_blob: Callable[[str], str | None],
    paths: Iterable[str],
) -> list[PointerEntry]:
    """The entries of the ``.dvc`` files and ``dvc.lock`` files among ``paths`` in a git tree."""
    entries: list[PointerEntry] = []
    for path in map(repo_path, paths):
        text = read_blob(path)
        if text is None:
            continue
        if posixpath.basename(path) == LOCK:
            parsed = _parse_dvc_lock(path, text, read_blob(pipeline_of(path)))
            entries += [e for stage in parsed for e in stage.entries]
        elif path.endswith(".dvc"):
            entries += _parse_dvc_file(path, text)
    return entries


def _read_optional(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def pipeline_of(lock: str) -> str:
    return posixpath.join(posixpath.dirname(lock), PIPELINE)


def stage_address(pipeline: str, name: str) -> str:
    """DVC's address of stage ``name`` of the dvc.yaml at ``pipeline``: the bare name in the root
    one, ``sub/dvc.yaml:name`` in a nested one (what `dvc repro` takes and dvc.lock implies)."""
    return name if pipeline == PIPELINE else f"{pipeline}:{name}"


def split_stage_address(address: str) -> tuple[str, str]:
    """(dvc.yaml path, stage name) of a stage address: the inverse of ``stage_address``."""
    pipeline, colon, name = address.rpartition(":")
    if colon and posixpath.basename(pipeline) == PIPELINE:
        return pipeline, name
    return PIPELINE, address


class YamlError(ValueError):
    """Text that is not YAML; the message says what is wrong, and where."""


def parse_yaml(text: str, *, yaml12: bool = False) -> Any:
    """YAML text parsed by PyYAML (YAML 1.1; libyaml's C loader, ~10x faster, when present), or
    with ``yaml12`` as DVC parses it: ruamel.yaml's safe loader (YAML 1.2), the one DVC writes
    dvc.lock with and reads params and metrics files with. The two differ on plain scalars DVC
    writes: `lr: 1e-05` is a number in 1.2 and a string in 1.1, `on` a string and a boolean."""
    if yaml12:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError as RuamelYAMLError

        try:
            return YAML(typ="safe").load(text)
        except RuamelYAMLError as exc:
            raise YamlError(_yaml_problem(exc)) from None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise YamlError(_yaml_problem(exc)) from None


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return f"{getattr(exc, 'problem', None) or 'unparsable'}{where}"


def load_yaml(text: str, name: str, *, yaml12: bool = False) -> dict[str, Any]:
    """The mapping a DVC file holds (``parse_yaml``); an error naming ``name`` otherwise."""
    try:
        document = parse_yaml(text, yaml12=yaml12)
    except YamlError as exc:
        raise LineageError(
            f"{name} is not valid YAML ({exc}); fix it, or restore it with `git checkout -- {name}`"
        ) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise LineageError(
            f"{name} does not hold a YAML mapping, so it is no DVC file; fix it, or restore it "
            f"with `git checkout -- {name}`"
        )
    return document


def _parse_dvc_file(pointer: str, text: str) -> list[PointerEntry]:
    document = load_yaml(text, pointer)
    base = join_wdir(posixpath.dirname(pointer), document.get("wdir"), pointer)
    return [
        *_entries(document.get("deps"), base, pointer, None, "dep"),
        *_entries(document.get("outs"), base, pointer, None, "out"),
    ]


class _LockedStage(NamedTuple):
    name: str  # the stage address
    cmd: str
    entries: list[PointerEntry]
    params: dict[str, dict[str, Any]]  # params file (repository path) -> key -> value


def _parse_dvc_lock(
    pointer: str,
    text: str,
    pipeline_text: str | None,
    *,
    yaml12: bool = False,
) -> list[_LockedStage]:
    """Each stage of a dvc.lock: its address, cmd, deps and outs, and params."""
    document = load_yaml(text, pointer, yaml12=yaml12)
    # DVC 2 and 3 write `schema: '2.0'` and a `stages:` mapping; DVC 1 put stages at the top.
    stages = document.get("stages") if "schema" in document else document
    if not isinstance(stages, dict):
        return []
    pipeline = pipeline_of(pointer)
    wdirs = _pipeline_wdirs(pipeline_text, pipeline)
    parsed = []
    for raw_name, body in stages.items():
        if not isinstance(body, dict):
            continue
        name = stage_address(pipeline, str(raw_name))
        base = join_wdir(
            posixpath.dirname(pointer),
            wdirs.get(str(raw_name).partition("@")[0]),
            pipeline,
        )
        cmd = body.get("cmd")
        cmd = " && ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or "")
        entries = [
            *_entries(body.get("deps"), base, pointer, name, "dep"),
            *_entries(body.get("outs"), base, pointer, name, "out"),
        ]
        parsed.append(_LockedStage(name, cmd, entries, _params(body.get("params"), base)))
    return parsed


def _params(params: Any, base: str) -> dict[str, dict[str, Any]]:
    """A lock's ``params:`` (file relative to the stage's wdir -> key -> value) with each file
    made repository-relative; a params file outside the repository is left out, as external
    deps are."""
    found: dict[str, dict[str, Any]] = {}
    for name, values in params.items() if isinstance(params, dict) else ():
        if not isinstance(values, dict):
            continue
        try:
            path = repo_path(posixpath.join(base, str(name)))
        except UnsafePathError:
            continue
        found[path] = {str(key): value for key, value in values.items()}
    return found


def _stages(pointer: str, text: str, pipeline_text: str | None) -> list[Stage]:
    # Only `lineage run`, after its command, asks for stages: ruamel's ~50 ms import is paid
    # there, never in the hooks or before the command.
    return [
        Stage(
            name=stage.name,
            cmd=stage.cmd,
            deps=tuple(e.to_data() for e in stage.entries if e.role == "dep"),
            outs=tuple(e.to_data() for e in stage.entries if e.role == "out"),
            params=stage.params,
        )
        for stage in _parse_dvc_lock(pointer, text, pipeline_text, yaml12=True)
    ]


def _pipeline_wdirs(text: str | None, name: str) -> dict[str, Any]:
    """Stage name (before any ``@``) -> ``wdir``, from a dvc.yaml."""
    if not text or "wdir" not in text:  # the common case needs no second YAML parse
        return {}
    stages = load_yaml(text, name).get("stages")
    wdirs: dict[str, Any] = {}
    for stage_name, body in (stages if isinstance(stages, dict) else {}).items():
        if isinstance(body, dict):
            definition = body.get("do") if "foreach" in body else body
            if isinstance(definition, dict) and definition.get("wdir") is not None:
                wdirs[str(stage_name)] = definition["wdir"]
    return wdirs


def join_wdir(directory: str, wdir: Any, name: str) -> str:
    """The repository path a DVC file's paths are relative to: its ``directory`` joined with its
    ``wdir``; a templated ``wdir`` is refused (resolving it needs DVC)."""
    if wdir is None:
        return directory
    if "${" in str(wdir):
        raise LineageError(
            f"a stage in {name} has a templated wdir ({wdir}) that lineage cannot resolve "
            "without DVC; write the directory out literally"
        )
    return repo_path(posixpath.join(directory, str(wdir)))


def _entries(
    items: Any,
    base: str,
    pointer: str,
    stage: str | None,
    role: str,
) -> Iterator[PointerEntry]:
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            continue
        raw = item["path"]
        if _URL.match(raw) or "repo" in item or (role == "dep" and raw.startswith("/")):
            continue  # external: a URL, another repository (`dvc import`), an absolute path
        # Refuse an escaping path even on an entry without md5: the pointer is not to be trusted.
        path = repo_path(posixpath.join(base, raw) if not raw.startswith("/") else raw)
        md5 = item.get("md5")
        if md5 is None:
            continue
        yield PointerEntry(
            path=path,
            md5=str(md5),
            size=_int(item.get("size")),
            nfiles=_int(item.get("nfiles")),
            pointer=pointer,
            stage=stage,
            role=role,
            hash_name=MD5 if item.get("hash") == MD5 else MD5_DOS2UNIX,
        )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def raw_stages(text: str, name: str) -> dict[str, Any]:
    """The ``stages`` mapping of a dvc.yaml or dvc.lock exactly as written (stage name ->
    definition; ``name@key`` entries for a lock's foreach/matrix stages)."""
    document = load_yaml(text, name)
    stages = document.get("stages") if "schema" in document or name.endswith(PIPELINE) else document
    return {str(k): v for k, v in stages.items()} if isinstance(stages, dict) else {}


def stage_commands_at_tree(
    read_blob: Callable[[str], str | None], paths: Iterable[str]
) -> dict[str, str]:
    """Stage address -> the command each ``dvc.lock`` among ``paths`` recorded for it."""
    commands: dict[str, str] = {}
    for path in map(repo_path, paths):
        if posixpath.basename(path) != LOCK:
            continue
        text = read_blob(path)
        if text is not None:
            for stage in _parse_dvc_lock(path, text, read_blob(pipeline_of(path))):
                commands[stage.name] = stage.cmd
    return commands


@dataclass(frozen=True)
class OutFlags:
    """What a DVC file declares about one output that decides whether `dvc push` sends it
    (``dvc/output.py``: ``Output.get_used_objs`` skips ``cache: false``, ``push: false`` and
    `dvc import` outputs) and where to (``remote:``, else the default remote)."""

    cache: bool = True
    push: bool = True
    remote: str | None = None
    imported: bool = False  # `dvc import` from another repository: DVC never pushes it

    @property
    def pushed_by_dvc(self) -> bool:
        return self.cache and self.push and not self.imported


DEFAULT_FLAGS = OutFlags()


def out_flags(path: str, files: Mapping[str, str | None]) -> OutFlags:
    """How the first of ``files`` (DVC file path -> its text; None: absent) that declares the
    output at ``path`` declares it: a ``.dvc`` file's entry, or an output of any stage of a
    ``dvc.yaml`` (``outs``, ``metrics``, ``plots``). DVC's defaults when none does."""
    for name, text in files.items():
        if text is None:
            continue
        if posixpath.basename(name) == PIPELINE:
            flags = _pipeline_out_flags(name, path, text)
        else:
            flags = _dvc_file_out_flags(name, path, text)
        if flags is not None:
            return flags
    return DEFAULT_FLAGS


def declaring_files(path: str, pointer: str | None) -> list[str]:
    """The DVC files that may declare the output at ``path`` a record names with ``pointer``:
    the ``.dvc`` file itself; for a ``dvc.lock`` entry (an out, or a dep another stage or a
    ``.dvc`` file produces), its ``dvc.yaml``; and ``<path>.dvc``, the name `dvc add` gives."""
    files = []
    if pointer and posixpath.basename(pointer) == LOCK:
        files.append(pipeline_of(pointer))
    elif pointer:
        files.append(pointer)
    return list(dict.fromkeys([*files, f"{path}.dvc"]))


def _dvc_file_out_flags(pointer: str, path: str, text: str) -> OutFlags | None:
    document = load_yaml(text, pointer)
    base = join_wdir(posixpath.dirname(pointer), document.get("wdir"), pointer)
    imported = any(isinstance(d, dict) and "repo" in d for d in _list(document.get("deps")))
    for item in _list(document.get("outs")):
        declared = item.get("path") if isinstance(item, dict) else None
        if isinstance(declared, str) and _declared_path(base, declared) == path:
            return _flags(item, imported=imported)
    return None


def _pipeline_out_flags(pipeline: str, path: str, text: str) -> OutFlags | None:
    stages = load_yaml(text, pipeline).get("stages")
    for body in stages.values() if isinstance(stages, dict) else ():
        if isinstance(body, dict) and "foreach" in body:
            body = body.get("do")  # a matrix stage keeps its outs at the top
        if not isinstance(body, dict):
            continue
        try:
            base = join_wdir(posixpath.dirname(pipeline), body.get("wdir"), pipeline)
        except LineageError:
            continue  # a templated wdir: DVC's defaults rather than a refused push
        for key in ("outs", "metrics", "plots"):  # each a list of outputs, cached by default
            for item in _list(body.get(key)):
                declared, options = _declaration(item)
                if declared is not None and _matches(base, declared, path):
                    return _flags(options)
    return None


def _declaration(item: Any) -> tuple[str | None, dict[str, Any]]:
    """dvc.yaml spells an output as a bare path or as ``{path: {options}}``."""
    if isinstance(item, str):
        return item, {}
    if isinstance(item, dict) and len(item) == 1:
        declared, options = next(iter(item.items()))
        return str(declared), options if isinstance(options, dict) else {}
    return None, {}


def _matches(base: str, declared: str, path: str) -> bool:
    if "${" not in declared:
        return _declared_path(base, declared) == path
    # A foreach/matrix output (`data/features/${item}.tsv`): the lock holds it filled in.
    parts = re.split(r"\$\{[^}]*\}", posixpath.join(base, declared))
    pattern = ".+".join(re.escape(part) for part in parts)
    return re.fullmatch(pattern, path) is not None


def _declared_path(base: str, declared: str) -> str | None:
    try:
        return repo_path(posixpath.join(base, declared))
    except UnsafePathError:
        return None


def _flags(options: dict[str, Any], *, imported: bool = False) -> OutFlags:
    remote = options.get("remote")
    return OutFlags(
        cache=options.get("cache", True) is not False,
        push=options.get("push", True) is not False,
        remote=str(remote) if remote else None,
        imported=imported,
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

"""The REF grammar: every way a user names something in the lineage graph, parsed into a typed
value and formatted back. Nothing here reads the index, git or MLflow; ``lineage/resolve.py``
turns the values into graph nodes.

    name/3              model version            models:/name/3       the same, as MLflow writes it
    name@alias          model alias (live)       models:/name@alias   the same, as MLflow writes it
    path@md5-prefix     data at a recorded path  3f2a...              a run id, data md5, commit or
    path@oid-prefix     (an md5 or a Git LFS oid)                     record id (4+ hex digits)
    data/raw.csv        a recorded data path     sha256:3f2a...       a Git LFS oid (or its prefix)
                        (its latest version)     local-3f2a...        a run without MLflow
    HEAD, main, v1~2    a git revision (for `audit`, a bare model name)

Model names follow MLflow's rules (mlflow/utils/validation.py ``_validate_model_name``): any text
without ``/`` or ``:``, spaces and ``@`` included; aliases are word characters and ``-``. So
``name/3`` is a version only when ``name`` could be a model name, and ``x@y`` splits at the last
``@``, as MLflow's ``_parse_model_uri`` does. ``x@y`` is both a model alias and data at a path:
it parses to :class:`AtRef`, which carries both readings, and the index decides (a recorded path
wins).

Any text may also be a data path (:func:`data_path` spells it as records do). Which reading wins
is decided in one place, ``resolve.resolve``, by one rule: a ``models:/`` URI is a model; else
text that is a recorded data path (as typed, or relative to the working directory) is that data,
whatever else it could be (a hex prefix, ``name/3``, a branch); else the forms above.
"""

# No `from __future__ import annotations` here: typing.NamedTuple compiles every string
# annotation into a ForwardRef, which costs more than the whole class otherwise.
import re
from typing import NamedTuple

from lineage.errors import BadReferenceError

MIN_PREFIX = 4  # hex digits a prefix needs before it is looked up (as git's --abbrev minimum)
FORMS = (
    "name/3, name@alias, models:/name/3, a run id, a commit, a data md5 or sha256:OID, "
    "a recorded data path or path@md5"
)
URI_PREFIX = "models:/"
_HEX = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},64}}(\.dir)?|sha256:[0-9a-f]{{{MIN_PREFIX},64}}")
LFS_PREFIX = "sha256:"  # a Git LFS oid, as records spell it (adapters/git_lfs.py)
_LOCAL_PREFIX = re.compile(rf"local-[0-9a-f]{{{MIN_PREFIX},32}}")
_ALIAS = re.compile(r"[\w-]{1,255}")  # mlflow/utils/validation.py _REGISTERED_MODEL_ALIAS_REGEX


# The REF values are named tuples, which a process creates ~5x faster than frozen dataclasses
# (every `lineage show` pays for them). Like tuples, they compare by value alone: tell them apart
# by type (resolve does, with isinstance). Their annotations are evaluated, not strings (below).


class ModelRef(NamedTuple):
    """A model version (``version``), an alias (``alias``), or, from :func:`parse_model`, a
    whole model (neither). ``uri``: written as ``models:/...``."""

    name: str
    version: int | None = None
    alias: str | None = None
    uri: bool = False

    def __str__(self) -> str:
        head = URI_PREFIX if self.uri else ""
        if self.version is not None:
            return f"{head}{self.name}/{self.version}"
        if self.alias is not None:
            return f"{head}{self.name}@{self.alias}"
        return f"{head}{self.name}"


class AtRef(NamedTuple):
    """``left@right``: data at the path ``left`` whose md5 starts with ``right``, or the alias
    ``right`` of the model ``left``."""

    left: str
    right: str

    def __str__(self) -> str:
        return f"{self.left}@{self.right}"

    @property
    def path(self) -> str:
        return self.left.rstrip("/")

    @property
    def model(self) -> ModelRef | None:
        """The model-alias reading, or None when ``left`` cannot name a model or ``right``
        cannot be an alias."""
        if not is_model_name(self.left) or not _ALIAS.fullmatch(self.right):
            return None
        return ModelRef(self.left, alias=self.right)


class HexRef(NamedTuple):
    """A prefix (or the whole) of a run id, data md5, commit sha or record id, or of a Git LFS
    oid written ``sha256:…``; lower case."""

    prefix: str

    def __str__(self) -> str:
        return self.prefix


class LocalRunRef(NamedTuple):
    """``local-<session>`` (a run that started no MLflow run), or a unique prefix of one, as
    `lineage log` prints it."""

    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def prefix(self) -> str | None:
        """The text as a prefix to look up (lower case, 4+ hex digits after ``local-``)."""
        lowered = self.text.lower()
        return lowered if _LOCAL_PREFIX.fullmatch(lowered) else None


class RevisionRef(NamedTuple):
    """Anything else: a git revision (``HEAD``, a branch, ``v1.0~2``), or a bare model name."""

    text: str

    def __str__(self) -> str:
        return self.text


Ref = ModelRef | AtRef | HexRef | LocalRunRef | RevisionRef


def is_model_name(text: str) -> bool:
    """Whether MLflow accepts ``text`` as a registered model name (lineage also refuses
    control characters, which no model name needs and a terminal would act on)."""
    return (
        bool(text.strip())
        and "/" not in text
        and ":" not in text
        and all(c.isprintable() for c in text)
    )


def data_path(text: str) -> str | None:
    """``text`` spelt as records spell a data path (repository-relative, ``/``-separated, no
    trailing ``/``), or None when it cannot be one: empty, absolute, a ``models:`` URI, or
    climbing out with ``..`` (resolve tries the working directory's reading separately)."""
    if text.startswith(("/", "models:")) or "\0" in text:
        return None
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def parse(text: str) -> Ref:
    """The typed value of a REF; raises BadReferenceError for text no REF form can take."""
    if not text.strip() or text != text.strip():
        raise BadReferenceError(text, f"malformed REF {text!r}; use one of: {FORMS}")
    if text.startswith("models:"):
        return _model_uri(text)
    lowered = text.lower()
    if _HEX.fullmatch(lowered):
        return HexRef(lowered)
    if (version := _version(text)) is not None:
        return version
    left, at, right = text.rpartition("@")
    if at and left and right:
        return AtRef(left, right)
    if lowered.startswith("local-") and len(text) > len("local-"):
        return LocalRunRef(text)
    return RevisionRef(text)


def parse_model(text: str) -> ModelRef:
    """A REF that must name a model: ``name``, ``name/3``, ``name@alias`` or ``models:/...``
    (``models:/name`` too: the whole model)."""
    bare = text[len(URI_PREFIX) :] if text.startswith(URI_PREFIX) else None
    if bare is not None and is_model_name(bare) and "@" not in bare and bare.strip() == bare:
        return ModelRef(bare, uri=True)
    if text.startswith("models:"):
        return _model_uri(text)
    found = parse(text) if text.strip() == text and text else None
    if isinstance(found, ModelRef):
        return found
    if isinstance(found, AtRef) and found.model is not None:
        return found.model
    if is_model_name(text) and text.strip() == text and "@" not in text:
        return ModelRef(text)
    raise BadReferenceError(
        text,
        f"{text!r} is not a model, version or alias; use NAME, NAME/VERSION, NAME@ALIAS or "
        "models:/NAME@ALIAS",
    )


def _version(text: str) -> ModelRef | None:
    name, slash, version = text.partition("/")
    if slash and version.isascii() and version.isdigit() and is_model_name(name):
        return ModelRef(name, version=int(version))
    return None


def _model_uri(text: str) -> ModelRef:
    """``models:/name/3`` or ``models:/name@alias``; MLflow's other forms (stages, ``latest``,
    logged-model ids) name no fixed version and are refused."""
    rest = text[len(URI_PREFIX) :] if text.startswith(URI_PREFIX) else ""
    found = _version(rest)
    if found is None:
        name, at, alias = rest.rpartition("@")
        if at and is_model_name(name) and _ALIAS.fullmatch(alias):
            found = ModelRef(name, alias=alias)
    if found is None:
        raise BadReferenceError(
            text, f"malformed model URI {text!r}; use models:/NAME/VERSION or models:/NAME@ALIAS"
        )
    return ModelRef(found.name, found.version, found.alias, uri=True)

"""Keeping credentials out of what lineage stores and prints: URIs lose their user info and
secret-looking query parameters, and a command line loses its secret-looking values wherever
lineage stores or shows it (see ``redact_command`` and docs/records.md#secrets-in-commands).

Used for MLflow tracking and registry URIs, DVC remote URLs, recorded environment variables and
recorded commands. Standard library only: the hooks and the environment probe import it.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"token|passw|secret|key|auth|sig|credential", re.IGNORECASE)
_USER_INFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")

# A command line's option or variable is secret when the LAST part of its name (split at `-`,
# `_`, `.` and camelCase) says so: `--hf-token`, `--api-key`, `API_KEY=`, `db.password=`, but
# not `--max-tokens`, `--keys`, `--monkey`, `--token-budget` or `--password-file` (a path).
_SECRET_WORDS = ("token", "password", "passwd", "pwd", "secret", "credential", "credentials")
_SECRET_SUFFIXES = ("token", "password", "passwd", "passphrase", "secret", "apikey")
# `key` is a secret (`--api-key`, `--secret-access-key`, `--key`) unless it is the key of data.
_DATA_KEYS = (
    "sort join primary partition group foreign index hash dict column id label target "
    "feature row lookup merge shard cache map order split seed random rng dedup unique"
)
_DATA_KEY_WORDS = frozenset(_DATA_KEYS.split())
# Boolean flags that only mention a secret: `--use-auth-token`, `--no-auth`.
_FLAG_PREFIXES = frozenset({"no", "use", "enable", "disable", "skip"})
_ASSIGNMENT = re.compile(r"^[+~]?[A-Za-z_][A-Za-z0-9_.\-]*=")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_USER_OPTIONS = ("-u", "--user")
_UID_GID = re.compile(r"^\d+:\d+$")  # `docker run -u 1000:1000`: ids, not a password
USER_PASSWORD_VARIABLE = "USER_PASSWORD"


@dataclass(frozen=True)
class Redaction:
    """A value taken out of a recorded command line: ``at`` is its word's position in argv
    (where ``<redacted>`` now stands), ``name`` the option or variable it was the value of,
    and ``variable`` the environment variable a rerun reads it from (None: a URL's user info
    or secret query parameters, which are dropped and cannot be given back; ``name`` is then
    the URL as kept)."""

    at: int
    name: str
    variable: str | None


@dataclass(frozen=True)
class RedactedCommand:
    argv: tuple[str, ...]
    redacted: tuple[Redaction, ...] = ()


def redact_uri(uri: str) -> str:
    """The URI without user info or secret-looking query parameters; local paths unchanged."""
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:  # "Invalid IPv6 URL": still drop whatever precedes an @ in its host
        return _USER_INFO.sub(r"\1", uri)
    if not parts.netloc:  # sqlite:///..., file:///..., plain paths
        return uri
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(
        item
        for item in parts.query.split("&")
        if item and not _SECRET_NAME.search(urllib.parse.unquote_plus(item.partition("=")[0]))
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """The command line as lineage stores and shows it (see :func:`redact_command`)."""
    return redact_command(argv).argv


def redact_command(argv: Sequence[str]) -> RedactedCommand:
    """The command line without secret-looking values, and where each one was: the value of an
    option whose name says it is a secret (``--token X``, ``--api-key=X``), of a ``NAME=value``
    word with such a name (``API_KEY=X``, ``env PASSWORD=X cmd``, Hydra's ``db.password=X``),
    the password of ``-u``/``--user user:pass``, and a URL's user info and secret query
    parameters. The program (``argv[0]``) is kept."""
    words = list(argv)
    found: list[Redaction] = []
    i = 1
    while i < len(words):
        word = words[i]
        hidden = _hide_value_of_option(words, i) or _hide_in_word(word, i)
        if hidden is not None:
            at, shown, redaction = hidden
            words[at] = shown
            found.append(redaction)
            i = at + 1
            continue
        urls = [(m.group(0), redact_uri(m.group(0))) for m in _URL_IN_TEXT.finditer(word)]
        changed = [kept for url, kept in urls if kept != url]
        if changed:
            words[i] = _URL_IN_TEXT.sub(lambda m: redact_uri(m.group(0)), word)
            found.append(Redaction(i, changed[0], None))  # named by the URL as kept
        i += 1
    return RedactedCommand(tuple(words), tuple(found))


def is_secret_name(name: str) -> bool:
    """Whether an option or variable named ``name`` holds a secret, by the last part of the
    name: ``--hf-token``, ``--api-key``, ``API_KEY``, ``db.password``, ``--auth``; not
    ``--max-tokens``, ``--key-column``, ``--sort-key``, ``--password-file``,
    ``--use-auth-token``."""
    parts = _name_parts(name)
    if not parts or (len(parts) > 1 and parts[0] in _FLAG_PREFIXES):
        return False
    last = parts[-1]
    if last in _SECRET_WORDS or last == "auth" or last.endswith(_SECRET_SUFFIXES):
        return True
    if parts[-2:] == ["connection", "string"]:
        return True
    return last == "key" and (len(parts) == 1 or parts[-2] not in _DATA_KEY_WORDS)


def variable_for(name: str) -> str:
    """The environment variable a rerun reads a hidden value from: the name in capitals with
    `-` and `.` as `_` (``--hf-token`` -> ``HF_TOKEN``; ``API_KEY`` -> ``API_KEY``)."""
    if name in _USER_OPTIONS:
        return USER_PASSWORD_VARIABLE
    return "_".join(p.upper() for p in _name_parts(name))


def missing_values(redacted: Sequence[Redaction], environ: Mapping[str, str]) -> list[Redaction]:
    """The hidden values a rerun cannot get back from ``environ``."""
    return [r for r in redacted if r.variable is None or not environ.get(r.variable)]


def restore_values(
    argv: Sequence[str], redacted: Sequence[Redaction], environ: Mapping[str, str]
) -> list[str]:
    """``argv`` with each hidden value put back from its environment variable (every one must
    be there: see :func:`missing_values`)."""
    words = list(argv)
    for r in redacted:
        if r.variable is not None and 0 <= r.at < len(words):
            words[r.at] = words[r.at].replace(REDACTED, environ[r.variable], 1)
    return words


def redact_value(name: str, value: str) -> str:
    """A named value (a parameter) as lineage keeps it: hidden when its name says it is a
    secret (the same rule as a command line's options, so `-P max_tokens=512` is kept alike in
    both), else with any URL in it redacted."""
    if is_secret_name(name):
        return REDACTED
    return _URL_IN_TEXT.sub(lambda m: redact_uri(m.group(0)), value)


def _name_parts(name: str) -> list[str]:
    spaced = _CAMEL.sub(r"\1_\2", name.lstrip("-+~"))
    return [p for p in re.split(r"[-_.]+", spaced.lower()) if p]


def _hide_value_of_option(words: list[str], i: int) -> tuple[int, str, Redaction] | None:
    """``--token X`` or ``-u user:pass``: the value is the next word."""
    word = words[i]
    if not word.startswith("-") or "=" in word or i + 1 >= len(words):
        return None
    value = words[i + 1]
    if value == "" or value.startswith("--") or re.fullmatch(r"-[A-Za-z]", value):
        return None  # a flag followed by another option: no value to hide
    if word in _USER_OPTIONS:
        return _hide_password(word, value, i + 1)
    if not is_secret_name(word):
        return None
    return i + 1, REDACTED, Redaction(i + 1, word, variable_for(word))


def _hide_in_word(word: str, i: int) -> tuple[int, str, Redaction] | None:
    """``--token=X``, ``--user=user:pass`` or ``NAME=X``: the value is in the word."""
    name, eq, value = word.partition("=")
    if not eq or not value:
        return None
    if word.startswith("-"):
        if name in _USER_OPTIONS:
            hidden = _hide_password(name, value, i)
            return None if hidden is None else (i, f"{name}={hidden[1]}", hidden[2])
        if not is_secret_name(name):
            return None
    elif not _ASSIGNMENT.match(word) or not is_secret_name(name):
        return None
    return i, f"{name}={REDACTED}", Redaction(i, name, variable_for(name))


def _hide_password(option: str, value: str, at: int) -> tuple[int, str, Redaction] | None:
    user, colon, password = value.partition(":")
    if not colon or not password or _UID_GID.match(value):
        return None
    return at, f"{user}:{REDACTED}", Redaction(at, option, USER_PASSWORD_VARIABLE)

"""Keeping credentials out of what lineage stores and prints: URIs lose their user info and
secret-looking query parameters, and a command line loses them wherever a URL appears in it.

Used for MLflow tracking and registry URIs, DVC remote URLs, recorded environment variables and
recorded commands. Standard library only: the hooks and the environment probe import it.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"token|passw|secret|key|auth|sig|credential", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")


def redact_uri(uri: str) -> str:
    """The URI without user info or secret-looking query parameters; local paths unchanged."""
    parts = urllib.parse.urlsplit(uri)
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
    """The command line with every URL in it redacted (also inside ``--opt=URL``)."""
    return tuple(_URL_IN_TEXT.sub(lambda m: redact_uri(m.group(0)), arg) for arg in argv)


def redact_value(name: str, value: str) -> str:
    """A named value (a parameter) as lineage keeps it: hidden when its name says it is a
    secret, else with any URL in it redacted."""
    if _SECRET_NAME.search(name):
        return REDACTED
    return _URL_IN_TEXT.sub(lambda m: redact_uri(m.group(0)), value)

"""DVC's ignore rules for the files under a tracked directory, as ``dvc add`` applies them
(dvc_data/hashfile/build.py ``_build_tree``, dvc/ignore.py): ``.git``, ``.hg/``, ``.dvc/``,
nested DVC repositories, and the patterns of the ``.dvcignore`` files in the repository root
and in the directory's ancestors (matched with pathspec, as DVC does).

Gap: a ``.dvcignore`` inside a tracked directory (``dvc add`` refuses one) is hashed as a plain
file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from lineage.adapters.dvc import DVCIGNORE


@dataclass(frozen=True)
class _Rule:
    base: str  # repository-relative directory of the .dvcignore ("" for the root)
    regex: re.Pattern[str]
    ignore: bool  # False for a `!` pattern
    dir_only: bool


class DvcIgnore:
    """DVC's ignore rules for the files under one tracked directory."""

    def __init__(self, top: str, rules: list[_Rule]) -> None:
        self.top = top
        self.rules = rules

    @classmethod
    def above(cls, root: str, top: str) -> DvcIgnore:
        """The rules of the .dvcignore files in the repository root and ``top``'s ancestors."""
        parts = top.split("/")
        rules: list[_Rule] = []
        for depth in range(len(parts)):
            base = "/".join(parts[:depth])
            lines = _dvcignore_lines(os.path.join(root, base, DVCIGNORE))
            if lines:
                rules += _compile(base, lines)
        return cls(top, rules)

    def skips(self, rel: str, path: str, *, is_dir: bool) -> bool:
        name = rel.rpartition("/")[2]
        if name == ".git" or (is_dir and name in (".hg", ".dvc")):
            return True
        if is_dir and os.path.exists(os.path.join(path, ".dvc")):
            return True  # a nested DVC repository
        if not self.rules:
            return False
        full = f"{self.top}/{rel}"
        for rule in reversed(self.rules):  # the last matching pattern wins
            if rule.dir_only and not is_dir:
                continue
            candidate = full[len(rule.base) + 1 :] if rule.base else full
            if rule.regex.match(candidate) or (is_dir and rule.regex.match(candidate + "/")):
                return rule.ignore
        return False


def _dvcignore_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fobj:
            lines = [line.strip() for line in fobj]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [line for line in lines if line and not line.startswith("#")]


def _compile(base: str, lines: list[str]) -> list[_Rule]:
    # pathspec is what DVC matches with; importing it costs ~35 ms, so only when patterns exist.
    try:
        from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern as Pattern
    except ImportError:  # pathspec < 1
        from pathspec.patterns import (  # type: ignore[attr-defined,no-redef,unused-ignore]
            GitWildMatchPattern as Pattern,
        )

    rules = []
    for line in lines:
        regex, include = Pattern.pattern_to_regex(line)
        if regex is not None and include is not None:
            rules.append(_Rule(base, re.compile(regex), bool(include), line.endswith("/")))
    return rules

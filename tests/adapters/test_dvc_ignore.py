"""lineage.adapters.dvc_ignore: DVC's ignore rules for the files of a tracked directory (the
hashes they lead to are checked against the real DVC in test_dvc_hash.py)."""

from __future__ import annotations

from pathlib import Path

from lineage.adapters.dvc_ignore import DvcIgnore
from tests.adapters.dvc_helpers import write


def test_dvcs_own_ignores_apply_without_any_dvcignore(tmp_path: Path) -> None:
    top = tmp_path / "data"
    (top / "nested" / ".dvc").mkdir(parents=True)  # a DVC repository of its own
    ignore = DvcIgnore.above(str(tmp_path), "data")
    assert ignore.rules == []
    assert ignore.skips(".git", str(top / ".git"), is_dir=False)
    assert ignore.skips(".hg", str(top / ".hg"), is_dir=True)
    assert ignore.skips("nested", str(top / "nested"), is_dir=True)
    assert not ignore.skips("a.csv", str(top / "a.csv"), is_dir=False)


def test_patterns_of_the_root_and_ancestors_apply_and_the_last_match_wins(tmp_path: Path) -> None:
    write(tmp_path / ".dvcignore", "*.tmp\nlogs/\n# a comment\n")
    write(tmp_path / "data" / ".dvcignore", "!keep.tmp\n")
    (tmp_path / "data" / "images").mkdir(parents=True)
    ignore = DvcIgnore.above(str(tmp_path), "data/images")
    top = tmp_path / "data" / "images"
    assert ignore.skips("x.tmp", str(top / "x.tmp"), is_dir=False)
    assert not ignore.skips("keep.tmp", str(top / "keep.tmp"), is_dir=False)  # re-included
    assert ignore.skips("logs", str(top / "logs"), is_dir=True)
    assert not ignore.skips("logs", str(top / "logs"), is_dir=False)  # `logs/`: directories only
    assert not ignore.skips("a.png", str(top / "a.png"), is_dir=False)

"""lineage.config: ``[reproduce]`` defaults, and the one-sentence refusals of bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineage import config
from lineage.config import ReproduceDefaults
from lineage.errors import LineageError


def configured(root: Path, text: str) -> config.Config:
    (root / ".lineage").mkdir(exist_ok=True)
    (root / config.CONFIG_PATH).write_text(text)
    return config.load(root)


def test_the_written_default_config_reproduces_exactly_and_judges_plots(tmp_path: Path) -> None:
    assert configured(tmp_path, config.DEFAULT_CONFIG).reproduce == ReproduceDefaults()
    assert ReproduceDefaults() == ReproduceDefaults(0.0, 0.0, (), "tolerance")


def test_reproduce_defaults_are_read_from_the_config(tmp_path: Path) -> None:
    text = '[reproduce]\nrtol = 1e-6\natol = 0\nignore_outputs = ["model.pkl"]\nplots = "ignore"\n'
    assert configured(tmp_path, text).reproduce == ReproduceDefaults(
        rtol=1e-6, atol=0.0, ignore_outputs=("model.pkl",), plots="ignore"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("rtol = -1", "[reproduce] rtol must be a number >= 0, e.g. rtol = 1e-9"),
        ('atol = "small"', "[reproduce] atol must be a number >= 0, e.g. atol = 1e-9"),
        (
            'ignore_outputs = "model.pkl"',
            "[reproduce] ignore_outputs must be a list of paths or globs, "
            'e.g. ignore_outputs = ["model.pkl"]',
        ),
        ('plots = "skip"', '[reproduce] plots must be "tolerance" or "ignore", not \'skip\''),
    ],
)
def test_a_bad_reproduce_value_is_refused_with_an_example(
    tmp_path: Path, table: str, message: str
) -> None:
    with pytest.raises(LineageError) as raised:
        configured(tmp_path, f"[reproduce]\n{table}\n")
    assert str(raised.value) == f"{config.CONFIG_PATH}: {message}"


def test_snapshot_rules_default_to_untracked_files_kept_with_no_extra_patterns(
    tmp_path: Path,
) -> None:
    assert configured(tmp_path, config.DEFAULT_CONFIG).snapshot == config.SnapshotRules()
    assert config.SnapshotRules() == config.SnapshotRules(untracked=True, exclude=())


def test_snapshot_rules_are_read_from_the_config(tmp_path: Path) -> None:
    text = '[snapshot]\nuntracked = false\nexclude = ["*.sqlite", "notes/"]\n'
    assert configured(tmp_path, text).snapshot == config.SnapshotRules(
        untracked=False, exclude=("*.sqlite", "notes/")
    )

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
        ("rtol = -1", "[reproduce] rtol must be a finite number >= 0, not -1, e.g. rtol = 1e-9"),
        (
            'atol = "small"',
            "[reproduce] atol must be a finite number >= 0, not 'small', e.g. atol = 1e-9",
        ),
        ("atol = nan", "[reproduce] atol must be a finite number >= 0, not nan, e.g. atol = 1e-9"),
        ("rtol = inf", "[reproduce] rtol must be a finite number >= 0, not inf, e.g. rtol = 1e-9"),
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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[metrics]\nmain = 5\n",
            '[metrics] main must be a metric name in quotes, not 5, e.g. main = "accuracy"',
        ),
        (
            "[audit]\nremote = 1\n",
            '[audit] remote must be a Git remote\'s name in quotes, not 1, e.g. remote = "origin"',
        ),
        ("metrics = 5\n", "metrics must be a table ([metrics] on a line of its own), not 5"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_not_ignored(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(LineageError) as raised:
        configured(tmp_path, text)
    assert str(raised.value) == f"{config.CONFIG_PATH}: {message}"


def test_unknown_tables_and_keys_are_warned_about_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / ".lineage").mkdir()
    (tmp_path / config.CONFIG_PATH).write_text(
        '[metrics]\nmian = "auc"\nmain = "f1"\n[reproduse]\natol = 1\n'
    )
    warnings: list[str] = []

    loaded = config.load(tmp_path, warnings.append)

    assert loaded.main_metric == "f1"
    assert warnings == [
        f"{config.CONFIG_PATH}: unknown key 'mian' in [metrics] is ignored; known: main",
        f"{config.CONFIG_PATH}: unknown table [reproduse] is ignored; known: [metrics], "
        "[environment], [audit], [reproduce], [hooks], [snapshot]",
    ]

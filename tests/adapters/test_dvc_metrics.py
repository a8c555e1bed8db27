"""lineage.adapters.dvc_metrics: which metrics files executed stages declare, and their values
read and flattened as `dvc metrics show` reads them (compared with DVC itself in
test_dvc_pipeline.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from lineage.adapters.dvc_metrics import declared_metrics, flatten, with_metrics
from lineage.records import Data, Stage
from tests.adapters.dvc_helpers import write


@pytest.mark.parametrize(
    ("content", "flat"),
    [
        # nested keys joined with dots, as `dvc metrics show` prints its columns
        (
            {"auc": 0.9, "eval": {"test": {"f1": 0.5}, "n": 3}},
            {"auc": 0.9, "eval.test.f1": 0.5, "eval.n": 3},
        ),
        # DVC keeps numbers, booleans and strings; lists, nulls and empty sections are dropped
        (
            {"best": True, "name": "rf", "labels": [0, 1], "none": None, "x": {"y": [], "z": {}}},
            {"best": True, "name": "rf"},
        ),
        # records cannot hold NaN or infinities: spelt as MLflow's metrics are
        (
            {"loss": math.nan, "up": math.inf, "down": -math.inf},
            {"loss": "NaN", "up": "Infinity", "down": "-Infinity"},
        ),
        (0.75, {"": 0.75}),  # a file holding one bare value
        (0, {}),  # ... which DVC drops when it is falsy (`val or {}`)
        ([1, 2], {}),
        ({1: {2: 0.5}}, {"1.2": 0.5}),  # YAML keys that are not strings
    ],
)
def test_metrics_are_flattened_as_dvc_metrics_show_does(content: Any, flat: dict[str, Any]) -> None:
    assert flatten(content) == flat


PIPELINE = """\
stages:
  evaluate:
    wdir: src
    cmd: python evaluate.py
    metrics:
      - ../eval/metrics.json:
          cache: false
      - scores.yaml
      - s3://bucket/remote.json
      - ../../outside.json
  train:
    foreach: [a, b]
    do:
      cmd: python train.py ${item}
      outs:
        - models/${item}.pkl
      metrics:
        - models/${item}-metrics.toml
  report:
    cmd: python report.py
    metrics:
      - report.py
      - scores/
"""


def stage(name: str, *outs: str) -> Stage:
    return Stage(name=name, cmd="", outs=tuple(Data(o, "0" * 32) for o in outs))


def test_declared_metrics_follow_wdir_and_resolve_templates_against_the_stage_outs(
    tmp_path: Path,
) -> None:
    write(tmp_path / "dvc.yaml", PIPELINE)
    write(tmp_path / "sub" / "dvc.yaml", "stages:\n  report:\n    cmd: wc\n    metrics: [r.json]\n")
    stages = [
        stage("evaluate", "eval/metrics.json", "src/scores.yaml"),
        stage("train@b", "models/b.pkl", "models/b-metrics.toml"),
        stage("sub/dvc.yaml:report", "sub/r.json"),
        stage("gone", "x.json"),  # no longer in dvc.yaml
    ]
    assert declared_metrics(tmp_path, stages) == {
        "evaluate": ["eval/metrics.json", "src/scores.yaml"],  # remote and escaping: left out
        "train@b": ["models/b-metrics.toml"],
        "sub/dvc.yaml:report": ["sub/r.json"],
    }


def test_a_missing_or_unreadable_metrics_file_is_a_warning_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "dvc.yaml", PIPELINE)
    write(tmp_path / "eval" / "metrics.json", '{"auc": 0.5, "loss": NaN}')
    write(tmp_path / "models" / "a-metrics.toml", "rows = 3\n[feature]\nmean = 1.5\n")
    write(tmp_path / "models" / "b-metrics.toml", "rows = [unclosed\n")
    write(tmp_path / "report.py", "AUC = 0.75\nNAME = 'rf'\n")  # DVC reads literal assignments
    write(tmp_path / "scores" / "a.yaml", "lr: 1e-05\nfast: on\n")  # YAML 1.2, as DVC reads it
    write(tmp_path / "scores" / "b" / "c.json", "[0.5]")  # a list: nothing DVC shows
    warnings: list[str] = []
    stages = [
        stage("evaluate", "eval/metrics.json", "src/scores.yaml"),
        stage("train@a", "models/a.pkl", "models/a-metrics.toml"),
        stage("train@b", "models/b.pkl", "models/b-metrics.toml"),
        stage("report", "report.py", "scores"),
    ]

    evaluate, train_a, train_b, report = with_metrics(tmp_path, stages, warnings.append)

    assert evaluate.metrics == {"eval/metrics.json": {"auc": 0.5, "loss": "NaN"}}
    assert train_a.metrics == {"models/a-metrics.toml": {"rows": 3, "feature.mean": 1.5}}
    assert train_b.metrics == {}
    assert report.metrics == {
        "report.py": {"AUC": 0.75, "NAME": "rf"},
        "scores/a.yaml": {"lr": 1e-05, "fast": "on"},  # every file of a metrics directory
    }
    assert warnings == [
        "metrics file src/scores.yaml of stage evaluate does not exist after the command, so "
        "none of its values were recorded",
        "metrics file models/b-metrics.toml of stage train@b could not be read (not valid "
        "TOML: Invalid value (at line 1, column 9)), so none of its values were recorded",
    ]

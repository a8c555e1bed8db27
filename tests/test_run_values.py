"""lineage.run_values: one labelled view of a run's params and metrics, MLflow's and DVC's."""

from __future__ import annotations

from typing import Any

from lineage.run_values import RunValues, run_values


def doc(run: dict[str, Any] | None = None, *stages: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "run", "session": "s", "run": run, "stages": list(stages)}


def stage(name: str, **values: Any) -> dict[str, Any]:
    return {"name": name, "cmd": "python x.py", "deps": [], "outs": [], **values}


def test_mlflow_values_keep_their_plain_names_when_they_are_the_only_source() -> None:
    run = {"params": {"depth": "3", "alpha": "0.1"}, "metrics": {"score": 0.5}}
    assert run_values(doc(run)) == RunValues({"alpha": "0.1", "depth": "3"}, {"score": 0.5})
    assert run_values(doc(None)) == RunValues({}, {})
    old = {"kind": "run", "session": "s", "run": None, "stages": [stage("train")]}
    assert run_values(old) == RunValues({}, {})  # a record from before stages had values


def test_dvc_values_are_labelled_with_their_file_as_dvc_shows_them() -> None:
    prepare = stage("prepare", params={"params.yaml": {"prepare.seed": 7}})
    featurize = stage(
        "featurize@train",
        params={"params.yaml": {"featurize": {"ngrams": 2, "stop": ["a", "b"], "x": None}}},
        metrics={"data/features/train-stats.toml": {"rows": 18, "feature.mean": 9.5}},
    )
    evaluate = stage(
        "evaluate",
        params={"evaluate.yaml": {"threshold": 0.5}, "params.yaml": {"prepare.seed": 7}},
        metrics={"eval/metrics.json": {"avg_prec": 0.25, "loss": "NaN"}, "eval/auc": {"": 0.9}},
    )

    values = run_values(doc(None, prepare, featurize, evaluate))

    assert values.params == {
        "evaluate.yaml:threshold": 0.5,
        "params.yaml:featurize.ngrams": 2,
        "params.yaml:featurize.stop": "['a', 'b']",  # as `dvc params diff` prints a list
        "params.yaml:featurize.x": "None",
        "params.yaml:prepare.seed": 7,
    }
    assert values.metrics == {
        "data/features/train-stats.toml:feature.mean": 9.5,
        "data/features/train-stats.toml:rows": 18,
        "eval/auc": 0.9,  # a file holding one bare value
        "eval/metrics.json:avg_prec": 0.25,
        "eval/metrics.json:loss": "NaN",
    }


def test_a_run_with_both_sources_keeps_both_mlflow_first() -> None:
    run = {"params": {"n_est": "50"}, "metrics": {"roc_auc": 0.8, "avg_prec": 0.1}}
    evaluate = stage(
        "evaluate",
        params={"params.yaml": {"train.n_est": 50}},
        metrics={"eval/metrics.json": {"roc_auc": 0.8}},
    )
    values = run_values(doc(run, evaluate))
    assert list(values.params.items()) == [("n_est", "50"), ("params.yaml:train.n_est", 50)]
    assert list(values.metrics) == ["avg_prec", "roc_auc", "eval/metrics.json:roc_auc"]


def test_an_mlflow_name_spelt_like_a_dvc_label_never_takes_its_place() -> None:
    # MLflow allows ':' and '/' in names: these three are all legal MLflow metric names.
    run = {
        "metrics": {"eval/m.json:auc": 1.0, "mlflow:eval/m.json:auc": 2.0, "auc": 3.0},
    }
    values = run_values(doc(run, stage("evaluate", metrics={"eval/m.json": {"auc": 0.5}})))
    assert values.metrics == {
        "auc": 3.0,
        "mlflow:mlflow:eval/m.json:auc": 1.0,
        "mlflow:eval/m.json:auc": 2.0,
        "eval/m.json:auc": 0.5,
    }

"""lineage.adapters.mlflow_bulk on a real SQLite store: whole registries and experiments read in
pages, with the aliases and stages `audit` needs and the tags `import` infers from."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from lineage.adapters.mlflow_bulk import registered_versions, runs
from lineage.adapters.mlflow_uri import MlflowStores
from lineage.errors import LineageError
from lineage.model_version import ModelVersion

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
    pytest.mark.filterwarnings("ignore:.*is deprecated since 2.9.0.*:FutureWarning"),
]


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, list[str]]:
    """Two experiments; 'it's churn' v1-v3 (champion -> 2, v3 in the Production stage) made by
    three runs of 'train', and a run of 'eval' that registered nothing."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    train = client.create_experiment("train", artifact_location=str(tmp_path / "a1"))
    evaluate = client.create_experiment("eval", artifact_location=str(tmp_path / "a2"))
    client.create_registered_model("it's churn")
    ids = []
    for depth in (3, 5, 7):
        run = client.create_run(train, tags={"mlflow.source.git.commit": "c" * 40})
        client.log_param(run.info.run_id, "depth", depth)
        client.log_metric(run.info.run_id, "auc", depth / 10)
        client.set_terminated(run.info.run_id)
        client.create_model_version("it's churn", f"runs:/{run.info.run_id}/m", run.info.run_id)
        ids.append(run.info.run_id)
    client.set_registered_model_alias("it's churn", "champion", "2")
    client.transition_model_version_stage("it's churn", "3", "Production")
    other = client.create_run(evaluate)
    ids.append(other.info.run_id)
    return uri, ids


def test_every_version_comes_with_its_run_aliases_and_stage(store: tuple[str, list[str]]) -> None:
    uri, ids = store
    found = registered_versions(MlflowStores(uri, uri))
    assert [(v.version, v.run_id, v.aliases, v.stage) for v in found] == [
        (ModelVersion("it's churn", 1), ids[0], (), None),
        (ModelVersion("it's churn", 2), ids[1], ("champion",), None),
        (ModelVersion("it's churn", 3), ids[2], (), "Production"),
    ]
    assert registered_versions(MlflowStores(uri, uri), ["it's churn"]) == found
    with pytest.raises(LineageError, match="the registry has no model 'fraud'"):
        registered_versions(MlflowStores(uri, uri), ["fraud"])


def test_runs_of_experiments_and_by_id_each_once_with_tags(store: tuple[str, list[str]]) -> None:
    uri, ids = store
    seen: list[int] = []
    found = list(runs(uri, experiments=["train"], run_ids=[ids[0], ids[3]], progress=seen.append))
    assert sorted(h.run.run_id for h in found) == sorted(ids)  # ids[0] once, though asked twice
    by_id = {h.run.run_id: h for h in found}
    first = by_id[ids[0]]
    assert (first.run.experiment_name, first.run.params, first.run.metrics) == (
        "train",
        {"depth": "3"},
        {"auc": 0.3},
    )
    assert first.tags["mlflow.source.git.commit"] == "c" * 40
    assert by_id[ids[3]].run.experiment_name == "eval"
    assert seen == [4]


def test_an_unknown_experiment_names_the_known_ones(store: tuple[str, list[str]]) -> None:
    uri, _ = store
    with pytest.raises(LineageError) as caught:
        list(runs(uri, experiments=["trian"]))
    assert str(caught.value) == (
        f"the tracking store {uri} has no experiment 'trian'; known: Default, eval, train"
    )


def test_a_store_that_does_not_exist_is_empty_and_stays_absent(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/none.db"
    assert registered_versions(MlflowStores(uri, uri)) == []
    assert list(runs(uri, experiments=["train"])) == []
    assert not (tmp_path / "none.db").exists()


def test_a_name_with_both_kinds_of_quote_is_found_and_nothing_like_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    for name in ('it\'s "churn"', "it_s _churn_"):  # the second matches the first's LIKE
        client.create_registered_model(name)
        client.create_model_version(name, "runs:/0/m")
    found = registered_versions(MlflowStores(uri, uri), ['it\'s "churn"'])
    assert [v.version for v in found] == [ModelVersion('it\'s "churn"', 1)]

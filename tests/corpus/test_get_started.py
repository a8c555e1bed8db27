"""iterative/example-get-started (tests/layouts/get_started.py): a DVC pipeline whose train stage
registers the model from an MLflow run that logs nothing else; params in two files, metrics in
JSON (`cache: false`), YAML and TOML, a `foreach` stage. init -> run -> register ->
show/graph/impact/diff -> reproduce, each answer checked against what the build knows."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.helpers import repo_state
from tests.layouts import get_started

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> get_started.Project:
    p = get_started.build(tmp_path_factory.mktemp("get-started"))
    # Each run stamps its own id into model.pkl, as mlflow.autolog() does.
    p.lineage("run", "--", "dvc", "repro", "-q", MODEL="gs-model", STAMP_MODEL="1")
    p.commit("Train with 50 trees")
    params = p.repo / "params.yaml"
    params.write_text(params.read_text().replace("n_est: 50", "n_est: 100"))
    p.lineage("run", "--", "dvc", "repro", "-q", MODEL="gs-model", STAMP_MODEL="1")
    p.commit("Train with 100 trees")
    return p


def lock(project: get_started.Project) -> dict[str, dict[str, object]]:
    stages = yaml.safe_load((project.repo / "dvc.lock").read_text())["stages"]
    return {name: stage for name, stage in stages.items()}


def test_the_registered_model_shows_the_pipeline_run_and_its_dvc_values(
    project: get_started.Project,
) -> None:
    shown = project.json("show", "gs-model/2")
    record = shown["record"]
    assert record["models"] == [{"name": "gs-model", "version": 2}]
    assert [s["name"] for s in record["stages"]] == ["train", "evaluate"]  # what n_est reran
    train = next(s for s in record["stages"] if s["name"] == "train")
    assert train["params"] == {"params.yaml": {"train.seed": 20170428, "train.n_est": 100,
                                               "train.min_split": 0.01}}  # fmt: skip
    evaluate = next(s for s in record["stages"] if s["name"] == "evaluate")
    written = json.loads((project.repo / "eval/metrics.json").read_text())
    assert evaluate["metrics"]["eval/metrics.json"]["avg_prec"] == written["avg_prec"]
    model_md5 = lock(project)["train"]["outs"][0]["md5"]  # type: ignore[index]
    assert ("model.pkl", model_md5) in [(d["path"], d["md5"]) for d in record["outputs"]]
    text = project.lineage("show", "gs-model/2").stdout
    assert "params.yaml:train.n_est=100" in text


def test_graph_and_impact_reach_the_model_from_the_raw_data(
    project: get_started.Project,
) -> None:
    graph = json.loads(project.lineage("graph", "gs-model/2", "--format", "json").stdout)
    ids = {n["id"] for n in graph["nodes"]}
    raw = yaml.safe_load((project.repo / "data/data.tsv.dvc").read_text())["outs"][0]["md5"]
    assert f"data:{raw}" in ids
    impact = project.json("impact", "data/data.tsv")
    assert {(m["name"], m["version"]) for m in impact["models"]} == {
        ("gs-model", 1),
        ("gs-model", 2),
    }


def test_diff_of_the_two_versions_names_the_changed_param(project: get_started.Project) -> None:
    out = project.lineage("diff", "gs-model/1", "gs-model/2").stdout
    assert "params.yaml:train.n_est" in out and "50 -> 100" in out


def test_the_second_version_reproduces_within_tolerance_with_model_pkl_left_out(
    project: get_started.Project,
) -> None:
    # The rerun stamps another id into model.pkl, and its plots file differs in the last bit.
    # MODEL makes train start its MLflow run, as the original's environment did.
    rerun = {"MODEL": "gs-model", "STAMP_MODEL": "1", "PLOT_LAST_BIT": "1"}
    before = repo_state(project.repo)

    exact = project.json("reproduce", "gs-model/2", check=False, **rerun)
    assert (exact["exit_code"], exact["verdict"]) == (4, "differs")
    assert {c["name"]: c["status"] for c in exact["outputs"]} == {
        "eval/plots/prc.json": "differs",
        "model.pkl": "differs",
    }

    proc = project.lineage(
        "reproduce", "gs-model/2", "--rtol", "1e-9", "--ignore-output", "model.pkl",
        check=False, **rerun,
    )  # fmt: skip
    assert proc.returncode == 6, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith(
        "Verdict: reproduced within tolerance (rtol 1e-09) — 7 metrics exact, "
        "eval/plots/prc.json within tolerance; left out: model.pkl (--ignore-output) "
        "(reproduction record "
    )
    lines = proc.stdout.splitlines()
    assert next(ln for ln in lines if ln.startswith("  eval/plots/prc.json ")).endswith(
        "within tolerance (its numbers; bytes differ)"
    )
    assert next(ln for ln in lines if ln.startswith("  model.pkl ")).endswith(
        "left out (--ignore-output)"
    )
    # Every metrics file is compared as metrics: by its values, not its bytes.
    assert "eval/metrics.json:avg_prec" in proc.stdout
    assert "  eval/metrics.json " not in proc.stdout
    assert repo_state(project.repo) == before


def test_config_defaults_reproduce_the_champion_and_the_audit_passes_it(
    project: get_started.Project,
) -> None:
    config = project.repo / ".lineage" / "config.toml"
    text = config.read_text()
    config.write_text(
        text.replace("rtol = 0.0", "rtol = 1e-9").replace(
            "ignore_outputs = []", 'ignore_outputs = ["model.pkl"]'
        )
    )
    try:
        project.sh(
            "python", "-c",
            "import mlflow; mlflow.MlflowClient().set_registered_model_alias("
            "'gs-model', 'champion', '2')",
        )  # fmt: skip
        rerun = {"MODEL": "gs-model", "STAMP_MODEL": "1", "PLOT_LAST_BIT": "1"}
        report = project.json("reproduce", "gs-model@champion", check=False, **rerun)
        assert (report["exit_code"], report["verdict"]) == (6, "within-tolerance")
        assert report["tolerance"] == {"rtol": 1e-9, "atol": 0.0}
        assert report["left_out"] == [
            {"path": "model.pkl", "why": "ignore_outputs in .lineage/config.toml"}
        ]
        audit = project.json("audit", "gs-model@champion", check=False)
        [row] = audit["versions"]
        checks = {c["name"]: c for c in row["checks"]}
        assert checks["reproduction"] == {
            "name": "reproduction",
            "result": "pass",
            "reason": "reproduced today (within tolerance)",
        }
        text_audit = project.lineage("audit", "gs-model@champion", check=False).stdout
        line = next(ln for ln in text_audit.splitlines() if ln.startswith("gs-model/2 "))
        assert line.split()[-1] == "✓"  # the reproduction column
    finally:
        config.write_text(text)

"""`lineage reproduce` plans what it can really do: a run started by a DVC stage's script reruns
the stage with its upstream chain; inputs whose version is unknown stop it before anything runs
unless the user gives them (--input) or takes the commit's pointers (--use-pointers).

The project: data/raw.csv (`dvc add`ed) -> stage train (src/modeling/train.py -> models/
model.json) -> stage evaluate (`python src/modeling/predict.py`, an MLflow run). Train appends a
line to $TRAIN_LOG when set, so a test sees whether a rerun retrained."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lineage.adapters import dvc_pipeline
from lineage.commands.reproduce_plan import given_input
from tests.corpus.project import Project, new_project
from tests.layouts import wine

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

PIPELINE = """\
stages:
  train:
    cmd: python src/modeling/train.py
    deps: [src/modeling/train.py, data/raw.csv]
    outs: [models/model.json]
  evaluate:
    cmd: python src/modeling/predict.py
    deps: [src/modeling/predict.py, models/model.json, data/raw.csv]
"""

TRAIN = """\
import json, os, pathlib
rows = [r.split(",") for r in pathlib.Path("data/raw.csv").read_text().splitlines()[1:]]
weight = sum(float(v) for _, v in rows) / len(rows)
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path("models/model.json").write_text(json.dumps({"weight": weight}))
if os.environ.get("TRAIN_LOG"):
    with open(os.environ["TRAIN_LOG"], "a") as log:
        log.write("trained\\n")
"""

PREDICT = """\
import json, pathlib, mlflow
weight = json.loads(pathlib.Path("models/model.json").read_text())["weight"]
rows = [r.split(",") for r in pathlib.Path("data/raw.csv").read_text().splitlines()[1:]]
mlflow.set_experiment("eval")
with mlflow.start_run():
    mlflow.log_metric("error", sum(abs(float(v) - weight) for _, v in rows) / len(rows))
"""

# Not a stage: reads the model the pipeline made.
REPORT = """\
import json, pathlib, mlflow
weight = json.loads(pathlib.Path("models/model.json").read_text())["weight"]
mlflow.set_experiment("report")
with mlflow.start_run():
    mlflow.log_metric("weight", weight)
"""

RAW = "id,value\n1,10\n2,20\n3,33\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = new_project(tmp_path_factory.mktemp("predict-stage"))
    files = {
        "dvc.yaml": PIPELINE,
        "src/modeling/train.py": TRAIN,
        "src/modeling/predict.py": PREDICT,
        "src/report.py": REPORT,
        "data/raw.csv": RAW,
        ".gitignore": "mlflow.db\nmlruns/\nmlartifacts/\n",
    }
    for name, text in files.items():
        (p.repo / name).parent.mkdir(parents=True, exist_ok=True)
        (p.repo / name).write_text(text)
    remote = p.repo.parent / "dvc-remote"
    remote.mkdir()
    p.sh("dvc", "init", "-q")
    p.sh("dvc", "remote", "add", "-q", "-d", "storage", str(remote))
    p.sh("dvc", "add", "-q", "data/raw.csv")
    p.lineage("init")
    p.commit_all("Pipeline: train, then evaluate")
    p.sh("dvc", "repro", "-q")
    p.facts["model_md5"] = hashlib.md5((p.repo / "models/model.json").read_bytes()).hexdigest()
    p.facts["trained"] = p.commit_all("Trained")
    p.facts["train_log"] = p.repo.parent / "train.log"
    return p


def run_ids(p: Project, experiment: str) -> list[str]:
    code = (
        "import json, mlflow; print(json.dumps([r.info.run_id for r in mlflow.search_runs("
        f"experiment_names=[{experiment!r}], output_format='list', order_by=['start_time'])]))"
    )
    return list(json.loads(p.python(code)))


def reproduce(p: Project, *args: str) -> tuple[int, dict[str, Any], str]:
    log = str(p.facts.get("train_log", ""))
    proc = p.lineage("reproduce", *args, "--json", check=False, TRAIN_LOG=log)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else {}, proc.stderr


def kept_model_md5(report: dict[str, Any]) -> str:
    return hashlib.md5((Path(report["worktree"]) / "models/model.json").read_bytes()).hexdigest()


def times_trained(p: Project) -> int:
    log = Path(p.facts["train_log"])
    return len(log.read_text().splitlines()) if log.exists() else 0


def assert_retrained_through_the_chain(p: Project, run: str) -> None:
    plan = p.lineage("reproduce", run, "--dry-run").stdout
    assert "command   dvc repro --force evaluate   (stages from dvc.yaml" in plan
    before = times_trained(p)
    code, report, err = reproduce(p, run, "--keep")
    assert (code, report["verdict"]) == (0, "bit-identical"), err
    assert report["plan"]["command"] == ["dvc", "repro", "--force", "evaluate"]
    assert times_trained(p) == before + 1  # the upstream train stage ran again
    assert kept_model_md5(report) == p.facts["model_md5"]  # and made the same model
    assert {m["name"]: m["status"] for m in report["metrics"]} == {"error": "exact"}


def test_a_run_observed_from_an_evaluation_script_reruns_its_stage_chain(
    project: Project,
) -> None:
    project.lineage("run", "--", "python", "src/modeling/predict.py")
    run = run_ids(project, "eval")[-1]
    record = project.json("show", run)["record"]
    assert not record.get("stages")  # `lineage run` of a script records no stages
    assert_retrained_through_the_chain(project, run)


def test_an_imported_run_of_an_evaluation_script_reruns_its_stage_chain(
    project: Project,
) -> None:
    project.sh("python", "src/modeling/predict.py")  # by hand, without lineage
    run = run_ids(project, "eval")[-1]
    project.json("import", "mlflow", "--experiment", "eval")
    record = project.json("show", run)["record"]
    assert (record["evidence"], record["command"]["argv"]) == (
        "inferred",
        ["python", "src/modeling/predict.py"],
    )
    assert_retrained_through_the_chain(project, run)


@pytest.fixture(scope="module")
def unknown_run(project: Project) -> str:
    """A run of src/report.py imported from a commit whose dvc.lock is stale for train (its
    script changed, the pipeline was not rerun): the model it read has no known version."""
    script = project.repo / "src/modeling/train.py"
    script.write_text(script.read_text() + "# tuned later\n")
    project.commit_all("Tune train, not rerun yet")
    project.sh("python", "src/report.py")
    run = run_ids(project, "report")[-1]
    project.json("import", "mlflow", "--experiment", "report")
    record = project.json("show", run)["record"]
    assert record["unknown_inputs"] == ["models/model.json"]
    return run


UNKNOWN = (
    "data: the run read models/model.json, whose version is unknown; give it with --input "
    "models/model.json=MD5, or use the version the commit's DVC files name with --use-pointers"
)
COMMAND = "--command=python src/report.py"


def test_dry_run_lists_the_inputs_whose_version_is_unknown(
    project: Project, unknown_run: str
) -> None:
    proc = project.lineage("reproduce", unknown_run, "--dry-run", COMMAND, check=False)
    assert proc.returncode == 1
    assert f"  problem   {UNKNOWN}\n" in proc.stdout
    plan = json.loads(
        project.lineage(
            "reproduce", unknown_run, "--dry-run", COMMAND, "--json", check=False
        ).stdout
    )
    assert plan["plan"]["problems"] == [UNKNOWN]


def test_unknown_inputs_stop_reproduce_before_anything_runs(
    project: Project, unknown_run: str
) -> None:
    def state() -> tuple[str, str, str, list[str]]:
        return (
            project.sh("git", "status", "--porcelain").stdout,
            project.sh("git", "worktree", "list").stdout,
            project.sh("git", "rev-parse", "refs/lineage/records").stdout,  # no record written
            run_ids(project, "report"),  # no rerun
        )

    before = state()
    proc = project.lineage("reproduce", unknown_run, COMMAND, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(
        f"cannot reproduce {unknown_run}: {UNKNOWN}; nothing was run"
    )
    assert state() == before


def test_a_given_input_version_is_restored_and_the_run_reproduces(
    project: Project, unknown_run: str
) -> None:
    given = f"--input=models/model.json={project.facts['model_md5']}"
    code, report, err = reproduce(project, unknown_run, COMMAND, given)
    assert (code, report["verdict"]) == (0, "bit-identical"), err
    record = reproduction_record(project, report["record"])
    assert ("models/model.json", project.facts["model_md5"]) in [
        (d["path"], d["md5"]) for d in record["inputs"]
    ]
    assert "from_pointers" not in record


def test_the_commits_pointers_are_used_on_request_and_noted_in_the_record(
    project: Project, unknown_run: str
) -> None:
    code, report, err = reproduce(project, unknown_run, COMMAND, "--use-pointers")
    assert (code, report["verdict"]) == (0, "bit-identical"), err
    record = reproduction_record(project, report["record"])
    assert record["from_pointers"] == ["models/model.json"]
    lock = yaml.safe_load((project.repo / "dvc.lock").read_text())
    pointed = lock["stages"]["train"]["outs"][0]["md5"]
    assert ("models/model.json", pointed) in [(d["path"], d["md5"]) for d in record["inputs"]]


def test_a_malformed_input_is_a_usage_error(project: Project, unknown_run: str) -> None:
    proc = project.lineage("reproduce", unknown_run, "--input", "models/model.json", check=False)
    assert proc.returncode == 2
    assert "'models/model.json' is not PATH=MD5" in proc.stderr


def test_given_input_reads_path_and_md5() -> None:
    md5 = "0" * 32
    assert (given_input(f"data/x.csv={md5}").path, given_input(f"d={md5}.dir").md5) == (
        "data/x.csv",
        f"{md5}.dir",
    )
    for bad in ("data/x.csv", f"={md5}", "data/x.csv=abc", f"../x={md5}"):
        with pytest.raises(ValueError):
            given_input(bad)


def reproduction_record(p: Project, record_id: str) -> dict[str, Any]:
    """The reproduction record as stored on refs/lineage/records (sharded ab/cdef....json)."""
    blob = p.sh("git", "show", f"refs/lineage/records:{record_id[:2]}/{record_id[2:]}.json")
    return dict(json.loads(blob.stdout))


# MLflow Projects: the rerun is the recorded entry point with every recorded parameter.


@pytest.fixture(scope="module")
def wine_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = new_project(tmp_path_factory.mktemp("wine-params"))
    wine.write(p.repo)
    (p.repo / ".gitignore").write_text("mlruns/\n")
    p.sh("dvc", "init", "-q")
    p.sh("dvc", "add", "-q", "data/wine.csv")
    p.lineage("init")
    p.commit_all("Wine quality project")
    p.lineage("run", "--", "mlflow", "run", ".", "--env-manager", "local", "-P", "alpha=0.3",
              "-P", "l1_ratio=0.25")  # fmt: skip
    p.facts["run"] = str(p.json("log", "-n", "1")[0]["run"])
    return p


def test_an_mlproject_run_reproduces_with_every_recorded_parameter(wine_project: Project) -> None:
    run = wine_project.facts["run"]
    code, report, err = reproduce(wine_project, run)
    assert (code, report["verdict"]) == (0, "bit-identical"), err
    assert report["plan"]["command"] == [
        "mlflow", "run", ".", "-e", "main",
        "-P", "alpha=0.3", "-P", "l1_ratio=0.25", "--env-manager", "local",
    ]  # fmt: skip
    original = wine_project.json("show", run)["record"]["run"]["params"]
    rerun = wine_project.json("show", report["rerun"]["run"])["record"]["run"]["params"]
    assert rerun == original == {"alpha": "0.3", "l1_ratio": "0.25"}


def test_an_environment_mlflow_cannot_build_stops_before_running(wine_project: Project) -> None:
    before = wine_project.sh("git", "rev-parse", "refs/lineage/records").stdout
    proc = wine_project.lineage(
        "reproduce", wine_project.facts["run"], "--env-manager", "virtualenv", check=False
    )
    assert proc.returncode == 1
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith(
        f"lineage: error: cannot reproduce {wine_project.facts['run']}: command: `mlflow run` "
        "would build a virtualenv environment, which needs "
    )
    assert error.endswith(
        "; rerun in the current environment with --env-manager local; nothing was run"
    )
    assert wine_project.sh("git", "rev-parse", "refs/lineage/records").stdout == before


def test_a_stage_script_is_rerun_as_its_stage_with_the_chain_above_it() -> None:
    lock = (
        "schema: '2.0'\nstages:\n"
        "  prepare:\n    cmd: python src/prepare.py\n"
        "    deps:\n    - path: data/raw.csv\n      md5: " + "a" * 32 + "\n"
        "    outs:\n    - path: data/prepared.csv\n      md5: " + "b" * 32 + "\n"
        "  train:\n    cmd: python src/train.py --depth 3\n"
        "    deps:\n    - path: data/prepared.csv\n      md5: " + "b" * 32 + "\n"
        "    outs:\n    - path: model.pkl\n      md5: " + "c" * 32 + "\n"
        "  other:\n    cmd: python src/other.py\n"
        "    outs:\n    - path: other.txt\n      md5: " + "d" * 32 + "\n"
    )
    files = {"dvc.lock": lock, "dvc.yaml": "stages: {}\n"}
    chain = dvc_pipeline.stage_chain_at(files.get, files, ["python", "src/train.py"])
    assert chain is not None
    assert (chain.rerun(), chain.upstream) == (
        ["dvc", "repro", "--force", "train"],
        ("prepare", "train"),
    )
    assert chain.rebuilds("model.pkl") and chain.rebuilds("data/prepared.csv")
    assert not chain.rebuilds("other.txt") and not chain.rebuilds("data/raw.csv")
    assert dvc_pipeline.stage_chain_at(files.get, files, ["python", "src/evaluate.py"]) is None
    assert dvc_pipeline.stage_chain_at(files.get, files, ["dvc", "repro"]) is None

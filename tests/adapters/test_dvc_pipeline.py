"""lineage.adapters.dvc_pipeline: DVC's pipeline rules as pure functions: which commands run a
pipeline, how recorded stages are rerun, what a command may read, and what a past commit's
pipeline files say (its stage addresses, declared paths and params); and, through a real
`lineage run -- dvc repro`, the params and metrics of the stages a pipeline ran."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

from lineage.adapters import dvc_pipeline, dvc_plan
from lineage.adapters.dvc import PointerEntry
from lineage.records import Data, Stage
from tests.layouts import get_started as get_started_layout


@pytest.mark.parametrize(
    ("argv", "pipeline", "targets"),
    [
        (["dvc", "repro"], True, []),
        (["dvc", "repro", "-q", "train", "evaluate"], True, ["train", "evaluate"]),
        (["/venv/bin/dvc", "repro", "--force"], True, []),
        (["dvc", "exp", "run"], True, []),
        (["dvc", "-v", "exp", "run", "-S", "lr=0.1"], True, []),
        (["dvc", "push"], False, []),
        (["dvc"], False, []),
        (["python", "repro"], False, []),
        ([], False, []),
    ],
)
def test_which_commands_run_a_dvc_pipeline_and_which_stages_they_name(
    argv: list[str], pipeline: bool, targets: list[str]
) -> None:
    assert dvc_pipeline.is_pipeline_command(argv) is pipeline
    assert dvc_pipeline.repro_targets(argv) == targets


@pytest.mark.parametrize(
    ("argv", "stages", "rerun"),
    [
        # exactly the stages that ran, forced, without their upstream stages
        (
            ["dvc", "repro"],
            ["prepare", "train"],
            ["dvc", "repro", "--force", "--single-item", "prepare", "train"],
        ),
        (
            ["dvc", "repro", "-q", "train"],
            [],
            ["dvc", "repro", "-q", "--force", "--single-item", "train"],
        ),
        (["dvc", "repro", "-v"], [], ["dvc", "repro", "-v", "--force"]),
        (
            ["dvc", "exp", "run", "-q"],
            ["train"],
            ["dvc", "repro", "-q", "--force", "--single-item", "train"],
        ),
        (["dvc", "exp", "run"], [], ["dvc", "repro", "--force"]),
        # arguments that change what `dvc exp run` runs cannot be rerun as `dvc repro`
        (["dvc", "exp", "run", "-S", "lr=0.1"], ["train"], None),
        (["dvc", "exp", "run", "--queue"], ["train"], None),
    ],
)
def test_a_recorded_pipeline_command_is_rerun_as_forced_single_items(
    argv: list[str], stages: list[str], rerun: list[str] | None
) -> None:
    assert dvc_pipeline.forced_rerun(argv, stages) == rerun


def test_a_path_overlaps_itself_what_it_holds_and_what_holds_it() -> None:
    assert dvc_pipeline.overlaps("data/prepared", ["data/prepared"])
    assert dvc_pipeline.overlaps("data/prepared", ["data/prepared/train.csv"])
    assert dvc_pipeline.overlaps("data/prepared/train.csv", ["data"])
    assert not dvc_pipeline.overlaps("data/prepared", ["data/prepared2", "data/prep"])


def test_pipelines_at_a_commit_declared_paths_lock_params_and_params_files() -> None:
    files = {
        "dvc.yaml": "stages:\n  train:\n    wdir: src\n    cmd: python t.py\n"
        "    deps: [../data/prepared, t.py]\n    outs: [{../model.pkl: {cache: true}}]\n"
        "  grid:\n    foreach: [1, 2]\n    do: {cmd: x, outs: ['m-${item}']}\n",
        "sub/dvc.lock": "schema: '2.0'\nstages:\n  report:\n    cmd: wc\n"
        "    params:\n      params.yaml:\n        report.top: 5\n",
        "sub/params.yaml": "report:\n  top: 5\n",
        "broken/dvc.yaml": "stages: [unclosed\n",
    }

    def read(path: str) -> str | None:
        return files.get(path)

    outs, deps = dvc_pipeline.declared_paths(read, list(files))
    assert outs == {"model.pkl"} and deps == {"data/prepared", "src/t.py"}  # broken: skipped
    recorded = dvc_pipeline.lock_params(read, list(files))
    assert recorded == {"sub/dvc.yaml:report": {"sub/params.yaml": {"report.top": 5}}}
    assert dvc_pipeline.params_match(read, recorded["sub/dvc.yaml:report"])
    files["sub/params.yaml"] = "report:\n  top: 6\n"
    assert not dvc_pipeline.params_match(read, recorded["sub/dvc.yaml:report"])
    assert not dvc_pipeline.params_match(read, {"absent.yaml": {"a": 1}})


def test_a_command_outside_the_pipeline_may_read_added_data_and_consumed_outputs() -> None:
    def entry(path: str, stage: str | None, role: str) -> PointerEntry:
        pointer = "dvc.lock" if stage else f"{path}.dvc"
        return PointerEntry(path, "0" * 32, None, None, pointer, stage, role)

    raw = entry("data/raw.csv", None, "out")
    prepared = entry("data/prepared", "prepare", "out")
    consumed = entry("data/prepared", "train", "dep")
    model = entry("model.pkl", "train", "out")
    assert dvc_pipeline.candidate_inputs([raw, prepared, consumed, model]) == [
        raw,
        prepared,
        consumed,
    ]


@dataclass(frozen=True)
class Ran:
    project: get_started_layout.Project
    run: str  # the run key of `lineage run -- dvc repro`
    stderr: str  # what that `lineage run` printed
    dvc_metrics: dict[str, dict[str, Any]]  # `dvc metrics show --json` right after it, dotted


def _dotted(section: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in section.items():
        if isinstance(value, dict):
            flat.update(_dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@pytest.fixture(scope="module")
def get_started(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """iterative/example-get-started's layout (tests/layouts/get_started.py), its pipeline run
    once under `lineage run`."""
    project = get_started_layout.build(tmp_path_factory.mktemp("get-started"))
    ran = project.lineage("run", "--", "dvc", "repro", "-q")
    shown = json.loads(project.sh("dvc", "metrics", "show", "--json").stdout)
    files = next(iter(shown.values()))["data"]  # one revision: the workspace
    dvc_metrics = {path: _dotted(found["data"]) for path, found in files.items()}
    return Ran(project, project.newest_run(), ran.stderr, dvc_metrics)


def test_a_dvc_repro_records_the_params_and_metrics_of_the_stages_it_ran(
    get_started: Ran,
) -> None:
    stages = {s["name"]: s for s in get_started.project.record(get_started.run)["stages"]}

    assert list(stages) == ["prepare", "featurize@train", "featurize@test", "train", "evaluate"]
    assert {name: s.get("params") for name, s in stages.items()} == {
        "prepare": {"params.yaml": {"prepare.seed": 20170428, "prepare.split": 0.25}},
        "featurize@train": {"params.yaml": {"featurize": {"max_features": 100, "ngrams": 2}}},
        "featurize@test": {"params.yaml": {"featurize": {"max_features": 100, "ngrams": 2}}},
        "train": {
            "params.yaml": {"train.min_split": 0.01, "train.n_est": 50, "train.seed": 20170428}
        },
        "evaluate": {"evaluate.yaml": {"threshold": 0.5}},
    }
    assert {name: sorted(s.get("metrics", {})) for name, s in stages.items()} == {
        "prepare": [],
        "featurize@train": ["data/features/train-stats.toml"],
        "featurize@test": ["data/features/test-stats.toml"],
        "train": [],
        "evaluate": ["eval/metrics.json", "eval/summary.yaml"],  # plots are not metrics
    }
    # Exactly what DVC itself shows: lists left out, YAML read as YAML 1.2 (`1e-3` a number).
    recorded = {path: v for s in stages.values() for path, v in s.get("metrics", {}).items()}
    assert recorded == get_started.dvc_metrics
    assert sorted(recorded["eval/metrics.json"]) == [
        "avg_prec",
        "counts.hits",
        "counts.rows",
        "roc_auc",
    ]
    assert recorded["eval/summary.yaml"]["loss"] == 0.001
    assert recorded["data/features/test-stats.toml"]["rows"] == 6
    assert "warning" not in get_started.stderr


def test_an_unreadable_metrics_file_is_a_warning_and_the_rest_is_recorded(
    get_started: Ran,
) -> None:
    project = get_started.project
    ran = project.lineage(
        "run", "--", "dvc", "repro", "-q", "--force", "--single-item", "evaluate", EVAL_BROKEN="1"
    )
    (evaluate,) = project.record(project.newest_run())["stages"]

    assert ran.stderr.count("lineage: warning:") == 1
    assert (
        "lineage: warning: metrics file eval/summary.yaml of stage evaluate could not be read "
        "(not valid YAML: expected ',' or ']', but got '<stream end>' at line 2), so none of "
        "its values were recorded\n"
    ) in ran.stderr
    assert list(evaluate["metrics"]) == ["eval/metrics.json"]


# What `dvc repro` plans to run (dvc_plan), and which stages a stage's MLflow runs record.

PLANNED = [
    dvc_plan.PlannedStage("prepare", ("data/raw.csv",), ("data/prepared",)),
    dvc_plan.PlannedStage("featurize@train", ("data/prepared",), ("data/features/train.tsv",)),
    dvc_plan.PlannedStage("featurize@test", ("data/prepared",), ("data/features/test.tsv",)),
    dvc_plan.PlannedStage("train", ("data/features/train.tsv",), ("models/model.pkl",)),
    dvc_plan.PlannedStage(
        "evaluate", ("models/model.pkl", "data/features/test.tsv"), ("eval/metrics.json",)
    ),
    dvc_plan.PlannedStage("sub/dvc.yaml:report", ("sub/notes.txt",), ("sub/report.html",)),
]
ROOT_PIPELINE = {"prepare", "featurize@train", "featurize@test", "train", "evaluate"}


@pytest.mark.parametrize(
    ("argv", "cwd", "plan"),
    [
        # no target: the root dvc.yaml's stages and their upstream
        (["dvc", "repro", "-f"], "", ROOT_PIPELINE),
        # a target and its upstream closure
        (["dvc", "repro", "--force", "train"], "", {"prepare", "featurize@train", "train"}),
        # -s: the targets alone; short flags combine as argparse combines them
        (["dvc", "repro", "-fs", "train"], "", {"train"}),
        # a foreach group's name collects every stage of the group
        (["dvc", "repro", "-f", "-s", "featurize"], "", {"featurize@train", "featurize@test"}),
        # --downstream: the targets and what reads them
        (
            ["dvc", "repro", "-f", "--downstream", "featurize@test"],
            "",
            {"featurize@test", "evaluate"},
        ),
        # -p: the whole pipeline holding the target (and -s is then ignored, as DVC does)
        (["dvc", "repro", "-f", "-p", "-s", "train"], "", ROOT_PIPELINE),
        # -P: every pipeline of the repository
        (["dvc", "repro", "-f", "-P"], "", ROOT_PIPELINE | {"sub/dvc.yaml:report"}),
        # a nested dvc.yaml's stage, by address or by directory
        (["dvc", "repro", "-f", "sub/dvc.yaml:report"], "", {"sub/dvc.yaml:report"}),
        (["dvc", "repro", "-f", "sub:report"], "", {"sub/dvc.yaml:report"}),
        # DVC's working directory decides what a bare name and the default target mean
        (["dvc", "repro", "-f"], "sub", {"sub/dvc.yaml:report"}),
        (
            ["dvc", "repro", "-f", "../dvc.yaml:train"],
            "sub",
            {"prepare", "featurize@train", "train"},
        ),
        # -R: every stage of the dvc.yaml files under a directory
        (["dvc", "repro", "-f", "-R", "sub"], "", {"sub/dvc.yaml:report"}),
        # --dry runs nothing
        (["dvc", "repro", "-f", "--dry"], "", set()),
        # options that leave the plan alone, and `dvc exp run`'s own, with their values
        (
            ["dvc", "-q", "repro", "-f", "--no-run-cache", "-k", "train"],
            "",
            {"prepare", "featurize@train", "train"},
        ),
        (
            ["dvc", "exp", "run", "-f", "-S", "train.lr=0.1", "-n", "exp-1", "train"],
            "",
            {"prepare", "featurize@train", "train"},
        ),
        # what is not modelled, or not found, has no plan (the lock and the plugin still count)
        (["dvc", "repro", "-f", "--glob", "t*"], "", None),
        (["dvc", "repro", "-f", "nosuch"], "", None),
        (["dvc", "exp", "run", "-f", "--queue"], "", None),
        (["dvc", "--cd", "sub", "repro", "-f"], "", None),
        (["dvc", "push"], "", None),
    ],
)
def test_the_stages_a_dvc_repro_visits_follow_dvcs_own_plan(
    argv: list[str], cwd: str, plan: set[str] | None
) -> None:
    repro = dvc_plan.parse_repro(argv)
    assert (None if repro is None else dvc_plan.visited(repro, PLANNED, cwd)) == plan


def test_a_frozen_stage_runs_nothing_and_hides_its_upstream() -> None:
    frozen = [replace(s, frozen=s.address == "train") for s in PLANNED]
    repro = dvc_plan.parse_repro(["dvc", "repro", "-f", "evaluate"])
    assert repro is not None
    assert dvc_plan.visited(repro, frozen, "") == {"evaluate", "featurize@test", "prepare"}


def test_force_downstream_forces_what_reads_a_stage_that_ran() -> None:
    assert dvc_plan.downstream_of({"featurize@test"}, PLANNED) == {"evaluate"}
    assert dvc_plan.downstream_of({"prepare"}, PLANNED) == ROOT_PIPELINE - {"prepare"}


@pytest.mark.parametrize(
    ("dvc_stage", "cwd", "address"),
    [
        ("train", "", "train"),
        ("featurize@test", "", "featurize@test"),
        ("sub/dvc.yaml:report", "", "sub/dvc.yaml:report"),
        ("report", "sub", "sub/dvc.yaml:report"),
        ("../dvc.yaml:train", "sub", "train"),
        ("../dvc.yaml:train", "", None),  # outside the repository
    ],
)
def test_dvc_stage_as_dvc_spells_it_is_read_relative_to_dvcs_directory(
    dvc_stage: str, cwd: str, address: str | None
) -> None:
    assert dvc_plan.address_in_repo(dvc_stage, cwd) == address


def _stage(planned: dvc_plan.PlannedStage) -> Stage:
    def data(path: str) -> Data:
        return Data(path=path, md5=f"{len(path):032x}")

    return Stage(
        name=planned.address,
        cmd=f"python {planned.address}.py",
        deps=tuple(map(data, planned.deps)),
        outs=tuple(map(data, planned.outs)),
    )


EXECUTED = [_stage(s) for s in PLANNED[:5]]


def _grouped(started_in: set[str]) -> dict[str, list[str]]:
    groups = dvc_pipeline.stages_of_runs(EXECUTED, started_in)
    return {name: [s.name for s in stages] for name, stages in groups.items()}


def test_each_stage_with_runs_records_itself_and_the_stages_without_runs_nearest_it() -> None:
    # Runs in every stage: each records its own stage only.
    assert _grouped(ROOT_PIPELINE) == {name: [name] for name in ROOT_PIPELINE}
    # Runs in prepare and train: the features come from prepare (its outputs, read on), the
    # evaluation from train (nearest), never from prepare's run.
    assert _grouped({"prepare", "train"}) == {
        "prepare": ["prepare", "featurize@train", "featurize@test"],
        "train": ["train", "evaluate"],
    }
    # Runs in train alone: what feeds it and what reads it are its (today's union).
    assert _grouped({"train"}) == {"train": [s.name for s in EXECUTED]}


def test_a_stage_run_reads_upstream_outputs_at_their_lock_hashes_and_writes_only_its_own() -> None:
    (train,) = dvc_pipeline.stages_of_runs(EXECUTED, {"prepare", "train"})["train"][:1]
    evaluate = EXECUTED[4]
    inputs, outputs = dvc_pipeline.stage_data([train, evaluate], tracked={"src/train.py"})
    assert [d.path for d in inputs] == ["data/features/train.tsv", "data/features/test.tsv"]
    assert [d.path for d in outputs] == ["models/model.pkl", "eval/metrics.json"]


# What a past run read (`lineage import mlflow`): the lock at the run's commit is usually the
# previous run's, committed one commit late; scripts read params.yaml without declaring it.

PIPELINE5 = """\
stages:
  features:
    cmd: python src/features.py
    deps: [src/features.py, data/raw.csv]
    outs: [data/features.csv]
  train:
    cmd: python src/modeling/train.py
    deps: [src/modeling/train.py, data/features.csv]
    outs: [models/model.pkl]
  evaluate:
    cmd: python src/modeling/predict.py
    deps: [src/modeling/predict.py, models/model.pkl, data/features.csv]
    outs: [{reports/metrics.json: {cache: false}}]
  cifar:
    cmd: python src/cifar.py
    deps: [src/cifar.py, data]
    outs: [data/cifar]
"""
CODE = {  # git-tracked files -> DVC's md5 of them at the run's commit
    "src/features.py": "f" * 32,
    "src/modeling/train.py": "7" * 32,
    "src/modeling/predict.py": "e" * 32,
}
RUN = ("python", "src/modeling/predict.py")  # the evaluation stage starts the MLflow run


def _lock(model: str, *, raw: str = "a" * 32, train_code: str = "7" * 32) -> str:
    """A dvc.lock of the pipeline above; ``model`` the md5 its train stage wrote."""
    features = "1" * 32

    def entry(path: str, md5: str) -> str:
        return f"    - path: {path}\n      md5: '{md5}'\n"

    return (
        "schema: '2.0'\nstages:\n"
        "  features:\n    cmd: python src/features.py\n    deps:\n"
        + entry("src/features.py", CODE["src/features.py"])
        + entry("data/raw.csv", raw)
        + "    outs:\n"
        + entry("data/features.csv", features)
        + "  train:\n    cmd: python src/modeling/train.py\n    deps:\n"
        + entry("src/modeling/train.py", train_code)
        + entry("data/features.csv", features)
        + "    outs:\n"
        + entry("models/model.pkl", model)
        + "  evaluate:\n    cmd: python src/modeling/predict.py\n    deps:\n"
        + entry("src/modeling/predict.py", CODE["src/modeling/predict.py"])
        + entry("models/model.pkl", model)
        + entry("data/features.csv", features)
        + "    outs:\n"
        + entry("reports/metrics.json", "9" * 32)
    )


def _commit(sha: str, files: dict[str, str], changed: tuple[str, ...] = ()) -> Any:
    return dvc_pipeline.CommitFiles(sha * 40, files.get, sorted(files), changed)


def _run_commit(lock: str | None = None) -> Any:
    files = {"dvc.yaml": PIPELINE5, "params.yaml": "train:\n  depth: 5\n", **CODE}
    files["data/raw.csv.dvc"] = f"outs:\n- path: raw.csv\n  md5: {'a' * 32}\n"
    if lock is not None:
        files["dvc.lock"] = lock
    return _commit("a", files)


def _next(run: Any, sha: str, changes: dict[str, str]) -> Any:
    files = {path: run.read_blob(path) for path in run.files}
    return _commit(sha, {**files, **changes}, tuple(sorted(changes)))


def _inputs(run: Any, *later: Any, argv: tuple[str, ...] = RUN) -> Any:
    found = dvc_pipeline.inputs_of_run(run, later, CODE.get, argv)
    return {d.path: d.md5 for d in found.inputs}, found.unknown


def test_a_lock_entry_the_next_commit_rewrites_is_not_the_runs() -> None:
    # params.yaml changed at the run's commit, undeclared: the previous run's entries all match.
    run = _run_commit(_lock("0" * 32))
    assert _inputs(run) == (
        {"data/features.csv": "1" * 32, "models/model.pkl": "0" * 32, "data/raw.csv": "a" * 32},
        {},
    )
    # The next commit changes the code too: its lock is another run's, and says the lock at the
    # run's commit was not this run's for train (features it leaves alone).
    code = {"src/modeling/train.py": "edited\n", "dvc.lock": _lock("2" * 32)}
    inputs, unknown = _inputs(run, _next(run, "b", code))

    assert inputs == {"data/features.csv": "1" * 32, "data/raw.csv": "a" * 32}
    assert unknown == {
        "models/model.pkl": f"dvc.lock at {'a' * 10} was rewritten by the next commit "
        f"{'b' * 10}: its entry for stage train is not this run's"
    }


def test_a_lock_committed_alone_right_after_the_run_gives_the_runs_hashes() -> None:
    run = _run_commit(_lock("0" * 32))
    late = _next(
        run,
        "b",
        {"dvc.lock": _lock("2" * 32), ".gitignore": "/model.pkl\n", "reports/metrics.json": "{}"},
    )
    inputs, unknown = _inputs(run, late)

    assert inputs == {
        "data/features.csv": "1" * 32,
        "models/model.pkl": "2" * 32,
        "data/raw.csv": "a" * 32,
    }
    assert unknown == {}
    # The first run of all: no lock at its commit, the late lock gives every hash.
    assert _inputs(_run_commit(), _next(_run_commit(), "b", {"dvc.lock": _lock("2" * 32)}))[1] == {}


def test_a_late_lock_that_does_not_match_the_run_commit_or_is_not_the_only_one_is_not_used() -> (
    None
):
    run = _run_commit(_lock("0" * 32))
    other_code = _next(run, "b", {"dvc.lock": _lock("2" * 32, train_code="8" * 32)})
    assert _inputs(run, other_code)[1] == {
        "models/model.pkl": f"dvc.lock at {'b' * 10} is stale for stage train: its "
        "src/modeling/train.py is not the commit's"
    }
    # Two branches each locked a run made at this commit: which is this run's, nothing says.
    one, two = (_next(run, c, {"dvc.lock": _lock(c * 32)}) for c in ("b", "c"))
    inputs, unknown = _inputs(run, one, two)
    assert "models/model.pkl" not in inputs
    assert unknown["models/model.pkl"].startswith(f"dvc.lock at {'a' * 10} was rewritten by")


def test_unknown_inputs_are_what_the_run_could_read_never_a_stage_that_never_ran() -> None:
    # A script that is no stage may read any output a stage that ran reads; the cifar stage
    # has no lock entry, and though it reads `data` (which holds every output), it never ran.
    run = _run_commit(_lock("0" * 32, raw="b" * 32))  # raw.csv changed since: stale
    inputs, unknown = _inputs(run, argv=("python", "src/explore.py"))

    assert inputs == {"data/raw.csv": "a" * 32}
    assert list(unknown) == ["data/features.csv", "models/model.pkl"]
    assert unknown["data/features.csv"] == (
        f"dvc.lock at {'a' * 10} is stale for stage features: its data/raw.csv is not the commit's"
    )
    # Before any lock, every declared output another stage reads may have been read; the cifar
    # stage's own output only it would read.
    inputs, unknown = _inputs(_run_commit(), argv=("python", "src/explore.py"))
    assert inputs == {"data/raw.csv": "a" * 32}
    assert unknown == {
        "data/features.csv": "no dvc.lock at aaaaaaaaaa entry names it: stage features was not "
        "locked there",
        "models/model.pkl": "no dvc.lock at aaaaaaaaaa entry names it: stage train was not "
        "locked there",
    }


def test_added_data_whose_pointer_the_next_commit_changes_is_unknown_unless_a_lock_read_it() -> (
    None
):
    new_raw = {"data/raw.csv.dvc": f"outs:\n- path: raw.csv\n  md5: {'c' * 32}\n"}
    # No pipeline ran at the run's commit: the new data may have been in the workspace already
    # (updated, trained on, then committed), so neither hash is the run's for sure.
    files = {path: _run_commit().read_blob(path) or "" for path in _run_commit().files}
    alone = _commit("a", {p: t for p, t in files.items() if not p.startswith("dvc.")})
    inputs, unknown = _inputs(alone, _next(alone, "b", new_raw), argv=("python", "train.py"))
    assert inputs == {}
    assert unknown == {
        "data/raw.csv": f"data/raw.csv.dvc was changed by the next commit {'b' * 10}: the run "
        f"may have read that commit's data, not {'a' * 10}'s"
    }
    # A lock at the run's commit that read the data its pointer names, and that the next commit
    # leaves alone, says a run read it: the data changed after.
    run = _run_commit(_lock("0" * 32))
    inputs, unknown = _inputs(run, _next(run, "b", new_raw))
    assert inputs["data/raw.csv"] == "a" * 32 and unknown == {}


def test_a_next_commit_whose_lock_does_not_parse_makes_the_lock_entries_unknown() -> None:
    run = _run_commit(_lock("0" * 32))
    inputs, unknown = _inputs(run, _next(run, "b", {"dvc.lock": "stages: [unclosed\n"}))

    assert inputs == {"data/raw.csv": "a" * 32}
    rewritten = f"dvc.lock at {'a' * 10} was rewritten by the next commit {'b' * 10}"
    assert unknown == {
        "data/features.csv": f"{rewritten}: its entry for stage features is not this run's",
        "models/model.pkl": f"{rewritten}: its entry for stage train is not this run's",
    }

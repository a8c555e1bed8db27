"""`mlflow run` command lines and MLproject files, read without MLflow."""

from __future__ import annotations

import pytest

from lineage.adapters.mlflow_project import (
    Invocation,
    Parameter,
    ProjectError,
    parse,
    parse_invocation,
    rerun_argv,
    rerun_as_recorded,
)
from lineage.records import MlflowProject
from tests.layouts import wine


def test_an_mlflow_run_command_line_is_read_as_mlflow_does() -> None:
    argv = [
        "mlflow", "run", ".", "-e", "validate", "-P", "data=a.csv", "--param-list=min_rows=3",
        "--env-manager=local", "--experiment-name", "wine", "-v", "v1.2", "--build-image",
    ]  # fmt: skip
    assert parse_invocation(argv, {}) == Invocation(
        uri=".",
        entry_point="validate",
        version="v1.2",
        parameters={"data": "a.csv", "min_rows": "3"},
        env_manager="local",
        experiment_name="wine",
    )


def test_the_experiment_comes_from_the_environment_when_not_given() -> None:
    found = parse_invocation(["mlflow", "run", "."], {"MLFLOW_EXPERIMENT_ID": "7"})
    assert found is not None and found.experiment_id == "7" and found.entry_point == "main"


@pytest.mark.parametrize(
    "argv",
    [
        ["python", "train.py"],
        ["mlflow", "run"],  # no project
        ["mlflow", "run", ".", "-P"],  # an option without its value
        ["mlflow", "run", ".", "-P", "novalue"],
        ["mlflow", "run", ".", "--no-such-option", "x"],
        ["mlflow", "run", ".", "second-uri"],
    ],
)
def test_anything_else_is_not_read_as_a_project(argv: list[str]) -> None:
    assert parse_invocation(argv, {}) is None


def test_mlproject_entry_points_parameters_and_defaults() -> None:
    project = parse(wine.MLPROJECT)
    assert project.name == "tutorial" and project.environment == "python_env"
    main = project.entry_points["main"]
    assert main.command == "python train.py {alpha} {l1_ratio}"
    assert main.parameters == {
        "alpha": Parameter("float", "0.5"),
        "l1_ratio": Parameter("float", "0.1"),
    }
    # Given values win, defaults fill the rest, undeclared ones pass through (as MLflow does).
    assert project.effective_parameters("main", {"alpha": "0.4", "extra": "1"}) == {
        "alpha": "0.4",
        "l1_ratio": "0.1",
        "extra": "1",
    }


def test_a_parameter_declared_by_type_alone_is_required() -> None:
    text = "entry_points:\n  main:\n    parameters:\n      x: float\n    command: run {x}\n"
    project = parse(text)
    assert project.entry_points["main"].parameters == {"x": Parameter("float", None)}
    assert project.effective_parameters("main", {}) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entry_points: [", "MLproject is not valid YAML"),
        ("- a list", "MLproject is not a mapping of MLproject fields"),
        ("entry_points:\n  main:\n    parameters: {}\n", "entry point 'main' has no command"),
    ],
)
def test_a_broken_mlproject_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ProjectError, match=message):
        parse(text)


def test_rerun_of_a_recorded_project() -> None:
    project = MlflowProject(
        uri=".",
        entry_point="main",
        parameters={"alpha": "0.4", "l1_ratio": "0.1"},
        version="abc123",  # a local project runs from the checked-out code: no -v
        env_manager="virtualenv",
        experiment_name="wine",  # left to MLFLOW_EXPERIMENT_ID
    )
    argv = ["mlflow", "run", ".", "-e", "main", "-P", "alpha=0.4", "-P", "l1_ratio=0.1"]
    assert rerun_argv(project) == [*argv, "--env-manager", "virtualenv"]
    assert rerun_argv(project, env_manager="local") == [*argv, "--env-manager", "local"]


def test_a_recorded_command_line_reruns_without_its_experiment_options() -> None:
    recorded = [
        "mlflow", "run", ".", "--experiment-name", "wine", "-P", "a=1", "--env-manager=conda",
        "--experiment-id=3",
    ]  # fmt: skip
    assert rerun_as_recorded(recorded) == ["mlflow", "run", ".", "-P", "a=1", "--env-manager=conda"]
    assert rerun_as_recorded(recorded, env_manager="local") == [
        "mlflow", "run", ".", "-P", "a=1", "--env-manager", "local",
    ]  # fmt: skip

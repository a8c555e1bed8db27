"""lineage.compare: how a rerun's values are judged against the original's, as pure functions."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from lineage.compare import (
    CONFIG,
    OPTION,
    PLOTS,
    Policy,
    compare_values,
    counterpart,
    judge,
    same_value,
)
from lineage.records import Check, Code, Data, MlflowRun, Provenance, RunRecord, Stage


def test_exact_means_the_same_bits() -> None:
    assert same_value(0.1 + 0.2, 0.30000000000000004)
    assert not same_value(0.1 + 0.2, 0.3)
    assert not same_value(0.0, -0.0)  # equal as numbers, different bits
    assert not same_value(1, 1.0)  # an int and a float are different values to record
    assert same_value("NaN", "NaN")  # records spell non-finite metrics as strings


def test_each_value_is_exact_within_tolerance_differing_missing_or_new() -> None:
    original = {"auc": 0.91, "loss": 0.25, "f1": 0.8, "gone": 1.0}
    rerun = {"auc": 0.91, "loss": 0.2500001, "f1": 0.7, "extra": 3.0}

    assert compare_values(original, rerun, rtol=1e-5) == [
        Check("auc", 0.91, 0.91, "exact"),
        Check("f1", 0.8, 0.7, "differs"),
        Check("gone", 1.0, None, "missing"),
        Check("loss", 0.25, 0.2500001, "within"),
        Check("extra", None, 3.0, "new"),
    ]


@pytest.mark.parametrize(
    ("a", "b", "rtol", "atol", "status"),
    [
        (100.0, 100.5, 0.0, 0.0, "differs"),
        (100.0, 100.5, 0.005, 0.0, "within"),  # |0.5| <= 0.005 * 100
        (100.0, 100.6, 0.005, 0.0, "differs"),
        (0.0, 1e-9, 0.5, 0.0, "differs"),  # relative to zero is nothing
        (0.0, 1e-9, 0.0, 1e-8, "within"),
        (1.0, "NaN", 1.0, 1.0, "differs"),  # non-finite is never within a tolerance
        ("NaN", "NaN", 0.0, 0.0, "exact"),
        (math.inf, math.inf, 1.0, 1.0, "exact"),
        (3, 3.0, 0.0, 0.0, "within"),  # same number, other type: not exact
        ("a", "b", 1.0, 1.0, "differs"),
    ],
)
def test_tolerance_is_atol_plus_rtol_times_the_original(
    a: float | str, b: float | str, rtol: float, atol: float, status: str
) -> None:
    (check,) = compare_values({"m": a}, {"m": b}, rtol=rtol, atol=atol)
    assert check.status == status


def run(
    run_id: str, params: dict[str, str], *, name: str = "", parent: str | None = None
) -> RunRecord:
    return RunRecord(
        evidence="observed",
        session="s",
        code=Code(commit=None, dirty=False),
        created=Provenance(at="2026-01-01T00:00:00.000Z", name="a", email="a@b", tool="t"),
        run=MlflowRun(
            run_id=run_id,
            tracking_uri="sqlite:///x",
            experiment_id="1",
            experiment_name="e",
            name=name,
            status="FINISHED",
            start_ms=None,
            end_ms=None,
            parent_run_id=parent,
            params=params,
        ),
    )


def test_the_counterpart_of_a_grid_search_run_has_the_same_params() -> None:
    grid = [run(f"r{i}", {"depth": str(d)}) for i, d in enumerate((2, 4, 6))]
    original = run("orig", {"depth": "4"}).run
    assert counterpart(original, grid) == grid[1]


def test_the_counterpart_prefers_the_same_nesting_then_the_same_name() -> None:
    parent = run("p", {"cv": "3"}, name="search")
    folds = [run(f"f{i}", {"cv": "3"}, name=f"fold-{i}", parent="p") for i in range(2)]
    assert counterpart(run("o", {"cv": "3"}, name="search").run, [*folds, parent]) == parent
    original_fold = run("o1", {"cv": "3"}, name="fold-1", parent="op").run
    assert counterpart(original_fold, [parent, *folds]) == folds[1]


def test_a_single_rerun_is_the_counterpart_and_none_means_no_run() -> None:
    only = run("r", {"x": "1"})
    assert counterpart(run("o", {"x": "2"}).run, [only]) == only
    assert counterpart(run("o", {}).run, []) is None


def with_outputs(record: RunRecord, **md5s: str) -> RunRecord:
    return replace(record, outputs=tuple(Data(p.replace("_", "/"), m) for p, m in md5s.items()))


def test_the_verdict_weighs_metrics_params_and_outputs() -> None:
    original = with_outputs(run("o", {"depth": "3"}), models_m="a" * 32)
    same = with_outputs(run("r", {"depth": "3"}), models_m="a" * 32)
    assert judge(original, same, 0).verdict == "bit-identical"
    other_model = with_outputs(run("r", {"depth": "3"}), models_m="b" * 32)
    differs = judge(original, other_model, 0)
    assert (differs.verdict, differs.exit_code) == ("differs", 4)
    assert differs.outputs == [Check("models/m", "a" * 32, "b" * 32, "differs")]
    other_param = with_outputs(run("r", {"depth": "4"}), models_m="a" * 32)
    assert judge(original, other_param, 0).verdict == "differs"


def test_a_failed_or_empty_rerun_is_failed_and_says_why() -> None:
    original = run("o", {})
    assert (judge(original, run("r", {}), 1).verdict, judge(original, None, 1).exit_code) == (
        "failed",
        5,
    )
    nothing = judge(original, None, 0)
    assert nothing.verdict == "failed" and nothing.notes == [
        "the rerun exited 0 but started no MLflow run, so there is nothing to compare"
    ]
    bare = judge(original, run("r", {}), 0)
    assert (bare.verdict, bare.exit_code) == ("unverified", 7)
    assert bare.notes == [
        "the original run recorded no metrics and no DVC outputs: the only evidence is that "
        "the command succeeded again"
    ]


def test_only_the_judged_metrics_decide_the_verdict() -> None:
    def scored(run_id: str, auc: float, loss: float) -> RunRecord:
        record = run(run_id, {})
        assert record.run is not None
        return replace(record, run=replace(record.run, metrics={"auc": auc, "loss": loss}))

    original, rerun = scored("o", 0.9, 0.1), scored("r", 0.9, 0.2)
    assert judge(original, rerun, 0).verdict == "differs"
    judged = judge(original, rerun, 0, judged_metrics=["auc"])
    assert judged.verdict == "bit-identical"
    assert [c.status for c in judged.metrics] == ["exact", "ignored"]


def pipeline_run(auc: float, n_est: int, metrics_md5: str) -> RunRecord:
    """A `dvc repro` run recorded without MLflow: its values are the DVC stages' own."""
    evaluate = Stage(
        name="evaluate",
        cmd="python src/evaluate.py",
        outs=(Data("eval/metrics.json", metrics_md5), Data("model.pkl", "c" * 32)),
        params={"params.yaml": {"train.n_est": n_est}},
        metrics={"eval/metrics.json": {"auc": auc, "counts.rows": 6}},
    )
    record = replace(run("unused", {}), run=None, stages=(evaluate,))
    return replace(record, outputs=evaluate.outs)


def test_a_pipeline_run_without_mlflow_is_judged_on_its_dvc_params_and_metrics() -> None:
    original = pipeline_run(0.8, 50, "a" * 32)
    # The rerun's metrics file differs in its last digit, so its bytes (md5) differ too: it is
    # judged by its values, within the tolerance, and the model by its md5.
    rerun = pipeline_run(0.8 + 1e-12, 50, "b" * 32)

    judged = judge(original, rerun, 0, policy=Policy(atol=1e-9))

    assert (judged.verdict, judged.exit_code) == ("within-tolerance", 6)
    assert judged.metrics == [
        Check("eval/metrics.json:auc", 0.8, 0.8 + 1e-12, "within"),
        Check("eval/metrics.json:counts.rows", 6, 6, "exact"),
    ]
    assert judged.params == [Check("params.yaml:train.n_est", 50, 50, "exact")]
    assert judged.outputs == [Check("model.pkl", "c" * 32, "c" * 32, "exact")]
    assert judge(original, rerun, 0).verdict == "differs"  # no tolerance: the value differs
    other_param = judge(original, pipeline_run(0.8, 60, "a" * 32), 0)
    assert other_param.verdict == "differs"
    assert other_param.params == [Check("params.yaml:train.n_est", 50, 60, "differs")]


def scored(run_id: str, **metrics: float) -> RunRecord:
    record = run(run_id, {"seed": "1"})
    assert record.run is not None
    return replace(record, run=replace(record.run, metrics=metrics))


def test_every_value_exact_and_every_output_the_same_bytes_is_bit_identical_exit_0() -> None:
    original = with_outputs(scored("o", auc=0.9), models_m="a" * 32)
    judged = judge(original, with_outputs(scored("r", auc=0.9), models_m="a" * 32), 0)
    assert (judged.verdict, judged.exit_code, judged.left_out) == ("bit-identical", 0, [])


def test_a_value_within_the_tolerance_is_reproduced_within_tolerance_exit_6() -> None:
    original, rerun = scored("o", auc=0.9, loss=0.1), scored("r", auc=0.9, loss=0.1 + 1e-12)
    judged = judge(original, rerun, 0, policy=Policy(rtol=1e-9))
    assert (judged.verdict, judged.exit_code) == ("within-tolerance", 6)
    assert [c.status for c in judged.metrics] == ["exact", "within"]
    assert (judge(original, rerun, 0).verdict, judge(original, rerun, 0).exit_code) == (
        "differs",
        4,
    )


def test_a_rerun_with_nothing_to_compare_is_unverified_exit_7_or_0_when_allowed() -> None:
    original = run("o", {"seed": "1"})  # params alone say nothing about what was produced
    judged = judge(original, run("r", {"seed": "1"}), 0)
    assert (judged.verdict, judged.exit_code) == ("unverified", 7)
    allowed = judge(original, run("r", {"seed": "1"}), 0, policy=Policy(allow_unverified=True))
    assert (allowed.verdict, allowed.exit_code) == ("unverified", 0)
    # A differing param is still a difference, not a lack of evidence.
    assert judge(original, run("r", {"seed": "2"}), 0).verdict == "differs"


def test_an_ignored_output_is_left_out_and_named_with_where_it_was_given() -> None:
    original = with_outputs(scored("o", auc=0.9), model_pkl="a" * 32, eval_plot="c" * 32)
    rerun = with_outputs(scored("r", auc=0.9), model_pkl="b" * 32, eval_plot="c" * 32)
    policy = Policy(ignore_outputs=(("model/*", OPTION), ("eval/*", CONFIG)))

    judged = judge(original, rerun, 0, policy=policy)

    assert (judged.verdict, judged.exit_code) == ("bit-identical", 0)
    assert judged.outputs == [
        Check("model/pkl", "a" * 32, "b" * 32, "ignored"),
        Check("eval/plot", "c" * 32, "c" * 32, "ignored"),
    ]
    assert judged.left_out == [("model/pkl", "--ignore-output"), ("eval/plot", CONFIG)]
    assert judge(original, rerun, 0).verdict == "differs"


def test_leaving_out_every_output_of_a_run_without_metrics_is_unverified() -> None:
    original = with_outputs(run("o", {}), model_pkl="a" * 32)
    rerun = with_outputs(run("r", {}), model_pkl="b" * 32)
    judged = judge(original, rerun, 0, policy=Policy(ignore_outputs=(("model/pkl", OPTION),)))
    assert (judged.verdict, judged.exit_code) == ("unverified", 7)
    assert judged.notes == [
        "every recorded metric and output was left out (model/pkl): the only evidence is that "
        "the command succeeded again"
    ]


def test_a_metrics_file_left_out_takes_its_values_out_of_the_verdict() -> None:
    original = pipeline_run(0.8, 50, "a" * 32)
    rerun = pipeline_run(0.7, 50, "b" * 32)
    policy = Policy(ignore_outputs=(("eval/metrics.json", CONFIG),))
    judged = judge(original, rerun, 0, policy=policy)
    assert judged.verdict == "bit-identical"  # model.pkl still byte-identical
    assert [c.status for c in judged.metrics] == ["ignored", "ignored"]
    assert judged.left_out == [("eval/metrics.json", CONFIG)]


def plotted(run_id: str, plot_md5: str) -> RunRecord:
    return with_outputs(scored(run_id, auc=0.9), eval_prc="d" * 32, eval_roc=plot_md5)


def test_a_plots_file_is_judged_by_its_numbers_within_the_tolerance() -> None:
    original, rerun = plotted("o", "a" * 32), plotted("r", "b" * 32)
    last_bit = {"roc.0.tpr": math.nextafter(0.5, 1.0), "roc.0.fpr": 0.25}
    values = {"eval/roc": ({"roc.0.tpr": 0.5, "roc.0.fpr": 0.25}, last_bit)}
    plots = ["eval/roc", "eval/prc"]

    within = judge(
        original, rerun, 0, policy=Policy(rtol=1e-9), plot_paths=plots, plot_values=values
    )

    assert (within.verdict, within.exit_code) == ("within-tolerance", 6)
    assert within.outputs == [
        Check("eval/prc", "d" * 32, "d" * 32, "exact"),
        Check("eval/roc", "a" * 32, "b" * 32, "within"),
    ]
    exact = judge(original, rerun, 0, plot_paths=plots, plot_values=values)
    assert exact.verdict == "differs"
    assert exact.notes == [
        "plots file eval/roc differs at roc.0.tpr: 0.5 -> 0.5000000000000001 (1 value(s) "
        "outside the tolerance)"
    ]


def test_a_plots_file_whose_original_cannot_be_read_is_compared_by_md5() -> None:
    original, rerun = plotted("o", "a" * 32), plotted("r", "b" * 32)
    values = {"eval/roc": (None, {"roc.0.tpr": 0.5})}
    judged = judge(
        original, rerun, 0, policy=Policy(rtol=1.0), plot_paths=["eval/roc"], plot_values=values
    )
    assert judged.verdict == "differs"
    assert judged.notes == [
        "plots file eval/roc differs and the original's copy could not be read as numbers (it "
        "is not in the DVC cache or the working tree), so it was compared by md5"
    ]


def test_plots_left_out_by_policy_are_named() -> None:
    original, rerun = plotted("o", "a" * 32), plotted("r", "b" * 32)
    judged = judge(
        original, rerun, 0, policy=Policy(plots="ignore"), plot_paths=["eval/roc", "eval/prc"]
    )
    assert judged.verdict == "bit-identical"  # auc exact; both plots left out
    assert judged.left_out == [("eval/prc", PLOTS), ("eval/roc", PLOTS)]

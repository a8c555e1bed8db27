"""`lineage run -- CMD ...`: run a training command and record what produced each MLflow run.

The steps are ``lineage/recording.py``'s: capture the code and data before the child
(``lineage/capture.py``), run it with a session id lineage's MLflow plugin tags every run with,
read those runs back, record one record per run (or one for the command when it started none),
and mirror the key facts as ``lineage.*`` run tags.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lineage import capture, recording
from lineage.context import Context
from lineage.documents import run_label
from lineage.recording import RunOutcome

Notify = Callable[[str], None]


def run(
    ctx: Context,
    *,
    argv: Sequence[str],
    experiment: str | None = None,
    run_name: str | None = None,
    notify: Notify = lambda _: None,
) -> RunOutcome:
    """Run ``argv`` in ``ctx.cwd`` and record it; ``experiment`` and ``run_name`` apply to the
    MLflow runs it starts without choosing their own."""
    ctx.require_initialized()  # a missing or broken config.toml is said before anything runs
    ctx.require_writable()
    ctx.store.checked_tip()  # so is a damaged records ref, which the record could not join

    before = capture.capture(ctx, argv, on_code=capture.say_when_dirty(notify))
    for note in capture.data_notes(before.inputs):
        notify(note)
    env = recording.child_environment(ctx, before, experiment=experiment, run_name=run_name)
    ran = recording.execute(ctx, before, env)
    after = recording.collect(ctx, before, ran)
    return recording.record(ctx, before, ran, after)


def summary(outcome: RunOutcome) -> str:
    """The line `lineage run` ends with: what was recorded, at which code."""
    code = outcome.code
    where = (code.commit or "no commit")[:10]
    if code.snapshot:
        where += f" + snapshot {code.snapshot[:10]}"
    runs = ", ".join(run_label(k) for k in outcome.run_keys)
    models = f"; models {', '.join(map(str, outcome.models))}" if outcome.models else ""
    return f"recorded {len(outcome.record_ids)} run(s) [{runs}] at {where}{models}"

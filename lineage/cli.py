"""The command line: parse, find the repository once, call a command function, print, exit.

Exit codes (docs/commands.md): 0 ok; 1 a lineage error (one line on stderr with the next
step); 2 usage; 3 a bug (with its traceback); 130 interrupted; 141 the output's reader went
away (`| head`); `lineage run` passes its
command's own exit code through (127: command not found, 126: not executable); `lineage
reproduce` says its verdict (0 bit-identical, 6 within tolerance, 4 differs, 5 rerun failed,
7 unverified).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from lineage import __version__, progress
from lineage.errors import (
    EXIT_BUG,
    EXIT_INTERRUPTED,
    EXIT_OUTPUT_CLOSED,
    EXIT_USAGE,
    LineageError,
    printable,
)
from lineage.terminal import escape_output

if TYPE_CHECKING:
    from lineage import compare
    from lineage.commands import reproduce_plan
    from lineage.context import Context
    from lineage.records import Data


def _warn(message: str) -> None:
    click.echo(f"lineage: warning: {message}", err=True)


class _Tolerance(click.FloatRange):
    """A tolerance: a finite number >= 0 (FloatRange lets nan and inf through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number; give a tolerance >= 0, e.g. 1e-6")
        return number


_TOLERANCE = _Tolerance(min=0)


@contextlib.contextmanager
def _caught_up(obj: Context, *, aliases: bool = False) -> Iterator[bool]:
    """Around a command that shows models: first record versions registered since their runs
    were (``lineage/registrations.py``). Gives False when the registry cannot be read; a
    warning then says so once, when the block (the command's work, not its output) is done,
    and, for ``aliases``, that the models' aliases are left out too (the command does not ask
    again). When the work fails on that registry (an alias to resolve), its error says it all
    and the warning is left out: one cause, one line."""
    from lineage.errors import TrackingUnreachableError
    from lineage.redact import redact_uri
    from lineage.registrations import catch_up

    caught = catch_up(obj)
    unsaid = caught.note
    try:
        yield caught.note is None
    except TrackingUnreachableError as exc:
        if exc.uri == redact_uri(obj.mlflow.registry):
            unsaid = None
        raise
    finally:
        if unsaid:
            _warn(unsaid + ("; model aliases are left out too" if aliases else ""))


@contextlib.contextmanager
def _not_caught_up() -> Iterator[bool]:
    """``--no-aliases``: the registry is not read at all (no catch-up, no aliases)."""
    yield False


def _write(obj: Context, name: str | Path, data: bytes) -> None:
    """An output file the user asked for (-o, --report, --junit), relative to -C's directory."""
    from lineage.writable import replaced, shown

    try:
        with replaced(obj.cwd / name, binary=True) as out:
            out.write(data)
    except OSError as exc:
        raise LineageError(
            f"cannot write {shown(name)} ({exc.strerror or exc}); check the path"
        ) from None


def _check_output(obj: Context, name: str | Path | None, option: str) -> None:
    """Before any work: an output file the user asked for must be writable where it would go
    (a usage error, exit 2), so a long audit or rerun does not end in a failed write."""
    if name is None:
        return
    from lineage.writable import output_problem, shown

    problem = output_problem(obj.cwd, name)
    if problem is not None:
        raise click.BadParameter(
            f"cannot write {shown(name)}: {problem}; choose another path (nothing was done)",
            param_hint=option,
        )


def _no_progress_with_json(_: click.Context, __: click.Parameter, as_json: bool) -> bool:
    """JSON output gets no progress bars (lineage/progress.py), even on a terminal."""
    if as_json:
        progress.enable(False)
    return as_json


_json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    callback=_no_progress_with_json,
    help="Print JSON (documented, stable).",
)


def _print_json(value: Any) -> None:
    """Indented for a person at a terminal, one compact line for a pipe (as DVC does): the
    compact form goes through json's C encoder, several times faster on large answers."""
    indent = 2 if sys.stdout.isatty() else None
    click.echo(json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False))


def _print_json_items(items: Iterable[Any]) -> None:
    """A JSON array printed item by item as the items come, the same text as
    :func:`_print_json` of the whole list: a long answer starts at once and is never held whole."""
    indent = 2 if sys.stdout.isatty() else None
    first = True
    for item in items:
        text = json.dumps(item, indent=indent, sort_keys=True, ensure_ascii=False)
        if indent is None:
            click.echo(("[" if first else ", ") + text, nl=False)
        else:
            nested = "\n".join("  " + line for line in text.split("\n"))
            click.echo(("[\n" if first else ",\n") + nested, nl=False)
        first = False
    click.echo("[]" if first else ("]" if indent is None else "\n]"))


class _OutputClosed(Exception):
    """What reads lineage's output went away (``lineage log | head``)."""


@contextlib.contextmanager
def _past_click() -> Iterator[None]:
    """A broken pipe raised past click: its main turns one into a silent exit 1, the code of
    an error lineage explains on stderr."""
    try:
        yield
    except BrokenPipeError:
        raise _OutputClosed from None


class _Lineage(click.Group):
    # Parsing prints --help and --version; invoking, everything else.

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _past_click():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _past_click():
            return super().invoke(ctx)


@click.group(cls=_Lineage, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="lineage")
@click.option(
    "-C",
    "directory",
    metavar="PATH",
    default=None,
    help="Run as if lineage was started in PATH (like git -C).",
)
@click.pass_context
def cli(ctx: click.Context, directory: str | None) -> None:
    """Record and query the lineage of ML models: which code, data, params and command
    produced each MLflow run and registered model version.

    \b
    Start with `lineage init`, then wrap training in `lineage run -- python train.py`.
    Exit codes: 0 ok, 1 error, 2 usage, 3 bug, 130 interrupted, 141 output
    closed (`| head`).
    """
    from lineage.context import Context  # not for --help

    cwd = Path(directory).resolve() if directory else Path.cwd()
    ctx.obj = Context(cwd, dict(os.environ), warn=_warn, tidy=True)
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@click.option(
    "--gitignore/--no-gitignore",
    default=None,
    help="Add the stores of MLflow, W&B and DVC (mlflow.db, mlruns/, mlartifacts/, W&B's run "
    "files under wandb/) to .gitignore, or leave it alone. Default: ask on a terminal, else "
    "leave it alone.",
)
@click.pass_obj
def init(obj: Context, gitignore: bool | None) -> None:
    """Prepare this repository for lineage (config file, index, and .gitignore entries for
    tools' stores). Safe to run again."""
    from lineage.commands.init import init as init_repo

    def decide(entries: Sequence[str]) -> bool:
        if gitignore is not None:
            return gitignore
        if sys.stdin is None or not sys.stdin.isatty():
            return False
        from lineage.adapters.tool_stores import shown_entries

        listed = shown_entries(entries)
        return click.confirm(f"Add {listed} to .gitignore (tool stores, never code)?", default=True)

    for line in init_repo(obj, add_to_gitignore=decide).messages():
        click.echo(line)


@cli.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--experiment",
    metavar="NAME",
    help="MLflow experiment for runs the command "
    "starts (sets MLFLOW_EXPERIMENT_NAME; mlflow.set_experiment() in the script wins).",
)
@click.option(
    "--run-name",
    metavar="NAME",
    help="Name for MLflow runs the command starts without naming them.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
@click.pass_obj
def run_cmd(
    obj: Context, experiment: str | None, run_name: str | None, command: tuple[str, ...]
) -> None:
    """Run COMMAND and record the code, data, params, environment and command behind every
    MLflow run it starts.

    \b
    Example: lineage run --experiment churn -- python train.py --max-depth 6
    Exit codes: COMMAND's own (128+N when a signal N killed it), 127 COMMAND not
    found, 126 COMMAND not executable, 1 lineage could not start it (nothing ran),
    2 usage, 130 interrupted.
    """
    from lineage.commands.run import run, summary

    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    outcome = run(
        obj,
        argv=argv,
        experiment=experiment,
        run_name=run_name,
        notify=lambda message: click.echo(f"lineage: {message}", err=True),
    )
    for warning in outcome.warnings:
        _warn(warning)
    click.echo(f"lineage: {summary(outcome)}", err=True)
    sys.exit(outcome.exit_code)


@cli.command("log")
@click.option(
    "-n",
    "--max-count",
    "limit",
    type=click.IntRange(min=1),
    default=None,
    help="Show at most N runs.",
)
@click.option(
    "--all",
    "all_runs",
    is_flag=True,
    help="Also list the reruns `lineage reproduce` made, each marked with the run it reproduced.",
)
@_json_option
@click.pass_obj
def log_cmd(obj: Context, limit: int | None, all_runs: bool, as_json: bool) -> None:
    """List recorded runs, newest first: when, run id, status, commit (* = dirty),
    main metric, model versions."""
    from lineage.commands.log import log
    from lineage.summary import render_line, to_json

    found = log(obj, limit=limit, all_runs=all_runs)
    if as_json:
        _print_json_items(to_json(e) for e in found.entries)
        return
    shown = 0
    for entry in found.entries:  # printed as read: the first lines come at once, as git log's
        click.echo(render_line(entry))
        shown += 1
    if not shown and not found.hidden_reruns:
        click.echo("no runs recorded yet; record one with `lineage run -- python train.py`")
    if found.hidden_reruns:
        n = found.hidden_reruns
        click.echo(
            f"hint: {n} rerun{'s' if n != 1 else ''} made by `lineage reproduce` "
            f"{'are' if n != 1 else 'is'} hidden; `lineage log --all` lists them",
            err=True,
        )


@cli.command("show")
@click.argument("ref")
@_json_option
@click.pass_obj
def show_cmd(obj: Context, ref: str, as_json: bool) -> None:
    """Show REF, the record behind it and its direct neighbours.

    \b
    REF is a model (churn/3, churn@champion, models:/churn@champion), a run id (or a
    unique prefix, as `lineage log` prints it), a commit (sha, prefix, HEAD, a branch), a
    data md5, path@md5-prefix, or a recorded data path (data/raw.csv: its latest version).
    W&B: a run path (entity/project/runid, project/runid, or the bare run id) and a
    logged model artifact (name:alias, project/name:alias, name:DIGEST-prefix).
    A recorded data path wins over any other reading of the same text.
    """
    from lineage.commands.show import render_text, show, to_json

    with _caught_up(obj):
        shown = show(obj, ref=ref)
    if as_json:
        _print_json(to_json(shown))
    else:
        click.echo(render_text(shown), nl=False)


def _given_inputs(
    _ctx: click.Context, _param: click.Parameter, values: Sequence[str]
) -> tuple[Data, ...]:
    """--input PATH=MD5, each parsed as reproduce_plan reads it (a usage error if it is not)."""
    from lineage.commands.reproduce_plan import given_input

    try:
        return tuple(given_input(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--input") from None


@cli.command("reproduce")
@click.argument("ref")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop: nothing is run or written.")
@click.option(
    "--workdir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Check the code out in DIR (new or empty; same file system as the DVC cache for "
    "links) instead of .git/lineage/worktrees/.",
)
@click.option("--keep", is_flag=True, help="Keep the worktree afterwards (its path is printed).")
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help="Run a command taken from a record this clone did not write without asking.",
)
@click.option(
    "--command",
    metavar="'CMD ...'",
    help="Run this command line instead of the recorded one (for a record whose arguments "
    "are unknown, e.g. imported from MLflow).",
)
@click.option(
    "--env-manager",
    type=click.Choice(["local", "virtualenv", "uv", "conda"]),
    help="Rerun an `mlflow run` in this environment manager instead of the recorded one "
    "(`local` uses the current environment and needs no download).",
)
@click.option(
    "--input",
    "given_inputs",
    multiple=True,
    metavar="PATH=MD5",
    callback=_given_inputs,
    help="Restore PATH at this DVC md5 (from the DVC cache or remote, verified), for an input "
    "whose version the record does not know, or instead of the recorded one. Repeatable.",
)
@click.option(
    "--use-pointers",
    is_flag=True,
    help="For inputs whose version the record does not know, restore the versions the "
    "checked-out commit's .dvc files and dvc.lock name (noted in the reproduction record).",
)
@click.option(
    "--register",
    is_flag=True,
    help="Let the rerun register model versions in the real registry (tagged "
    "lineage.reproduces). By default they go to a throwaway registry.",
)
@click.option(
    "--rtol",
    metavar="X",
    type=_TOLERANCE,
    help="Relative tolerance: |rerun - original| <= atol + rtol * |original| "
    "(default: [reproduce] rtol in .lineage/config.toml, else 0).",
)
@click.option(
    "--atol",
    metavar="X",
    type=_TOLERANCE,
    help="Absolute tolerance (default: [reproduce] atol, else 0).",
)
@click.option(
    "--ignore-output",
    "ignore_outputs",
    multiple=True,
    metavar="GLOB",
    help="Leave the DVC outputs matching GLOB out of the verdict (repeatable; added to "
    "[reproduce] ignore_outputs). Left-out outputs are always named.",
)
@click.option(
    "--plots",
    type=click.Choice(["tolerance", "ignore"]),
    help="Judge plots files (`plots:` in dvc.yaml) by their numbers within the tolerance, or "
    "leave them out (default: [reproduce] plots, else tolerance).",
)
@click.option(
    "--allow-unverified",
    is_flag=True,
    help="Exit 0, not 7, when the rerun succeeded but nothing could be compared.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME",
    help="Judge only this metric (repeatable); the others are still shown.",
)
@_json_option
@click.option(
    "--report",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a Markdown report to FILE.",
)
@click.pass_obj
def reproduce_cmd(
    obj: Context,
    ref: str,
    dry_run: bool,
    workdir: Path | None,
    keep: bool,
    yes: bool,
    command: str | None,
    env_manager: str | None,
    given_inputs: tuple[Data, ...],
    use_pointers: bool,
    register: bool,
    rtol: float | None,
    atol: float | None,
    ignore_outputs: tuple[str, ...],
    plots: str | None,
    allow_unverified: bool,
    metrics: tuple[str, ...],
    as_json: bool,
    report: Path | None,
) -> None:
    """Rebuild the model version (or run) REF from its recorded code and data, in a separate
    worktree, and say whether the result matches.

    \b
    REF: churn/3, churn@champion (resolved live), models:/churn@champion, a run id, a W&B
    run path or a W&B model artifact (name:alias, name:DIGEST-prefix).
    Exit codes: 0 bit-identical (every compared value exact, every compared output
    byte-identical), 6 reproduced within the tolerances, 4 differs, 5 the rerun failed,
    7 unverified (the rerun succeeded but nothing could be compared; 0 with
    --allow-unverified), 1 could not start (e.g. code or data missing: nothing was run),
    2 usage, 130 interrupted.
    """
    from lineage.commands import reproduce as rp
    from lineage.commands import reproduce_plan
    from lineage.commands import reproduce_report as report_
    from lineage.compare import values_of

    _check_output(obj, report, "--report")
    policy = _reproduce_policy(obj, rtol, atol, ignore_outputs, plots, allow_unverified)
    plan = reproduce_plan.plan(
        obj,
        ref=ref,
        command=command,
        env_manager=env_manager,
        given_inputs=given_inputs,
        use_pointers=use_pointers,
    )
    obj.close()  # the index is not needed again: do not hold it through the rerun
    recorded = values_of(plan.record).metrics  # MLflow's and the DVC stages', labelled
    unknown = [m for m in metrics if m not in recorded]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)} not among the run's metrics ({', '.join(sorted(recorded))})",
            param_hint="--metric",
        )
    for warning in plan.warnings:
        _warn(warning)
    if not as_json:
        click.echo(report_.render_plan(plan), nl=False)
    if dry_run or plan.problems:
        _stop_after_plan(plan, as_json)
        return
    interactive = sys.stdin.isatty()
    rp.ensure_confirmed(
        plan,
        yes=yes,
        confirm=(lambda q: click.confirm(q, err=True)) if interactive else None,
    )
    result = rp.reproduce(
        obj,
        plan,
        workdir=(obj.cwd / workdir).resolve() if workdir else None,
        keep=keep,
        register=register,
        policy=policy,
        judged_metrics=metrics,
        notify=lambda message: click.echo(f"lineage: {message}", err=True),
    )
    if report is not None:
        _write(obj, report, report_.render_markdown(result).encode())
    if as_json:
        _print_json(report_.to_json(result, plan))
    else:
        click.echo(report_.render_result(result), nl=False)
        if report is not None:
            click.echo(f"report written to {report}")
    sys.exit(result.exit_code)


def _reproduce_policy(
    obj: Context,
    rtol: float | None,
    atol: float | None,
    ignore_outputs: tuple[str, ...],
    plots: str | None,
    allow_unverified: bool,
) -> compare.Policy:
    """How the rerun is judged: the options, else ``[reproduce]`` in the config."""
    from lineage.compare import CONFIG, OPTION, Policy

    defaults = obj.config.reproduce
    return Policy(
        rtol=defaults.rtol if rtol is None else rtol,
        atol=defaults.atol if atol is None else atol,
        ignore_outputs=(
            *((glob, OPTION) for glob in ignore_outputs),
            *((glob, CONFIG) for glob in defaults.ignore_outputs),
        ),
        plots=plots or defaults.plots,
        allow_unverified=allow_unverified,
    )


def _stop_after_plan(plan: reproduce_plan.Plan, as_json: bool) -> None:
    """--dry-run, or a plan with problems: say so; nothing was run or written."""
    from lineage.commands import reproduce_report as report_
    from lineage.commands.reproduce_plan import ReproductionBlocked

    if as_json:
        _print_json(report_.to_json(None, plan))
    elif plan.problems:
        for problem in plan.problems:
            click.echo(f"  problem   {problem}")
    if plan.problems:
        raise ReproductionBlocked(plan.blocked_message())
    if not as_json:
        click.echo("dry run: nothing was run or written")


@cli.command("graph")
@click.argument("ref")
@click.option(
    "--upstream",
    is_flag=True,
    help="What REF was made from: code, data, runs (default for models and runs).",
)
@click.option(
    "--downstream",
    is_flag=True,
    help="What was made from REF: runs, data, models (default for data and commits).",
)
@click.option("--both", is_flag=True, help="Upstream and downstream.")
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    metavar="N",
    help="Only nodes at most N edges away from REF (default: no limit).",
)
@click.option(
    "--as-of",
    metavar="COMMIT|DATE",
    help="Only what was recorded by then: a commit (its committer date) or an ISO 8601 date "
    "or datetime (a whole day for a date; local time without a zone).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["svg", "png", "pdf", "dot", "mermaid", "json", "text", "graphml", "gexf"]),
    help="Output format (default: from -o's suffix, else text). svg, png and pdf need "
    "Graphviz's dot; graphml (yEd, Cytoscape, Gephi) and gexf (Gephi) carry each node's "
    "kind and label as attributes.",
)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write to FILE (.svg .png .pdf .dot .gv .mmd .json .txt .graphml .gexf) instead of "
    "stdout.",
)
@click.option(
    "--no-aliases",
    is_flag=True,
    help="Do not ask the model registry (aliases, versions registered later): answer offline.",
)
# Graphviz lays out lineage's graphs of ~1,150 nodes in ~7 s and of ~2,300 in ~23 s, and grows
# faster than the graph: a commit under 70,000 runs takes hours. Past the limit, refuse at once.
@click.option(
    "--max-nodes",
    type=click.IntRange(min=0),
    default=2000,
    show_default=True,
    metavar="N",
    help="svg, png, pdf: refuse at once a graph of more nodes, which Graphviz would lay out "
    "for minutes or hours (0: no limit). Other formats have no limit.",
)
@click.pass_obj
def graph_cmd(
    obj: Context,
    ref: str,
    upstream: bool,
    downstream: bool,
    both: bool,
    depth: int | None,
    as_of: str | None,
    fmt: str | None,
    output: str | None,
    no_aliases: bool,
    max_nodes: int,
) -> None:
    """Draw the lineage around REF: what it was made from, or what was made from it.

    \b
    REF is a model (churn/3, churn@champion, models:/churn@champion), a run id (or a
    unique prefix, as `lineage log` prints it), a commit (sha, prefix, HEAD, a branch), a
    data md5, path@md5-prefix, or a recorded data path (data/raw.csv: its latest version).
    W&B: a run path (entity/project/runid, project/runid, or the bare run id) and a
    logged model artifact (name:alias, project/name:alias, name:DIGEST-prefix).
    A recorded data path wins over any other reading of the same text.
    Examples: lineage graph churn@champion -o champion.svg
              lineage graph data/raw.csv@5ff7 --format mermaid
    """
    from lineage.commands import graph as graph_

    _check_output(obj, output, "-o")
    directions = [d for d, on in (("upstream", upstream), ("downstream", downstream)) if on]
    if both:
        directions.append("both")
    if len(directions) > 1:  # three flags for one choice: never let the last one win silently
        given = " and ".join(f"--{d}" for d in directions)
        raise click.UsageError(f"give one of --upstream, --downstream and --both, not {given}")
    direction = directions[0] if directions else None
    chosen = graph_.output_format(fmt, output)
    if chosen in graph_.BINARY and output is None:
        raise click.UsageError(
            f"--format {chosen} is binary; write it to a file with -o FILE (e.g. -o graph.{chosen})"
        )
    if chosen in ("svg", "png", "pdf"):
        from lineage.adapters import graphviz

        graphviz.find_dot(chosen)  # say it is missing before doing any work
    with _caught_up(obj, aliases=True) if not no_aliases else _not_caught_up() as aliases:
        drawn = graph_.graph(
            obj,
            ref=ref,
            direction=direction,
            depth=depth,
            as_of=as_of,
            aliases=aliases,
            max_nodes=max_nodes or None if chosen in graph_.LAID_OUT else None,
        )
    for note in drawn.notes:
        click.echo(f"lineage: {note}", err=True)
    for warning in drawn.warnings:
        _warn(warning)
    if chosen == "mermaid" and (too_many := graph_.mermaid_warning(drawn.graph)):
        _warn(too_many)
    data = graph_.draw(drawn.graph, chosen)
    if output is None:
        click.echo(data.decode(), nl=False)
        return
    _write(obj, output, data)
    click.echo(
        f"lineage: wrote {len(drawn.graph.nodes)} nodes and {len(drawn.graph.edges)} edges to "
        f"{output} ({chosen})",
        err=True,
    )


@cli.command("impact")
@click.argument("ref")
@_json_option
@click.option(
    "--no-aliases",
    is_flag=True,
    help="Do not ask the model registry (aliases, versions registered later): answer offline.",
)
@click.pass_obj
def impact_cmd(obj: Context, ref: str, as_json: bool, no_aliases: bool) -> None:
    """List every run and model version made from REF, directly or through other runs.

    \b
    REF is data (a recorded path such as data/raw.csv means all its recorded versions;
    an md5; path@md5-prefix), a commit, a run id, or anything `lineage show` takes.
    Model versions come first, those with aliases (read live from the registry) on top.
    """
    from lineage.commands.impact import impact, render_text, to_json

    with _caught_up(obj, aliases=True) if not no_aliases else _not_caught_up() as aliases:
        found = impact(obj, ref=ref, aliases=aliases)
    for warning in found.warnings:
        _warn(warning)
    if as_json:
        _print_json(to_json(found))
    else:
        click.echo(render_text(found), nl=False)


@cli.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@_json_option
@click.pass_obj
def diff_cmd(obj: Context, a: str, b: str, as_json: bool) -> None:
    """Compare two model versions or runs: code (with git diff --stat), data per path (file
    counts for DVC directories), params, metrics with deltas, environment and command.

    \b
    Example: lineage diff churn-model@champion churn-model/3
    """
    from lineage.commands.diff import diff
    from lineage.commands.diff_report import render_text, to_json

    with _caught_up(obj):
        result = diff(obj, a=a, b=b)
    if as_json:
        _print_json(to_json(result))
    else:
        click.echo(render_text(result), nl=False)


@cli.group("import")
def import_group() -> None:
    """Take in history recorded before lineage was used (labelled as inferred)."""


@import_group.command("mlflow")
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    metavar="NAME",
    help="Also import every run of this experiment (repeatable); registered versions' runs "
    "are always imported.",
)
@click.option(
    "--model", "models", multiple=True, metavar="NAME", help="Only these registered models."
)
@click.option(
    "--since",
    metavar="DATE",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
    help="Only runs started (and versions registered) on or after DATE (UTC unless given).",
)
@_json_option
@click.pass_obj
def import_mlflow_cmd(
    obj: Context,
    experiments: tuple[str, ...],
    models: tuple[str, ...],
    since: Any,
    as_json: bool,
) -> None:
    """Write inferred records for MLflow runs lineage did not observe: commit from MLflow's
    git tag, data from that commit's DVC files (unknown where dvc.lock is stale there),
    params, metrics, status and the model versions made from them. Safe to run again."""
    from datetime import UTC

    from lineage.commands.import_mlflow import import_mlflow

    result = import_mlflow(
        obj,
        experiments=experiments,
        models=models,
        since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
        notify=lambda message: click.echo(f"lineage: {message}", err=True),
    )
    for note in result.notes:
        _warn(note)
    if as_json:
        _print_json(result.to_json())
    else:
        click.echo(result.summary())


@import_group.command("wandb")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@_json_option
@click.pass_obj
def import_wandb_cmd(obj: Context, path: Path | None, as_json: bool) -> None:
    """Write inferred records for W&B runs lineage did not observe, from their local run
    directories (PATH: a run directory, or the wandb directory holding them; default: wandb/
    here, at the repository root and under $WANDB_DIR): run path, config, summary, artifacts,
    the commit W&B read when this repository has it. No W&B server is asked. Safe to run
    again."""
    from lineage.commands.import_wandb import import_wandb

    result = import_wandb(obj, path=path)
    for note in result.notes:
        _warn(note)
    if as_json:
        _print_json(result.to_json())
    else:
        click.echo(result.summary())


@cli.command("audit")
@click.argument("refs", nargs=-1, metavar="[MODEL_OR_ALIAS]...")
@click.option("--alias", metavar="NAME", help="Audit the versions holding this alias.")
@click.option("--stage", metavar="NAME", help="Audit the versions in this (legacy) stage.")
@click.option(
    "--all", "everything", is_flag=True, help="Audit every registered (and W&B model) version."
)
@click.option(
    "--strict", is_flag=True, help="Fail on warnings too, and when no model version matches."
)
@_json_option
@click.option("--markdown", is_flag=True, help="Print Markdown (for a pull-request comment).")
@click.option(
    "--junit",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write JUnit XML to FILE: one test case per model version.",
)
@click.pass_obj
def audit_cmd(
    obj: Context,
    refs: tuple[str, ...],
    alias: str | None,
    stage: str | None,
    everything: bool,
    strict: bool,
    as_json: bool,
    markdown: bool,
    junit: Path | None,
) -> None:
    """Check the lineage of production models: observed record, clean commit on a protected
    branch and the Git remote, data in the DVC remote, finished run, reproduction evidence.

    \b
    Default scope: every version holding an alias (or the Production stage), and every
    W&B model artifact version holding an alias other than latest (by lineage's records;
    W&B's server is not asked). Without an MLflow store, the W&B models alone.
    MODEL_OR_ALIAS: churn-model, churn-model/3, churn-model@champion; W&B's
    name, name:alias, name:DIGEST-prefix.
    Exit codes: 0 nothing failed, 1 something failed (--strict: or warned, or nothing
    matched).
    """
    from lineage.commands.audit import audit, check_stores
    from lineage.commands.audit_report import render_junit, render_markdown, render_text, to_json

    if as_json and markdown:
        raise click.UsageError("give --json or --markdown, not both")
    _check_output(obj, junit, "--junit")
    check_stores(obj)  # one error for a missing or garbage store, before the catch-up warns
    with _caught_up(obj):
        result = audit(
            obj, refs=refs, alias=alias, stage=stage, everything=everything, strict=strict
        )
    if junit is not None:
        _write(obj, junit, render_junit(result).encode())
    if as_json:
        _print_json(to_json(result))
    elif markdown:
        click.echo(render_markdown(result), nl=False)
    else:
        click.echo(render_text(result), nl=False)
    if (error := result.strict_error()) is not None:
        raise error
    sys.exit(result.exit_code)


@cli.command("push")
@click.argument("remote", required=False)
@click.pass_obj
def push_cmd(obj: Context, remote: str | None) -> None:
    """Publish this clone's lineage records (refs/lineage/records) to the Git remote REMOTE,
    merging first what others pushed there. Never forces.

    \b
    REMOTE: a remote name or URL; default: the current branch's upstream remote, else origin.
    """
    from lineage.commands.sync import push

    pushed = push(
        obj, remote=remote, notify=lambda message: click.echo(f"lineage: {message}", err=True)
    )
    for warning in pushed.warnings:
        _warn(warning)
    click.echo(pushed.summary())


@cli.command("pull")
@click.argument("remote", required=False)
@click.pass_obj
def pull_cmd(obj: Context, remote: str | None) -> None:
    """Fetch the lineage records of the Git remote REMOTE and merge them into this clone's
    (a union of records: never a conflict).

    \b
    REMOTE: a remote name or URL; default: the current branch's upstream remote, else origin.
    """
    from lineage.commands.sync import pull

    pulled = pull(obj, remote=remote)
    for warning in pulled.warnings:
        _warn(warning)
    click.echo(pulled.summary())


@cli.group("export")
def export_group() -> None:
    """Write the recorded lineage in a standard format: W3C PROV, or OpenLineage events for
    Marquez, DataHub and other lineage servers (docs/exports.md)."""


@export_group.command("prov")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "provn", "turtle"]),
    default="json",
    show_default=True,
    help="PROV-JSON, PROV-N, or PROV-O as Turtle.",
)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write to FILE instead of stdout.",
)
@click.pass_obj
def export_prov_cmd(obj: Context, fmt: str, output: str | None) -> None:
    """Every recorded run as a W3C PROV document.

    \b
    Data, model versions and commits are entities, runs are activities, the people who
    recorded runs and lineage itself are agents; relations: used, wasGeneratedBy,
    wasAssociatedWith, wasDerivedFrom, wasInformedBy (nested runs, reproductions).
    Example: lineage export prov --format turtle -o lineage.ttl
    """
    from lineage.commands import export

    _check_output(obj, output, "-o")
    done = export.export_prov(obj, fmt=fmt)
    if output is None:
        click.echo(done.text.decode(), nl=False)
        return
    _write(obj, output, done.text)
    click.echo(
        f"lineage: wrote {done.runs} runs ({done.entities} entities, {done.activities} "
        f"activities, {done.agents} agents) to {output} (prov {fmt})",
        err=True,
    )


@export_group.command("openlineage")
@click.option(
    "--url",
    metavar="URL",
    help="Send the events to this lineage server (its base URL, e.g. http://localhost:5000 "
    "for Marquez) with OpenLineage's HTTP transport.",
)
@click.option(
    "--endpoint",
    default="api/v1/lineage",
    show_default=True,
    metavar="PATH",
    help="The server's OpenLineage endpoint under --url (DataHub: "
    "openapi/openlineage/api/v1/lineage).",
)
@click.option(
    "--api-key-env",
    metavar="NAME",
    help="Send the API key held in this environment variable as a bearer token (default: "
    "OPENLINEAGE_API_KEY when it is set). Keys are never taken from the command line.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the server, per event.",
)
@click.option(
    "--file",
    "file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write the events to FILE as JSON lines (appended with --since-last).",
)
@click.option("--console", is_flag=True, help="Print the events to stdout, one JSON a line.")
@click.option(
    "--since-last",
    is_flag=True,
    help="Only the runs that records added since the last export to the same target touch.",
)
@click.option(
    "--namespace",
    metavar="NAME",
    help="The jobs' OpenLineage namespace (default: the repository's name).",
)
@click.pass_obj
def export_openlineage_cmd(
    obj: Context,
    url: str | None,
    endpoint: str,
    api_key_env: str | None,
    timeout: float,
    file: str | None,
    console: bool,
    since_last: bool,
    namespace: str | None,
) -> None:
    """Send every recorded run to a lineage server as OpenLineage run events.

    \b
    A run is an OpenLineage run (START, then COMPLETE, FAIL or ABORT); its command or DVC
    stages are the job; data are datasets named by repository path with the DVC md5 as
    version; model versions are output datasets in an `mlflow:` namespace. Give one of
    --url, --file and --console. Run ids are derived from the records, so exporting twice
    sends the same events. See docs/exports.md for Marquez and DataHub settings.
    Examples: lineage export openlineage --url http://localhost:5000
              lineage export openlineage --file events.jsonl --since-last
    """
    from lineage.commands import export_openlineage as ol

    given = [name for name, on in (("--url", url), ("--file", file), ("--console", console)) if on]
    if len(given) != 1:
        raise click.UsageError(
            "give one of --url, --file and --console"
            + (f", not {' and '.join(given)}" if given else "")
        )
    if url is not None and (problem := ol.check_url(url)):
        raise click.UsageError(problem)
    _check_output(obj, file, "--file")
    variable = api_key_env or ol.DEFAULT_KEY_VARIABLE
    api_key = obj.environ.get(variable) or None
    if api_key_env and api_key is None:
        raise click.UsageError(
            f"--api-key-env {api_key_env}: that environment variable is not set; export it "
            "with the server's API key first"
        )
    target = ol.Target(
        url=url,
        endpoint=endpoint,
        file=obj.cwd / file if file else None,  # -C's directory, as --file's check had it
        console=console,
        api_key=api_key,
        timeout=timeout,
    )
    done = ol.export_openlineage(
        obj, target=target, since_last=since_last, namespace=namespace, echo=click.echo
    )
    what = "sent" if url else "wrote"
    since = f" (new since records tip {done.since[:10]})" if done.since else ""
    click.echo(
        f"lineage: {what} {done.events} OpenLineage events for {done.runs} runs{since} "
        f"to {target.shown}",
        err=True,
    )


@cli.group("hooks")
def hooks_group() -> None:
    """Install or remove lineage's Git hooks (pre-commit checks, post-commit attachment of
    dirty-tree runs, pre-push data check). Existing hooks are kept and run first."""


_HOOK_CHOICE = click.Choice(["pre-commit", "post-commit", "pre-push", "post-checkout"])


@hooks_group.command("install")
@click.option(
    "--hook",
    "hooks",
    multiple=True,
    type=_HOOK_CHOICE,
    help="Install only this hook (repeatable). Default: pre-commit, post-commit, pre-push.",
)
@click.pass_obj
def hooks_install_cmd(obj: Context, hooks: tuple[str, ...]) -> None:
    """Install lineage's Git hooks (small shell shims in the hooks directory).

    A hook already there is kept as <hook>.pre-lineage and runs first. core.hooksPath is
    respected; one tracked in the repository is refused. The hooks do nothing in a
    repository where `lineage init` was not run; `git commit --no-verify` skips them."""
    from lineage.hooks import DEFAULT_HOOKS
    from lineage.hooks.install import install

    _print_hooks(install(obj.paths, list(dict.fromkeys(hooks)) or DEFAULT_HOOKS))
    if not obj.initialized:
        click.echo(
            "note: lineage is not set up here yet: the hooks do nothing until `lineage init`"
        )


@hooks_group.command("uninstall")
@click.option(
    "--hook",
    "hooks",
    multiple=True,
    type=_HOOK_CHOICE,
    help="Remove only this hook (repeatable). Default: all of them.",
)
@click.pass_obj
def hooks_uninstall_cmd(obj: Context, hooks: tuple[str, ...]) -> None:
    """Remove lineage's Git hooks and put back the hooks they replaced.

    Hooks lineage did not write are left alone."""
    from lineage.hooks import HOOK_TYPES
    from lineage.hooks.install import uninstall

    _print_hooks(uninstall(obj.paths, list(dict.fromkeys(hooks)) or HOOK_TYPES))


def _print_hooks(result: Any) -> None:
    where = os.path.relpath(result.directory)
    if where.startswith(".."):
        where = str(result.directory)
    if result.configured is not None:
        where += f" (core.hooksPath = {result.configured})"
    click.echo(f"hooks directory: {where}")
    for change in result.changes:
        detail = f": {change.detail}" if change.detail else ""
        click.echo(f"  {change.hook:<14} {change.action}{detail}")


@cli.command(
    "hook-impl",
    hidden=True,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("hook", type=_HOOK_CHOICE)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def hook_impl_cmd(obj: Context, hook: str, args: tuple[str, ...]) -> None:
    """Run one Git hook (what the shims and .pre-commit-hooks.yaml call)."""
    from lineage.hooks.dispatch import main as run_hook

    progress.enable(False)  # a hook draws no bar (and never imports tqdm), as its shims do not
    sys.exit(run_hook([hook, *args], cwd=obj.cwd))


def main(argv: Sequence[str] | None = None) -> NoReturn:
    atexit.register(_exit_fast)
    gc.set_threshold(_YOUNG_OBJECTS)
    escape_output()  # records and input may hold terminal escape sequences (lineage/terminal.py)
    progress.enable(progress.wanted())  # bars on long work, on a terminal only
    try:
        rv = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="lineage",
            standalone_mode=False,
        )
    except LineageError as exc:  # one line: control characters echoed from input escaped
        click.echo(f"lineage: error: {printable(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("lineage: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("lineage: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except (_OutputClosed, BrokenPipeError):
        _output_closed()
    except Exception as exc:
        from lineage.writable import write_failure

        refused = write_failure(exc)  # a read-only or full disk is the machine's, not a bug
        if refused is not None:
            click.echo(f"lineage: error: {refused}", err=True)
            sys.exit(1)
        import traceback  # only for a bug: ~2.5 ms every command would pay to import

        traceback.print_exc()
        click.echo(
            f"lineage: internal error (lineage {__version__}); this is a bug: please report it "
            "with the traceback above",
            err=True,
        )
        sys.exit(EXIT_BUG)
    sys.exit(rv if isinstance(rv, int) else 0)


# A command's imports and decoding allocate objects by the hundred thousand, nearly none in
# cycles: at Python's default, a collection of the youngest every 700, `impact` spent ~5 ms in
# 39 collections that found nothing to free. This many between them bounds the garbage a cycle
# can hold to a few MB (set by the command line only: the MLflow plugin, in a training process,
# leaves that process's settings alone).
_YOUNG_OBJECTS = 50_000


def _output_closed() -> NoReturn:
    """Exit quietly, as git does under ``| head``, with the code a shell shows for it."""
    # Python flushes stdout once more at exit: into /dev/null, that flush cannot fail and print
    # "Exception ignored ... BrokenPipeError".
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(EXIT_OUTPUT_CLOSED)


def _exit_fast() -> None:
    """Skip the garbage collector's last sweep over MLflow's objects at exit (~1 s)."""
    gc.freeze()

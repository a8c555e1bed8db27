"""`lineage show REF`: a node, the record behind it, and its direct neighbours; for a commit,
also the runs made on a dirty tree based on it (through their snapshot commit), and for a run
made on a dirty tree, the commits that later took its code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from lineage.context import Context
from lineage.documents import run_label, wandb_status
from lineage.edges import node_key
from lineage.formatting import human_size, short_hash
from lineage.index import Index, Reproduction
from lineage.resolve import Node, path_note, resolve
from lineage.run_values import run_values

if TYPE_CHECKING:
    from lineage.wandb_models import WandbModel


@dataclass(frozen=True)
class Neighbour:
    direction: str  # upstream (used to make this node) or downstream (made from it)
    rel: str  # code, snapshot, input, output, produced, parent
    kind: str
    ident: str
    path: str | None
    evidence: str | None
    record_id: str
    via: str | None = None  # reached through this snapshot commit, not by an edge of its own


@dataclass(frozen=True)
class Attached:
    """A commit that took the code of a run made on a dirty tree (a post-commit attachment)."""

    sha: str
    subject: str | None  # None: the commit is not in this repository


@dataclass(frozen=True)
class Shown:
    ref: str
    node: Node
    record_id: str | None
    record: dict[str, Any] | None
    neighbours: list[Neighbour] = field(default_factory=list)
    commit_subject: str | None = None
    environment: dict[str, Any] | None = None  # the environment record the run record names
    made_by: dict[str, str] = field(default_factory=dict)  # input md5 -> run that wrote it
    via_snapshots: list[Neighbour] = field(default_factory=list)  # a commit's dirty-tree runs
    attached: list[Attached] = field(default_factory=list)  # a dirty-tree run's later commits
    reproduces: str | None = None  # a rerun by `lineage reproduce`: the run it reproduced
    reproductions: list[Reproduction] = field(default_factory=list)  # of this run, newest first
    wandb_model: WandbModel | None = None  # a W&B model artifact version: what it holds now


def show(ctx: Context, *, ref: str) -> Shown:
    """What REF names, the record behind it (a run's, or the one that made a model version),
    and every edge that touches it."""
    node = resolve(ctx, ref)
    index = ctx.index
    neighbours = _neighbours(index, node.key)
    run_key = None
    if node.kind == "run":
        run_key = node.ident
    elif node.kind == "model":
        producers = index.producers(node.key)  # never a rerun's throwaway registration
        run_key = producers[0] if producers else node.registry_run_id
    found = index.records_for_run(run_key) if run_key else []
    record_id, record = found[0] if found else (None, None)
    subject = None
    if node.kind == "commit":
        from lineage.adapters import git_content  # only a commit needs it

        summary = git_content.commit_summary(ctx.paths, node.ident)
        subject = summary[0] if summary else None
    wandb_model = None
    if node.kind == "model" and node.model is None:  # a W&B model artifact version
        from lineage.wandb_models import model_of

        wandb_model = model_of(index, node.key)
    environment = None
    if record and (record.get("environment") or {}).get("packages_record"):
        environment = index.record(record["environment"]["packages_record"])
    return Shown(
        ref,
        node,
        record_id,
        record,
        neighbours,
        commit_subject=subject,
        environment=environment,
        made_by=_made_by(index, record, run_key),
        via_snapshots=_via_snapshots(index, neighbours) if node.kind == "commit" else [],
        attached=_attached(ctx, run_key) if run_key and _on_a_dirty_tree(record) else [],
        reproduces=_reproduces(index, record, run_key) if node.kind == "run" else None,
        reproductions=index.reproductions(run_key) if node.kind == "run" and run_key else [],
        wandb_model=wandb_model,
    )


def _reproduces(index: Index, record: dict[str, Any] | None, run_key: str | None) -> str | None:
    """The run a rerun reproduced: its record says so, or (older reruns) a reproduction."""
    if record and record.get("reproduces"):
        return str(record["reproduces"])
    return index.reruns_among([run_key]).get(run_key) if run_key else None


def _neighbours(index: Index, key: str) -> list[Neighbour]:
    """Every edge touching ``key``, seen from it."""
    neighbours = []
    for edge in index.edges_touching(key):
        upstream = edge.dst == key
        kind, _, ident = (edge.src if upstream else edge.dst).partition(":")
        neighbours.append(
            Neighbour(
                "upstream" if upstream else "downstream",
                edge.rel,
                kind,
                ident,
                edge.path,
                edge.evidence,
                edge.record_id,
            )
        )
    return neighbours


def _via_snapshots(index: Index, neighbours: Iterable[Neighbour]) -> list[Neighbour]:
    """The runs made on a dirty tree based on a commit: they used the commit through the
    snapshot of that tree (whose parent it is), by no edge of their own."""
    snapshots = dict.fromkeys(
        n.ident for n in neighbours if n.rel == "snapshot" and n.direction == "downstream"
    )
    return [
        replace(n, via=snapshot)
        for snapshot in snapshots
        for n in _neighbours(index, node_key("commit", snapshot))
        if n.rel == "code" and n.direction == "downstream"
    ]


def _on_a_dirty_tree(record: dict[str, Any] | None) -> bool:
    return bool(record and (record.get("code") or {}).get("snapshot"))


def _attached(ctx: Context, run_key: str) -> list[Attached]:
    """The commits that later took the code of a run made on a dirty tree."""
    shas = ctx.index.attached_commits(run_key)
    if not shas:
        return []
    from lineage.adapters import git_content  # only a run with attachments needs it

    summaries = git_content.commit_summaries(ctx.paths, shas)
    return [Attached(sha, summaries[sha][0] if sha in summaries else None) for sha in shas]


def _made_by(index: Index, record: dict[str, Any] | None, run_key: str | None) -> dict[str, str]:
    """Input md5 -> another recorded run that wrote it, so a reader can follow it upstream;
    never a rerun by `lineage reproduce`, which wrote the same bytes only to check them."""
    made_by = {}
    for data in (record or {}).get("inputs") or ():
        writers = [
            e.src.partition(":")[2]
            for e in index.edges_touching(node_key("data", data["md5"]))
            if e.rel == "output" and e.src != node_key("run", run_key or "")
        ]
        reruns = index.reruns_among(writers)
        writers = [w for w in writers if w not in reruns]
        if writers:
            made_by[data["md5"]] = writers[0]
    return made_by


def to_json(shown: Shown) -> dict[str, Any]:
    """The documented, stable JSON form (docs/commands.md#show)."""
    node: dict[str, Any] = {"kind": shown.node.kind, "id": shown.node.ident}
    if shown.node.path:
        node["path"] = shown.node.path
    if shown.node.resolved_from:
        node["resolved_from"] = shown.node.resolved_from
    if shown.node.aliases:
        node["aliases"] = shown.node.aliases
    if shown.node.versions:
        node["versions"] = list(shown.node.versions)
    if shown.commit_subject is not None:
        node["subject"] = shown.commit_subject
    if shown.wandb_model is not None:
        m = shown.wandb_model
        node["wandb"] = {
            "project": m.project,
            "name": m.name,
            "digest": m.digest,
            "type": m.type,
            "aliases": list(m.aliases),
            "files": [{"path": p, "md5": md5} for p, md5 in m.files],
        }
    return {
        "ref": shown.ref,
        "node": node,
        "record_id": shown.record_id,
        "record": shown.record,
        "environment": shown.environment,
        "reproduces": shown.reproduces,
        "reproductions": [
            {"record_id": r.record_id, "rerun": r.rerun, "verdict": r.verdict, "at": r.created}
            for r in shown.reproductions
        ],
        "neighbours": [
            {
                "direction": n.direction,
                "rel": n.rel,
                "kind": n.kind,
                "id": n.ident,
                "path": n.path,
                "evidence": n.evidence,
                "record_id": n.record_id,
            }
            for n in shown.neighbours
        ],
    }


def _kv(values: Mapping[str, Any]) -> str:
    return (
        "  ".join(
            f"{k}={v!r}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(values.items())
        )
        or "(none)"
    )


def _data_lines(
    label: str, items: list[dict[str, Any]], made_by: Mapping[str, str] | None = None
) -> list[str]:
    lines = []
    width = max((len(d["path"]) for d in items), default=0)
    for n, d in enumerate(items):
        extra = []
        if d.get("nfiles") is not None:
            extra.append(f"{d['nfiles']} files")
        if d.get("size") is not None:
            extra.append(human_size(d["size"]))
        if d.get("state") not in (None, "match"):
            pointer = d.get("pointer_md5")
            extra.append(
                f"[{d['state']}" + (f"; pointer says {short_hash(pointer)}]" if pointer else "]")
            )
        if made_by and d["md5"] in made_by:
            extra.append(f"(made by run {run_label(made_by[d['md5']])})")
        head = label if n == 0 else ""
        lines.append(f"{head:<10}{d['path']:<{width}}  {d['md5']}  {'  '.join(extra)}".rstrip())
    return lines


def _unknown_lines(record: dict[str, Any]) -> list[str]:
    """The paths an inferred record could not give a hash for, each with why."""
    reasons = record.get("unknown_reasons") or {}
    return [
        f"{'unknown' if n == 0 else '':<10}{path}"
        + (f"  ({reasons[path]})" if path in reasons else "")
        for n, path in enumerate(record.get("unknown_inputs") or ())
    ]


def record_lines(
    record: dict[str, Any],
    record_id: str,
    made_by: Mapping[str, str] | None = None,
    attached: Sequence[Attached] = (),
) -> list[str]:
    """The human view of one run record, line by line; ``made_by`` maps input md5s to the
    recorded run that wrote them, so a reader can follow the data upstream; ``attached`` are
    the commits that later took the code of a run made on a dirty tree."""
    run = record.get("run")
    lines = [*_run_lines(record), *_code_lines(record["code"], attached)]
    lines += _data_lines("data in", record.get("inputs") or [], made_by) or [
        f"{'data in':<10}(none recorded)"
    ]
    lines += _unknown_lines(record)
    lines += _data_lines("data out", record.get("outputs") or [])
    if record.get("stages"):
        lines.append(
            f"{'stages':<10}{', '.join(s['name'] for s in record['stages'])}  (from dvc.lock)"
        )
    values = run_values(record)
    if run or values.params or values.metrics:
        lines.append(f"{'params':<10}{_kv(values.params)}")
        lines.append(f"{'metrics':<10}{_kv(values.metrics)}")
    command = record.get("command")
    if command:
        lines.append(f"{'command':<10}{' '.join(command['argv'])}   ({_how_it_ran(command)})")
        if command.get("redacted"):
            lines.append(f"{'hidden':<10}{_hidden(command['redacted'])}")
    env = record.get("environment")
    if env:
        lines.append(
            f"{'env':<10}Python {env['python']} {env['implementation']} {env['platform']}, "
            f"{env.get('npackages', len(env.get('packages') or {}))} packages "
            f"{env['packages_hash'][:19]} "
            f"(environment record {(env.get('packages_record') or 'inline')[:12]})"
        )
    models = record.get("models") or []
    if models:
        listed = ", ".join(f"{m['name']}/{m['version']}" for m in models)
        lines.append(f"{'models':<10}{listed}")
    created = record["created"]
    lines.append(
        f"{'record':<10}{record_id[:12]}  {record['evidence']}, recorded {created['at']} by "
        f"{created['name']} <{created['email']}> ({created['tool']})"
    )
    return lines


def _how_it_ran(command: dict[str, Any]) -> str:
    """Where and how the command ran; an imported record knows less than an observed one."""
    exit_code = command.get("exit_code")
    duration = command.get("duration_s")
    facts = [
        f"in {command['cwd']}",
        str(command["status"]),
        f"exit {exit_code}" if exit_code is not None else _exit_unknown(command),
    ]
    if duration is not None:
        facts.append(f"{duration} s")
    if command.get("arguments_unknown"):
        facts.append("arguments not recorded")
    return "; ".join([facts[0], ", ".join(facts[1:])])


def _hidden(redacted: list[dict[str, Any]]) -> str:
    """What the record left out of the command as secret-looking, and how a rerun gets it."""
    said = [
        f"{r['name']} (a rerun reads ${r['variable']})"
        if r.get("variable")
        else f"credentials of {r['name']} (not kept)"
        for r in redacted
    ]
    return ", ".join(said)


def _exit_unknown(command: dict[str, Any]) -> str:
    if command.get("status") == "lost":
        return "exit code unknown (lineage was killed)"
    return "exit code unknown (imported)"


def _run_lines(record: dict[str, Any]) -> list[str]:
    run = record.get("run")
    if not run and record.get("wandb"):
        return wandb_lines(record["wandb"], record.get("code") or {})
    if not run and (record.get("command") or {}).get("status") == "lost":
        return [
            f"{'run':<10}local-{record['session']}  LOST: lineage was killed while the "
            "command ran, so its runs were never read back",
            f"{'':<10}MLflow runs it started (tag lineage.session={record['session']}) may "
            "still say RUNNING",
        ]
    if not run:
        return [f"{'run':<10}local-{record['session']}  (the command started no MLflow run)"]
    lines = [
        f"{'run':<10}{run['run_id']}  {run.get('name') or ''}  {run['status']}  "
        f"experiment {run.get('experiment_name') or run['experiment_id']}",
        f"{'':<10}tracking {run['tracking_uri']}",
    ]
    if run.get("parent_run_id"):
        lines.append(f"{'':<10}nested in run {run['parent_run_id']}")
    return lines


def wandb_lines(wandb: dict[str, Any], code: dict[str, Any]) -> list[str]:
    """A W&B run: its path, name, group, job type, sweep, tags, where its directory is, the
    commit W&B read (when it differs from lineage's), and its artifacts with their files."""
    entity = wandb.get("entity")
    head = f"{entity}/{wandb['project']}" if entity else str(wandb["project"])
    facts = [
        f"{'run':<10}W&B {head}/{wandb['run_id']}  {wandb.get('name') or ''}  "
        f"{wandb_status(wandb)}  {'offline' if wandb.get('offline') else 'online'}"
    ]
    about = [
        f"{label} {wandb[key]}"
        for label, key in (("group", "group"), ("job type", "job_type"), ("sweep", "sweep_id"))
        if wandb.get(key)
    ]
    if wandb.get("tags"):
        about.append(f"tags {', '.join(wandb['tags'])}")
    if about:
        facts.append(f"{'':<10}{'; '.join(about)}")
    facts.append(f"{'':<10}directory {wandb['directory']}")
    commit = wandb.get("git_commit")
    if commit and commit not in (code.get("commit"), code.get("snapshot")):
        facts.append(f"{'':<10}W&B read commit {commit}")
    for artifact in wandb.get("artifacts") or ():
        way = "used" if artifact.get("used") else "logged"
        aliases = f" ({', '.join(artifact['aliases'])})" if artifact.get("aliases") else ""
        facts.append(
            f"{'artifact':<10}{way} {artifact['name']}{aliases}  type {artifact['type']}"
            + (f"  digest {artifact['digest']}" if artifact.get("digest") else "")
        )
        facts += [
            f"{'':<12}{f['path']}  {f['md5']}"
            + (f"  {human_size(f['size'])}" if f.get("size") is not None else "")
            for f in artifact.get("files") or ()
        ]
    return facts


def _code_lines(code: dict[str, Any], attached: Sequence[Attached] = ()) -> list[str]:
    dirty = code.get("dirty")
    state = "dirty" if dirty else ("clean" if dirty is False else "dirtiness unknown")
    branch = f" ({code['branch']})" if code.get("branch") else ""
    lines = [f"{'code':<10}{code.get('commit') or '(no commit yet)'}{branch}  {state}"]
    if code.get("snapshot"):
        changed = code.get("changed") or []
        shown = ", ".join(changed[:5]) + (f", +{len(changed) - 5} more" if len(changed) > 5 else "")
        lines.append(f"{'':<10}snapshot {code['snapshot']} of the exact tree; changed: {shown}")
    for commit in attached:
        subject = f'"{commit.subject}"' if commit.subject is not None else "(not in this clone)"
        lines.append(f"{'':<10}committed later as {commit.sha}  {subject}")
    return lines


def render_text(shown: Shown) -> str:
    node = shown.node
    title = {"model": "model", "run": "run", "commit": "commit", "data": "data"}[node.kind]
    head = f"{title} {node.ident}"
    if node.resolved_from and not node.versions:  # a bare data path: the note says it
        head += f"   ({node.resolved_from})"
    if node.kind == "commit" and shown.commit_subject is not None:
        head += f'   "{shown.commit_subject}"'
    if node.kind == "data" and node.path:
        head += f"   at {node.path}"
    note = path_note(node)
    lines = [head, *([note] if note else [])]
    if shown.wandb_model is not None:
        lines += _wandb_model_lines(shown.wandb_model)
    lines.append("")
    if shown.record and shown.record_id:
        lines += record_lines(shown.record, shown.record_id, shown.made_by, shown.attached)
    elif node.kind == "model":
        lines.append("no record of the run that produced it")
    if node.kind in ("commit", "data"):
        listed = _distinct(shown.neighbours)
    elif node.kind == "run":
        # The rest is in the record, but for versions registered after it (a later record).
        in_record = {
            f"{m['name']}/{m['version']}" for m in (shown.record or {}).get("models") or []
        }
        listed = [
            n
            for n in _distinct(shown.neighbours)
            if n.rel == "parent"
            or (n.rel == "produced" and n.direction == "downstream" and n.ident not in in_record)
        ]
        lines += _rerun_lines(shown)
    else:
        listed = []
    if listed or node.kind in ("commit", "data"):
        if lines[-1]:  # one blank line after the record, not a second one after the title
            lines.append("")
        if not listed:
            lines.append("no runs recorded with it")
        for n in listed:
            lines.append(_neighbour_line(n))
            if n.rel == "snapshot" and n.direction == "downstream":
                lines += [
                    _neighbour_line(r) for r in _distinct(shown.via_snapshots) if r.via == n.ident
                ]
    return "\n".join(lines).rstrip() + "\n"


def _wandb_model_lines(m: WandbModel) -> list[str]:
    """A W&B model artifact version: W&B's name for it, and its aliases now as far as
    lineage's records say (W&B's server, which lineage does not ask, may have moved them)."""
    held = ", ".join(m.aliases) if m.aliases else "none"
    return [
        f"W&B model {m.path} (type {m.type}), digest {m.digest}",
        f"aliases now: {held} (as the runs lineage recorded gave them; the W&B server may differ)",
    ]


def _rerun_lines(shown: Shown) -> list[str]:
    """A rerun says what it reproduced; a run lists its reproductions, newest first."""
    lines = []
    if shown.reproduces:
        lines.append(f"{'rerun of':<10}{shown.reproduces} by `lineage reproduce`")
    if shown.reproductions:
        lines.append("reproduced by `lineage reproduce`, newest first:")
        for r in shown.reproductions:
            rerun = f"rerun {r.rerun}" if r.rerun else "no rerun recorded"
            lines.append(f"{'':<10}{r.created}  {r.verdict:<10} {rerun}")
    return lines


def _distinct(neighbours: Iterable[Neighbour]) -> list[Neighbour]:
    """One line per neighbour: several records saying the same edge (a grid search's runs all
    name one snapshot) print once, observed if any of them observed it."""
    found: dict[tuple[str, str, str, str, str | None, str | None], Neighbour] = {}
    for n in neighbours:
        key = (n.direction, n.rel, n.kind, n.ident, n.path, n.via)
        if key not in found or n.evidence == "observed":
            found[key] = n
    return list(found.values())


def _neighbour_line(n: Neighbour) -> str:
    arrow = "<-" if n.direction == "upstream" else "->"
    where = f"  {n.path}" if n.path else ""
    if n.via:
        where += f"  via snapshot {n.via[:10]}"
    return f"{arrow} {n.rel:<10} {n.kind} {n.ident}{where}  ({n.evidence})"

"""`lineage export prov` and `lineage export openlineage` on a real trained project
(tests/scenarios.py), checked against the records as git holds them, and the paths that must
never import the exporters' libraries."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lineage.adapters import git
from lineage.adapters.store import Store
from lineage.context import Context
from lineage.records import (
    Code,
    MlflowRun,
    ModelVersion,
    Provenance,
    Registration,
    ReproductionRecord,
    RunRecord,
    encode,
)
from tests.conftest import sh
from tests.exports import prov_relations, read_prov, relations_in, spec_problems, stored_records
from tests.helpers import lineage
from tests.layouts import get_started
from tests.scenarios import Trained
from tests.terminal import in_terminal
from tests.test_cli import imported_modules

EXPORTERS = {"prov", "openlineage", "rdflib", "networkx"}

# -- PROV -------------------------------------------------------------------------------------


def test_prov_in_every_format_holds_every_relation_the_records_imply(
    trained: Trained, tmp_path: Path
) -> None:
    records = stored_records(trained.repo)
    expected = prov_relations(records)
    runs = trained.runs
    assert ("wasGeneratedBy", f"data:{trained.prepared}", f"run:{runs['R3']}") in expected
    assert ("used", f"run:{runs['R4']}", f"data:{trained.prepared}") in expected

    proc = lineage(trained.repo, "export", "prov", env=trained.env)
    assert proc.stderr == ""
    assert relations_in(read_prov(proc.stdout, "json")) == expected

    out = tmp_path / "lineage.ttl"
    proc = lineage(
        trained.repo, "export", "prov", "--format", "turtle", "-o", str(out), env=trained.env
    )
    back = read_prov(out.read_text(), "turtle")
    assert relations_in(back) == expected
    entities = sum(
        1 for r in back.get_records() if r.is_element() and r.get_type().localpart == "Entity"
    )
    assert proc.stderr == (
        f"lineage: wrote 5 runs ({entities} entities, 5 activities, 2 agents) to {out} "
        "(prov turtle)\n"
    )

    provn = lineage(trained.repo, "export", "prov", "--format", "provn", env=trained.env).stdout
    assert provn.startswith("document\n") and provn.endswith("endDocument\n")
    assert f"  used(run:{runs['R4']}, data:{trained.prepared}, " in provn
    assert (
        "  agent(agent:ada@example.com, [prov:type='prov:Person', prov:label=\"Ada Lovelace\"])"
        in provn
    )


def test_export_to_an_unwritable_file_is_refused_before_any_work(trained: Trained) -> None:
    proc = lineage(
        trained.repo, "export", "prov", "-o", "train.py/x.json", check=False, env=trained.env
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.endswith(
        "Error: Invalid value for -o: cannot write train.py/x.json: train.py is not a "
        "directory; choose another path (nothing was done)\n"
    )


# -- what never imports the exporters -----------------------------------------------------------


def test_help_log_and_show_never_import_the_exporters_libraries(trained: Trained) -> None:
    run = trained.runs["R4"]
    for args in (
        ["--help"],
        ["export", "--help"],
        ["export", "prov", "--help"],
        ["export", "openlineage", "--help"],
        ["log"],
        ["show", run],
        ["show", "churn/4"],
        ["graph", run, "--format", "json", "--no-aliases"],
    ):
        mods = imported_modules(trained.repo, *args, env=trained.env)
        assert "lineage" in mods and not mods & EXPORTERS, (args, mods & EXPORTERS)


def test_the_hooks_modules_import_none_of_the_exporters_libraries(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import lineage.hooks.dispatch, lineage.hooks.pre_commit, lineage.hooks.post_commit\n"
        "import lineage.hooks.install, lineage.commands.sync\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(EXPORTERS)!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout == "[]\n"


# -- OpenLineage -----------------------------------------------------------------------------


class Receiver:
    """A lineage server's edge: an HTTP server on 127.0.0.1 that keeps what it is sent and
    answers ``status``."""

    def __init__(self) -> None:
        import http.server
        import threading

        received = self.received = []  # type: list[tuple[str, dict[str, str], dict]]
        self.status = 201
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if owner.status < 300:
                    received.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_openlineage_over_http_valid_deduplicated_and_since_last(
    trained: Trained, tmp_path: Path
) -> None:
    repo = Path(shutil.copytree(trained.repo, tmp_path / "repo", symlinks=True))  # the cursor
    sh(
        "git",
        "remote",
        "add",
        "origin",
        "https://ada:s3cret@git.example.com/team/churn.git",
        cwd=repo,
    )
    env = {**trained.env, "OPENLINEAGE_API_KEY": "key-123"}
    receiver = Receiver()
    try:
        proc = lineage(repo, "export", "openlineage", "--url", receiver.url, env=env)
        assert proc.stderr == (
            f"lineage: sent 10 OpenLineage events for 5 runs to {receiver.url}/api/v1/lineage\n"
        )
        sent = [body for _, _, body in receiver.received]
        assert {path for path, _, _ in receiver.received} == {"/api/v1/lineage"}
        assert {h["Authorization"] for _, h, _ in receiver.received} == {"Bearer key-123"}
        for event in sent:
            assert spec_problems(event) == [], event
        assert "s3cret" not in json.dumps(sent)
        code = sent[0]["job"]["facets"]["sourceCodeLocation"]
        assert code["url"] == "https://git.example.com/team/churn.git"
        assert {e["job"]["namespace"] for e in sent} == {"churn"}
        r3 = [e for e in sent if e["run"]["facets"]["lineage"]["runKey"] == trained.runs["R3"]]
        assert r3[0]["job"]["name"] == "dvc:prepare+train"
        assert [
            (d["name"], d["facets"]["version"]["datasetVersion"]) for d in r3[1]["outputs"]
        ] == [
            ("data/prepared", trained.prepared),
            ("model.txt", r3[1]["outputs"][1]["facets"]["version"]["datasetVersion"]),
            ("churn", "3"),
        ]

        # the same records give the same events; --since-last sends only what is new
        out = tmp_path / "events.jsonl"
        lineage(repo, "export", "openlineage", "--file", str(out), env=env)
        assert [json.loads(line) for line in out.read_text().splitlines()] == sent
        proc = lineage(
            repo, "export", "openlineage", "--url", receiver.url, "--since-last", env=env
        )
        assert proc.stderr.startswith("lineage: sent 0 OpenLineage events for 0 runs (new since")
        lineage(repo, "run", "--", "true", env=env)
        receiver.status = 400  # a refusal: nothing counts as sent, the cursor stays
        proc = lineage(
            repo,
            "export",
            "openlineage",
            "--url",
            receiver.url,
            "--since-last",
            check=False,
            env=env,
        )
        assert proc.returncode == 1
        assert proc.stderr == (
            f"lineage: error: could not send OpenLineage events to {receiver.url}/api/v1/lineage "
            "(HTTP 400 Bad Request); 0 events were sent before that, and the cursor was not "
            "moved: check the server, --url and --endpoint, then run the same command again\n"
        )
        receiver.status, before = 201, len(receiver.received)
        lineage(repo, "export", "openlineage", "--url", receiver.url, "--since-last", env=env)
        new = [body for _, _, body in receiver.received[before:]]
        assert [(e["eventType"], e["job"]["name"]) for e in new] == [
            ("START", "true"),
            ("COMPLETE", "true"),
        ]
        assert "key-123" not in (repo / ".git" / "lineage" / "openlineage-cursors.json").read_text()
    finally:
        receiver.close()


def test_openlineage_refuses_a_missing_target_and_credentials_in_the_url(
    trained: Trained,
) -> None:
    for args, says in (
        ([], "Error: give one of --url, --file and --console\n"),
        (
            ["--console", "--file", "x.jsonl"],
            "Error: give one of --url, --file and --console, not --file and --console\n",
        ),
        (
            ["--url", "https://u:pw@lineage.example.com"],
            "Error: --url must not hold credentials (they would land in shell history and "
            "process lists); put the API key in the environment variable --api-key-env names\n",
        ),
        (
            ["--url", "http://127.0.0.1:9", "--api-key-env", "NO_SUCH_KEY"],
            "Error: --api-key-env NO_SUCH_KEY: that environment variable is not set; export it "
            "with the server's API key first\n",
        ),
    ):
        proc = lineage(trained.repo, "export", "openlineage", *args, check=False, env=trained.env)
        assert proc.returncode == 2 and proc.stderr.endswith(says), (args, proc.stderr)


def test_exports_draw_their_bars_on_a_terminal_and_write_the_same_files(
    trained: Trained, tmp_path: Path
) -> None:
    """Both exports can take minutes on a large store: on a terminal each phase that counts
    draws a bar with its count (the delay 0, so five runs are enough); piped, none. The files
    are the same."""
    env = {**trained.env, "LINEAGE_PROGRESS_DELAY": "0"}
    argv = {
        "prov": ["export", "prov", "-o", "{}/lineage.json"],
        "openlineage": ["export", "openlineage", "--file", "{}/events.jsonl"],
    }
    bars = {
        "prov": ["reading records", "describing runs in PROV"],
        "openlineage": ["exporting runs"],
    }
    for name, args in argv.items():
        piped_dir, shown_dir = tmp_path / f"{name}-piped", tmp_path / f"{name}-shown"
        piped_dir.mkdir()
        shown_dir.mkdir()
        piped = lineage(trained.repo, *[a.format(piped_dir) for a in args], env=env)
        assert "\r" not in piped.stdout + piped.stderr
        shown = in_terminal(
            ["lineage", *[a.format(shown_dir) for a in args]], cwd=trained.repo, env=env
        )
        assert shown.code == 0
        for desc in bars[name]:
            drawn = shown.bars(desc)
            assert drawn and re.search(r" \d+/\d+ \[", drawn[-1]), (desc, shown.raw)
        (written,) = piped_dir.iterdir()
        assert (shown_dir / written.name).read_bytes() == written.read_bytes()


# -- OpenLineage at scale: pages of runs, the same events as the whole store ---------------


def _stored_run(n: int, *, evidence: str = "observed") -> RunRecord:
    """Run n: starts in an order neither its key's nor its insertion's (a few never say when),
    nested in run n + 1150 (most often on another page of the export)."""
    start = None if n % 500 == 7 else 10**12 + (n * 7919 % 2300) * 1000
    return RunRecord(
        evidence=evidence,
        session=f"s{n}-{evidence}",
        code=Code(commit="c" * 40, dirty=False),
        created=Provenance(at="2026-01-01T00:00:00.000Z", name="A", email="a@x", tool="t"),
        run=MlflowRun(
            f"{n:032x}",
            "sqlite:///x",
            "1",
            "e",
            None,
            "FINISHED",
            start,
            None if start is None else start + 1,
            parent_run_id=f"{n + 1150:032x}" if n <= 1150 else None,
            metrics={"acc": n / 2300} if evidence == "observed" else {},
        ),
        models=(ModelVersion("churn", n),) if n % 100 == 0 else (),
    )


def _registration(n: int, version: int) -> Registration:
    return Registration(
        "observed",
        Provenance(at="2026-01-02T00:00:00.000Z", name="A", email="a@x", tool="t"),
        f"{n:032x}",
        ModelVersion("late", version),
        "2026-01-02T00:00:00.000Z",
        "sqlite:///x",
    )


def _reference(repo: Path, run_keys: set[str] | None = None) -> list[dict]:
    """The events of the whole store read at once, as the export built them before it paged."""
    from lineage.commands.export_openlineage import names_of
    from lineage.export_source import read_records
    from lineage.openlineage_export import to_events, to_json

    with Context(repo, dict(os.environ)) as ctx:
        return [
            json.loads(to_json(e))
            for e in to_events(read_records(ctx), names_of(ctx, None), run_keys)
        ]


def test_openlineage_pages_through_the_runs_and_sends_what_the_whole_store_says(
    git_repo: Path,
) -> None:
    """2,300 runs, three pages: parents on other pages, later registrations, an inferred
    record beside an observed one, a reproduction; the export sends the events the whole store
    read at once gives, in the same order. --since-last appends only the runs new records
    touch. A killed export leaves the file it was replacing as it was."""
    store = Store(git.discover(git_repo))
    records = [encode(_stored_run(n)) for n in range(1, 2301)]
    records += [encode(_stored_run(n, evidence="inferred")) for n in (5, 1500)]
    records += [encode(_registration(n, v)) for n, v in ((3, 1), (1200, 2), (2299, 3), (3, 4))]
    reproduced = ReproductionRecord(
        evidence="observed",
        created=Provenance(at="2026-01-03T00:00:00.000Z", name="A", email="a@x", tool="t"),
        original_run=f"{4:032x}",
        original_record=records[3][0],
        code="c" * 40,
        command=("python", "train.py"),
        verdict="bit-identical",
        rtol=0.0,
        atol=0.0,
    )
    records.append(encode(reproduced))
    store.append(records)
    out = git_repo.parent / "events.jsonl"
    lineage(git_repo, "export", "openlineage", "--file", str(out))
    sent = [json.loads(line) for line in out.read_text().splitlines()]
    assert sent == _reference(git_repo)
    assert len(sent) == 4600
    outputs = {
        e["run"]["facets"]["lineage"]["runKey"]: [d["name"] for d in e["outputs"]]
        for e in sent
        if e["eventType"] == "COMPLETE"
    }
    assert outputs[f"{3:032x}"] == ["late", "late"] and outputs[f"{1200:032x}"] == ["churn", "late"]
    facets = {e["run"]["facets"]["lineage"]["runKey"]: e["run"]["facets"]["lineage"] for e in sent}
    assert facets[f"{4:032x}"]["reproductions"] == [
        {"record": encode(reproduced)[0], "verdict": "bit-identical"}
    ]
    assert facets[f"{5:032x}"]["evidence"] == "observed"
    parent = sent[0]["run"]["facets"].get("parent")  # the first run out has no start
    assert sent[0]["eventTime"] == "1970-01-01T00:00:00+00:00" and parent is not None
    assert parent["run"]["runId"] == next(
        e["run"]["runId"] for e in sent if e["run"]["facets"]["lineage"]["runKey"] == f"{1157:032x}"
    )
    console = lineage(git_repo, "export", "openlineage", "--console").stdout.splitlines()
    assert [json.loads(line) for line in console] == sent

    garbage = ("f" * 64, b"not a record")  # pulled from a careless clone: skipped, said
    store.append([encode(_registration(1000, 5)), encode(_stored_run(2301)), garbage])
    before = out.read_text()
    proc = lineage(git_repo, "export", "openlineage", "--file", str(out), "--since-last")
    warning, done = proc.stderr.splitlines()
    assert warning.startswith("lineage: warning: record ffffffffffff in refs/lineage/records")
    assert done.startswith("lineage: wrote 4 OpenLineage events for 2 runs (new since")
    assert out.read_text().startswith(before)
    whole = out.read_text()
    added = [json.loads(line) for line in whole[len(before) :].splitlines()]
    assert added == _reference(git_repo, {f"{1000:032x}", f"{2301:032x}"})

    with subprocess.Popen(
        ["lineage", "export", "openlineage", "--file", str(out)],
        cwd=git_repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as export:
        temporary = out.with_name(f".{out.name}.lineage-{export.pid}.tmp")
        while export.poll() is None and not temporary.exists():
            time.sleep(0.01)
        export.kill()
    assert temporary.exists()  # killed while it wrote, beside the file
    assert out.read_text() == whole
    lineage(git_repo, "export", "openlineage", "--file", str(out))
    assert not temporary.exists()  # the next write of the file took it away
    assert [json.loads(line) for line in out.read_text().splitlines()] == _reference(git_repo)


def test_both_exports_of_a_dvc_get_started_pipeline_run(tmp_path: Path) -> None:
    """iterative/example-get-started's layout (tests/layouts/get_started.py): one `dvc repro`
    under `lineage run`, registering a model. The OpenLineage events hold the spec's fields,
    name the job after the DVC stages, take data/data.tsv at its DVC md5 as input and the model
    version as output; PROV uses the same data entity. Written to files, which is the path that
    replaces a file whole."""
    project = get_started.build(tmp_path)
    project.lineage("run", "--", "dvc", "repro", "-q", MODEL="churn")
    md5 = (project.repo / "data" / "data.tsv.dvc").read_text().split("md5: ")[1][:32]
    run = project.newest_run()

    events = tmp_path / "events.jsonl"
    project.lineage("export", "openlineage", "--file", str(events))
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    assert [e["eventType"] for e in sent] == ["START", "COMPLETE"]
    for event in sent:
        assert spec_problems(event) == [], event
    start, done = sent
    assert start["job"]["name"].startswith("dvc:prepare+featurize")
    assert start["job"]["facets"]["jobType"]["jobType"] == "DVC_STAGE"
    inputs = {d["name"]: d["facets"]["version"]["datasetVersion"] for d in start["inputs"]}
    assert inputs["data/data.tsv"] == md5
    assert ("churn", "1") in {
        (d["name"], d["facets"]["version"]["datasetVersion"]) for d in done["outputs"]
    }

    prov = tmp_path / "lineage.json"
    project.lineage("export", "prov", "-o", str(prov))
    relations = relations_in(read_prov(prov.read_text(), "json"))
    assert ("used", f"run:{run}", f"data:{md5}") in relations

"""`lineage graph` on a real trained project (tests/scenarios.py): directions, --as-of, files
from the real `dot`, and what happens without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.helpers import lineage
from tests.scenarios import Trained
from tests.test_cli import HEAVY

# -- the command, on a real project ------------------------------------------------------------


def graph_json(trained: Trained, *args: str) -> dict:
    out = lineage(trained.repo, "graph", *args, "--format", "json", env=trained.env).stdout
    return json.loads(out)


def node_ids(doc: dict) -> set[str]:
    return {n["id"] for n in doc["nodes"]}


def test_graph_of_data_goes_downstream_and_as_of_leaves_out_later_records(
    trained: Trained,
) -> None:
    runs, v1 = trained.runs, trained.raw["v1"]
    now = graph_json(trained, f"data/raw.csv@{v1[:8]}")
    assert now["graph"]["direction"] == "downstream"
    assert node_ids(now) == {
        f"data:{v1}",
        f"run:{runs['R1']}",
        f"run:{runs['R2']}",
        "model:churn/1",
        "model:churn/2",
    }
    champion = next(n for n in now["nodes"] if n["id"] == "model:churn/2")
    assert champion["aliases"] == ["champion"] and champion["label"] == ["churn v2", "@champion"]

    then = graph_json(trained, v1, "--as-of", trained.created["R1"], "--no-aliases")
    assert node_ids(then) == {f"data:{v1}", f"run:{runs['R1']}", "model:churn/1"}
    # A commit means its committer date: "More data" came after R1 and R2 (and R5, elsewhere).
    later = graph_json(trained, v1, "--as-of", trained.commits["More data"][:10], "--no-aliases")
    assert node_ids(later) == node_ids(now)

    proc = lineage(
        trained.repo, "graph", "churn/3", "--as-of", "main~1", check=False, env=trained.env
    )  # main~1 is "More data": R3 trained churn/3 after it
    assert proc.returncode == 1
    assert proc.stderr == (
        "lineage: error: nothing about churn/3 was recorded as of main~1; drop --as-of or give "
        "a later commit or date\n"
    )


def test_a_bare_data_path_draws_its_latest_version_and_says_which_on_stderr(
    trained: Trained,
) -> None:
    raw = trained.raw  # first recorded: v1 (R1), v3 (R5, on the side branch), v2 (R3)
    proc = lineage(
        trained.repo, "graph", "data/raw.csv", "--format", "json", "--no-aliases", env=trained.env
    )
    assert proc.stderr == (
        f"lineage: data/raw.csv: the latest of the 3 versions recorded, {raw['v2'][:10]}; name "
        f"another as data/raw.csv@MD5 (older: {raw['v3'][:10]}, {raw['v1'][:10]})\n"
    )
    doc = json.loads(proc.stdout)
    assert doc["graph"]["roots"] == [f"data:{raw['v2']}"]
    assert doc == graph_json(trained, f"data/raw.csv@{raw['v2'][:8]}", "--no-aliases")

    # As of R2's record (inclusive), v1 was the only version: v3 came with R5.
    as_of = trained.created["R2"]
    proc = lineage(
        trained.repo,
        "-C",
        "data",
        "graph",
        "raw.csv",
        "--as-of",
        as_of,
        "--format",
        "json",
        "--no-aliases",
        env=trained.env,
    )
    assert proc.stderr == (
        f"lineage: data/raw.csv: the only version recorded as of {as_of}, {raw['v1'][:10]}\n"
    )
    assert node_ids(json.loads(proc.stdout)) == {
        f"data:{raw['v1']}",
        f"run:{trained.runs['R1']}",
        f"run:{trained.runs['R2']}",
        "model:churn/1",
        "model:churn/2",
    }


def test_graph_of_a_model_goes_upstream_to_code_and_data(trained: Trained) -> None:
    doc = graph_json(trained, "churn@staging")  # R4 read raw v2 and what R3 prepared from it
    runs = trained.runs
    assert doc["graph"]["direction"] == "upstream"
    assert node_ids(doc) == {
        f"commit:{trained.commits['Ran pipeline']}",
        f"commit:{trained.commits['More data']}",
        f"data:{trained.raw['v2']}",
        f"data:{trained.prepared}",
        f"run:{runs['R3']}",
        f"run:{runs['R4']}",
        "model:churn/4",
    }
    shallow = graph_json(trained, "churn/4", "--depth", "1", "--no-aliases")
    assert node_ids(shallow) == {f"run:{runs['R4']}", "model:churn/4"}
    name = next(n["name"] for n in doc["nodes"] if n["id"] == f"run:{runs['R4']}")
    text = lineage(trained.repo, "graph", "churn/4", "--no-aliases", env=trained.env).stdout
    assert text.splitlines()[:2] == [
        "model churn v4",
        f"└── run {name}  {runs['R4'][:12]} · score=0.7123",
    ]


def test_svg_and_png_files_come_from_dot_and_binary_needs_o(
    trained: Trained, tmp_path: Path
) -> None:
    svg = tmp_path / "churn.svg"
    proc = lineage(trained.repo, "graph", "churn/4", "-o", str(svg), "--no-aliases")
    assert proc.stderr == f"lineage: wrote 7 nodes and 7 edges to {svg} (svg)\n"
    texts = {t.text for t in ET.parse(svg).iter("{http://www.w3.org/2000/svg}text")}
    for node in graph_json(trained, "churn/4", "--no-aliases")["nodes"]:
        assert set(node["label"]) <= texts
    png = tmp_path / "churn.png"
    lineage(trained.repo, "graph", "churn/4", "-o", str(png), "--no-aliases")
    assert png.read_bytes().startswith(b"\x89PNG\r\n")

    proc = lineage(trained.repo, "graph", "churn/4", "--format", "png", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--format png is binary; write it to a file with -o FILE (e.g. -o graph.png)" in (
        proc.stderr
    )
    proc = lineage(trained.repo, "graph", "churn/4", "-o", "x.jpeg", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith(
        "lineage: error: cannot tell the format from the name 'x.jpeg'; give --format"
    )


def test_graphml_and_gexf_files_read_back_in_networkx_with_kinds_labels_and_edges(
    trained: Trained, tmp_path: Path
) -> None:
    import networkx

    doc = graph_json(trained, "churn/4", "--no-aliases")
    nodes = {n["id"]: n for n in doc["nodes"]}
    edges = {(e["source"], e["target"]): e for e in doc["edges"]}
    for fmt, read in (("graphml", networkx.read_graphml), ("gexf", networkx.read_gexf)):
        path = tmp_path / f"churn.{fmt}"
        proc = lineage(trained.repo, "graph", "churn/4", "-o", str(path), "--no-aliases")
        assert proc.stderr == f"lineage: wrote 7 nodes and 7 edges to {path} ({fmt})\n"
        back = read(path)
        assert back.is_directed() and set(back.nodes) == set(nodes), fmt
        for key, node in back.nodes(data=True):
            assert node["kind"] == nodes[key]["kind"], (fmt, key)
            assert node["label"] == "\n".join(nodes[key]["label"]), (fmt, key)
        assert {(s, d): (e["rel"], e["evidence"]) for s, d, e in back.edges(data=True)} == {
            pair: (e["rel"], e["evidence"]) for pair, e in edges.items()
        }
        run = back.nodes[f"run:{trained.runs['R4']}"]
        assert run["run"] == trained.runs["R4"] and run["status"] == "FINISHED"
        assert back.nodes[f"data:{trained.raw['v2']}"]["md5"] == trained.raw["v2"]
        assert back.nodes["model:churn/4"]["version"] in (4, "4")
    stdout = lineage(trained.repo, "graph", "churn/4", "--format", "graphml", "--no-aliases")
    assert stdout.stdout == (tmp_path / "churn.graphml").read_text()


def test_without_dot_pictures_fail_in_one_line_and_other_formats_work(
    trained: Trained, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"  # git, but no Graphviz
    bin_dir.mkdir()
    for tool in ("git",):
        (bin_dir / tool).symlink_to(Path("/usr/bin", tool).resolve())
    venv_bin = Path(os.environ["PATH"].split(os.pathsep)[0])
    assert not (venv_bin / "dot").exists()
    env = {**trained.env, "PATH": f"{venv_bin}{os.pathsep}{bin_dir}"}
    for args in (["-o", str(tmp_path / "g.svg")], ["--format", "pdf", "-o", "g.pdf"]):
        proc = lineage(trained.repo, "graph", "churn/4", *args, check=False, env=env)
        fmt = "svg" if args[0] == "-o" else "pdf"
        assert proc.returncode == 1
        assert proc.stderr == (
            f"lineage: error: --format {fmt} needs Graphviz's `dot`, which is not on PATH; "
            "install Graphviz (apt-get install graphviz, brew install graphviz) or use "
            "--format dot, mermaid, json or text\n"
        )
    assert not (tmp_path / "g.svg").exists()
    starts = {"dot": "digraph lineage {", "mermaid": "flowchart LR", "json": "{", "text": "model"}
    for fmt, start in starts.items():
        proc = lineage(trained.repo, "graph", "churn/4", "--format", fmt, "--no-aliases", env=env)
        assert proc.stdout.startswith(start) and proc.stderr == ""


def test_help_and_answers_without_aliases_import_no_heavy_module(trained: Trained) -> None:
    for args, reached in (
        (["graph", "--help"], "lineage.cli"),
        (["impact", "--help"], "lineage.cli"),
        (["graph", trained.runs["R1"], "--format", "dot"], "lineage.render"),  # no model
        (["graph", trained.runs["R1"], "--format", "json"], "lineage.render"),
        (["impact", trained.raw["v1"], "--no-aliases"], "lineage.commands.impact"),
    ):
        mods = imported_modules(trained.repo, *args)
        assert reached in mods and not {m.split(".")[0] for m in mods} & set(HEAVY), args


def imported_modules(cwd: Path, *args: str) -> set[str]:
    """Every module `lineage ARGS` imported (tests/test_cli.py's, with full names)."""
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['lineage', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('lineage', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stderr.splitlines())


# -- graphs too large to lay out ----------------------------------------------------------------


def test_a_graph_too_large_to_lay_out_is_refused_at_once_and_other_formats_still_write_it(
    git_repo: Path, tmp_path: Path
) -> None:
    """One data version read by 180 runs, each writing data and registering a version: 541
    nodes, 540 edges. A drawing past --max-nodes is refused before the walk is done and before
    Graphviz starts (a commit under 70,000 runs would lay out for hours); JSON has no limit;
    Mermaid warns past its renderers' 500 edges."""
    from lineage.adapters import git
    from lineage.adapters.store import Store
    from lineage.records import Code, Data, MlflowRun, ModelVersion, Provenance, RunRecord, encode

    shared = "5" * 32
    runs = [
        RunRecord(
            "observed",
            f"s{n}",
            Code("c" * 40, False),
            Provenance(at="2026-01-01T00:00:00.000Z", name="A", email="a@x", tool="t"),
            MlflowRun(f"{n:032x}", "sqlite:///x", "1", "e", None, "FINISHED", n, n + 1),
            inputs=(Data("data/raw.csv", shared),),
            outputs=(Data("data/features.csv", f"{n:032x}"),),
            models=(ModelVersion("churn", n),),
        )
        for n in range(1, 181)
    ]
    Store(git.discover(git_repo)).append([encode(r) for r in runs])

    svg = tmp_path / "big.svg"
    proc = lineage(git_repo, "graph", shared, "-o", str(svg), "--max-nodes", "500", check=False)
    assert proc.returncode == 1 and not svg.exists()
    assert proc.stderr == (
        f"lineage: error: the graph around {shared} has more than 500 nodes, more than Graphviz "
        "lays out in reasonable time or anyone can read; narrow it with --depth or a narrower "
        "REF (a model or run rather than a commit or data), write it for a graph tool with "
        "--format json, graphml or gexf, or raise --max-nodes\n"
    )
    doc = json.loads(lineage(git_repo, "graph", shared, "--format", "json", "--no-aliases").stdout)
    assert (len(doc["nodes"]), len(doc["edges"])) == (541, 540)

    proc = lineage(
        git_repo,
        "graph",
        shared,
        "--depth",
        "1",
        "-o",
        str(svg),
        "--max-nodes",
        "200",
        "--no-aliases",
    )
    assert proc.stderr == f"lineage: wrote 181 nodes and 180 edges to {svg} (svg)\n"

    proc = lineage(git_repo, "graph", shared, "--format", "mermaid", "--no-aliases")
    assert proc.stdout.startswith("flowchart") and proc.stdout.count("-->") == 540
    assert proc.stderr == (
        "lineage: warning: the graph has 540 edges; Mermaid draws at most 500 by default (its "
        "maxEdges setting), so GitHub and most viewers will refuse it: narrow it with --depth, "
        "or raise maxEdges where you render it\n"
    )

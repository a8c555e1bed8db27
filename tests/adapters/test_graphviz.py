"""lineage.adapters.graphviz: the real `dot` draws what lineage.render writes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lineage import render
from lineage.adapters import graphviz
from tests.test_render import PKL_A, PKL_B, SMALL


def test_svg_from_the_real_dot_parses_and_shows_every_label() -> None:
    svg = graphviz.render(render.to_dot(SMALL), "svg")
    root = ET.fromstring(svg)
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    boxed = {f"data:{PKL_A}", f"data:{PKL_B}"}  # two versions of one path: in a box
    for node in SMALL.nodes:
        for line in render.label(node, grouped=node.key in boxed):
            assert line in texts, (line, texts)
    assert {"models/model.pkl", "≠ differs"} <= texts  # the box's and the rerun edge's labels


def test_png_is_drawn_at_a_readable_resolution() -> None:
    png = graphviz.render(render.to_dot(SMALL), "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(png[16:20], "big")  # IHDR
    assert width > 1000  # 144 dpi, not dot's blurry 96


def test_dot_refusing_the_source_is_one_sentence_naming_what_to_try() -> None:
    with pytest.raises(graphviz.GraphvizFailedError) as caught:
        graphviz.render("digraph { a -> }", "svg")
    assert str(caught.value).startswith("Graphviz's `dot -Tsvg` failed (")
    assert str(caught.value).endswith(
        "); write the DOT with --format dot and run `dot` on it to see more"
    )


def test_without_dot_on_path_the_error_names_the_format_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without Graphviz
    with pytest.raises(graphviz.GraphvizMissingError, match=r"^--format pdf needs Graphviz's"):
        graphviz.render(render.to_dot(SMALL), "pdf")

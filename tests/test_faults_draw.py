"""Hostile labels and bad options for drawing: every user string is drawn as the same text.

Each label is rendered by the real `dot` to SVG and read back: the text must be
there (spaces may come back as no-break spaces, which is how `dot` keeps them),
`dot` must not fail, and no file may be read or linked.
"""

import os
import stat
import subprocess
import xml.etree.ElementTree as ET

import graphviz
import pytest

from autograd_core import draw
from autograd_core.draw import GraphvizError, render_svg, to_digraph
from autograd_core.engine import Value
from autograd_core.explain import draw_explained

SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"

NASTY = [
    'a{b}|c<d> "q"',
    "a\\.b",  # backslash before the dot: the cluster title used to end in a backslash
    "x\\",  # trailing backslash
    "\\",
    "\\\\.x",
    'x"\\',
    "\\N \\G \\E \\l \\n",  # graphviz escape sequences, drawn literally
    "<b>bold?</b>",
    "<<b>html?</b>>",
    "{a|b}",
    "p | q",
    "  two  spaces ",
    "&lt;entity&amp; &#65;",
    "tab\there",
    "é ü 中 ∂",
    "layers.0.<x>.w",
    "a&b",
]


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [(t.text or "").replace("\xa0", " ") for t in root.iter(SVG_NS + "text")]


def titles(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    found = [t.text or "" for t in root.iter(SVG_NS + "title")]
    found += [a.get(XLINK.replace("href", "title"), "") for a in root.iter(SVG_NS + "a")]
    return found


def drawn(svg: str, text: str) -> bool:
    """`text` is one of the drawn strings (a record field may gain one trailing space)."""
    return any(t == text or t.rstrip(" ") == text.rstrip(" ") for t in texts(svg))


def graph_with(label: str) -> Value:
    x = Value(1.5, label)
    w = Value(2.0, "layers.0.w[0]")
    out = x * w + x
    out.label = label
    return out


@pytest.mark.parametrize("label", NASTY)
def test_value_labels_are_drawn_as_the_same_text(label):
    svg = render_svg(graph_with(label))
    assert drawn(svg, label.replace("\t", " "))  # a tab in a record field becomes a space
    assert not list(ET.fromstring(svg).iter(SVG_NS + "image"))


@pytest.mark.parametrize("label", NASTY)
def test_edge_labels_are_drawn_as_the_same_text(label):
    svg = render_svg(graph_with("x"), edge_label=lambda child, parent, local: label)
    assert drawn(svg, label)


@pytest.mark.parametrize("label", ["a\\.b", "<<b>t</b>>.w", 'q"\\.w', "sp ace\\.w", "x\x00y.w"])
def test_cluster_titles_and_tooltips_from_labels_are_drawn_as_the_same_text(label):
    module = label.rpartition(".")[0].replace("\x00", "\\x00")
    svg = render_svg(graph_with(label))
    assert drawn(svg, module)  # the cluster's title is the module path
    assert module in titles(svg)  # and its tooltip


def test_unprintable_characters_are_shown_as_python_escapes():
    # NUL made dot stop with a syntax error; a lone surrogate is not even UTF-8
    svg = render_svg(graph_with("nul\x00here\x07 sur\ud800"))
    assert drawn(svg, "nul\\x00here\\x07 sur\\ud800")


def test_a_line_break_in_a_label_is_a_line_break_in_the_drawing():
    svg = render_svg(graph_with("first\nsecond"))
    assert drawn(svg, "first") and drawn(svg, "second")


def test_an_html_label_with_img_never_reads_the_local_file(tmp_path):
    # A real image file: unescaped, dot reads it (for its size) and links it into the SVG.
    secret = tmp_path / "secret_picture.png"
    secret.write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4"
            "890000000d4944415478da63f8cfc0f01f0005000201a1d3a3e40000000049454e44ae426082"
        )
    )
    attack = f'<<TABLE><TR><TD><IMG SRC="{secret}"/></TD></TR></TABLE>>'
    # The attack is real: the same text as a raw label makes dot embed the file.
    raw = graphviz.Digraph()
    raw.node("n", label=attack)
    raw_svg = raw.pipe(format="svg").decode()
    assert any(
        img.get(XLINK) == str(secret) for img in ET.fromstring(raw_svg).iter(SVG_NS + "image")
    )

    for label in (attack + ".w", attack):
        svg = render_svg(graph_with(label), edge_label=lambda c, p, g: attack)
        root = ET.fromstring(svg)
        assert not list(root.iter(SVG_NS + "image"))
        assert all(str(secret) not in (el.get(XLINK) or "") for el in root.iter())
        assert drawn(svg, label)  # the label is shown as text, path and all
        assert drawn(svg, attack)  # the cluster title and the edge label too
    # the cluster name (the SVG group's title) cannot carry markup either
    assert all("<" not in t for t in titles(svg) if t.startswith("cluster_"))


def test_op_symbols_of_user_primitives_are_escaped():
    from autograd_core.engine import primitive

    @primitive("angle", symbol="<<b>f\\</b>>")
    def f(m, x):
        return x, 1.0

    svg = render_svg(f(Value(1.0, "x")))
    assert drawn(svg, "<<b>f\\</b>>")


def test_draw_explained_edge_labels_are_escaped():
    x = Value(2.0, "x\\")
    y = x * x + Value(1.0, "<<b>c</b>>.w")
    svg = draw_explained(y, x).pipe(format="svg").decode()
    assert drawn(svg, "x\\") and drawn(svg, "<<b>c</b>>.w") and drawn(svg, "<<b>c</b>>")


def test_clusters_of_distinct_paths_stay_distinct():
    # percent-encoding cluster names must not merge two modules into one box
    a = Value(1.0, "m%2E.w")
    b = Value(1.0, "m..w")
    c = Value(1.0, "m\\.w")
    out = a * b * c
    svg = render_svg(out)
    groups = [g for g in ET.fromstring(svg).iter(SVG_NS + "g") if g.get("class") == "cluster"]
    assert len(groups) == 3


def test_dot_failure_is_a_clear_error_naming_the_drawing(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Error: syntax error in line 1 near x' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(fake.parent))
    loss = graph_with("x")
    loss.label = "loss"
    target = tmp_path / "g.svg"
    target.write_text("old")
    with pytest.raises(GraphvizError) as info:
        render_svg(loss, target)
    message = str(info.value)
    assert "'loss'" in message and "4 Values" in message and str(target) in message
    assert "syntax error in line 1" in message
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value, subprocess.CalledProcessError)  # as graphviz raised it
    assert info.value.returncode == 1
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["bin", "g.svg"]


def test_every_example_builds_dot_source_graphviz_accepts_without_warnings(recwarn):
    for label in NASTY:
        dot = to_digraph(graph_with(label), edge_label=lambda c, p, g, label=label: label)
        assert dot.source
    assert not [w for w in recwarn if issubclass(w.category, graphviz.DotSyntaxWarning)]


# ---------------------------------------------------------------------------
# Bad options, tried as a user would.


def test_highlight_must_be_a_collection_of_values():
    x = Value(1.0, "x")
    with pytest.raises(TypeError, match=r"highlight must be a collection of Values.*\[x\]"):
        to_digraph(x * 2, highlight=x)
    with pytest.raises(TypeError, match="highlight must be a collection"):
        to_digraph(x * 2, highlight=5)
    with pytest.raises(TypeError, match="highlight must hold Values"):
        to_digraph(x * 2, highlight=[1.0])


def test_render_svg_to_a_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        render_svg(Value(1.0) * 2, tmp_path)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        render_svg(Value(1.0) * 2, "")  # Path("") is the current directory
    assert os.listdir(tmp_path) == []


def test_bad_options_to_render_svg_reach_to_digraph_checks():
    x = Value(1.0, "x") * 2
    with pytest.raises(ValueError, match="rankdir"):
        render_svg(x, rankdir="XX")
    with pytest.raises(ValueError, match="max_nodes"):
        render_svg(x, max_nodes=0)
    with pytest.raises(TypeError, match="edge_label must be a callable"):
        render_svg(x, edge_label="grad")
    with pytest.raises(TypeError):
        render_svg(x, colour="red")
    with pytest.raises(TypeError, match="needs a Value"):
        render_svg(2.0)


def test_constants_of_other_number_types_are_drawn():
    from fractions import Fraction

    x = Value(1.0, "x")
    svg = render_svg(x * Fraction(1, 3) + 10**400 * 0 + x)
    assert drawn(svg, "* 0.3333")


def test_a_failing_pipe_is_wrapped_the_same_way(monkeypatch):
    def broken(dot):
        raise graphviz.CalledProcessError(3, ["dot"], output=b"", stderr=b"Error: out of memory")

    monkeypatch.setattr(draw, "_pipe_svg", broken)
    with pytest.raises(GraphvizError, match="out of memory"):
        render_svg(Value(1.0) * 2)

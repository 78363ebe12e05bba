"""explore(): the offline backpropagation page, checked in Python and in a real headless Chromium.

The browser tests load the page from disk with the network cut, step it with
the keyboard and the buttons, and compare what the page shows with what the
engine computes. They are skipped only when selenium, Chromium or
chromedriver is missing on this machine (scripts/setup.sh installs them).
A screenshot of each page is kept in tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_core import Value, backward_trace, explain_paths, explore, topological_order
from autograd_core.explore import Explorer, explorer_bundle
from nn.data import DATASETS
from nn.layers import MLP

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
sys.path.insert(0, str(Path(__file__).parent))
from browser import chromium_driver, console_errors  # noqa: E402


def neuron_graph() -> Value:
    """Karpathy's neuron, plus a reused Value (fan-out) and a square (the same operand twice)."""
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2 = Value(-3.0, "w1"), Value(1.0, "w2")
    b = Value(6.881373587, "b")
    n = x1 * w1 + x2 * w2 + b
    o = n.tanh()
    out = o * o + o * x1  # o used three times, x1 twice
    out.label = "out"
    return out


def mlp_graph() -> Value:
    """micrograd's demo network on one input: 404 Values, over the drawing guard."""
    return MLP(2, [16, 16, 1], seed=0)([0.5, -0.2])


def mlp_loss_graph() -> Value:
    """The issue's learner graph: an MLP(2, [8, 8, 1]) (tanh) loss over 4 points, 259 Values."""
    model = MLP(2, [8, 8, 1], "tanh", seed=0)
    X = [[0.5, -0.2], [1.0, 0.3], [-0.7, 0.9], [0.1, -1.2]]
    y = [1.0, -1.0, 1.0, -1.0]
    loss = sum(((model(x) - t) ** 2 for x, t in zip(X, y)), Value(0.0)) * 0.25
    loss.label = "loss"
    return loss


def engine_grads(root: Value) -> dict[Value, float]:
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.backward()
    return {node: node.grad for node in order}


# ---------------------------------------------------------------------------
# Python: the recorded trace.


def test_the_trace_is_the_engines_backward_pass_in_its_order():
    root = neuron_graph()
    bundle = explorer_bundle(root)
    order = topological_order(root)
    ids = {node: f"v{i}" for i, node in enumerate(order)}
    trace = backward_trace(root)
    flat = [(step["node"], e) for step in bundle["backward"] for e in step["edges"]]
    assert len(flat) == len(trace.steps)
    for (node_id, edge), s in zip(flat, trace.steps):
        assert node_id == ids[s.node] and edge["parent"] == ids[s.parent]
        assert edge["local"] == s.local_grad and edge["upstream"] == s.upstream
        assert edge["contribution"] == s.contribution and edge["parent_grad"] == s.parent_grad
    grads = engine_grads(root)
    assert {i: u["grad"] for i, u in bundle["units"].items()} == {
        ids[n]: g for n, g in grads.items()
    }
    assert bundle["forward"] == [ids[n] for n in order if not n.is_leaf]


def test_explore_leaves_the_callers_grads_alone_and_writes_one_offline_file(tmp_path):
    root = neuron_graph()
    order = topological_order(root)
    for i, node in enumerate(order):
        node.grad = float(i)
    path = explore(root, tmp_path / "page.html")
    assert [node.grad for node in order] == [float(i) for i in range(len(order))]
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    # Nothing is fetched: no external script, style, image or link.
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", text)
    assert "@import" not in text and "url(" not in text


def test_without_a_path_explore_returns_a_page_for_jupyter(tmp_path):
    page = explore(neuron_graph())
    assert isinstance(page, Explorer)
    shown = page._repr_html_()
    assert shown.startswith("<iframe srcdoc=")
    assert html.unescape(re.search(r'srcdoc="([^"]*)"', shown).group(1)) == page.html
    assert page.save(tmp_path / "x.html").read_text(encoding="utf-8") == page.html


def test_bad_arguments_say_what_was_expected(tmp_path):
    with pytest.raises(TypeError, match="needs a Value"):
        explore(1.5)
    with pytest.raises(ValueError, match="max_nodes must be a positive int"):
        explore(neuron_graph(), max_nodes=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        explore(neuron_graph(), tmp_path / "missing" / "page.html")


def test_over_the_guard_the_page_is_summarised_by_module_and_says_so():
    bundle = explorer_bundle(mlp_graph())
    assert bundle["mode"] == "summary" and "max_nodes=400" in bundle["note"]
    names = sorted(u["name"] for u in bundle["units"].values())
    assert len(names) == 16 + 16 + 1 + 2 and "neuron 1.15" in names and "x[0]" in names
    json.dumps(bundle, allow_nan=False)  # the page's JSON has no NaN


def test_a_label_that_reads_like_a_field_is_not_taken_for_one():
    # Issue 19 item 4: the page finds a box's data and grad by their place, not their text.
    a = Value(2.0, label="data 5")
    b = Value(3.0, label="grad 7")
    c = Value(1.0, label="out data 9")
    out = (a * b + c).tanh()
    svg = explorer_bundle(out)["svg"]
    tagged = re.findall(r'<text[^>]*class="ag-(data|grad)"[^>]*>([^<]*)</text>', svg)
    assert tagged and all(t.startswith(f"{role} ") for role, t in tagged)
    for label in (a.label, b.label, c.label):
        assert re.search(r"<text(?![^>]*class=)[^>]*>" + re.escape(label) + "</text>", svg)
    assert sum(1 for role, _ in tagged if role == "data") == len(topological_order(out))
    # Tooltips use the page's names, not internal ids.
    titles = re.findall(r"<title>([^<]*)</title>", svg)
    assert "data 5" in titles and "tanh#1" in titles
    assert not any(re.fullmatch(r"v\d+(_op)?(->v\d+(_op)?)?", t) for t in titles)


def test_nul_and_lone_surrogates_in_labels_and_op_names_are_shown_escaped(tmp_path):
    # Issue 19 item 4: these crashed explore() with UnicodeEncodeError.
    from autograd_core.engine import primitive

    @primitive("sq\ud800")
    def sq(m, x):
        return x * x, 2.0 * x

    a = Value(1.5, label="a\ud800b\x00c")
    out = sq(a) + 1.0
    out.label = "out\udfff"
    path = explore(out, tmp_path / "odd.html", title="t\ud800")
    text = path.read_text(encoding="utf-8")
    names = json.loads(html.unescape(text.split('id="ag-data">')[1].split("</script>")[0]))
    assert names[0]["names"] == ["a\\ud800b\\x00c", "sq\\ud800#1", "out\\udfff"]
    assert "\x00" not in text and "t\\ud800" in text


def test_formulas_come_from_the_op_table_with_the_nodes_numbers():
    x = Value(0.5, label="x")
    t = (x * 2.0).tanh()
    loss = t * 0.25
    units = explorer_bundle(loss)["units"]
    by_name = {u["name"]: u for u in units.values()}
    tanh = by_name["tanh#1"]
    local = 1 - t.data**2
    assert tanh["locals"][0]["formula"] == (
        f"d tanh(x)/dx = 1 − tanh(x)² = 1 − {t.data:.4g}² = {local:.4g}"
    )
    # Constants are shown: the issue's `loss = mul(add#256)` hid the ×0.25.
    assert by_name["mul#2"]["expr"] == f"tanh#1 · 0.25 = {t.data:.4g} · 0.25 = {loss.data:.4g}"
    assert by_name["mul#1"]["locals"][0]["formula"] == "d (x · 2)/dx = 2"


def test_the_summary_writes_out_a_loss_outside_the_modules_in_the_drawings_names():
    out = mlp_graph()
    loss = (out - 1.0) ** 2 * 0.5
    bundle = explorer_bundle(loss)
    assert bundle["mode"] == "summary"
    by_name = {u["name"]: u for u in bundle["units"].values()}
    assert by_name["sub#1"]["expr"].startswith("(neuron 2.0) − 1 = ")
    assert by_name["mul#1"]["locals"][0]["formula"] == "d (x · 0.5)/dx = 0.5"
    first = bundle["backward"][0]
    assert bundle["units"][first["node"]]["name"] == "mul#1" and first["edges"][0]["slot"] == 0


def test_a_user_primitive_shows_its_own_formula_or_the_number_only():
    from autograd_core.engine import primitive

    @primitive("softplus", formula="sigmoid({x})")
    def softplus(m, x):
        return m.log(1.0 + m.exp(x)), m.sigmoid(x)

    @primitive("cube")
    def cube(m, x):
        return x * x * x, 3.0 * x * x

    x = Value(0.3, label="x")
    out = softplus(x) + cube(x)
    by_name = {u["name"]: u for u in explorer_bundle(out)["units"].values()}
    s = 1 / (1 + math.exp(-0.3))
    assert by_name["softplus#1"]["locals"][0]["formula"] == (
        f"d softplus(x)/dx = sigmoid(x) = sigmoid(0.3) = {s:.4g}"
    )
    assert by_name["cube#1"]["locals"][0]["formula"] == f"{3 * 0.09:.4g}"
    with pytest.raises(TypeError, match="formula must be"):
        primitive("bad", formula=3)


def test_a_graph_over_max_values_is_refused_with_a_message():
    # Issue 19 item 10: a 100k-node graph took 37 s and wrote 185 MB.
    x = Value(1.0, label="x")
    for _ in range(5_000):
        x = x + 1.0
    with pytest.raises(ValueError, match=r"5001 Values, more than max_values=5000"):
        explore(x)
    assert explore(x, max_nodes=10, max_values=5_001).html.startswith("<!DOCTYPE html>")
    small = Value(1.0) * 2.0
    with pytest.raises(ValueError, match="max_values must be a positive int"):
        explore(small, max_values=0)
    with pytest.raises(TypeError, match="max_values must be a positive int, got str: '5'"):
        explore(small, max_values="5")


def test_paths_are_counted_and_summed_when_there_are_thousands():
    # 2**12 paths: each layer doubles them; the page lists the largest few.
    x = Value(0.9, label="x")
    h = x
    for k in range(12):
        h = (h * (1.0 + 0.01 * k)).tanh() + h * 0.5
    h.label = "out"
    bundle = explorer_bundle(h, max_paths=5)
    px = bundle["paths"]["v0"]
    assert px["n_paths"] == 2**12 and px["shown"] == 5
    products = [p["product"] for p in px["paths"]]
    assert products == sorted(products, key=abs, reverse=True)
    want = engine_grads(h)[x]
    assert math.fsum(products) + px["rest"] == pytest.approx(want, rel=1e-12)
    assert float(px["total_text"]) == pytest.approx(want, rel=1e-7)  # shown to 8 digits


# ---------------------------------------------------------------------------
# The browser.


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    d = chromium_driver(tmp_path_factory.mktemp("chromium"))
    yield d
    d.quit()


def open_page(driver, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    console_errors(driver)  # start each page with an empty log


def counter(driver) -> tuple[int, int]:
    c = driver.find_element("id", "ag-counter")
    return int(c.get_attribute("data-step")), int(c.get_attribute("data-steps"))


def press(driver, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def click_box(driver, node_id: str, dx: float = 0.0, dy: float = 0.0) -> None:
    """Bring a box into view as the page does, then click it with the mouse at
    (dx, dy) from its centre, in fractions of its half width and height."""
    from selenium.webdriver.common.action_chains import ActionChains

    driver.execute_script("agExplorer.reveal(arguments[0])", node_id)
    r = driver.execute_script(
        "var g = document.querySelector('#ag-graph g.node[data-node-id=\"' + arguments[0] + "
        "'\"] polygon'); var r = g.getBoundingClientRect(); return [r.x, r.y, r.width, r.height];",
        node_id,
    )
    x, y = r[0] + r[2] / 2 * (1 + dx), r[1] + r[3] / 2 * (1 + dy)
    actions = ActionChains(driver, duration=0)
    actions.w3c_actions.pointer_action.move_to_location(round(x), round(y)).click()
    actions.perform()


def shown_grads(driver) -> dict[str, str | None]:
    return driver.execute_script(
        "var out = {}; document.querySelectorAll('#ag-graph g.node[data-node-id]')"
        ".forEach(function (g) { out[g.getAttribute('data-node-id')] = "
        "g.getAttribute('data-grad'); }); return out;"
    )


def screenshot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    assert driver.save_screenshot(str(target))
    print(f"screenshot: {target}")


def test_stepping_to_the_end_shows_every_gradient_the_engine_computes(driver, tmp_path):
    from selenium.webdriver.common.keys import Keys

    root = neuron_graph()
    path = explore(root, tmp_path / "neuron.html")
    order = topological_order(root)
    ids = {node: f"v{i}" for i, node in enumerate(order)}
    trace = backward_trace(root)
    runs: list[list] = []  # the engine's steps grouped by node, as the page steps them
    for s in trace.steps:
        if runs and runs[-1][0].node is s.node:
            runs[-1].append(s)
        else:
            runs.append([s])
    open_page(driver, path)
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0

    pos, total = counter(driver)
    n_forward = sum(1 for n in order if not n.is_leaf)
    assert pos == 0 and total == 1 + n_forward + 1 + len(runs)
    assert set(shown_grads(driver).values()) == {None}  # no gradient is known before backward

    press(driver, Keys.ARROW_RIGHT)  # the leaves
    data = {
        g.get_attribute("data-node-id"): g.get_attribute("textContent")
        for g in driver.find_elements("css selector", "#ag-graph g.node[data-node-id]")
    }
    for node in order:
        assert ("data ?" in data[ids[node]]) == (not node.is_leaf)
    for _ in range(n_forward + 1):  # the forward pass, then the seed d out/d out = 1
        press(driver, Keys.ARROW_RIGHT)
    assert shown_grads(driver)[ids[root]] == "1"

    # Each backward step: the node's gradient is complete, and each parent's
    # gradient has grown by exactly the contributions the engine added so far.
    for run in runs:
        press(driver, Keys.ARROW_RIGHT)
        grads = shown_grads(driver)
        assert float(grads[ids[run[0].node]]) == trace.grads[run[0].node]
        for s in run:
            latest = [t for t in run if t.parent is s.parent][-1]
            assert float(grads[ids[s.parent]]) == latest.parent_grad
        panel = driver.find_element("id", "ag-step").text
        assert "contribution" in panel
    assert counter(driver) == (total, total)

    want = engine_grads(root)
    got = shown_grads(driver)
    assert {ids[n]: float(got[ids[n]]) for n in order} == {ids[n]: g for n, g in want.items()}
    # The drawing's text agrees with the attribute (4 significant digits).
    x1 = next(n for n in order if n.label == "x1")
    g = driver.find_element("css selector", f'#ag-graph g.node[data-node-id="{ids[x1]}"]')
    assert f"grad {format(want[x1], '.4g')}" in g.get_attribute("textContent")
    assert not console_errors(driver)


def test_clicking_a_leaf_lists_its_paths_and_they_sum_to_its_gradient(driver, tmp_path):
    root = neuron_graph()
    path = explore(root, tmp_path / "neuron.html")
    order = topological_order(root)
    ids = {node: f"v{i}" for i, node in enumerate(order)}
    open_page(driver, path)
    driver.find_element("id", "ag-end").click()
    x1 = next(n for n in order if n.label == "x1")
    click_box(driver, ids[x1])

    items = driver.find_elements("css selector", "#ag-details li.ag-path-item")
    expected = explain_paths(root, x1)
    assert len(items) == expected.n_paths > 1
    products = [float(li.get_attribute("data-product")) for li in items]
    grad = engine_grads(root)[x1]
    assert math.fsum(products) == pytest.approx(grad, rel=1e-12, abs=1e-15)
    assert sorted(products) == sorted(p.product for p in expected.paths)
    details = driver.find_element("id", "ag-details").text
    assert "chain rule" in details and " × " in details
    # The paths are highlighted in the graph: the leaf, the output and the edges between.
    marked = driver.find_elements("css selector", "#ag-graph .ag-path")
    marked_ids = {m.get_attribute("data-node-id") for m in marked}
    assert {ids[x1], ids[root]} <= marked_ids
    assert any("edge" in (m.get_attribute("class") or "") for m in marked)

    # Back, reset and the buttons step as the keys do.
    end = counter(driver)[1]
    driver.find_element("id", "ag-back").click()
    assert counter(driver)[0] == end - 1
    driver.find_element("id", "ag-reset").click()
    assert counter(driver)[0] == 0
    driver.find_element("id", "ag-next").click()
    assert counter(driver)[0] == 1
    assert not console_errors(driver)
    driver.find_element("id", "ag-end").click()
    screenshot(driver, "explorer.png")


def test_a_graph_over_the_guard_is_shown_summarised(driver, tmp_path):
    from selenium.webdriver.common.keys import Keys

    root = mlp_graph()
    path = explore(root, tmp_path / "mlp.html")
    open_page(driver, path)
    note = driver.find_element("id", "ag-note")
    assert note.is_displayed() and "Summarised view" in note.text
    press(driver, Keys.END)
    pos, total = counter(driver)
    assert pos == total > 0
    want = engine_grads(root)
    inputs = {n.label: g for n, g in want.items() if n.label in ("x[0]", "x[1]")}
    boxes = driver.find_elements("css selector", "#ag-graph g.node[data-node-id]")
    assert len(boxes) == 35
    shown = {b.get_attribute("textContent").split()[0]: b.get_attribute("data-grad") for b in boxes}
    assert {k: float(shown[k]) for k in inputs} == inputs
    assert not console_errors(driver)


# ---------------------------------------------------------------------------
# python -m nn train --html


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> tuple[Path, str]:
    """One `python -m nn train --html --steps 8` for the tests of its page: (page, stdout)."""
    folder = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "nn", "train", "--html", "--steps", "8", "--no-progress"]
        + ["--out", "run"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return folder / "run" / "explorer.html", result.stdout


def test_train_html_writes_a_page_with_curves_boundaries_and_a_step_slider(driver, cli_run):
    from selenium.webdriver.common.keys import Keys

    page, stdout = cli_run
    assert str(page) in stdout or "explorer.html" in stdout
    assert page.stat().st_size < 3_000_000

    open_page(driver, page)
    charts = driver.find_elements("css selector", "figure.ag-chart")
    assert {c.get_attribute("data-series"): c.get_attribute("data-points") for c in charts} == {
        "loss": "8",
        "accuracy": "8",
    }
    snaps = driver.find_elements("css selector", "figure.ag-snap")
    assert [s.text for s in snaps] == ["step 0", "step 2", "step 4", "step 6", "step 8"]
    slider = driver.find_element("id", "ag-bundle")
    assert slider.get_attribute("max") == "4"
    label = driver.find_element("id", "ag-bundle-label")
    assert label.text == "8 (after 8 updates)"

    # The last snapshot is the trained model: its first example's input gradients
    # are the engine's, for the weights the run saved.
    model = MLP(2, [16, 16, 1], seed=0)
    model.load(page.parent / "weights.json")
    X, _ = DATASETS["moons"].make(n=100, seed=0, signed=True)

    def input_grads() -> dict[str, float]:
        out = model(list(X[0]))
        return {n.label: g for n, g in engine_grads(out).items() if n.label.startswith("x[")}

    def shown_inputs() -> dict[str, float]:
        press(driver, Keys.END)
        boxes = driver.find_elements("css selector", "#ag-graph g.node[data-node-id]")
        by_name = {
            b.get_attribute("textContent").split()[0]: b.get_attribute("data-grad") for b in boxes
        }
        return {k: float(by_name[k]) for k in ("x[0]", "x[1]")}

    final = input_grads()
    assert shown_inputs() == final
    slider.send_keys(Keys.HOME)  # the slider to step 0: the untrained model
    assert label.text == "0 (after 0 updates)"
    current = driver.find_elements("css selector", "figure.ag-snap.ag-current-snap")
    assert [c.text for c in current] == ["step 0"]
    model_0 = MLP(2, [16, 16, 1], seed=0)
    out = model_0(list(X[0]))
    untrained = {n.label: g for n, g in engine_grads(out).items() if n.label.startswith("x[")}
    driver.execute_script("document.activeElement.blur()")
    assert shown_inputs() == untrained != final
    assert not console_errors(driver)
    screenshot(driver, "training_explorer.png")


def test_the_jupyter_display_runs_inside_its_iframe(driver, tmp_path):
    # What a notebook shows: `_repr_html_` inside a host page (here a plain one).
    from selenium.webdriver.common.by import By

    root = neuron_graph()
    host = tmp_path / "notebook.html"
    host.write_text(
        "<!DOCTYPE html><html><body><p>a notebook cell</p>"
        + explore(root)._repr_html_()
        + "</body></html>",
        encoding="utf-8",
    )
    open_page(driver, host)
    driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
    try:
        driver.find_element("id", "ag-end").click()
        pos, total = counter(driver)
        assert pos == total > 0
        want = engine_grads(root)
        got = shown_grads(driver)
        assert sorted(float(g) for g in got.values()) == sorted(want.values())
    finally:
        driver.switch_to.default_content()
    assert not console_errors(driver)


def test_labels_are_shown_as_text_never_run_as_markup(driver, tmp_path):
    a = Value(1.5, label='</script><img src=x onerror="alert(1)">&amp;')
    out = (a * a).exp()
    out.label = "<b>out</b>"
    path = explore(out, tmp_path / "labels.html")
    assert repr(explore(out)).startswith("<Explorer: a ")
    open_page(driver, path)
    driver.find_element("id", "ag-end").click()
    click_box(driver, "v0")
    details = driver.find_element("id", "ag-details").text
    assert details.startswith(a.label)
    assert not driver.find_elements("css selector", "#ag-explorer img, #ag-step b b")
    assert float(shown_grads(driver)["v0"]) == engine_grads(out)[a]
    assert not console_errors(driver)


# ---------------------------------------------------------------------------
# Issue 21: a learner's graph of about 250 nodes, and the CLI page.

VIEW_JS = """
var out = {}, v = document.getElementById('ag-graph').getBoundingClientRect();
out.view = [v.left, v.top, v.right, v.bottom];
out.panning = document.getElementById('ag-graph').hasAttribute('data-panning');
var g = document.querySelector('#ag-graph g.node.ag-current[data-node-id]');
if (g) { var r = g.querySelector('polygon').getBoundingClientRect();
  out.current = g.getAttribute('data-node-id');
  out.box = [r.left, r.top, r.right, r.bottom]; }
out.names = Array.from(document.querySelectorAll('#ag-step .ag-name')).map(function (e) {
  return e.textContent; });
out.formulas = Array.from(document.querySelectorAll('#ag-step .ag-formula, #ag-step .ag-expr'))
  .map(function (e) { return e.textContent; });
out.live = document.getElementById('ag-live').textContent;
return out;
"""


def settled(driver) -> dict:
    """The view once its smooth pan has finished."""
    import time

    for _ in range(100):
        state = driver.execute_script(VIEW_JS)
        if not state["panning"]:
            return state
        time.sleep(0.03)
    raise AssertionError("the view kept panning")


def drawn_names(driver) -> dict[str, str]:
    """Each box's name (aria-label) and its text as drawn."""
    return driver.execute_script(
        "var out = {}; document.querySelectorAll('#ag-graph g.node[data-node-id]').forEach("
        "function (g) { out[g.getAttribute('aria-label')] = Array.from(g.querySelectorAll('text'))"
        ".map(function (t) { return t.textContent; }).join(' '); }); return out;"
    )


def check_steps_follow(driver, steps: list[int]) -> list[str]:
    """Step to each of `steps`: the current box is inside the view, every name in the step
    panel is a box's name written in the drawing, and the page announces the step."""
    drawn = drawn_names(driver)
    formulas = []
    for k in steps:
        driver.execute_script("agExplorer.go(arguments[0])", k)
        state = settled(driver)
        assert state["live"].startswith(f"step {k} of ")
        if "box" in state:
            (vl, vt, vr, vb), (bl, bt, br, bb) = state["view"], state["box"]
            assert vl <= bl and br <= vr and vt <= bt and bb <= vb, (k, state)
        for name in state["names"]:
            assert name in drawn and name in drawn[name], (k, name)
        formulas.extend(state["formulas"])
    return formulas


def check_leaf_clicks(driver, leaves: list[str], corners: bool) -> None:
    """A real mouse click at the centre (and near the corners) of each leaf box selects it."""
    points = [(0.0, 0.0)] + ([(-0.8, -0.6), (0.8, 0.6), (0.8, -0.6)] if corners else [])
    for leaf in leaves:
        for dx, dy in points:
            driver.execute_script(
                "document.querySelectorAll('#ag-graph g.ag-selected')"
                ".forEach(function (g) { g.classList.remove('ag-selected'); })"
            )
            click_box(driver, leaf, dx, dy)
            sel = driver.find_elements("css selector", "#ag-graph g.node.ag-selected")
            assert [g.get_attribute("data-node-id") for g in sel] == [leaf], (leaf, dx, dy)


def test_a_learners_graph_follows_the_pass_names_once_and_shows_formulas(driver, tmp_path):
    from selenium.webdriver.common.keys import Keys

    root = mlp_loss_graph()
    order = topological_order(root)
    assert 240 <= len(order) <= 270
    path = explore(root, tmp_path / "mlp.html")
    open_page(driver, path)
    driver.execute_script("agExplorer.smooth = false")  # the CLI page's test waits for the pans
    total = counter(driver)[1]
    assert driver.find_element("id", "ag-minimap").is_displayed()  # over 50 boxes
    steps = sorted({2, 5, 40, 120, total // 2, total - 60, total - 5, total})
    formulas = check_steps_follow(driver, steps)
    assert formulas

    # Each tanh's forward step writes its derivative with its own numbers.
    ids = {node: f"v{i}" for i, node in enumerate(order)}
    forward = [n for n in order if not n.is_leaf]
    tanhs = [n for n in forward if n.op is not None and n.op.name == "tanh"][:3]
    for t in tanhs:
        driver.execute_script("agExplorer.go(arguments[0])", 2 + forward.index(t))
        state = settled(driver)
        assert state["current"] == ids[t]
        local = 1 - t.data**2  # the engine's local gradient, as the op table writes it
        text = " ".join(state["formulas"])
        want = f"1 − tanh(x)² = 1 − {_minus(t.data)}² = {_minus(local)}"
        assert want in text, (want, text)

    leaves = [ids[n] for n in order if n.is_leaf]
    sample = leaves[:: max(1, len(leaves) // 10)]
    check_leaf_clicks(driver, sample, corners=False)
    check_leaf_clicks(driver, sample[:2], corners=True)  # the whole box, not only its text
    # Tab reaches the boxes; Enter selects the focused one.
    driver.execute_script("document.querySelector('#ag-graph g.node[data-node-id=\"v0\"]').focus()")
    press(driver, Keys.ENTER)
    assert (
        driver.find_element("css selector", "#ag-graph g.ag-selected").get_attribute("data-node-id")
        == "v0"
    )
    press(driver, Keys.TAB)
    focused = driver.execute_script("return document.activeElement.getAttribute('data-node-id')")
    assert focused and focused != "v0"
    assert not console_errors(driver)
    driver.execute_script("agExplorer.go(arguments[0])", total - 40)
    settled(driver)
    screenshot(driver, "explorer_mlp.png")


def _minus(x: float) -> str:
    text = format(x, ".4g").replace("-", "−")
    return f"({text})" if text.startswith("−") else text


def test_the_cli_page_opens_on_the_explorer_and_lists_a_weights_paths(driver, cli_run):
    page, _ = cli_run
    open_page(driver, page)
    # It opens on the explorer: the drawing starts within the first screen.
    top = driver.execute_script(
        "return document.getElementById('ag-graph').getBoundingClientRect().top"
    )
    assert top < 330
    # Every loss shown says when it was measured.
    when = driver.find_element("id", "ag-loss-when").get_attribute("textContent")
    assert "before its update" in when and "after the last update" in when
    caption = driver.find_element("css selector", "figure.ag-chart figcaption")
    assert "before" in caption.get_attribute("textContent")

    total = counter(driver)[1]
    check_steps_follow(driver, sorted({1, 3, 10, total // 2, total - 3, total}))
    leaves = driver.execute_script(
        "return Array.from(document.querySelectorAll('#ag-graph g.node[data-node-id]'))"
        ".filter(function (g) { return /^x\\[/.test(g.getAttribute('aria-label')); })"
        ".map(function (g) { return g.getAttribute('data-node-id'); })"
    )
    assert len(leaves) == 2
    check_leaf_clicks(driver, leaves, corners=True)

    # A first-layer weight: its paths through the network, counted and summed.
    model = MLP(2, [16, 16, 1], seed=0)
    model.load(page.parent / "weights.json")
    X, _ = DATASETS["moons"].make(n=100, seed=0, signed=True)
    out = model(list(X[0]))
    grads = engine_grads(out)
    w = next(n for n in grads if n.label == "layers.0.neurons.3.w[1]")
    neuron = driver.execute_script(
        "return Array.from(document.querySelectorAll('#ag-graph g.node[data-node-id]'))"
        ".filter(function (g) { return g.getAttribute('aria-label') === 'neuron 0.3'; })"
        ".map(function (g) { return g.getAttribute('data-node-id'); })[0]"
    )
    click_box(driver, neuron)
    rows = driver.find_elements("css selector", "#ag-details tr.ag-param")
    row = next(r for r in rows if r.text.split()[0] == w.label)
    row.click()
    s = driver.find_element("id", "ag-path-sum")
    count, shown = int(s.get_attribute("data-count")), int(s.get_attribute("data-shown"))
    assert count == explain_paths(out, w).n_paths > shown == 3
    listed = [
        float(li.get_attribute("data-product"))
        for li in driver.find_elements("css selector", "#ag-details li.ag-path-item")
    ]
    assert len(listed) == shown
    assert math.fsum(listed) + float(s.get_attribute("data-rest")) == pytest.approx(
        grads[w], rel=1e-9, abs=1e-15
    )
    assert float(s.get_attribute("data-gradient")) == grads[w]
    assert f"the other {count - shown} path(s)" in s.text
    assert not console_errors(driver)
    screenshot(driver, "explorer_cli.png")


def test_zoom_pan_minimap_speed_and_the_travelling_gradient(driver, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    path = explore(mlp_loss_graph(), tmp_path / "mlp.html")
    open_page(driver, path)
    driver.execute_script("agExplorer.smooth = false")
    view = lambda: driver.execute_script("return agExplorer.view()")  # noqa: E731
    graph = driver.find_element("id", "ag-graph")

    s0 = view()["s"]
    press(driver, "+")  # keys zoom
    assert view()["s"] == pytest.approx(s0 * 1.25)
    driver.find_element("id", "ag-zoom-out").click()  # and buttons
    assert view()["s"] == pytest.approx(s0)
    driver.execute_script(  # the wheel zooms around the pointer
        "var g = document.getElementById('ag-graph'), r = g.getBoundingClientRect();"
        "g.dispatchEvent(new WheelEvent('wheel', {deltaY: -200, clientX: r.left + 100,"
        " clientY: r.top + 100, bubbles: true, cancelable: true}));"
    )
    assert view()["s"] > s0

    before = view()  # a drag pans by as much as the pointer moved, in drawing units
    ActionChains(driver, duration=0).move_to_element(graph).click_and_hold().move_by_offset(
        -120, -80
    ).release().perform()
    after = view()
    assert after["cx"] - before["cx"] == pytest.approx(120 / before["s"], abs=1)
    assert after["cy"] - before["cy"] == pytest.approx(80 / before["s"], abs=1)

    # Fit keeps text readable: at least 8 px, here a region with a note.
    press(driver, "0")
    assert view()["s"] * 11 >= 8 - 1e-9
    assert driver.find_element("id", "ag-fit-note").is_displayed()

    # The minimap (over 50 boxes) moves the view where it is clicked.
    mini = driver.find_element("id", "ag-minimap")
    ActionChains(driver, duration=0).move_to_element_with_offset(mini, 0, 30).click().perform()
    assert view()["cy"] != pytest.approx(after["cy"], abs=1)

    # A backward step sends a dot along each edge its gradient flows back through.
    total = counter(driver)[1]
    driver.execute_script("agExplorer.go(arguments[0])", total - 3)
    assert driver.find_elements("css selector", "#ag-graph g.edge.ag-flow")
    assert driver.find_elements("css selector", "#ag-graph circle.ag-dot")

    # Play runs at the chosen speed, and pauses.
    driver.execute_script(
        "var s = document.getElementById('ag-speed'); s.value = 4;"
        "s.dispatchEvent(new Event('input'));"
    )
    driver.find_element("id", "ag-reset").click()
    driver.find_element("id", "ag-play").click()
    import time

    time.sleep(0.7)
    driver.find_element("id", "ag-play").click()  # pause
    played = counter(driver)[0]
    assert 2 <= played <= 6  # 200 ms a step (the default, 700 ms, would give 0 or 1)
    time.sleep(0.4)
    assert counter(driver)[0] == played
    live = driver.find_element("id", "ag-live")
    assert live.get_attribute("aria-live") == "polite"
    assert live.get_attribute("textContent").startswith(f"step {played} of {total}")
    assert not console_errors(driver)

// The explorer's page script. It replays a trace recorded by autograd_core
// (Python, explore.py): every number shown here comes from that trace; this
// script never computes a derivative or a sum, it only decides what to show
// after step k. State after step k is rebuilt from the start each time, so
// "back" is as simple as "next".
(function () {
  "use strict";
  var bundles = JSON.parse(document.getElementById("ag-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var B = null, steps = [], pos = 0, timer = null, selected = null;

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }
  function nodeEl(id) { return document.querySelector('#ag-graph g.node[data-node-id="' + id + '"]'); }
  function name(id) { return B.units[id].name; }

  // ---- the steps: start, the leaves, forward node by node, the seed, backward node by node
  function buildSteps() {
    var s = [{ kind: "start" }, { kind: "leaves" }];
    B.forward.forEach(function (id) { s.push({ kind: "forward", node: id }); });
    s.push({ kind: "seed" });
    B.backward.forEach(function (st) { s.push({ kind: "backward", step: st }); });
    return s;
  }

  // What is known after step k: data shown, grads shown (text, value, contributions).
  function stateAt(k) {
    var st = { data: {}, grad: {}, final: {}, current: null, receiving: [], flow: [] };
    for (var i = 0; i <= k; i++) {
      var s = steps[i];
      st.current = null; st.receiving = []; st.flow = [];
      if (s.kind === "leaves") {
        B.leaves.forEach(function (id) { st.data[id] = true; });
      } else if (s.kind === "forward") {
        st.data[s.node] = true; st.current = s.node;
      } else if (s.kind === "seed") {
        var r = B.units[B.root];
        st.grad[B.root] = { value: r.grad, text: r.text.grad, short: r.text.grad, parts: [] };
        st.final[B.root] = true; st.current = B.root;
      } else if (s.kind === "backward") {
        var n = s.step.node, u = B.units[n];
        // The node's own gradient is complete when the engine reaches it.
        var prev = st.grad[n] ? st.grad[n].parts : [];
        st.grad[n] = { value: u.grad, text: u.text.grad, short: u.text.grad, parts: prev };
        st.final[n] = true; st.current = n;
        s.step.edges.forEach(function (e) {
          st.flow.push([e.parent, n]);
          if (e.updates === false) return;  // summary: the parent box shows another node's grad
          var g = st.grad[e.parent] || { parts: [] };
          var parts = g.parts.concat([{ from: name(n), text: e.text.contribution }]);
          st.grad[e.parent] = {
            value: e.parent_grad, text: e.text.parent_grad, short: e.text.short, parts: parts };
          if (e.last) st.final[e.parent] = true;
          if (st.receiving.indexOf(e.parent) < 0) st.receiving.push(e.parent);
        });
      }
    }
    return st;
  }

  // ---- drawing a state onto the SVG
  function setText(g, cls, text) {
    var t = g.querySelector("text." + cls);
    if (t) t.textContent = t.getAttribute("data-prefix") + text;
  }
  function render() {
    var st = stateAt(pos);
    Object.keys(B.units).forEach(function (id) {
      var g = nodeEl(id);
      if (!g) return;
      var u = B.units[id], known = st.data[id], gr = st.grad[id];
      setText(g, "ag-data", known ? u.text.data : "?");
      setText(g, "ag-grad", gr ? gr.short : "?");
      if (gr) g.setAttribute("data-grad", String(gr.value)); else g.removeAttribute("data-grad");
      g.classList.toggle("ag-pending", !known);
      g.classList.toggle("ag-unknown", !gr);
      g.classList.toggle("ag-current", st.current === id);
      g.classList.toggle("ag-receiving", st.receiving.indexOf(id) >= 0);
      var op = document.querySelector('#ag-graph g.node[data-op-of="' + id + '"]');
      if (op) {
        op.classList.toggle("ag-pending", !known);
        op.classList.toggle("ag-current", st.current === id);
      }
    });
    document.querySelectorAll("#ag-graph g.edge.ag-flow").forEach(function (e) { e.classList.remove("ag-flow"); });
    st.flow.forEach(function (f) {
      var sel = '#ag-graph g.edge[data-from="' + f[0] + '"][data-to="' + f[1] + '_op"],' +
                '#ag-graph g.edge[data-from="' + f[0] + '"][data-to="' + f[1] + '"]';
      document.querySelectorAll(sel).forEach(function (e) { e.classList.add("ag-flow"); });
    });
    var c = $("ag-counter");
    c.textContent = "step " + pos + " / " + (steps.length - 1);
    c.setAttribute("data-step", pos); c.setAttribute("data-steps", steps.length - 1);
    var s = steps[pos];
    $("ag-phase").textContent = s.kind === "forward" || s.kind === "leaves" ? "forward pass"
      : s.kind === "start" ? "" : pos === steps.length - 1 ? "backward pass: done" : "backward pass";
    $("ag-step").innerHTML = describe(s, st);
    if (selected) showDetails(selected, st);
  }

  // ---- the step panel
  function describe(s, st) {
    if (s.kind === "start") {
      return "<p>Output <b>" + esc(B.output.name) + "</b> = " + esc(B.output.data) +
        " (" + B.n_values + " Values). Press <b>next</b> (&rarr;) to run the forward pass " +
        "node by node, then the backward pass in the engine's order.</p>";
    }
    if (s.kind === "leaves") {
      var items = B.leaves.slice(0, 12).map(function (id) {
        return esc(name(id)) + " = " + esc(B.units[id].text.data);
      });
      if (B.leaves.length > 12) items.push("&hellip; " + (B.leaves.length - 12) + " more");
      return "<p><b>forward:</b> the leaves hold their values: " + items.join(", ") + "</p>";
    }
    if (s.kind === "forward") {
      var u = B.units[s.node];
      var args = u.locals.map(function (l) { return esc(l.parent_name); }).join(", ");
      return "<p><b>forward:</b> " + esc(u.name) + " = " + esc(u.op || "") +
        (args ? "(" + args + ")" : "") + " = <b>" + esc(u.text.data) + "</b></p>";
    }
    if (s.kind === "seed") {
      return "<p><b>backward</b> starts at the output: d " + esc(B.output.name) + " / d " +
        esc(B.output.name) + " = <b>1</b></p>";
    }
    var n = s.step.node, rows = s.step.edges.map(function (e) {
      var g = st.grad[e.parent];
      var sum = g && g.parts.length > 1 ? sumText(g.parts) + " = " + esc(e.text.parent_grad)
        : esc(e.text.parent_grad);
      var via = B.mode === "summary" ? "<td>" + esc(e.node_name) + "</td>" : "";
      return "<tr>" + via + "<td>" + esc(e.parent_name) + "</td><td>" + esc(e.text.local) + "</td><td>&times; " +
        esc(e.text.upstream) + "</td><td>= " + esc(e.text.contribution) + "</td><td class=\"ag-sum\">" +
        (e.updates === false ? esc(e.text.parent_grad) : sum) + "</td></tr>";
    }).join("");
    var html = "<p><b>backward</b> at <b>" + esc(name(n)) + "</b>: its gradient d " + esc(B.output.name) + " / d " +
      esc(name(n)) + " = <b>" + esc(B.units[n].text.grad) + "</b> is complete; it sends to each parent " +
      "local gradient &times; upstream gradient = contribution, added to the parent's gradient:</p>";
    if (rows) {
      html += "<table class=\"ag\"><tr>" + (B.mode === "summary" ? "<th>from</th>" : "") + "<th>parent</th><th>local grad</th><th>upstream</th>" +
        "<th>contribution</th><th>parent grad so far</th></tr>" + rows + "</table>";
    } else {
      html += "<p class=\"ag-muted\">(no edge leaves this box)</p>";
    }
    if (s.step.inner) html += "<p class=\"ag-muted\">and " + s.step.inner + " edge(s) inside the module.</p>";
    return html;
  }

  // A gradient as the sum of its contributions so far: the first few, then how many more.
  function sumText(parts) {
    var shown = parts.slice(0, 4).map(function (p) { return esc(p.text); }).join(" + ");
    return parts.length > 4 ? shown + " + &hellip; (" + (parts.length - 4) + " more)" : shown;
  }

  // ---- the details panel of a clicked node
  function clearPath() {
    document.querySelectorAll("#ag-graph .ag-path").forEach(function (e) { e.classList.remove("ag-path"); });
  }
  function markPath(p) {
    p.nodes.forEach(function (id, k) {
      var g = nodeEl(id); if (g) g.classList.add("ag-path");
      if (k < p.nodes.length - 1) {
        var op = document.querySelector('#ag-graph g.node[data-op-of="' + id + '"]');
        if (op) op.classList.add("ag-path");
        var out = document.querySelector('#ag-graph g.edge[data-from="' + id + '_op"][data-to="' + id + '"]');
        if (out) out.classList.add("ag-path");
        var e = document.querySelector('#ag-graph g.edge[data-to="' + id + '_op"][data-slot="' + p.slots[k] + '"]');
        if (e) e.classList.add("ag-path");
      }
    });
  }
  function showDetails(id, st) {
    var u = B.units[id], gr = st.grad[id];
    var h = "<h2>" + esc(u.name) + "</h2><p>" + (u.op ? "operation: <b>" + esc(u.op) + "</b>" : "a leaf") +
      "<br>data: " + (st.data[id] ? esc(u.text.data) : "? (not computed yet)") +
      "<br>grad: " + (gr ? esc(gr.text) + (st.final[id] ? "" : " (so far)") : "? (backward has not reached it)");
    if (gr && gr.parts.length > 1) {
      h += "<br>its gradient is a sum over its uses: <span class=\"ag-sum\">" +
        gr.parts.map(function (p) { return esc(p.text) + " (from " + esc(p.from) + ")"; }).join(" + ") + "</span>";
    }
    h += "</p>";
    if (u.locals.length) {
      h += "<p>local derivatives:</p><table class=\"ag\">" + u.locals.map(function (l) {
        return "<tr><td>d " + esc(u.name) + " / d " + esc(l.parent_name) + "</td><td>" + esc(l.text) + "</td></tr>";
      }).join("") + "</table>";
    }
    if (u.params && u.params.length) {
      h += "<p>output: " + esc(u.output_name) + "; its parameters after backward:</p><table class=\"ag\">" +
        "<tr><th>parameter</th><th>data</th><th>grad</th></tr>" + u.params.map(function (p) {
          return "<tr><td>" + esc(p.name) + "</td><td>" + esc(p.data) + "</td><td>" + esc(p.grad) + "</td></tr>";
        }).join("") + "</table>" + (u.more_params ? "<p>&hellip; " + u.more_params + " more</p>" : "");
    }
    var px = B.paths[id];
    if (px) h += pathsHtml(u, px);
    $("ag-details").innerHTML = h;
    clearPath();
    if (px && px.paths) {
      px.paths.forEach(markPath);
      document.querySelectorAll("#ag-details li.ag-path-item").forEach(function (li) {
        li.addEventListener("mouseenter", function () { clearPath(); markPath(px.paths[+li.dataset.index]); });
        li.addEventListener("mouseleave", function () { clearPath(); px.paths.forEach(markPath); });
      });
    }
  }
  function pathsHtml(u, px) {
    var h = "<p>chain rule: <b>" + px.n_paths + "</b> path(s) from " + esc(B.output.name) +
      " down to " + esc(u.name) + "; each path's product of local gradients, summed, is the gradient.</p>";
    if (!px.paths) {
      return h + "<p class=\"ag-muted\">More than " + px.max_paths + " paths: not listed. " +
        "gradient from backward(): " + esc(px.gradient_text) + "</p>";
    }
    h += "<ol class=\"ag-paths\">" + px.paths.map(function (p, i) {
      var chain = p.names.map(esc).join(" &larr; ");
      var factors = p.factor_texts.map(esc).join(" &times; ") || "1";
      return "<li class=\"ag-path-item\" data-index=\"" + i + "\" data-product=\"" + p.product + "\">" +
        chain + "<br><span class=\"ag-sum\">" + factors + " = " + esc(p.product_text) + "</span></li>";
    }).join("") + "</ol>";
    return h + "<p id=\"ag-path-sum\" data-sum=\"" + px.sum + "\" data-gradient=\"" + px.gradient +
      "\">sum of the path products: <b>" + esc(px.sum_text) + "</b>; gradient from backward(): <b>" +
      esc(px.gradient_text) + "</b></p>";
  }

  // ---- controls
  function go(k) { pos = Math.max(0, Math.min(steps.length - 1, k)); render(); }
  function stop() { if (timer) { clearInterval(timer); timer = null; } $("ag-play").innerHTML = "&#x25B6; play"; }
  function play() {
    if (timer) { stop(); return; }
    if (pos >= steps.length - 1) go(0);
    $("ag-play").innerHTML = "|| pause";
    timer = setInterval(function () { if (pos >= steps.length - 1) stop(); else go(pos + 1); }, 700);
  }
  function fit(on) {
    $("ag-graph").classList.toggle("ag-fit", on);
    $("ag-fit").textContent = on ? "actual size" : "fit to width";
  }
  function load(i) {
    B = bundles[i];
    $("ag-graph").innerHTML = B.svg || "<p class=\"ag-muted\">(no drawing)</p>";
    var note = $("ag-note");
    note.hidden = !B.note; note.textContent = B.note;
    $("ag-bundle-label").textContent = B.step_label || "";
    // Elements of the surrounding page tied to one bundle (the training page's boundaries).
    document.querySelectorAll("[data-bundle-index]").forEach(function (el) {
      el.classList.toggle("ag-current-snap", +el.getAttribute("data-bundle-index") === i);
    });
    steps = buildSteps();
    fit(B.mode === "summary" || B.n_values <= 60);  // small drawings fit; large ones scroll
    document.querySelectorAll("#ag-graph g.node[data-node-id]").forEach(function (g) {
      g.addEventListener("click", function () {
        selected = g.getAttribute("data-node-id");
        document.querySelectorAll("#ag-graph g.ag-selected").forEach(function (x) { x.classList.remove("ag-selected"); });
        g.classList.add("ag-selected");
        render();
      });
    });
    if (selected && !B.units[selected]) selected = null;
    go(Math.min(pos, steps.length - 1));
  }
  $("ag-next").addEventListener("click", function () { stop(); go(pos + 1); });
  $("ag-back").addEventListener("click", function () { stop(); go(pos - 1); });
  $("ag-reset").addEventListener("click", function () { stop(); go(0); });
  $("ag-end").addEventListener("click", function () { stop(); go(steps.length - 1); });
  $("ag-play").addEventListener("click", play);
  $("ag-fit").addEventListener("click", function () { fit(!$("ag-graph").classList.contains("ag-fit")); });
  document.addEventListener("keydown", function (ev) {
    if (ev.target && ev.target.tagName === "INPUT") return;
    var keys = { ArrowRight: function () { go(pos + 1); }, ArrowLeft: function () { go(pos - 1); },
      Home: function () { go(0); }, End: function () { go(steps.length - 1); } };
    if (keys[ev.key]) { stop(); keys[ev.key](); ev.preventDefault(); }
    else if (ev.key === " ") { play(); ev.preventDefault(); }
  });
  if (bundles.length > 1) {
    var r = $("ag-bundle");
    r.max = bundles.length - 1; r.value = bundles.length - 1;
    $("ag-bundle-row").hidden = false;
    r.addEventListener("input", function () { stop(); load(+r.value); });
    load(bundles.length - 1);
  } else {
    load(0);
  }
})();

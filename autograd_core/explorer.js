// The explorer's page script. It replays a trace recorded by autograd_core
// (Python, explore.py): every number and every formula shown here comes from
// that trace; this script never computes a derivative or a sum, it only
// decides what to show after step k. State after step k is rebuilt from the
// start each time, so "back" is as simple as "next".
(function () {
  "use strict";
  var bundles = JSON.parse(document.getElementById("ag-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var B = null, steps = [], pos = 0, timer = null, selected = null, selectedParam = null;
  var els = {};        // id -> {g, op, data, grad}: the drawing's elements, found once
  var boxes = {};      // id -> {x, y, w, h}: each box (with its op) in the SVG's coordinates
  var svg = null, full = null, view = null, anim = null;
  var SPEEDS = [1600, 1100, 700, 400, 200];  // ms per step while playing
  var MIN_TEXT_PX = 8, FONT = 11;            // the drawing's text is 11 units high
  var MIN_SCALE = MIN_TEXT_PX / FONT;        // below this scale, text is unreadable

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }
  function name(id) { return B.units[id].name; }
  function nm(text) { return "<span class=\"ag-name\">" + esc(text) + "</span>"; }

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
    var st = { data: {}, grad: {}, final: {}, current: null, receiving: [], flow: [], operands: [] };
    for (var i = 0; i <= k; i++) {
      var s = steps[i];
      st.current = null; st.receiving = []; st.flow = []; st.operands = [];
      if (s.kind === "leaves") {
        B.leaves.forEach(function (id) { st.data[id] = true; });
      } else if (s.kind === "forward") {
        st.data[s.node] = true; st.current = s.node;
        st.operands = B.units[s.node].locals.map(function (l) { return l.parent; });
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
          if (st.operands.indexOf(e.parent) < 0) st.operands.push(e.parent);
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
  function setText(t, text) {
    if (t) t.textContent = t.getAttribute("data-prefix") + text;
  }
  function render() {
    var t0 = performance.now();
    var st = stateAt(pos);
    Object.keys(els).forEach(function (id) {
      var e = els[id], g = e.g;
      var u = B.units[id], known = st.data[id], gr = st.grad[id];
      // Touch only the boxes whose state changed: a step restyles a few boxes, not all.
      var key = (known ? 1 : 0) + "|" + (gr ? gr.short + "|" + gr.value : "") + "|" +
        (st.current === id) + "|" + (st.receiving.indexOf(id) >= 0);
      if (e.key === key) return;
      e.key = key;
      setText(e.data, known ? u.text.data : "?");
      setText(e.grad, gr ? gr.short : "?");
      if (gr) g.setAttribute("data-grad", String(gr.value)); else g.removeAttribute("data-grad");
      g.classList.toggle("ag-pending", !known);
      g.classList.toggle("ag-unknown", !gr);
      g.classList.toggle("ag-current", st.current === id);
      g.classList.toggle("ag-receiving", st.receiving.indexOf(id) >= 0);
      if (e.op) {
        e.op.classList.toggle("ag-pending", !known);
        e.op.classList.toggle("ag-current", st.current === id);
      }
    });
    var flowing = [];
    document.querySelectorAll("#ag-graph g.edge.ag-flow").forEach(function (e) { e.classList.remove("ag-flow"); });
    st.flow.forEach(function (f) {
      var sel = '#ag-graph g.edge[data-from="' + f[0] + '"][data-to="' + f[1] + '_op"],' +
                '#ag-graph g.edge[data-from="' + f[0] + '"][data-to="' + f[1] + '"]';
      document.querySelectorAll(sel).forEach(function (e) { e.classList.add("ag-flow"); flowing.push(e); });
    });
    var c = $("ag-counter");
    c.textContent = "step " + pos + " / " + (steps.length - 1);
    c.setAttribute("data-step", pos); c.setAttribute("data-steps", steps.length - 1);
    var s = steps[pos];
    $("ag-phase").textContent = s.kind === "forward" || s.kind === "leaves" ? "forward pass"
      : s.kind === "start" ? "" : pos === steps.length - 1 ? "backward pass: done" : "backward pass";
    $("ag-step").innerHTML = describe(s, st);
    var first = $("ag-step").querySelector("p");
    $("ag-live").textContent = "step " + pos + " of " + (steps.length - 1) + ": " + (first ? first.textContent : "");
    if (selected) showDetails(selected, st);
    window.agExplorer.renderMs = performance.now() - t0;  // the bench reads it
    if (st.current) follow([st.current].concat(st.operands));
    flowing.forEach(travel);
  }

  // ---- the step panel
  function describe(s, st) {
    if (s.kind === "start") {
      return "<p>Output " + nm(B.output.name) + " = " + esc(B.output.data) +
        " (" + B.n_values + " Values). Press <b>next</b> (&rarr;) to run the forward pass " +
        "node by node, then the backward pass in the engine's order.</p>";
    }
    if (s.kind === "leaves") {
      var items = B.leaves.slice(0, 12).map(function (id) {
        return nm(name(id)) + " = " + esc(B.units[id].text.data);
      });
      if (B.leaves.length > 12) items.push("&hellip; " + (B.leaves.length - 12) + " more");
      return "<p><b>forward:</b> the leaves hold their values: " + items.join(", ") + "</p>";
    }
    if (s.kind === "forward") {
      var u = B.units[s.node];
      if (u.expr === null || u.expr === undefined) {
        return "<p><b>forward:</b> " + nm(u.name) + " (" + esc(u.op || "") + ") computes its output " +
          (u.output_name ? esc(u.output_name) + " " : "") + "= <b>" + esc(u.text.data) + "</b></p>";
      }
      return "<p><b>forward:</b> " + nm(u.name) + " = <b>" + esc(u.text.data) + "</b></p>" +
        "<p class=\"ag-expr\">" + esc(u.name) + " = " + esc(u.expr) + "</p>" + localsHtml(u);
    }
    if (s.kind === "seed") {
      return "<p><b>backward</b> starts at the output: d " + nm(B.output.name) + " / d " +
        nm(B.output.name) + " = <b>1</b></p>";
    }
    var n = s.step.node, un = B.units[n], rows = s.step.edges.map(function (e) {
      var g = st.grad[e.parent];
      var sum = g && g.parts.length > 1 ? sumText(g.parts) + " = " + esc(e.text.parent_grad)
        : esc(e.text.parent_grad);
      var l = e.slot >= 0 && un.locals[e.slot] ? un.locals[e.slot] : null;
      var local = l && l.formula ? "<span class=\"ag-formula\">" + esc(l.formula) + "</span>" : esc(e.text.local);
      // summary: which Values inside the boxes the edge joins, in grey
      var into = B.mode === "summary" ? "<br><span class=\"ag-muted\">" + esc(e.node_value) + " &rarr; " +
        esc(e.parent_value) + "</span>" : "";
      var cols = 4;
      return "<tr><td>" + nm(e.parent_name) + into + "</td><td class=\"ag-formula\">" + local +
        "</td><td>&times;&nbsp;" + esc(e.text.upstream) + "</td><td>=&nbsp;" + esc(e.text.contribution) +
        "</td></tr><tr class=\"ag-sofar\"><td colspan=\"" + cols + "\">parent grad so far: <span class=\"ag-sum\">" +
        (e.updates === false ? esc(e.text.parent_grad) : sum) + "</span></td></tr>";
    }).join("");
    var html = "<p><b>backward</b> at " + nm(name(n)) + ": its gradient d " + nm(B.output.name) + " / d " +
      nm(name(n)) + " = <b>" + esc(un.text.grad) + "</b> is complete; it sends to each parent " +
      "local gradient &times; upstream gradient = contribution, added to the parent's gradient.</p>";
    if (un.operands) html += "<p class=\"ag-muted\">(" + esc(un.operands) + ")</p>";
    if (rows) {
      html += "<table class=\"ag\"><tr>" +
        "<th>parent</th><th>local gradient</th><th>upstream</th>" +
        "<th>contribution</th></tr>" + rows + "</table>";
    } else {
      html += "<p class=\"ag-muted\">(no edge leaves this box)</p>";
    }
    if (s.step.inner) html += "<p class=\"ag-muted\">and " + s.step.inner + " edge(s) inside the module.</p>";
    return html;
  }
  function localsHtml(u) {
    if (!u.locals.length) return "";
    return "<p class=\"ag-muted\">local derivatives, used by the backward pass" +
      (u.operands ? " (" + esc(u.operands) + ")" : "") + ":</p><table class=\"ag\">" +
      u.locals.map(function (l) {
        return "<tr><td>" + nm(l.parent_name) + "</td><td class=\"ag-formula\">" +
          esc(l.formula || l.text) + "</td></tr>";
      }).join("") + "</table>";
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
  function unitsOf(p) {
    return p.units || p.nodes.map(function (i) { return B.unit_of[i]; });
  }
  function markPath(p) {
    var us = unitsOf(p);
    us.forEach(function (id, k) {
      if (els[id]) els[id].g.classList.add("ag-path");
      if (k === us.length - 1) return;
      var below = us[k + 1];
      if (B.mode === "summary") {
        if (below === id) return;
        var se = document.querySelector('#ag-graph g.edge[data-from="' + below + '"][data-to="' + id + '"]');
        if (se) se.classList.add("ag-path");
        return;
      }
      if (els[id] && els[id].op) els[id].op.classList.add("ag-path");
      var out = document.querySelector('#ag-graph g.edge[data-from="' + id + '_op"][data-to="' + id + '"]');
      if (out) out.classList.add("ag-path");
      var e = document.querySelector('#ag-graph g.edge[data-to="' + id + '_op"][data-slot="' + p.slots[k] + '"]');
      if (e) e.classList.add("ag-path");
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
    if (u.expr) h += "<p class=\"ag-expr\">" + esc(u.name) + " = " + esc(u.expr) + "</p>";
    h += localsHtml(u);
    if (u.params && u.params.length) {
      h += "<p>output: " + esc(u.output_name) + "; its parameters after backward (click one for its " +
        "chain-rule paths):</p><table class=\"ag\">" +
        "<tr><th>parameter</th><th>data</th><th>grad</th></tr>" + u.params.map(function (p) {
          var key = "i" + p.index;
          return "<tr class=\"ag-param" + (key === selectedParam ? " ag-on" : "") + "\" tabindex=\"0\" data-key=\"" +
            key + "\"><td>" + esc(p.name) + "</td><td>" + esc(p.data) + "</td><td>" + esc(p.grad) + "</td></tr>";
        }).join("") + "</table>" + (u.more_params ? "<p>&hellip; " + u.more_params + " more</p>" : "");
    }
    var key = selectedParam && B.paths[selectedParam] ? selectedParam : id;
    var px = B.paths[key];
    var target = key === id ? u.name : B.names[+key.slice(1)];
    if (px) h += pathsHtml(target, px, key === id);
    $("ag-details").innerHTML = h;
    clearPath();
    document.querySelectorAll("#ag-details tr.ag-param").forEach(function (tr) {
      var pick = function () { selectedParam = tr.getAttribute("data-key"); showDetails(id, stateAt(pos)); };
      tr.addEventListener("click", pick);
      tr.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { pick(); ev.preventDefault(); } });
    });
    if (px && px.paths.length) {
      px.paths.forEach(markPath);
      document.querySelectorAll("#ag-details li.ag-path-item").forEach(function (li) {
        var one = function () { clearPath(); markPath(px.paths[+li.dataset.index]); };
        var all = function () { clearPath(); px.paths.forEach(markPath); };
        li.addEventListener("mouseenter", one);
        li.addEventListener("mouseleave", all);
        li.addEventListener("focus", one);
        li.addEventListener("blur", all);
      });
    }
  }
  function pathsHtml(target, px, isBox) {
    var h = "<p>chain rule: <b>" + px.n_paths + "</b> path(s) from " + nm(B.output.name) +
      " down to " + (isBox ? nm(target) : esc(target)) + "; each path's product of local gradients, summed over all paths, " +
      "is the gradient.";
    if (px.shown < px.n_paths) h += " The " + px.shown + " largest by |product| are listed.";
    h += "</p><ol class=\"ag-paths\">" + px.paths.map(function (p, i) {
      var chain = p.nodes.map(function (k) { return esc(B.names[k]); }).join(" &larr; ");
      var factors = p.factor_texts.map(esc).join(" &times; ") || "1";
      return "<li class=\"ag-path-item\" tabindex=\"0\" data-index=\"" + i + "\" data-product=\"" + p.product + "\">" +
        chain + "<br><span class=\"ag-sum\">" + factors + " = " + esc(p.product_text) + "</span></li>";
    }).join("") + "</ol>";
    var rest = px.n_paths - px.shown;
    h += "<p id=\"ag-path-sum\" data-count=\"" + px.n_paths + "\" data-shown=\"" + px.shown + "\" data-sum=\"" + px.sum +
      "\" data-rest=\"" + px.rest + "\" data-gradient=\"" + px.gradient + "\">" +
      "sum of the " + px.shown + " listed: <b>" + esc(px.sum_text) + "</b>";
    if (rest > 0) h += "; the other " + rest + " path(s) sum to <b>" + esc(px.rest_text) + "</b>";
    h += "; all " + px.n_paths + " together: <b>" + esc(px.total_text) + "</b>; gradient from backward(): <b>" +
      esc(px.gradient_text) + "</b></p>";
    return h;
  }

  // ---- the view: pan and zoom by the SVG's viewBox; it follows the step
  function rectOf(g) {
    var b = g.getBBox(), m = g.parentNode.getCTM ? relMatrix(g) : null;
    if (!m) return { x: b.x, y: b.y, w: b.width, h: b.height };
    var p1 = pt(m, b.x, b.y), p2 = pt(m, b.x + b.width, b.y + b.height);
    return { x: Math.min(p1.x, p2.x), y: Math.min(p1.y, p2.y), w: Math.abs(p2.x - p1.x), h: Math.abs(p2.y - p1.y) };
  }
  function relMatrix(g) {  // the element's user space -> the root SVG's user space
    var root = svg.getScreenCTM(), own = g.getScreenCTM();
    return root && own ? root.inverse().multiply(own) : null;
  }
  function pt(m, x, y) { return { x: m.a * x + m.c * y + m.e, y: m.b * x + m.d * y + m.f }; }
  function union(rs) {
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    rs.forEach(function (r) {
      if (!r) return;
      x0 = Math.min(x0, r.x); y0 = Math.min(y0, r.y); x1 = Math.max(x1, r.x + r.w); y1 = Math.max(y1, r.y + r.h);
    });
    return x0 === Infinity ? null : { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }
  function size() { var g = $("ag-graph"); return { w: g.clientWidth || 1, h: g.clientHeight || 1 }; }
  // The SVG keeps its own size; a CSS transform places it, which needs no new layout
  // of its 1000s of elements (changing the viewBox did, at 100 ms a step).
  function applyView(v) {
    var sz = size();
    view = v;
    var w = sz.w / v.s, h = sz.h / v.s;
    var tx = sz.w / 2 - (v.cx - full.x) * v.s, ty = sz.h / 2 - (v.cy - full.y) * v.s;
    svg.style.transform = "translate(" + tx + "px," + ty + "px) scale(" + v.s + ")";
    var mv = $("ag-minimap").querySelector(".ag-mini-view");
    if (mv) {
      mv.setAttribute("x", v.cx - w / 2); mv.setAttribute("y", v.cy - h / 2);
      mv.setAttribute("width", w); mv.setAttribute("height", h);
    }
  }
  // No empty margin where the drawing could fill the view: keep it within its edges.
  function clamp(v) {
    var sz = size(), w = sz.w / v.s, h = sz.h / v.s;
    var cx = w >= full.w ? full.x + full.w / 2 : Math.min(Math.max(v.cx, full.x + w / 2), full.x + full.w - w / 2);
    var cy = h >= full.h ? full.y + full.h / 2 : Math.min(Math.max(v.cy, full.y + h / 2), full.y + full.h - h / 2);
    return { cx: cx, cy: cy, s: v.s };
  }
  function moveTo(target, animate) {
    target = clamp(target);
    if (anim) { cancelAnimationFrame(anim.id); anim = null; }
    var from = view, dur = animate && window.agExplorer.smooth ? 320 : 0;
    if (!dur || !from) { $("ag-graph").removeAttribute("data-panning"); applyView(target); return; }
    var t0 = performance.now();
    $("ag-graph").setAttribute("data-panning", "1");
    anim = {};
    var tick = function (now) {
      var t = Math.min(1, (now - t0) / dur), e = t < 0.5 ? 2 * t * t : 1 - Math.pow(-2 * t + 2, 2) / 2;
      applyView({ cx: from.cx + (target.cx - from.cx) * e, cy: from.cy + (target.cy - from.cy) * e,
        s: from.s * Math.pow(target.s / from.s, e) });
      if (t < 1) anim.id = requestAnimationFrame(tick);
      else { anim = null; $("ag-graph").removeAttribute("data-panning"); }
    };
    anim.id = requestAnimationFrame(tick);
  }
  function visibleRect(v) {
    var sz = size();
    return { x: v.cx - sz.w / 2 / v.s, y: v.cy - sz.h / 2 / v.s, w: sz.w / v.s, h: sz.h / v.s };
  }
  function inside(r, v, margin) {
    var vr = visibleRect(v), m = margin / v.s;
    return r.x >= vr.x + m && r.y >= vr.y + m && r.x + r.w <= vr.x + vr.w - m && r.y + r.h <= vr.y + vr.h - m;
  }
  // Keep the current node and its operands in view: pan (and zoom out, never below readable
  // text) only when they are not all visible already.
  function follow(ids) {
    if (!svg || !$("ag-follow").checked) return;
    var cur = boxes[ids[0]];
    if (!cur) return;
    var all = union(ids.map(function (id) { return boxes[id]; }));
    if (inside(all, view, 12)) return;
    var sz = size(), s = view.s;
    var fits = function (r, sc) { return r.w + 40 / sc <= sz.w / sc && r.h + 40 / sc <= sz.h / sc; };
    if (!fits(all, s)) s = Math.max(Math.min(MIN_SCALE, s), Math.min(s, (sz.w - 40) / all.w, (sz.h - 40) / all.h));
    var r = fits(all, s) ? all : cur;
    moveTo({ cx: r.x + r.w / 2, cy: r.y + r.h / 2, s: s }, true);
  }
  function reveal(id) {  // center one box at a readable scale
    var r = boxes[id];
    if (!r) return;
    moveTo({ cx: r.x + r.w / 2, cy: r.y + r.h / 2, s: Math.max(view.s, MIN_SCALE) }, false);
  }
  // Fit: the whole drawing if its text stays readable, else the largest readable region
  // around the current node (or the output), and say so.
  function fit(animate) {
    if (!svg) return;
    var sz = size(), s = Math.min(sz.w / full.w, sz.h / full.h) * 0.98;
    var note = $("ag-fit-note");
    if (s >= MIN_SCALE) {
      note.hidden = true;
      moveTo({ cx: full.x + full.w / 2, cy: full.y + full.h / 2, s: Math.min(s, 1.6) }, animate);
      return;
    }
    var st = stateAt(pos), at = boxes[st.current || B.leaves[0] || B.root] || boxes[B.root];
    note.hidden = false;
    clearTimeout(fit.timer);
    fit.timer = setTimeout(function () { note.hidden = true; }, 6000);
    note.textContent = "The whole graph would make its text " + (s * FONT).toFixed(1) +
      " px high: showing a readable region instead (the minimap shows the whole; zoom out with \u2212).";
    moveTo({ cx: at.x + at.w / 2, cy: at.y + at.h / 2, s: MIN_SCALE }, animate);
  }
  function zoom(f, px, py) {
    if (!svg) return;
    var sz = size(), lo = Math.min(MIN_SCALE, Math.min(sz.w / full.w, sz.h / full.h)) * 0.8;
    var s = Math.max(lo, Math.min(4, view.s * f));
    if (px === undefined) { px = sz.w / 2; py = sz.h / 2; }
    // keep the point under (px, py) where it is
    var vr = visibleRect(view), gx = vr.x + px / view.s, gy = vr.y + py / view.s;
    moveTo({ cx: gx - (px - sz.w / 2) / s, cy: gy - (py - sz.h / 2) / s, s: s }, false);
    $("ag-fit-note").hidden = true;
  }
  function setupView() {
    svg = $("ag-graph").querySelector("svg");
    var mini = $("ag-minimap");
    mini.innerHTML = ""; mini.setAttribute("hidden", ""); $("ag-fit-note").hidden = true;
    els = {}; boxes = {}; view = null;
    if (!svg) return;
    var vb = svg.viewBox.baseVal;
    full = { x: vb.x, y: vb.y, w: vb.width, h: vb.height };
    svg.setAttribute("width", full.w); svg.setAttribute("height", full.h);
    applyView({ cx: full.x + full.w / 2, cy: full.y + full.h / 2, s: 1 });
    document.querySelectorAll("#ag-graph g.node[data-node-id]").forEach(function (g) {
      var id = g.getAttribute("data-node-id");
      var op = document.querySelector('#ag-graph g.node[data-op-of="' + id + '"]');
      els[id] = { g: g, op: op, data: g.querySelector("text.ag-data"), grad: g.querySelector("text.ag-grad") };
      boxes[id] = union([rectOf(g), op ? rectOf(op) : null]);
    });
    if (Object.keys(els).length > 50) {  // a minimap of the whole drawing, with the view on it
      var g0 = svg.querySelector("g");
      mini.setAttribute("viewBox", full.x + " " + full.y + " " + full.w + " " + full.h);
      var mw = Math.min(220, 220 * full.w / Math.max(full.w, full.h * 1.4));
      mini.setAttribute("width", Math.max(80, mw)); mini.setAttribute("height", Math.max(60, Math.min(160, mw * full.h / full.w)));
      mini.setAttribute("preserveAspectRatio", "xMidYMid meet");
      var clone = g0.cloneNode(true);
      clone.removeAttribute("id");
      clone.querySelectorAll("[id]").forEach(function (e) { e.removeAttribute("id"); });
      clone.querySelectorAll("text, title").forEach(function (e) { e.remove(); });
      mini.appendChild(clone);
      var r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      r.setAttribute("class", "ag-mini-view");
      mini.appendChild(r);
      mini.removeAttribute("hidden");
      applyView(view);
    }
  }
  function miniPan(ev) {
    var m = $("ag-minimap").getScreenCTM();
    if (!m) return;
    var p = $("ag-minimap").createSVGPoint(); p.x = ev.clientX; p.y = ev.clientY;
    var q = p.matrixTransform(m.inverse());
    moveTo({ cx: q.x, cy: q.y, s: view.s }, false);
  }

  // ---- the gradient travels along each edge it flows back through
  function travel(edge) {
    var path = edge.querySelector("path");
    if (!path || !path.getTotalLength) return;
    var len = path.getTotalLength(), dur = Math.min(900, SPEEDS[+$("ag-speed").value] * 0.8);
    var dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
    dot.setAttribute("class", "ag-dot"); dot.setAttribute("r", "4.5");
    edge.parentNode.appendChild(dot);
    var t0 = performance.now();
    var tick = function (now) {
      var t = Math.min(1, (now - t0) / dur), p = path.getPointAtLength(len * (1 - t));  // child -> parent
      dot.setAttribute("cx", p.x); dot.setAttribute("cy", p.y);
      if (t < 1 && dot.parentNode) requestAnimationFrame(tick); else dot.remove();
    };
    requestAnimationFrame(tick);
  }

  // ---- controls
  function go(k) { pos = Math.max(0, Math.min(steps.length - 1, k)); render(); }
  function stop() { if (timer) { clearTimeout(timer); timer = null; } $("ag-play").innerHTML = "&#x25B6; play"; }
  function play() {
    if (timer) { stop(); return; }
    if (pos >= steps.length - 1) go(0);
    $("ag-play").innerHTML = "&#x23F8; pause";
    var tick = function () {
      if (pos >= steps.length - 1) { stop(); return; }
      go(pos + 1);
      timer = setTimeout(tick, SPEEDS[+$("ag-speed").value]);
    };
    timer = setTimeout(tick, SPEEDS[+$("ag-speed").value]);
  }
  function select(id) {
    selected = id; selectedParam = null;
    document.querySelectorAll("#ag-graph g.ag-selected").forEach(function (x) { x.classList.remove("ag-selected"); });
    if (els[id]) els[id].g.classList.add("ag-selected");
    showDetails(id, stateAt(pos));
  }
  function load(i) {
    B = bundles[i];
    var drawing = B.svg || (B.svg_from !== undefined ? bundles[B.svg_from].svg : "");
    $("ag-graph").innerHTML = drawing || "<p class=\"ag-muted\">(no drawing)</p>";
    $("ag-graph").classList.toggle("ag-summary", B.mode === "summary");
    var note = $("ag-note");
    note.hidden = !B.note; note.textContent = B.note;
    $("ag-bundle-label").textContent = B.step_label || "";
    // Elements of the surrounding page tied to one bundle (the training page's boundaries).
    document.querySelectorAll("[data-bundle-index]").forEach(function (el) {
      el.classList.toggle("ag-current-snap", +el.getAttribute("data-bundle-index") === i);
    });
    steps = buildSteps();
    setupView();
    fit(false);
    Object.keys(els).forEach(function (id) {
      var g = els[id].g;
      g.addEventListener("click", function () { if (!dragged) select(id); });
      g.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { select(id); ev.preventDefault(); ev.stopPropagation(); }
      });
    });
    if (selected && !B.units[selected]) selected = null;
    if (selected && els[selected]) els[selected].g.classList.add("ag-selected");
    go(Math.min(pos, steps.length - 1));
  }

  // Dragging pans; a drag is not a click.
  var drag = null, dragged = false;
  $("ag-graph").addEventListener("pointerdown", function (ev) {
    if (!svg || ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, v: view }; dragged = false;
  });
  window.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!dragged && Math.abs(dx) + Math.abs(dy) < 5) return;
    dragged = true; $("ag-graph").classList.add("ag-dragging");
    moveTo({ cx: drag.v.cx - dx / drag.v.s, cy: drag.v.cy - dy / drag.v.s, s: drag.v.s }, false);
  });
  window.addEventListener("pointerup", function () {
    drag = null; $("ag-graph").classList.remove("ag-dragging");
    setTimeout(function () { dragged = false; }, 0);
  });
  $("ag-graph").addEventListener("wheel", function (ev) {
    if (!svg) return;
    var r = $("ag-graph").getBoundingClientRect();
    zoom(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
    ev.preventDefault();
  }, { passive: false });
  var miniDown = false;
  $("ag-minimap").addEventListener("pointerdown", function (ev) { miniDown = true; miniPan(ev); ev.stopPropagation(); });
  window.addEventListener("pointermove", function (ev) { if (miniDown) miniPan(ev); });
  window.addEventListener("pointerup", function () { miniDown = false; });
  window.addEventListener("resize", function () { if (view) applyView(view); });

  $("ag-next").addEventListener("click", function () { stop(); go(pos + 1); });
  $("ag-back").addEventListener("click", function () { stop(); go(pos - 1); });
  $("ag-reset").addEventListener("click", function () { stop(); go(0); });
  $("ag-end").addEventListener("click", function () { stop(); go(steps.length - 1); });
  $("ag-play").addEventListener("click", play);
  $("ag-fit").addEventListener("click", function () { fit(true); });
  $("ag-zoom-in").addEventListener("click", function () { zoom(1.25); });
  $("ag-zoom-out").addEventListener("click", function () { zoom(0.8); });
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT")) return;
    var onItem = t && t.closest && t.closest("#ag-graph g.node, li, tr, button");
    var keys = { ArrowRight: function () { go(pos + 1); }, ArrowLeft: function () { go(pos - 1); },
      Home: function () { go(0); }, End: function () { go(steps.length - 1); } };
    if (keys[ev.key]) { stop(); keys[ev.key](); ev.preventDefault(); }
    else if (ev.key === " " && !onItem) { play(); ev.preventDefault(); }
    else if (ev.key === "+" || ev.key === "=") { zoom(1.25); ev.preventDefault(); }
    else if (ev.key === "-" || ev.key === "_") { zoom(0.8); ev.preventDefault(); }
    else if (ev.key === "0") { fit(true); ev.preventDefault(); }
  });

  // For tests and the bench: the state of the view, and a way to bring a box into it.
  window.agExplorer = { renderMs: 0, smooth: true, reveal: reveal, go: function (k) { stop(); go(k); },
    boxes: function () { return boxes; }, view: function () { return view; } };
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

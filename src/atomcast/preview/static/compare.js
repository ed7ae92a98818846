/* atomcast preview --compare REV: marks every cell the working tree changes against REV and
 * opens a marked cell on before/after.
 *
 * Self-contained beside app.js: it reads the matrix it marks from the DOM (#matrix and its
 * .cell[data-row][data-channel] nodes), asks /api/compare, and keeps its own event stream to
 * refresh when a file is saved. The page loads it only with --compare (a 404 would be a
 * console error on every page).
 * Authored strings reach the page through textContent only; rendered HTML goes into
 * sandboxed srcdoc iframes, as everywhere in the preview.
 */
(() => {
  "use strict";

  if (document.documentElement.dataset.mode !== "live") return;

  const LABELS = { email: "Email", push: "Push", sms: "SMS", web: "Web" };
  const state = { marks: new Map(), base: "", view: "", timer: null, off: false };
  const key = (row, channel) => `${row}\u0000${channel}`;
  const grid = () => document.getElementById("matrix");

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
      else if (name.startsWith("aria-") || name === "role") node.setAttribute(name, String(value));
      else node[name] = value;
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function viewParams(extra) {
    const g = grid();
    const params = new URLSearchParams({ campaign: g.dataset.campaign || "", at: g.dataset.at || "" });
    for (const [name, value] of Object.entries(extra || {})) params.set(name, value);
    return params;
  }

  async function refresh() {
    const g = grid();
    if (state.off || !g || !g.dataset.campaign) return;
    const params = viewParams();
    const response = await fetch(`/api/compare?${params}`);
    if (response.status === 404) { state.off = true; return; }
    if (!response.ok) return;
    const data = await response.json();
    state.base = data.base;
    state.view = params.toString();
    state.marks = new Map(data.cells.map((c) => [key(c.row, c.channel), c]));
    banner(data);
    apply();
    document.documentElement.dataset.compared = String(Date.now());
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => refresh().catch(() => {}), delay);
  }

  function banner(data) {
    let box = document.getElementById("cmp-banner");
    if (!box) {
      box = el("div", { id: "cmp-banner", className: "cmp-banner", role: "status" });
      const coverage = document.getElementById("coverage");
      coverage.parentNode.insertBefore(box, coverage);
    }
    const n = data.cells.length;
    box.replaceChildren(
      el("strong", { text: `Comparing with ${data.base}` }), " · ",
      el("span", { className: "cmp-count", text: `${n} of ${data.total} cells change` }),
      n ? el("span", { className: "muted", text: " · open a marked cell's “before / after”" }) : null);
  }

  /** Mark the cells of the current view; app.js replaces cell nodes freely, so this runs
   * again whenever the matrix changes. */
  function apply() {
    const g = grid();
    if (!g) return;
    if (viewParams().toString() !== state.view) { schedule(50); return; }
    for (const cell of g.querySelectorAll(".cell[data-row][data-channel]")) {
      const mark = state.marks.get(key(cell.dataset.row, cell.dataset.channel));
      const badge = cell.querySelector(":scope > .cmp-badge");
      cell.classList.toggle("cmp-changed", Boolean(mark));
      if (!mark) { if (badge) badge.remove(); continue; }
      if (badge) continue;
      const status = mark.before === mark.after ? "changed" : `${mark.before} → ${mark.after}`;
      cell.prepend(el("button", {
        type: "button",
        className: "cmp-badge",
        text: `${status} · before / after`,
        title: `Differs from ${state.base}: open before and after`,
        onclick: (event) => { event.stopPropagation(); open(cell.dataset.row, cell.dataset.channel); },
        // Enter on the badge must not also reach the cell (which opens explain).
        onkeydown: (event) => { if (event.key === "Enter") event.stopPropagation(); },
      }));
    }
  }

  // -- the before / after panel ---------------------------------------------------------------

  function frame(html, title) {
    const node = el("iframe", { className: "cmp-frame", title });
    node.setAttribute("sandbox", "");
    node.setAttribute("referrerpolicy", "no-referrer");
    node.srcdoc = html;
    return node;
  }

  function inlineDiff(parts) {
    return el("p", { className: "cmp-inline" }, ...parts.map((p) =>
      p.op === "equal" ? p.text : el(p.op === "insert" ? "ins" : "del", { text: p.text })));
  }

  function statusLine(output) {
    const reason = output.reason ? `: ${output.reason}` : "";
    return el("div", { className: `cmp-status st-${output.status}`, text: `${output.status}${reason}` });
  }

  function side(label, output, html, channel) {
    const body = [statusLine(output)];
    if (channel === "email" && output.subject !== undefined) {
      body.push(el("div", { className: "cmp-subject", text: output.subject || "" }));
    }
    if (html !== undefined && output.status !== "skipped") {
      body.push(frame(channel === "web" ? `<!doctype html><meta charset="utf-8">${html}` : html, label));
    } else if (channel === "push" && output.title !== undefined) {
      body.push(el("div", { className: "cmp-text" }, el("strong", { text: output.title || "" }), el("br"), output.body || ""));
    } else if (output.text !== undefined && channel === "sms") {
      body.push(el("div", { className: "cmp-text", text: output.text || "" }));
    }
    const atoms = Object.entries(output.atoms || {}).filter(([, v]) => v).map(([s, v]) => `${s}: ${v}`);
    if (atoms.length) body.push(el("div", { className: "cmp-atoms muted", text: atoms.join(" · ") }));
    return el("section", { className: "cmp-side" }, el("h3", { text: label }), ...body);
  }

  async function open(row, channel) {
    const response = await fetch(`/api/compare/cell?${viewParams({ row, channel })}`);
    if (!response.ok) return;
    const data = await response.json();
    close();
    const fields = Object.entries(data.fields || {}).map(([name, parts]) =>
      el("div", { className: "cmp-field" }, el("code", { text: name }), inlineDiff(parts)));
    const html = data.html || {};
    const panel = el("div", { id: "cmp-panel", className: "cmp-panel", role: "dialog", "aria-label": "Before and after" },
      el("header", { className: "cmp-head" },
        el("strong", { text: `${LABELS[channel] || channel} · ${row}` }),
        el("span", { className: "muted", text: data.changed ? ` differs from ${data.base}` : ` same as ${data.base}` }),
        el("button", { type: "button", className: "cmp-close", text: "×", title: "Close (Esc)", onclick: close })),
      fields.length ? el("div", { className: "cmp-fields" }, ...fields) : null,
      el("div", { className: "cmp-sides" },
        side(`Before · ${data.base}`, data.before, html.before, channel),
        side("After · working tree", data.after, html.after, channel)));
    document.body.append(panel);
  }

  function close() {
    const panel = document.getElementById("cmp-panel");
    if (panel) panel.remove();
  }

  function connect() {
    if (!window.EventSource) return;
    const source = new EventSource("/events");
    for (const name of ["done", "matrix"]) source.addEventListener(name, () => schedule(150));
  }

  function start() {
    const g = grid();
    new MutationObserver(() => { if (!state.off) apply(); }).observe(g, { childList: true });
    new MutationObserver(() => { if (!state.off) schedule(50); })
      .observe(g, { attributes: true, attributeFilter: ["data-campaign", "data-at"] });
    document.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
    refresh().then(() => { if (!state.off) connect(); }).catch(() => {});
  }

  window.addEventListener("DOMContentLoaded", () => {
    const ready = () => document.documentElement.dataset.ready === "1";
    if (ready()) { start(); return; }
    const watch = new MutationObserver(() => { if (ready()) { watch.disconnect(); start(); } });
    watch.observe(document.documentElement, { attributes: true, attributeFilter: ["data-ready"] });
  });
})();

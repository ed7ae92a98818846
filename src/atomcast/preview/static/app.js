/* atomcast preview: the matrix UI.
 *
 * Every authored string (atom text, persona names, reasons, rendered subjects) reaches the
 * page through textContent or a DOM property, never through innerHTML: the page itself
 * renders no markup it did not write. Rendered email and web HTML go into sandboxed
 * iframes (srcdoc, sandbox="") where they can neither run scripts nor reach this page.
 */
(() => {
  "use strict";

  const CHANNEL_LABELS = { email: "Email", push: "Push", sms: "SMS", web: "Web" };
  const KIND_LABELS = { persona: "Persona", segment: "Segment", experiment: "Experiment", custom: "Custom" };
  // Cells show thumbnails (the top of each email, the web fragment at a glance); the drawer
  // shows the full size. Sized so that four channel columns fit a 1024 px laptop screen.
  const SCALE = { email: 0.3, web: 0.27 };
  const MOBILE_SCALE = 0.48;
  const FRAME_HEIGHT = { email: 560, web: 520 };
  const WEB_WIDTH = 720;
  // Forced-inversion dark mode, as the Gmail app and Outlook do it to emails whatever their
  // own dark styles: invert the page, then invert images back so photos stay photos.
  const INVERT_STYLE = "<style>html{filter:invert(1) hue-rotate(180deg);background:#fff}" +
    "img,picture,video{filter:invert(1) hue-rotate(180deg)}</style>";
  const DARK_MODES = {
    light: "Light",
    prefers: "Dark · Apple Mail",
    invert: "Dark · Gmail, Outlook apps",
  };

  const state = {
    mode: document.documentElement.dataset.mode || "live",
    meta: null,
    matrix: null,
    rows: new Map(),
    cells: new Map(),
    edited: new Map(),
    explains: null,
    filters: { campaign: "", at: "", locale: "", segment: "", hidden: new Set() },
    emailWidth: 600,
    dark: "light",
    atPinned: false,
    source: null,
    drawer: null,
    generation: 0,
    instance: "",
  };

  const $ = (id) => document.getElementById(id);

  /** Build an element: attrs are properties (className, title...) or data-* / aria-*. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [name, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (name === "text") node.textContent = String(value);
        else if (name === "dataset") Object.assign(node.dataset, value);
        else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
        else if (name.startsWith("aria-") || name === "role" || name === "for") node.setAttribute(name, String(value));
        else node[name] = value;
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const cellId = (row, channel) => `${row}\u0000${channel}`;
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + "s"}`;

  function toast(message, kind) {
    const box = $("toast");
    box.textContent = message;
    box.dataset.kind = kind || "info";
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
  }

  // -- data -------------------------------------------------------------------------------

  async function getJSON(url, options) {
    const response = await fetch(url, options);
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (!response.ok) {
      const error = new Error((body && body.error) || `${response.status} ${response.statusText}`);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return body;
  }

  function atToInput(iso) {
    return iso ? iso.replace(/:\d\dZ$/, "").replace(/Z$/, "") : "";
  }

  function inputToAt(value) {
    if (!value) return "";
    return (value.length === 16 ? value + ":00" : value) + "Z";
  }

  async function loadMeta() {
    if (state.mode === "static") {
      const boot = JSON.parse($("atomcast-data").textContent);
      state.meta = boot.meta;
      state.explains = boot.explains || {};
      state.staticMatrix = boot.matrix;
      state.assets = boot.assets || {};
      return;
    }
    state.meta = await getJSON("/api/meta");
  }

  async function loadMatrix() {
    const { campaign, at } = state.filters;
    let matrix;
    if (state.mode === "static") {
      matrix = state.staticMatrix;
    } else {
      const params = new URLSearchParams({ campaign });
      // Unpinned, the server picks an instant where the campaign is in season.
      if (at && state.atPinned) params.set("at", at);
      $("matrix").setAttribute("aria-busy", "true");
      matrix = await getJSON(`/api/matrix?${params}`);
    }
    state.matrix = matrix;
    state.filters.campaign = matrix.campaign;
    state.filters.at = matrix.at;
    $("f-at").value = atToInput(matrix.at);
    showAtNote();
    state.rows = new Map(matrix.rows.map((row) => [row.key, row]));
    state.cells = new Map(matrix.cells.map((cell) => [cellId(cell.row, cell.channel), cell]));
    renderMatrix();
    renderCoverage(matrix.coverage);
    if (matrix.problems) showProblems(matrix.problems);
    $("matrix").setAttribute("aria-busy", "false");
    document.documentElement.dataset.ready = "1";
    await refreshEdited();
  }

  // -- filters and chrome -----------------------------------------------------------------

  /** The sentence under the At field: why this instant, or the way back to the season. */
  function showAtNote() {
    const box = $("at-note");
    const season = (campaignMeta() || {}).season;
    if (!box || !season || !state.matrix) return;
    // Unpinned, the server chose the instant by the same rule (its "today" may be a minute on).
    if (!state.atPinned || state.matrix.at === season.at) {
      box.replaceChildren(el("span", { className: season.in_season ? "in-season" : "off-season", text: season.note }));
      return;
    }
    const back = state.mode === "live" ? el("button", {
      type: "button", className: "link-btn", text: `back to ${season.at.slice(0, 10)}`,
      title: "Show the campaign in season again",
      onclick: () => { state.atPinned = false; state.filters.at = ""; syncUrl(); loadMatrix().catch(showFatal); },
    }) : null;
    box.replaceChildren(el("span", { className: "off-season", text: "chosen date · " }), back);
  }

  function campaignMeta() {
    return state.meta.campaigns.find((c) => c.name === state.filters.campaign) || state.meta.campaigns[0];
  }

  function setupFilters() {
    const meta = state.meta;
    $("project-name").textContent = meta.project;
    const campaign = $("f-campaign");
    campaign.replaceChildren(...meta.campaigns.map((c) => el("option", { value: c.name, text: c.name, title: c.description })));
    const params = new URLSearchParams(location.search);
    const wanted = params.get("campaign") || (state.mode === "static" ? state.staticMatrix.campaign : "");
    state.filters.campaign = meta.campaigns.some((c) => c.name === wanted) ? wanted : (meta.campaigns[0] || {}).name || "";
    campaign.value = state.filters.campaign;
    state.atPinned = Boolean(params.get("at")) || state.mode === "static";
    state.filters.at = params.get("at") || (state.mode === "static" ? state.staticMatrix.at : "");
    $("f-at").value = atToInput(state.filters.at);
    const locale = $("f-locale");
    locale.replaceChildren(el("option", { value: "", text: "All locales" }), ...meta.locales.map((l) => el("option", { value: l, text: l })));
    const segment = $("f-segment");
    segment.replaceChildren(el("option", { value: "", text: "All segments" }), ...meta.segments.map((s) => el("option", { value: s, text: s })));
    locale.value = state.filters.locale;
    segment.value = state.filters.segment;

    campaign.onchange = () => {
      if (state.mode === "static") {
        location.href = `../${encodeURIComponent(campaign.value)}/index.html`;
        return;
      }
      state.filters.campaign = campaign.value;
      if (!state.atPinned) state.filters.at = "";
      state.edited.clear();
      syncUrl();
      loadMatrix().catch(showFatal);
    };
    $("f-at").onchange = () => {
      if (state.mode === "static") return;
      const value = inputToAt($("f-at").value);
      if (!value) return;
      state.filters.at = value;
      state.atPinned = true;
      syncUrl();
      loadMatrix().catch(showFatal);
    };
    if (state.mode === "static") $("f-at").disabled = true;
    locale.onchange = () => { state.filters.locale = locale.value; applyFilters(); };
    segment.onchange = () => { state.filters.segment = segment.value; applyFilters(); };
    $("filters").onsubmit = (event) => event.preventDefault();
    $("w-desktop").onclick = () => setEmailWidth(600);
    $("w-mobile").onclick = () => setEmailWidth(375);
    const dark = $("f-dark");
    dark.replaceChildren(...Object.entries(DARK_MODES).map(([value, text]) => el("option", { value, text })));
    dark.value = state.dark;
    dark.onchange = () => {
      state.dark = dark.value in DARK_MODES ? dark.value : "light";
      // The page chrome follows the client being previewed.
      document.body.classList.toggle("dark-preview", state.dark !== "light");
      document.body.dataset.dark = state.dark;
      // The dark treatment goes into each document, so the frames are rebuilt.
      renderMatrix();
      if (state.drawer && state.drawer.view === "explain") refreshDrawer();
    };
    $("drawer-close").onclick = closeDrawer;
    document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeDrawer(); });
  }

  function setupChannelChips() {
    const box = $("f-channels");
    const legend = box.querySelector("legend");
    const chips = state.matrix.channels.map((channel) => {
      const on = !state.filters.hidden.has(channel);
      return el("button", {
        type: "button",
        className: `chip ch-${channel}${on ? " on" : ""}`,
        text: CHANNEL_LABELS[channel] || channel,
        "aria-pressed": String(on),
        dataset: { channel },
        onclick: () => {
          if (state.filters.hidden.has(channel)) state.filters.hidden.delete(channel);
          else state.filters.hidden.add(channel);
          renderMatrix();
        },
      });
    });
    box.replaceChildren(legend, ...chips);
  }

  function syncUrl() {
    const params = new URLSearchParams({ campaign: state.filters.campaign });
    if (state.atPinned && state.filters.at) params.set("at", state.filters.at);
    history.replaceState(null, "", `?${params}`);
  }

  function setEmailWidth(width) {
    state.emailWidth = width;
    $("w-desktop").classList.toggle("on", width === 600);
    $("w-mobile").classList.toggle("on", width === 375);
    document.body.dataset.emailWidth = String(width);
    layoutColumns();
    for (const wrap of document.querySelectorAll(".frame-wrap.frame-email")) sizeFrame(wrap, "email");
    const label = document.querySelector(".colhead.ch-email .muted");
    if (label) label.textContent = `${width}px`;
  }

  function visibleChannels() {
    return state.matrix.channels.filter((c) => !state.filters.hidden.has(c));
  }

  function columnWidth(channel) {
    if (channel === "email") return Math.round(state.emailWidth * frameScale("email")) + 18;
    if (channel === "web") return Math.round(WEB_WIDTH * SCALE.web) + 18;
    if (channel === "push") return 200;
    return 186;
  }

  function layoutColumns() {
    const columns = ["170px", ...visibleChannels().map((c) => `${columnWidth(c)}px`)];
    $("matrix").style.gridTemplateColumns = columns.join(" ");
  }

  function rowVisible(row) {
    const { locale, segment } = state.filters;
    if (locale) {
      const rowLocale = row.locale || state.meta.locales[0];
      if (rowLocale !== locale) return false;
    }
    if (segment && !row.segments.includes(segment)) return false;
    return true;
  }

  function applyFilters() {
    let shown = 0;
    for (const node of document.querySelectorAll("[data-row-key]")) {
      const row = state.rows.get(node.dataset.rowKey);
      const visible = row ? rowVisible(row) : true;
      node.hidden = !visible;
      if (visible && node.classList.contains("rowhead")) shown += 1;
    }
    for (const group of document.querySelectorAll(".group")) {
      const kind = group.dataset.group;
      const any = [...state.rows.values()].some((r) => groupOf(r) === kind && rowVisible(r));
      group.hidden = !any;
    }
    $("empty").hidden = shown > 0;
  }

  // -- matrix ---------------------------------------------------------------------------------

  function groupOf(row) {
    return row.kind === "custom" ? "persona" : row.kind;
  }

  const GROUP_TITLES = {
    persona: ["Personas", "previews/profiles"],
    segment: ["Segments", "one synthetic profile per segment, verified with the selector"],
    experiment: ["Experiment arms", "a synthetic id per arm, found by hashing"],
  };

  function renderMatrix() {
    const matrix = state.matrix;
    setupChannelChips();
    layoutColumns();
    const grid = $("matrix");
    const channels = visibleChannels();
    const nodes = [el("div", { className: "corner", text: "Profile" })];
    const campaign = campaignMeta();
    for (const channel of channels) {
      nodes.push(el("div", { className: `colhead ch-${channel}` },
        el("span", { className: "ch-dot" }),
        el("strong", { text: CHANNEL_LABELS[channel] || channel }),
        el("span", { className: "muted", text: channel === "email" ? `${state.emailWidth}px` : "" })));
    }
    let group = null;
    for (const row of matrix.rows) {
      const g = groupOf(row);
      if (g !== group) {
        group = g;
        const count = matrix.rows.filter((r) => groupOf(r) === g).length;
        const [title, hint] = GROUP_TITLES[g] || [g, ""];
        nodes.push(el("div", { className: "group", dataset: { group: g }, role: "row" },
          el("div", { className: "group-label" },
            el("strong", { text: title }), el("span", { className: "count", text: String(count) }),
            el("span", { className: "muted", text: hint }))));
      }
      nodes.push(rowHead(row));
      for (const channel of channels) nodes.push(cellNode(state.cells.get(cellId(row.key, channel)), channel, row.key));
    }
    grid.replaceChildren(...nodes);
    grid.dataset.campaign = matrix.campaign;
    grid.dataset.at = matrix.at;
    document.title = `${campaign ? campaign.name : ""} · ${state.meta.project} · atomcast preview`;
    applyFilters();
  }

  function rowHead(row) {
    const edited = state.edited.has(row.key) || row.edited;
    const badges = [el("span", { className: `badge kind-${row.kind}`, text: KIND_LABELS[row.kind] || row.kind })];
    if (row.approximate) badges.push(el("span", { className: "badge warn", text: "approximate", title: row.note }));
    if (edited) badges.push(el("span", { className: "badge edited", text: "edited · not saved" }));
    const arms = Object.entries(row.experiments || {}).map(([exp, arm]) =>
      el("span", { className: `tag arm${arm === "holdout" ? " holdout" : ""}`, text: `${exp}: ${arm}`, title: "experiment arm" }));
    const segs = (row.segments || []).map((s) => el("span", { className: "tag seg", text: s }));
    const actions = el("div", { className: "row-actions" },
      state.mode === "live" ? el("button", { type: "button", className: "link-btn", text: "Edit profile", onclick: () => openProfileForm(row.key) }) : null,
      state.mode === "live" && edited ? el("button", { type: "button", className: "link-btn", text: "Reset", onclick: () => resetRow(row.key) }) : null,
      el("button", { type: "button", className: "link-btn", text: "Explain", onclick: () => openExplain(row.key, null) }));
    return el("div", { className: `rowhead${edited ? " is-edited" : ""}`, dataset: { rowKey: row.key }, role: "rowheader" },
      el("div", { className: "row-title" }, el("strong", { text: row.label, title: row.path || row.key }), ...badges),
      el("div", { className: "row-id" },
        el("code", { text: row.profile_id }),
        row.locale ? el("span", { className: "tag loc", text: row.locale }) : null),
      row.description ? el("p", { className: "row-desc", text: row.description, title: row.description }) : null,
      arms.length || segs.length ? el("div", { className: "tags" }, ...arms, ...segs) : el("div", { className: "tags muted", text: "in no segment" }),
      actions);
  }

  function statusPill(cell) {
    const label = { rendered: "rendered", skipped: "skipped", error: "failed" }[cell.status] || cell.status;
    return el("span", { className: `pill st-${cell.status}`, text: label });
  }

  function warningBadge(cell, container) {
    const warnings = cell.warnings || [];
    if (!warnings.length) return null;
    const text = warnings.map((w) => `${w.code}: ${w.message}`).join("\n");
    return el("button", {
      type: "button", className: "warn-badge", title: text, text: `⚠ ${warnings.length}`,
      "aria-label": `${warnings.length} warning(s)`,
      onclick: (event) => {
        event.stopPropagation();
        const list = container.querySelector(".warn-list");
        if (list) list.hidden = !list.hidden;
      },
    });
  }

  function cellNode(cell, channel, rowKey) {
    if (!cell) return el("div", { className: "cell missing", dataset: { rowKey, row: rowKey, channel } }, "—");
    const node = el("div", {
      className: `cell ch-${channel} st-${cell.status}`,
      dataset: { rowKey, row: rowKey, channel, status: cell.status },
      role: "gridcell",
      tabIndex: 0,
      title: "Click to explain this combination",
    });
    node.addEventListener("click", () => openExplain(rowKey, channel));
    node.addEventListener("keydown", (event) => { if (event.key === "Enter") openExplain(rowKey, channel); });
    const head = el("div", { className: "cell-head" }, statusPill(cell));
    const summary = cellSummary(cell);
    if (summary) head.append(el("span", { className: "cell-summary", text: summary, title: summary }));
    const badge = warningBadge(cell, node);
    if (badge) head.append(badge);
    const darkNote = darkWarning(cell);
    if (darkNote) head.append(darkNote);
    node.append(head);
    if (cell.status !== "rendered" && !(cell.status === "error" && channel === "sms" && cell.output.text)) {
      node.append(el("div", { className: `cell-reason st-${cell.status}` },
        el("strong", { text: cell.status === "skipped" ? "Not sent" : "Failed" }),
        el("span", { text: cell.reason || "no reason given" })));
    } else {
      if (cell.status === "error") node.append(el("div", { className: "cell-reason st-error" }, el("strong", { text: "Failed" }), el("span", { text: cell.reason || "" })));
      node.append(channelPreview(cell, channel));
    }
    if ((cell.warnings || []).length) {
      node.append(el("ul", { className: "warn-list", hidden: true },
        ...cell.warnings.map((w) => el("li", {}, el("code", { text: w.code }), " ", w.message))));
    }
    return node;
  }

  /** A layout without dark styles looks the same in Apple Mail's dark mode: say so. */
  function darkWarning(cell) {
    if (state.dark === "light" || cell.channel !== "email" || cell.status !== "rendered") return null;
    if (hasDarkStyles(cell.output.html || "")) return null;
    return el("span", {
      className: "dark-warn", text: "no dark styles",
      title: "This layout has no @media (prefers-color-scheme: dark) styles: Apple Mail shows it light, and inverting clients recolour it as they please.",
    });
  }

  function hasDarkStyles(html) {
    return /prefers-color-scheme\s*:\s*dark/i.test(html);
  }

  function cellSummary(cell) {
    const out = cell.output || {};
    if (cell.status !== "rendered") return "";
    if (cell.channel === "sms") return `${out.encoding} · ${plural(out.segments, "segment")}`;
    if (cell.channel === "email") return cell.layout ? `layout ${cell.layout}` : "";
    if (cell.channel === "push") return cell.layout ? `layout ${cell.layout}` : "";
    if (cell.channel === "web") return cell.layout ? `layout ${cell.layout}` : "";
    return "";
  }

  function channelPreview(cell, channel) {
    if (channel === "email") return emailPreview(cell);
    if (channel === "push") return pushPreview(cell);
    if (channel === "sms") return smsPreview(cell);
    if (channel === "web") return webPreview(cell);
    return el("pre", { className: "json", text: JSON.stringify(cell.output, null, 2) });
  }

  // A matrix holds dozens of full email documents: parse each only when it nears the
  // viewport, so a big project opens fast and stays responsive.
  // The matrix scrolls inside its own box (sticky first column and header), so the observer
  // watches that box: its margin then reaches frames just below the fold.
  const pendingHtml = new WeakMap();
  let observer = null;
  function frameObserver() {
    if (observer || !window.IntersectionObserver) return observer;
    observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const frame = entry.target;
        observer.unobserve(frame);
        if (pendingHtml.has(frame)) {
          frame.srcdoc = pendingHtml.get(frame);
          pendingHtml.delete(frame);
        }
      }
    }, { root: $("matrix-scroll"), rootMargin: "600px 400px" });
    return observer;
  }

  function sandboxFrame(kind, html, title, eager) {
    const frame = el("iframe", { className: `frame frame-${kind}`, title });
    frame.setAttribute("sandbox", "");
    frame.setAttribute("referrerpolicy", "no-referrer");
    const watcher = eager ? null : frameObserver();
    if (!watcher) {
      frame.srcdoc = html;
    } else {
      pendingHtml.set(frame, html);
      frame.dataset.lazy = "1";
      watcher.observe(frame);
    }
    return frame;
  }

  function frameScale(kind) {
    return kind === "email" && state.emailWidth < 600 ? MOBILE_SCALE : SCALE[kind];
  }

  /** Images of a static export, inlined: sandboxed frames opened from disk load no file. */
  function localAssets(text) {
    if (!state.assets || typeof text !== "string") return text;
    return text.replace(/\.\.\/assets\/([A-Za-z0-9._-]+)/g, (whole, name) => state.assets[name] || whole);
  }

  function inHead(html, extra) {
    return /<\/head>/i.test(html) ? html.replace(/<\/head>/i, `${extra}</head>`) : extra + html;
  }

  /** The document as the chosen client shows it. "prefers": the layout's own dark styles
   *  apply, as in Apple Mail (the media query is rewritten to always match, since a frame
   *  cannot be told the reader prefers dark); "invert": Gmail's and Outlook's apps. */
  function withDark(html, kind) {
    const source = localAssets(html);
    if (state.dark === "light") return source;
    if (state.dark === "invert" && kind === "email") return inHead(source, INVERT_STYLE);
    let out = source
      .replace(/prefers-color-scheme\s*:\s*dark/gi, "min-width: 0px")
      .replace(/prefers-color-scheme\s*:\s*light/gi, "max-width: 0px");
    // A document that declares dark support gets the dark canvas and form colours too.
    if (/color-scheme[^;>]*dark/i.test(source)) out = inHead(out, "<style>:root{color-scheme:dark!important}</style>");
    return out;
  }

  function sizeFrame(wrapper, kind) {
    const width = kind === "email" ? state.emailWidth : WEB_WIDTH;
    const scale = frameScale(kind);
    const height = FRAME_HEIGHT[kind];
    wrapper.style.width = `${Math.round(width * scale)}px`;
    wrapper.style.height = `${Math.round(height * scale)}px`;
    const frame = wrapper.querySelector("iframe");
    frame.style.width = `${width}px`;
    frame.style.height = `${height}px`;
    frame.style.transform = `scale(${scale})`;
  }

  function emailPreview(cell) {
    const out = cell.output;
    const wrap = el("button", {
      type: "button", className: "frame-wrap frame-email thumb", title: "Open the full email",
      "aria-label": `Open the full email: ${out.subject || ""}`,
      onclick: (event) => { event.stopPropagation(); openExplain(cell.row, cell.channel, "preview"); },
    }, sandboxFrame("email", withDark(out.html || "", "email"), `Email: ${out.subject || ""}`));
    sizeFrame(wrap, "email");
    return el("div", { className: "email-preview" },
      el("div", { className: "inbox-line" },
        el("div", { className: "subject", text: out.subject || "(no subject)", title: out.subject || "" }),
        el("div", { className: "preheader", text: out.preheader || "", title: out.preheader || "" })),
      wrap);
  }

  function webDocument(html) {
    const css = state.meta.web_css || "";
    const base = "html,body{margin:0;background:#fff;color:#1d2525;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
      "body{padding:20px}img{max-width:100%;height:auto;display:block}a{color:#1f4e5f}" +
      "section{display:grid;gap:16px}";
    return `<!doctype html><html><head><meta charset="utf-8"><style>${base}</style>${css ? `<style>${css.replace(/<\//g, "<\\/")}</style>` : ""}</head><body>${html}</body></html>`;
  }

  function webPreview(cell) {
    const wrap = el("button", {
      type: "button", className: "frame-wrap frame-web thumb", title: "Open the full fragment",
      onclick: (event) => { event.stopPropagation(); openExplain(cell.row, cell.channel, "preview"); },
    }, sandboxFrame("web", withDark(webDocument(cell.output.html || ""), "web"), "Web fragment"));
    sizeFrame(wrap, "web");
    return wrap;
  }

  function pushImage(out) {
    const fcm = (((out.fcm || {}).message || {}).notification || {}).image;
    const url = fcm || (out.webpush || {}).image;
    return typeof url === "string" && (url.startsWith("/assets/") || url.startsWith("https://") || url.startsWith("../assets/")) ? localAssets(url) : null;
  }

  function pushPreview(cell) {
    const out = cell.output;
    const p = out.previews || {};
    const app = state.meta.project;
    const image = pushImage(out);
    const ios = el("div", { className: "notif ios", title: "iOS lock screen" },
      el("div", { className: "notif-app" }, el("span", { className: "app-icon" }), el("span", { className: "app-name", text: app.toUpperCase() }), el("span", { className: "when", text: "now" })),
      el("div", { className: "notif-title", text: p.ios_preview_title ?? out.title }),
      p.ios_preview_subtitle ? el("div", { className: "notif-sub", text: p.ios_preview_subtitle }) : null,
      el("div", { className: "notif-body", text: p.ios_preview_body ?? out.body }));
    const android = el("div", { className: "notif android", title: "Android notification shade" },
      el("div", { className: "notif-app" }, el("span", { className: "app-icon small" }), el("span", { className: "app-name", text: app }), el("span", { className: "when", text: "· now" })),
      el("div", { className: "android-main" },
        el("div", { className: "android-text" },
          el("div", { className: "notif-title", text: p.android_preview_title ?? out.title }),
          el("div", { className: "notif-body", text: p.android_preview_body ?? out.body })),
        image ? el("img", { className: "android-thumb", src: image, alt: "", loading: "lazy" }) : null));
    return el("div", { className: "push-preview" },
      el("div", { className: "device-label", text: "iOS" }), ios,
      el("div", { className: "device-label", text: "Android" }), android);
  }

  function smsPreview(cell) {
    const out = cell.output;
    return el("div", { className: "sms-preview" },
      el("div", { className: "sms-thread" }, el("div", { className: "bubble", text: out.text || "" })),
      el("div", { className: "sms-meta" },
        el("span", { className: `enc${out.encoding === "UCS-2" ? " ucs2" : ""}`, text: out.encoding }),
        el("span", { text: plural(out.characters, "char") }),
        el("span", { text: plural(out.segments, "segment") }),
        out.units !== undefined ? el("span", { className: "muted", text: `${out.units} units` }) : null));
  }

  // -- live patches ---------------------------------------------------------------------------

  function replaceCell(cell) {
    state.cells.set(cellId(cell.row, cell.channel), cell);
    const old = document.querySelector(`.cell[data-row="${CSS.escape(cell.row)}"][data-channel="${CSS.escape(cell.channel)}"]`);
    if (!old) return;
    const node = cellNode(cell, cell.channel, cell.row);
    node.hidden = old.hidden;
    node.classList.add("flash");
    node.dataset.updatedAt = String(Date.now());
    old.replaceWith(node);
    if (state.drawer && state.drawer.row === cell.row) refreshDrawer();
  }

  function replaceRowHead(row) {
    const previous = state.rows.get(row.key);
    state.rows.set(row.key, row);
    if (state.matrix) {
      const index = state.matrix.rows.findIndex((r) => r.key === row.key);
      if (index >= 0) state.matrix.rows[index] = row;
    }
    const old = document.querySelector(`.rowhead[data-row-key="${CSS.escape(row.key)}"]`);
    if (old) {
      const node = rowHead(row);
      old.replaceWith(node);
      if (previous) node.classList.add("flash");
    }
    applyFilters();
  }

  function showProblems(problems) {
    const overlay = $("overlay");
    const list = $("overlay-list");
    if (!problems || !problems.length) {
      overlay.hidden = true;
      list.replaceChildren();
      document.body.classList.remove("has-problems");
      return;
    }
    list.replaceChildren(...problems.map((p) => el("li", {},
      el("code", { className: "loc", text: `${p.path}:${p.line}` }),
      el("span", { className: `sev ${p.severity}`, text: p.severity }),
      el("span", { text: p.message }))));
    overlay.hidden = false;
    document.body.classList.add("has-problems");
  }

  function setLive(status) {
    const live = $("live");
    live.dataset.status = status;
    live.textContent = { open: "live", connecting: "connecting…", closed: "offline" }[status] || status;
  }

  function connect() {
    if (state.mode !== "live" || !window.EventSource) return;
    const source = new EventSource("/events");
    state.source = source;
    setLive("connecting");
    const on = (name, handler) => source.addEventListener(name, (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch (_) { return; }
      handler(data);
    });
    source.onopen = () => setLive("open");
    source.onerror = () => setLive(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
    on("hello", (data) => {
      setLive("open");
      showProblems(data.problems);
      // A reconnect to a restarted server, or one that changed while we were away.
      const stale = state.instance && (data.instance !== state.instance || data.generation !== state.generation);
      state.instance = data.instance;
      state.generation = data.generation;
      if (stale) loadMatrix().catch(showFatal);
    });
    on("problems", (data) => showProblems(data.problems));
    on("row", (data) => {
      if (!state.matrix || data.key !== state.matrix.key || state.edited.has(data.row.key)) return;
      replaceRowHead(data.row);
    });
    on("cell", (data) => {
      if (!state.matrix || data.key !== state.matrix.key || state.edited.has(data.cell.row)) return;
      replaceCell(data.cell);
    });
    on("coverage", (data) => {
      if (state.matrix && data.key === state.matrix.key) renderCoverage(data.coverage);
    });
    on("matrix", async (data) => {
      if (!state.matrix || data.key !== state.matrix.key) return;
      state.meta = await getJSON("/api/meta");
      await loadMatrix();
      toast(`Reloaded: ${data.reason}`);
    });
    on("done", (data) => {
      state.generation = data.generation;
      document.documentElement.dataset.generation = String(data.generation);
      refreshEdited().catch(() => {});
      if (state.drawer && state.drawer.view === "explain") refreshDrawer();
    });
  }

  // -- coverage --------------------------------------------------------------------------------

  function renderCoverage(coverage) {
    const box = $("coverage");
    if (!coverage) { box.replaceChildren(); return; }
    state.matrix.coverage = coverage;
    const pct = coverage.total ? Math.round((100 * coverage.rendered) / coverage.total) : 0;
    const bar = el("div", { className: "cov-bar", title: `${pct}% of combinations render` });
    for (const [name, n] of [["rendered", coverage.rendered], ["skipped", coverage.skipped], ["error", coverage.failed]]) {
      if (!n) continue;
      const seg = el("span", { className: `st-${name}` });
      seg.style.flexGrow = String(n);
      bar.append(seg);
    }
    // The strip is the SPEC 7 report of the matrix's rows (what `atomcast coverage` prints).
    const report = coverage.report;
    const perChannel = [];
    const reasons = [];
    for (const [channel, ch] of Object.entries(report.channels)) {
      const label = CHANNEL_LABELS[channel] || channel;
      const parts = [`${ch.rendered} rendered`];
      for (const [status, counts] of [["skipped", ch.skipped], ["error", ch.error]]) {
        const n = Object.values(counts).reduce((a, b) => a + b, 0);
        if (n) parts.push(`${n} ${status === "error" ? "failed" : "skipped"}`);
        for (const [reason, count] of Object.entries(counts)) {
          reasons.push(el("span", { className: `reason st-${status}`, title: `${label}: ${reason}` },
            el("b", { text: `${count}×` }), ` ${label} · ${reason}`));
        }
      }
      perChannel.push(el("span", { className: "cov-ch muted", text: `${label} ${parts.join(" · ")}` }));
    }
    const thin = [];
    for (const [slot, sc] of Object.entries(report.slots)) {
      if (sc.fallback) thin.push(el("span", { className: "reason", text: `${slot}: ${sc.fallback} fallback` }));
      if (sc.empty) thin.push(el("span", { className: "reason st-error", text: `${slot}: ${sc.empty} empty` }));
    }
    const mixed = report.mixed_locale;
    if (mixed.profiles) {
      thin.push(el("span", { className: "reason", title: mixed.examples.map((m) => m.profile_id).join(", "),
        text: `${mixed.profiles} ${mixed.profiles === 1 ? "profile mixes" : "profiles mix"} locales` }));
    }
    const unused = report.never_selected;
    const unusedBox = el("details", { className: "unused" },
      el("summary", {}, el("b", { text: String(unused.length) }), ` ${unused.length === 1 ? "atom" : "atoms"} no row selects`),
      el("ul", {}, ...unused.map((a) => el("li", {},
        el("code", { text: a.atom, title: `${a.path}:${a.line}` }), el("span", { className: "muted", text: ` · ${a.why}` })))));
    box.replaceChildren(
      el("div", { className: "cov-stats" },
        el("span", { className: "cov-total" }, el("b", { text: String(coverage.total) }), " combinations"),
        el("span", { className: "stat st-rendered" }, el("i"), el("b", { text: String(coverage.rendered) }), " rendered"),
        el("span", { className: "stat st-skipped" }, el("i"), el("b", { text: String(coverage.skipped) }), " skipped"),
        el("span", { className: "stat st-error" }, el("i"), el("b", { text: String(coverage.failed) }), " failed"),
        bar, ...perChannel),
      el("div", { className: "cov-reasons" }, ...thin, ...reasons),
      unused.length ? unusedBox : el("span", { className: "muted", text: "Every atom is selected by some row." }));
  }

  // -- drawer: explain ---------------------------------------------------------------------------

  function openDrawer(kicker, title) {
    $("drawer-kicker").textContent = kicker;
    $("drawer-title").textContent = title;
    $("drawer").hidden = false;
    document.body.classList.add("drawer-open");
  }

  function closeDrawer() {
    $("drawer").hidden = true;
    document.body.classList.remove("drawer-open");
    for (const node of document.querySelectorAll(".cell.selected")) node.classList.remove("selected");
    state.drawer = null;
  }

  function markSelected(row, channel) {
    for (const node of document.querySelectorAll(".cell.selected")) node.classList.remove("selected");
    if (!channel) return;
    const node = document.querySelector(`.cell[data-row="${CSS.escape(row)}"][data-channel="${CSS.escape(channel)}"]`);
    if (node) node.classList.add("selected");
  }

  async function fetchExplain(rowKey) {
    if (state.mode === "static") return state.explains[rowKey];
    const edited = state.edited.get(rowKey);
    if (edited) {
      const body = { campaign: state.filters.campaign, at: state.filters.at, row: rowKey, profile: edited };
      return (await getJSON("/api/explain", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).explain;
    }
    const params = new URLSearchParams({ campaign: state.filters.campaign, at: state.filters.at, row: rowKey });
    return (await getJSON(`/api/explain?${params}`)).explain;
  }

  async function openExplain(rowKey, channel, tab) {
    const row = state.rows.get(rowKey);
    if (!row) return;
    state.drawer = { view: "explain", row: rowKey, channel, tab: tab || (state.drawer && state.drawer.tab) || "explain" };
    markSelected(rowKey, channel);
    openDrawer(channel ? `${CHANNEL_LABELS[channel]} · ${state.filters.campaign}` : state.filters.campaign, row.label);
    await refreshDrawer();
  }

  async function refreshDrawer() {
    const drawer = state.drawer;
    if (!drawer || drawer.view !== "explain") return;
    const body = $("drawer-body");
    let data;
    try {
      data = await fetchExplain(drawer.row);
    } catch (error) {
      body.replaceChildren(el("p", { className: "error-text", text: `Could not explain: ${error.message}` }));
      return;
    }
    if (state.drawer !== drawer) return;
    const tabs = [["explain", "Explain"]];
    const cell = drawer.channel ? state.cells.get(cellId(drawer.row, drawer.channel)) : null;
    if (cell) tabs.push(["preview", "Full preview"], ["json", "JSON"]);
    const tabBar = el("div", { className: "tabs", role: "tablist" }, ...tabs.map(([id, label]) => el("button", {
      type: "button", role: "tab", className: drawer.tab === id ? "on" : "", text: label,
      "aria-selected": String(drawer.tab === id),
      onclick: () => { drawer.tab = id; refreshDrawer(); },
    })));
    let content;
    if (drawer.tab === "preview" && cell) content = fullPreview(cell);
    else if (drawer.tab === "json" && cell) content = el("pre", { className: "json", text: JSON.stringify(cell.output, null, 2) });
    else content = explainView(data, drawer.channel, cell);
    body.replaceChildren(tabBar, content);
  }

  function fullPreview(cell) {
    if (cell.status === "skipped") return el("p", { className: "muted", text: cell.reason || "" });
    if (cell.channel === "email" || cell.channel === "web") {
      const html = withDark(cell.channel === "email" ? cell.output.html : webDocument(cell.output.html), cell.channel);
      const frame = sandboxFrame(cell.channel, html || "", "Full preview", true);
      frame.classList.add("full");
      frame.style.width = `${cell.channel === "email" ? state.emailWidth : WEB_WIDTH}px`;
      const warning = darkWarning(cell);
      return el("div", { className: "full-preview" },
        state.dark !== "light" ? el("p", { className: "muted", text: `Shown as: ${DARK_MODES[state.dark]}` }) : null,
        warning ? el("p", { className: "note warn", text: warning.title }) : null,
        cell.channel === "email" ? el("div", { className: "inbox-line big" },
          el("div", { className: "subject", text: cell.output.subject || "" }),
          el("div", { className: "preheader", text: cell.output.preheader || "" })) : null,
        el("div", { className: "frame-full" }, frame),
        cell.channel === "email" && cell.output.text ? el("details", { className: "plain" }, el("summary", { text: "Plain-text part" }), el("pre", { text: cell.output.text })) : null);
    }
    return channelPreview(cell, cell.channel);
  }

  function clauseList(clauses) {
    if (!clauses || !clauses.length) return null;
    return el("ul", { className: "clauses" }, ...clauses.map((c) => el("li", { className: c.passed ? "pass" : "fail" },
      el("span", { className: "mark", text: c.passed ? "✓" : "✗" }),
      el("code", { text: c.path }), " ",
      el("span", { className: "op", text: c.operator }), " ",
      el("code", { className: "val", text: fmt(c.expected) }),
      c.actual !== null && c.actual !== undefined ? el("span", { className: "muted", text: ` · profile has ${fmt(c.actual)}` }) : null,
      clauseList(c.children))));
  }

  function fmt(value) {
    if (value === undefined) return "missing";
    if (typeof value === "string") return value.startsWith("<") ? value : JSON.stringify(value);
    return JSON.stringify(value);
  }

  function explainView(data, channel, cell) {
    const root = el("div", { className: "explain" });
    const row = state.rows.get(state.drawer.row);
    const status = channel && data.channels ? data.channels[channel] : null;
    const facts = el("dl", { className: "facts" },
      el("dt", { text: "Profile" }), el("dd", {}, el("code", { text: data.profile_id })),
      el("dt", { text: "At" }), el("dd", { text: data.at }),
      el("dt", { text: "Experiments" }), el("dd", { text: Object.entries(data.experiments).map(([e, a]) => `${e}: ${a}`).join(", ") || "none" }));
    if (channel) {
      facts.append(el("dt", { text: "Channel" }), el("dd", {},
        cell ? statusPill(cell) : null, " ", (cell && cell.reason) || (status && status.reason) || ""));
    }
    root.append(facts);
    if (row && row.approximate) root.append(el("p", { className: "note warn", text: row.note }));

    const segs = el("details", { className: "segments" },
      el("summary", {}, "Segments: ", el("b", { text: data.segments.filter((s) => s.member).map((s) => s.segment).join(", ") || "none" })),
      el("ul", { className: "seglist" }, ...data.segments.map((s) => el("li", { className: s.member ? "pass" : "fail" },
        el("span", { className: "mark", text: s.member ? "✓" : "✗" }), el("strong", { text: s.segment }), clauseList(s.clauses)))));
    root.append(segs);

    for (const slot of data.slots) {
      const used = channel ? slot.channels[channel] : slot.chosen;
      const candidates = slot.candidates;
      const head = el("div", { className: "slot-head" },
        el("h3", { text: slot.slot }),
        el("span", { className: "muted", text: `${slot.kinds.join(", ")}${slot.required ? " · required" : ""}` }),
        el("span", { className: "slot-chosen" }, used ? el("code", { text: used }) : el("span", { className: "muted", text: "empty" })));
      const meta = el("div", { className: "slot-meta muted" },
        `locale chain ${slot.locale_chain.join(" › ")}`, slot.locale_used ? ` · candidates from ${slot.locale_used}` : "",
        slot.experiment ? ` · experiment ${slot.experiment} (${slot.arm})` : "",
        slot.fallback ? ` · fallback ${slot.fallback} used` : "");
      const list = el("ol", { className: "candidates" }, ...candidates.map((c) => candidateItem(c, used)));
      root.append(el("section", { className: "slot" }, head, meta, list));
    }
    return root;
  }

  function candidateItem(c, used) {
    const isUsed = c.atom === used;
    const failing = c.checks.filter((k) => !k.passed);
    const item = el("li", { className: `cand ${isUsed ? "used" : c.eligible ? "eligible" : "ineligible"}` },
      el("div", { className: "cand-head" },
        el("code", { className: "atom", text: c.atom, title: c.path }),
        el("span", { className: "prio", text: `p${c.priority}` }),
        el("span", { className: "tag loc", text: c.locale }),
        el("span", { className: "outcome", text: isUsed ? "used here" : c.outcome })));
    if (failing.length) {
      item.append(el("ul", { className: "checks" }, ...failing.map((k) => el("li", { className: "fail" },
        el("span", { className: "mark", text: "✗" }), el("b", { text: k.name }), " ", k.detail, clauseList(k.clauses)))));
    }
    return item;
  }

  // -- try a profile -------------------------------------------------------------------------------

  function fieldFor(spec, value, path) {
    const id = `pf-${path.replace(/[^a-zA-Z0-9_-]/g, "-")}`;
    const label = el("label", { className: "pf-label", for: id },
      el("span", { className: "pf-name", text: spec.name }),
      el("span", { className: "pf-type", text: spec.type }),
      spec.required ? el("span", { className: "pf-req", text: "required" }) : null,
      spec.sensitive ? el("span", { className: "pf-sens", text: "sensitive", title: "usable in rules, never printed" }) : null);
    const error = el("div", { className: "pf-error", dataset: { errorFor: path }, "aria-live": "polite" });
    const help = spec.description ? el("div", { className: "pf-help", text: spec.description }) : null;
    let input;
    if (spec.sensitive) {
      // Write-only: the server sends a mask, and sends back the real value for an untouched mask.
      const shown = value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value);
      input = el("input", { type: "password", id, autocomplete: "new-password", value: shown, placeholder: "sensitive: type a value to try a rule" });
      input.name = path;
      return el("div", { className: "pf-field pf-sensitive", dataset: { path, type: spec.type } }, label, input, help, error);
    }
    if (spec.type === "object" && spec.properties && spec.properties.length) {
      const obj = value && typeof value === "object" ? value : {};
      return el("fieldset", { className: "pf-object", dataset: { path, type: "object" } },
        el("legend", {}, el("span", { className: "pf-name", text: spec.name }), el("span", { className: "pf-type", text: "object" })),
        help, ...spec.properties.map((child) => fieldFor(child, obj[child.name], `${path}.${child.name}`)), error);
    }
    if (spec.type === "boolean") {
      input = el("input", { type: "checkbox", id, checked: value === true });
      return el("div", { className: "pf-field pf-bool", dataset: { path, type: spec.type } },
        el("label", { className: "pf-check", for: id }, input, el("span", { className: "pf-name", text: spec.name }),
          spec.sensitive ? el("span", { className: "pf-sens", text: "sensitive" }) : null),
        help, error);
    }
    if (spec.type === "number" || spec.type === "integer") {
      input = el("input", { type: "number", id, step: spec.type === "integer" ? "1" : "any", value: value ?? "" });
    } else if (spec.type === "list") {
      input = el("input", { type: "text", id, value: Array.isArray(value) ? value.join(", ") : value ?? "", placeholder: "comma, separated, values" });
    } else if (spec.type === "object") {
      input = el("textarea", { id, rows: 3, value: value === undefined || value === null ? "" : JSON.stringify(value, null, 2), placeholder: "{ JSON object }" });
    } else if (spec.type === "datetime") {
      input = el("input", { type: "text", id, value: value ?? "", placeholder: "2026-07-15T12:00:00Z" });
    } else {
      input = el("input", { type: "text", id, value: value ?? "" });
    }
    input.name = path;
    return el("div", { className: "pf-field", dataset: { path, type: spec.type } }, label, input, help, error);
  }

  function readForm(form, schema) {
    const errors = [];
    function read(spec, path) {
      const node = form.querySelector(`[data-path="${CSS.escape(path)}"]`);
      if (!node) return undefined;
      if (spec.sensitive) {
        const text = node.querySelector("input").value;
        if (text === state.meta.mask) return state.meta.mask;
        if (text.trim() === "") return undefined;
        if (spec.type === "string" || spec.type === "datetime") return text;
        if (spec.type === "boolean") return text.trim() === "true";
        if (spec.type === "object") {
          try { return JSON.parse(text); } catch (_) { errors.push({ field: path, message: "not valid JSON" }); return undefined; }
        }
      }
      if (spec.type === "object" && spec.properties && spec.properties.length) {
        const obj = {};
        for (const child of spec.properties) {
          const v = read(child, `${path}.${child.name}`);
          if (v !== undefined) obj[child.name] = v;
        }
        return obj;
      }
      const input = node.querySelector("input, textarea");
      if (spec.type === "boolean") return input.checked;
      const text = input.value.trim();
      if (text === "") return undefined;
      if (spec.type === "number" || spec.type === "integer") {
        const n = Number(text);
        if (Number.isNaN(n)) { errors.push({ field: path, message: `expected a ${spec.type}` }); return undefined; }
        return n;
      }
      if (spec.type === "list") return text.split(",").map((s) => s.trim()).filter(Boolean);
      if (spec.type === "object") {
        try { return JSON.parse(text); } catch (_) { errors.push({ field: path, message: "not valid JSON" }); return undefined; }
      }
      return text;
    }
    const raw = {};
    for (const spec of schema) {
      const value = read(spec, spec.name);
      if (value !== undefined) raw[spec.name] = value;
    }
    return { raw, errors };
  }

  function showFieldErrors(form, errors) {
    for (const node of form.querySelectorAll(".pf-error")) node.textContent = "";
    for (const node of form.querySelectorAll(".has-error")) node.classList.remove("has-error");
    for (const error of errors) {
      let path = error.field || "";
      let target = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
      while (!target && path.includes(".")) {
        path = path.slice(0, path.lastIndexOf("."));
        target = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
      }
      if (!target) target = form.querySelector(".pf-form-error");
      target.textContent = error.message;
      const field = target.closest(".pf-field, .pf-object");
      if (field) field.classList.add("has-error");
    }
  }

  function openProfileForm(rowKey) {
    const row = state.rows.get(rowKey);
    if (!row) return;
    state.drawer = { view: "profile", row: rowKey };
    markSelected(rowKey, null);
    openDrawer("Try a profile · nothing is saved", row.label);
    const raw = state.edited.get(rowKey) || row.raw;
    const schema = state.meta.schema;
    const form = el("form", { className: "profile-form", noValidate: true },
      el("p", { className: "muted", text: "Edit attributes and the row re-renders as you type. Nothing is written to disk; Reset brings back the file's values." }),
      ...schema.map((spec) => fieldFor(spec, raw[spec.name], spec.name)),
      el("div", { className: "pf-form-error", "aria-live": "polite" }),
      el("div", { className: "pf-actions" },
        el("button", { type: "submit", className: "primary", text: "Render row" }),
        el("button", { type: "button", text: "Reset to file", onclick: () => { resetRow(rowKey); openProfileForm(rowKey); } }),
        el("span", { className: "pf-status muted", "aria-live": "polite" })));
    let timer = null;
    const submit = async () => {
      const { raw: edited, errors } = readForm(form, schema);
      if (errors.length) { showFieldErrors(form, errors); return; }
      const status = form.querySelector(".pf-status");
      status.textContent = "rendering…";
      try {
        await renderEdited(rowKey, edited);
        showFieldErrors(form, []);
        status.textContent = "row re-rendered";
      } catch (error) {
        if (error.status === 422 && error.body && error.body.errors) {
          showFieldErrors(form, error.body.errors);
          status.textContent = "fix the highlighted fields";
        } else {
          status.textContent = error.message;
        }
      }
    };
    form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
    form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(submit, 350); });
    form.addEventListener("change", (event) => { if (event.target.type === "checkbox") { clearTimeout(timer); submit(); } });
    $("drawer-body").replaceChildren(form);
  }

  async function renderEdited(rowKey, raw) {
    const body = { campaign: state.filters.campaign, at: state.filters.at, row: rowKey, profile: raw };
    const data = await getJSON("/api/profile", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!state.matrix || data.key !== state.matrix.key) return;
    state.edited.set(rowKey, raw);
    replaceRowHead(data.row);
    for (const cell of data.cells) replaceCell(cell);
  }

  async function refreshEdited() {
    for (const [rowKey, raw] of [...state.edited]) {
      if (!state.rows.has(rowKey)) { state.edited.delete(rowKey); continue; }
      try { await renderEdited(rowKey, raw); } catch (_) { /* the form shows errors on its own */ }
    }
  }

  async function resetRow(rowKey) {
    state.edited.delete(rowKey);
    await loadMatrix();
  }

  function showFatal(error) {
    toast(error.message || String(error), "error");
    $("matrix").setAttribute("aria-busy", "false");
  }

  function trackTopbar() {
    // Column headers stick right under the top bar, whose height depends on wrapping.
    const bar = document.querySelector(".topbar");
    const update = () => document.documentElement.style.setProperty("--topbar-h", `${bar.offsetHeight}px`);
    update();
    if (window.ResizeObserver) new ResizeObserver(update).observe(bar);
  }

  async function start() {
    document.body.dataset.emailWidth = "600";
    trackTopbar();
    try {
      await loadMeta();
      setupFilters();
      await loadMatrix();
      connect();
    } catch (error) {
      showFatal(error);
    }
  }

  window.addEventListener("DOMContentLoaded", start);
})();

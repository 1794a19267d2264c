"use strict";
// The trajectory viewer: the data is parsed once; the list renders only the rows in view,
// and a trajectory's dialogue, calls and state are built when it is opened.
(function () {
  const DATA = JSON.parse(document.getElementById("envscale-data").textContent);
  const ROWS = DATA.rows;
  const ROW_HEIGHT = 30;
  const OVERSCAN = 10;

  const $ = (id) => document.getElementById(id);
  const list = $("list");
  const inner = $("list-inner");
  const detail = $("detail");
  let view = [];          // indices into ROWS that pass the filters
  let selected = -1;      // index into ROWS
  let searchText = null;  // lower-cased text searched, per row, made on first search

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function json(value) {
    return JSON.stringify(value, null, 2);
  }

  // A tool result: JSON pretty-printed when it is JSON, else the text.
  function resultText(text) {
    if (typeof text !== "string") return "";
    const t = text.trim();
    if (t.startsWith("{") || t.startsWith("[")) {
      try { return json(JSON.parse(t)); } catch (e) { /* not JSON: shown as it is */ }
    }
    return text;
  }

  // ---- filters

  function fillSelect(select, values, counts) {
    for (const value of values) {
      const label = counts ? `${value} (${counts.get(value) || 0})` : value;
      select.append(el("option", { value }, label));
    }
  }

  function setUpFilters() {
    const byDomain = new Map();
    const byReason = new Map();
    for (const row of ROWS) {
      const d = DATA.domains[row.domain];
      byDomain.set(d, (byDomain.get(d) || 0) + 1);
      if (row.reason) byReason.set(row.reason, (byReason.get(row.reason) || 0) + 1);
    }
    fillSelect($("f-domain"), DATA.domains, byDomain);
    fillSelect($("f-reason"), DATA.reasons, byReason);
    for (const id of ["f-domain", "f-outcome", "f-reason"]) {
      $(id).addEventListener("change", applyFilters);
    }
    let pending = 0;
    $("f-text").addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(applyFilters, 120);
    });
  }

  function rowText(row) {
    const task = DATA.tasks[row.task];
    return `${row.id}\n${row.task}\n${task ? task.instruction : ""}`.toLowerCase();
  }

  function applyFilters() {
    const domain = $("f-domain").value;
    const domainIndex = domain === "" ? -1 : DATA.domains.indexOf(domain);
    const outcome = $("f-outcome").value;
    const reason = $("f-reason").value;
    const text = $("f-text").value.trim().toLowerCase();
    if (text && searchText === null) searchText = ROWS.map(rowText);
    view = [];
    for (let i = 0; i < ROWS.length; i++) {
      const row = ROWS[i];
      if (domainIndex >= 0 && row.domain !== domainIndex) continue;
      if (outcome === "passed" && !row.passed) continue;
      if (outcome === "failed" && row.passed) continue;
      if (reason && row.reason !== reason) continue;
      if (text && !searchText[i].includes(text)) continue;
      view.push(i);
    }
    $("count").textContent = `${view.length} of ${ROWS.length} trajectories`;
    inner.style.height = `${view.length * ROW_HEIGHT}px`;
    list.scrollTop = 0;
    renderList();
  }

  // ---- the list, rendered in view only

  function renderList() {
    const first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const shown = Math.ceil(list.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN;
    const last = Math.min(view.length, first + shown);
    const rows = [];
    for (let n = first; n < last; n++) {
      const i = view[n];
      const row = ROWS[i];
      const node = el(
        "div",
        {
          class: `row ${row.passed ? "passed" : "failed"}${i === selected ? " selected" : ""}`,
          "data-index": i,
          "data-id": row.id,
          role: "option",
          "aria-selected": i === selected ? "true" : "false",
        },
        el("span", { class: "mark" }, row.passed ? "✓" : "✗"),
        el("span", { class: "rid", title: row.id }, row.id),
        el("span", { class: "rdom" }, DATA.domains[row.domain]),
        row.reason ? el("span", { class: "rreason" }, row.reason) : null,
      );
      node.style.top = `${n * ROW_HEIGHT}px`;
      rows.push(node);
    }
    inner.replaceChildren(...rows);
  }

  let frame = 0;
  list.addEventListener("scroll", () => {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; renderList(); });
  });
  window.addEventListener("resize", renderList);
  list.addEventListener("click", (event) => {
    const node = event.target.closest(".row");
    if (node) open(Number(node.dataset.index));
  });
  list.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    event.preventDefault();
    const at = view.indexOf(selected);
    const next = Math.min(view.length - 1, Math.max(0, at + (event.key === "ArrowDown" ? 1 : -1)));
    if (view.length) {
      open(view[next]);
      const top = next * ROW_HEIGHT;
      if (top < list.scrollTop) list.scrollTop = top;
      else if (top + ROW_HEIGHT > list.scrollTop + list.clientHeight) {
        list.scrollTop = top + ROW_HEIGHT - list.clientHeight;
      }
    }
  });

  // ---- one trajectory

  function sideBadge(side) {
    return side ? el("span", { class: `badge side-${side}` }, `${side} side`) : null;
  }

  function callNode(call) {
    const args = "arguments" in call
      ? el("pre", { class: "args" }, json(call.arguments))
      : el("pre", { class: "args malformed" }, call.raw);
    return el(
      "div",
      { class: "tool-call", "data-name": call.name },
      el("span", { class: "name" }, call.name),
      "arguments" in call ? null : el("span", { class: "badge error" }, "arguments not a JSON object"),
      args,
    );
  }

  function messageNode(message) {
    const side = message.side || "";
    const classes = ["msg", `role-${message.role}`];
    if (side) classes.push(`side-${side}`);
    if (message.error) classes.push("error");
    let who = message.role;
    if (message.role === "tool") who = `tool result${message.of ? ` of ${message.of}` : ""}`;
    if (message.role === "user" && message.calls) who = "user, on their device";
    const head = el(
      "div", { class: "who" }, who, " ", sideBadge(side),
      message.error ? el("span", { class: "badge error" }, "error") : null,
    );
    const node = el("div", { class: classes.join(" "), "data-role": message.role, "data-side": side || null }, head);
    let text = "text" in message ? DATA.texts[message.text] : message.content;
    if (message.role === "tool") text = resultText(text);
    if (text) {
      node.append(message.role === "tool" ? el("pre", { class: "body" }, text) : el("div", { class: "body" }, text));
    }
    for (const call of message.calls || []) node.append(callNode(call));
    if (message.role === "system") {
      node.title = "click to show the whole system prompt";
      node.addEventListener("click", () => node.classList.toggle("open"));
    }
    return node;
  }

  function callCell(call, side, extra) {
    if (!call) return el("td", { class: "absent" }, "none");
    return el(
      "td", {},
      el("div", { class: "call" }, el("span", { class: "name" }, call.name), " ", side === "user" ? sideBadge("user") : null, extra || null),
      el("pre", { class: "args" }, "arguments" in call ? json(call.arguments) : call.raw),
    );
  }

  function callsSection(row, task) {
    const section = el("section", { id: "calls" }, el("h3", {}, "Gold calls beside the agent's"));
    if (!task) {
      section.append(el("p", { class: "note" }, "The task is not in the tasks file given: no gold calls."));
      return section;
    }
    const table = el("table", { class: "compare" },
      el("tr", {}, el("th", {}, "#"), el("th", {}, "gold call"), el("th", {}, "agent's call"), el("th", {}, "")));
    (row.compare || []).forEach((pair, n) => {
      const gold = pair.gold === null ? null : task.gold[pair.gold];
      const agentCall = pair.agent === null ? null : row.messages[pair.agent[0]].calls[pair.agent[1]];
      const agentSide = pair.agent === null ? "" : row.messages[pair.agent[0]].side;
      table.append(el(
        "tr", { class: pair.same ? "same" : "differs" },
        el("td", {}, String(n + 1)),
        callCell(gold, gold && gold.side),
        callCell(agentCall, agentSide),
        el("td", { class: "mark", title: pair.same ? "the same call" : "not the same call" }, pair.same ? "=" : "≠"),
      ));
    });
    section.append(el("p", { class: "meta" }, "Successful calls, in order, as the exact-match filter compares them."), table);
    const goldFailed = task.gold.filter((g) => !g.ok);
    const agentFailed = [];
    const failedIds = new Set(row.messages.filter((m) => m.role === "tool" && m.error).map((m) => m.call_id));
    for (const m of row.messages) for (const c of m.calls || []) if (failedIds.has(c.id)) agentFailed.push(c);
    if (goldFailed.length || agentFailed.length) {
      const failed = el("table", { class: "failed-calls" },
        el("tr", {}, el("th", {}, "gold calls that fail by design"), el("th", {}, "agent's calls that failed")));
      const n = Math.max(goldFailed.length, agentFailed.length);
      for (let i = 0; i < n; i++) {
        failed.append(el("tr", {}, callCell(goldFailed[i], goldFailed[i] && goldFailed[i].side), callCell(agentFailed[i], "")));
      }
      section.append(el("h3", {}, "Failed calls (not compared)"), failed);
    }
    return section;
  }

  function value(v, present) {
    if (!present) return el("span", { class: "absent" }, "no record");
    if (v === null || v === undefined) return el("span", { class: "absent" }, "null");
    return el("pre", {}, typeof v === "string" ? v : json(v));
  }

  function stateSection(row) {
    const section = el("section", { id: "state" }, el("h3", {}, "Final state beside the gold state"));
    if (!row.diff) {
      const why = row.diff_note || (DATA.tasks[row.task]
        ? "not computed: the domain's spec was not at hand when the page was made"
        : "not computed: the task is not in the tasks file given");
      section.append(el("p", { class: "note" }, why));
      return section;
    }
    if (!row.diff.reproduced) {
      section.append(el("p", { class: "warn" }, "Replaying the dialogue did not give the final state hash the trajectory records."));
    }
    if (!row.diff.gold_reproduced) {
      section.append(el("p", { class: "warn" }, "Replaying the gold calls did not give the task's gold state hash."));
    }
    const changes = DATA.states[row.diff.state];
    if (!changes.length) {
      section.append(el("p", { class: "note" }, "Neither the agent nor the gold chain changed any record."));
      return section;
    }
    const table = el("table", { class: "diff" },
      el("tr", {}, el("th", {}, "record"), el("th", {}, "field"), el("th", {}, "before"),
        el("th", {}, "agent's final"), el("th", {}, "gold"), el("th", {}, "")));
    for (const change of changes) {
      const label = `${change.entity} ${typeof change.key === "string" ? change.key : JSON.stringify(change.key)}`;
      const what = `agent: ${change.agent || "unchanged"}, gold: ${change.gold || "unchanged"}`;
      const fields = change.fields.length ? change.fields : [["", null, null, null]];
      fields.forEach((f, n) => {
        const tr = el("tr", { class: change.same ? "same" : "differs", "data-entity": change.entity });
        if (n === 0) {
          tr.append(el("td", { rowspan: fields.length }, el("div", { class: "name" }, label), el("div", { class: "meta" }, what)));
        }
        tr.append(
          el("td", {}, f[0]),
          el("td", {}, value(f[1], change.present[0])),
          el("td", {}, value(f[2], change.present[1])),
          el("td", {}, value(f[3], change.present[2])),
        );
        if (n === 0) {
          tr.append(el("td", { class: "mark", rowspan: fields.length, title: change.same ? "as the gold state" : "differs from the gold state" }, change.same ? "=" : "≠"));
        }
        table.append(tr);
      });
    }
    section.append(table);
    return section;
  }

  function open(index) {
    selected = index;
    const row = ROWS[index];
    const task = DATA.tasks[row.task];
    const meta = Object.entries(row.meta).map(([k, v]) => `${k}: ${v}`).join(" · ");
    const filters = Object.entries(row.filters).map(([k, v]) => `${k} ${v ? "✓" : "✗"}`).join("  ");
    const dialogue = el("section", { id: "dialogue" }, el("h3", {}, `Dialogue (${row.messages.length} messages)`));
    for (const message of row.messages) dialogue.append(messageNode(message));
    const parts = [
      el("h2", {}, row.id),
      el("div", {},
        el("span", { class: `badge ${row.passed ? "passed" : "failed"}`, id: "outcome" }, row.passed ? "passed" : "failed"),
        row.reason ? el("span", { class: "badge", id: "reason" }, row.reason) : null,
        el("span", { class: "badge" }, DATA.domains[row.domain]),
        el("span", { class: "badge" }, `reward ${row.reward}`),
        filters ? el("span", { class: "meta" }, ` filters: ${filters}`) : null,
      ),
      row.failure ? el("div", { class: "failure" }, row.failure) : null,
      el("div", { class: "meta" }, `task ${row.task}`, meta ? ` · ${meta}` : ""),
      task ? el("div", { class: "instruction" }, task.instruction) : null,
      el("div", { class: "columns" }, dialogue, el("div", {}, callsSection(row, task), stateSection(row))),
    ];
    detail.replaceChildren(...parts.filter((part) => part !== null));
    detail.scrollTop = 0;
    if (decodeURIComponent(location.hash.slice(1)) !== row.id) {
      history.replaceState(null, "", `#${encodeURIComponent(row.id)}`);
    }
    renderList();
  }

  // ---- start

  if (DATA.notes.length) {
    $("notes").replaceChildren(...DATA.notes.map((n) => el("div", {}, n)));
  }
  setUpFilters();
  applyFilters();
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (wanted) {
    const at = ROWS.findIndex((row) => row.id === wanted);
    if (at >= 0) open(at);
  }
  document.body.dataset.ready = "true";
})();

// The MASH queue: open referrals, most urgent first, refreshed every 30 seconds without
// losing the practitioner's place (filters in the URL, scroll position, focus).

import { api, pathOf, withQuery } from "../api.js";
import { h, clear, ragTag, statusTag, countdownElement, shortDateTime, announce, clockTime, tickCountdowns, live, STATUSES, show, fullName } from "../dom.js";
import { select, button } from "../forms.js";
import { codes } from "../codes.js";
import { session } from "../state.js";

const REFRESH_SECONDS = 30;
const PAGE = 50;

export async function queuePage({ main, query }) {
  const filters = { status: query.get("status") || "", rag: query.get("rag") || "", source: query.get("source") || "", assignee: query.get("assignee") || "" };
  const state = { items: [], next: null, total: null, updatedAt: null, busy: false };
  session.lastQueue = window.location.hash;
  // The first page of the queue and the code list at once, not one after the other.
  const firstPage = fetchItems(PAGE);
  firstPage.catch(() => {});
  const { sources } = await codes();

  const tbody = h("tbody");
  const updated = h("p.body-s.secondary", { id: "queue-updated" });
  const counts = h("p.body", { id: "queue-counts" });
  const more = h("div");
  const table = h("div.table-wrap", h("table.table.table--cards#queue-table",
    h("caption.visually-hidden", "Open referrals, most urgent first"),
    h("thead", h("tr",
      h("th", { scope: "col" }, "Referral"),
      h("th", { scope: "col" }, "Children"),
      h("th", { scope: "col" }, "Concerns"),
      h("th", { scope: "col" }, "Source"),
      h("th", { scope: "col" }, "Rating"),
      h("th", { scope: "col" }, "Status"),
      h("th", { scope: "col" }, "Decision due"),
      h("th", { scope: "col" }, "Partner answers"),
      h("th", { scope: "col" }, "Allocated to"))),
    tbody));

  const form = h("form.filters", { "aria-label": "Filter the queue", novalidate: true },
    select({ id: "filter-status", label: "Status", value: filters.status,
      options: [["", "All open"], ["received", STATUSES.received], ["triaged", STATUSES.triaged], ["awaiting_information", STATUSES.awaiting_information], ["awaiting_approval", STATUSES.awaiting_approval]] }),
    select({ id: "filter-assignee", label: "Allocated to", value: filters.assignee,
      options: [["", "Anyone or nobody"], ["me", "My referrals"], ["none", "Unallocated"]] }),
    select({ id: "filter-rag", label: "Rating", value: filters.rag,
      options: [["", "Any rating"], ["red", "Red"], ["amber", "Amber"], ["green", "Green"], ["unrated", "Not rated"]] }),
    select({ id: "filter-source", label: "Source", value: filters.source,
      options: [["", "Any source"], ...sources.map(([code, words]) => [code, `${words} (${code})`])] }),
    button("Apply filters", { secondary: true }),
    h("p.body", h("a", { href: "#/queue", id: "clear-filters" }, "Clear filters")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    filters.status = form.querySelector("#filter-status").value;
    filters.rag = form.querySelector("#filter-rag").value;
    filters.source = form.querySelector("#filter-source").value;
    filters.assignee = form.querySelector("#filter-assignee").value;
    // The filters live in the address, so a refresh or a shared link keeps them.
    history.replaceState(null, "", `#${withQuery("/queue", filters)}`);
    session.lastQueue = window.location.hash;
    load(true).then(() => announce(`Filters applied: ${countsText()}`));
  });

  const refreshButton = button("Refresh now", { type: "button", secondary: true, onclick: () => load(false, true) });
  const pauseButton = button(live.paused ? "Resume automatic updates" : "Pause automatic updates", {
    type: "button", secondary: true, id: "pause-updates",
    onclick: () => {
      live.paused = !live.paused;
      pauseButton.textContent = live.paused ? "Resume automatic updates" : "Pause automatic updates";
      renderStatus();
      if (!live.paused) tickCountdowns();
      announce(live.paused ? "Automatic updates paused." : "Automatic updates resumed.");
    },
  });

  show(main,
    h("span.caption", "MASH"),
    h("h1.heading-l", "Queue"),
    form,
    h("div.queue-status", h("div", counts, updated), h("div.button-group", refreshButton, pauseButton)),
    table,
    more);

  function countsText() {
    const now = Date.now();
    const overdue = state.items.filter((i) => i.decision_due_at && new Date(i.decision_due_at).getTime() <= now).length;
    const shown = state.items.length;
    const total = typeof state.total === "number" ? state.total : null;
    const count = total ?? shown;
    const many = total !== null ? count.toLocaleString("en-GB") : `${shown}${state.next ? "+" : ""}`;
    const base = count === 0 ? "No open referrals" : `${many} open ${count === 1 ? "referral" : "referrals"}, most urgent first${total !== null && shown < total ? ` (${shown.toLocaleString("en-GB")} shown)` : ""}`;
    return overdue ? `${base}. ${overdue} overdue.` : `${base}.`;
  }

  async function fetchItems(count) {
    let path = withQuery("/api/v1/referrals/queue", { ...filters, limit: Math.min(200, Math.max(PAGE, count)) });
    const items = [];
    let next = null;
    let total = null;
    do {
      const { data } = await api(path);
      items.push(...data.items);
      next = data.links.next;
      if (typeof data.total === "number") total = data.total;
      path = next ? pathOf(next) : null;
    } while (path && items.length < count);
    return { items, next, total };
  }

  async function load(reset, byHand = false, given = null) {
    if (state.busy) return;
    state.busy = true;
    try {
      const before = new Set(state.items.map((i) => i.id));
      const { items, next, total } = await (given || fetchItems(reset ? PAGE : Math.max(PAGE, state.items.length)));
      state.items = items;
      state.next = next;
      state.total = total;
      state.updatedAt = new Date();
      renderRows();
      if (!reset) {
        const arrived = items.filter((i) => !before.has(i.id)).length;
        if (arrived) announce(`Queue updated: ${arrived} new ${arrived === 1 ? "referral" : "referrals"}. ${countsText()}`);
        else if (byHand) announce(`Queue updated. ${countsText()}`);
      }
    } finally {
      state.busy = false;
    }
  }

  async function loadMore() {
    if (!state.next || state.busy) return;
    state.busy = true;
    try {
      const firstNew = state.items.length;
      const { data } = await api(pathOf(state.next));
      state.items.push(...data.items);
      state.next = data.links.next;
      if (typeof data.total === "number") state.total = data.total;
      renderRows();
      const link = tbody.querySelectorAll("a.queue-link")[firstNew];
      if (link) link.focus();
      announce(`${data.items.length} more referrals shown.`);
    } finally {
      state.busy = false;
    }
  }

  function renderStatus() {
    clear(updated, `Updated at ${clockTime(state.updatedAt)}. `,
      live.paused ? "Automatic updates are paused." : `Refreshes every ${REFRESH_SECONDS} seconds.`);
  }

  function renderRows() {
    // Keep the practitioner's place: the focused row and the scroll position survive.
    const focusedKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focusKey : null;
    const scroll = window.scrollY;
    clear(tbody, state.items.length ? state.items.map((item) => row(item)) :
      h("tr", h("td", { colspan: "9" }, filters.status || filters.rag || filters.source || filters.assignee ? "No open referrals match these filters." : "There are no open referrals.")));
    clear(counts, countsText());
    renderStatus();
    clear(more, state.next ? button("Show more referrals", { type: "button", secondary: true, onclick: loadMore }) : null);
    if (focusedKey) {
      const again = main.querySelector(`[data-focus-key="${CSS.escape(focusedKey)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
    window.scrollTo(0, scroll);
    tickCountdowns(main, { force: true });
    main.dataset.queueReady = String(state.items.length);
  }

  function row(item) {
    const overdue = item.decision_due_at && new Date(item.decision_due_at).getTime() <= Date.now();
    const flags = [
      item.immediate_risk && h("strong.tag.tag--risk", "Immediate risk"),
      item.is_re_referral && h("strong.tag.tag--flag", "Re-referral"),
      item.kind === "notification" && h("strong.tag.tag--grey", "Notification"),
    ].filter(Boolean);
    const answers = item.open_information_requests
      ? h("div", `${item.open_information_requests} awaited`, h("br"), countdownElement(item.next_information_due_at))
      : h("span.secondary", "None awaited");
    const children = item.children || [];
    const me = session.me && session.me.subject;
    const assignee = item.assignee ? (item.assignee.id === me ? "You" : item.assignee.display_name || "A colleague") : null;
    return h(`tr.queue-row${overdue ? ".row--overdue" : ""}${!overdue && item.immediate_risk ? ".row--risk" : ""}`, { dataset: { referralId: item.id, deadlineRow: "1" } },
      h("td",
        h("a.queue-link", { href: `#/referrals/${item.id}`, dataset: { focusKey: `referral-${item.id}` } }, item.reference),
        h("div.body-s.secondary", "Received ", shortDateTime(item.received_at)),
        flags.length ? h("div.cell-flags", flags) : null),
      h("td.queue-cell-children", { dataset: { label: "Children" } }, children.length
        ? h("ul.concerns", children.map((c) => h("li", fullName(c), c.age !== null && c.age !== undefined ? h("span.secondary", ` (${c.age})`) : null)))
        : h("span.secondary", "No child named")),
      h("td", { dataset: { label: "Concerns" } }, h("ul.concerns", item.concerns.map((c) => h("li", c.description || c.code)))),
      h("td", { dataset: { label: "Source" } }, item.source_description || item.source),
      h("td", { dataset: { label: "Rating" } }, ragTag(item.rag)),
      h("td", { dataset: { label: "Status" } }, statusTag(item.status)),
      h("td", { dataset: { label: "Decision due" } }, item.decision_due_at ? countdownElement(item.decision_due_at, { decides: true }) : "", h("div.body-s.secondary", shortDateTime(item.decision_due_at))),
      h("td", { dataset: { label: "Partner answers" } }, answers),
      h("td.queue-cell-assignee", { dataset: { label: "Allocated to" } }, assignee || h("span.secondary", "Nobody")));
  }

  await load(true, false, firstPage);
  // Back from a referral: focus its row again, where the practitioner left the queue.
  if (session.lastReferral) {
    const link = main.querySelector(`[data-focus-key="referral-${CSS.escape(session.lastReferral)}"]`);
    session.lastReferral = null;
    if (link) setTimeout(() => { link.focus(); link.scrollIntoView({ block: "center" }); }, 0);
  }
  const timer = setInterval(() => { if (!document.hidden && !live.paused) load(false).catch(() => {}); }, REFRESH_SECONDS * 1000);
  return () => clearInterval(timer);
}

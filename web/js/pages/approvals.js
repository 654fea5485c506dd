// A MASH manager's approval queue: decisions practitioners have proposed that need a
// manager (a strategy discussion, immediate protection), oldest deadline first. Each
// opens on the referral, where the manager approves it or returns it with a comment.

import { api, pathOf, withQuery } from "../api.js";
import { h, clear, ragTag, countdownElement, shortDateTime, show, fullName, tickCountdowns, OUTCOMES } from "../dom.js";
import { button } from "../forms.js";

export async function approvalsPage({ main }) {
  const first = (await api(withQuery("/api/v1/referrals/queue", { status: "awaiting_approval", limit: 50 }))).data;
  const items = [...first.items];
  let next = first.links.next;
  const total = typeof first.total === "number" ? first.total : null;
  const tbody = h("tbody");
  const more = h("div");
  function rows() {
    clear(tbody, items.length ? items.map((item) => h("tr.approval-row", { dataset: { referralId: item.id } },
      h("td", { dataset: { label: "Referral" } }, h("a.queue-link", { href: `#/referrals/${item.id}` }, item.reference),
        h("div.body-s.secondary", "Received ", shortDateTime(item.received_at))),
      h("td.queue-cell-children", { dataset: { label: "Children" } }, (item.children || []).length
        ? h("ul.concerns", item.children.map((c) => h("li", fullName(c), c.age !== null && c.age !== undefined ? h("span.secondary", ` (${c.age})`) : null)))
        : h("span.secondary", "No child named")),
      h("td", { dataset: { label: "Proposed" } }, item.pending_decision ? OUTCOMES[item.pending_decision.outcome] || item.pending_decision.outcome : "See the referral"),
      h("td", { dataset: { label: "Rating" } }, ragTag(item.rag)),
      h("td", { dataset: { label: "Decision due" } }, item.decision_due_at ? countdownElement(item.decision_due_at, { decides: true }) : "",
        h("div.body-s.secondary", shortDateTime(item.decision_due_at))),
      h("td", { dataset: { label: "Allocated to" } }, item.assignee ? item.assignee.display_name || "A colleague" : h("span.secondary", "Nobody"))))
      : h("tr", h("td", { colspan: "6" }, "No decisions are waiting for your approval.")));
    clear(more, next ? button("Show more", { type: "button", secondary: true, onclick: async () => {
      const page = (await api(pathOf(next))).data;
      items.push(...page.items);
      next = page.links.next;
      rows();
    } }) : null);
    tickCountdowns(main, { force: true });
  }
  show(main,
    h("span.caption", "MASH manager"),
    h("h1.heading-l", "Decisions to approve"),
    h("p.body#approvals-count", total === null ? `${items.length}${next ? "+" : ""} waiting.`
      : total === 0 ? "Nothing is waiting." : `${total.toLocaleString("en-GB")} ${total === 1 ? "decision is" : "decisions are"} waiting for a manager, most urgent first.`),
    h("p.body", "Open a referral to read it, then approve the proposed decision or return it to the practitioner with a comment."),
    h("div.table-wrap", h("table.table.table--cards#approvals",
      h("caption.visually-hidden", "Decisions waiting for approval"),
      h("thead", h("tr", ["Referral", "Children", "Proposed", "Rating", "Decision due", "Allocated to"].map((t) => h("th", { scope: "col" }, t)))),
      tbody)),
    more);
  rows();
}

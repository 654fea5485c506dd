// Pattern alerts: the same adult, vehicle, place, phone number or online account in
// referrals about different children. The evidence is laid out as lists and tables (the
// network as text: who, what, where), and staff confirm or dismiss with a reason.

import { api, ApiError, pathOf, withQuery } from "../api.js";
import { h, clear, dateTime, dateOnly, backLink, summaryList, show } from "../dom.js";
import { button, textarea, showErrors, valueOf } from "../forms.js";

const KINDS = { adult: "Adult", vehicle: "Vehicle", place: "Place", phone: "Phone number", online: "Online account" };
const STATUSES = { open: "Open", confirmed: "Confirmed", dismissed: "Dismissed" };

function valueText(alert) {
  return alert.kind === "adult" ? "The same adult of concern" : alert.value;
}

function childName(child) {
  return [child.given_name, child.family_name].filter(Boolean).join(" ") || "Name not known";
}

export async function alertsPage({ main, query }) {
  const status = STATUSES[query.get("status")] ? query.get("status") : "open";
  const { data } = await api(withQuery("/api/v1/alerts", { status }));
  const items = [...data.items];
  let next = data.links ? data.links.next : data.next;
  const tbody = h("tbody");
  const more = h("div");
  function rows() {
    clear(tbody, items.length ? items.map((a) => h("tr",
      h("td", KINDS[a.kind] || a.kind),
      h("td", h("a", { href: `#/alerts/${a.id}` }, valueText(a))),
      h("td.numeric", String(a.children.length)),
      h("td.numeric", String(a.referral_ids.length)),
      h("td", dateTime(a.updated_at)),
      h("td", STATUSES[a.status] || a.status))) :
      h("tr", h("td", { colspan: "6" }, status === "open" ? "No alerts are waiting." : "No alerts here.")));
    clear(more, next ? button("Show more", { type: "button", secondary: true, onclick: async () => {
      const page = (await api(pathOf(next))).data;
      items.push(...page.items);
      next = page.links ? page.links.next : page.next;
      rows();
    } }) : null);
  }
  rows();
  show(main,
    h("span.caption", "MASH"),
    h("h1.heading-l", "Alerts"),
    h("p.body", "The same adult, vehicle, place, phone number or online account in referrals about different children. Open an alert to see the evidence, then confirm or dismiss it."),
    h("nav", { "aria-label": "Alerts by status" }, h("ul.list--inline", Object.entries(STATUSES).map(([key, text]) =>
      h("li", key === status ? h("span", { "aria-current": "page" }, text) : h("a", { href: `#/alerts?status=${key}` }, text))))),
    h("div.table-wrap", h("table.table#alerts",
      h("caption.visually-hidden", `${STATUSES[status]} alerts`),
      h("thead", h("tr", ["Kind", "Seen", "Children", "Referrals", "Latest evidence", "Status"].map((t) => h("th", { scope: "col" }, t)))),
      tbody)),
    more);
}

export async function alertPage({ main, params }) {
  let alert = (await api(`/api/v1/alerts/${params[0]}`)).data;
  const notice = h("div#alert-notice");

  function render() {
    const explanation = alert.explanation;
    const referralsOf = Object.fromEntries(explanation.referrals.map((r) => [r.id, r]));
    const children = h("div.table-wrap", h("table.table#alert-children",
      h("caption.heading-s", "Children"),
      h("thead", h("tr", ["Child", "Date of birth", "Referrals"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", alert.children.map((c) => h("tr",
        h("th", { scope: "row" }, childName(c)),
        h("td", c.date_of_birth ? dateOnly(c.date_of_birth) : "Not known"),
        h("td", c.referral_ids.map((id) => referralsOf[id] ? referralsOf[id].reference : id).join(", ")))))));
    const referrals = h("div.table-wrap", h("table.table#alert-referrals",
      h("caption.heading-s", "Referrals"),
      h("thead", h("tr", ["Reference", "Received", "Source"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", explanation.referrals.map((r) => h("tr",
        h("th", { scope: "row" }, h("a", { href: `#/referrals/${r.id}` }, r.reference)),
        h("td", dateTime(r.received_at)),
        h("td", r.source))))));
    const matches = alert.kind === "adult" && explanation.adult_matches.length ? h("div.table-wrap", h("table.table#alert-adult",
      h("caption.heading-s", "How the adult was recognised in each referral"),
      h("thead", h("tr", ["Referral", "How", "Match weight", "Why"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", explanation.adult_matches.map((m) => h("tr",
        h("th", { scope: "row" }, referralsOf[m.referral_id] ? referralsOf[m.referral_id].reference : m.referral_id),
        h("td", { new: "First record of this adult", identifier: "Same identifier", probabilistic: "Matched on details", review: "Decided by a person" }[m.method] || m.method),
        h("td.weight", m.weight === null || m.weight === undefined ? "-" : m.weight.toFixed(1)),
        h("td", m.reason)))))) : null;
    const decided = alert.decision ? summaryList([
      ["Decision", STATUSES[alert.decision.decision] || alert.decision.decision],
      ["Reason", alert.decision.reason || ""],
      ["Decided", dateTime(alert.decision.decided_at)],
    ]) : null;
    show(main,
      backLink("#/alerts", "Back to alerts"),
      h("span.caption", `${KINDS[alert.kind] || alert.kind} alert`),
      h("h1.heading-l", valueText(alert)),
      notice,
      summaryList([["Status", STATUSES[alert.status] || alert.status], ["Raised", dateTime(alert.raised_at)], ["Latest evidence", dateTime(alert.updated_at)]]),
      h("p.body#alert-summary", explanation.summary.charAt(0).toUpperCase() + explanation.summary.slice(1) + "."),
      children, referrals, matches, decided,
      decisionForm());
  }

  function decisionForm() {
    const form = h("form#alert-form", { novalidate: true, "aria-labelledby": "alert-form-title" },
      h("h2.heading-m#alert-form-title", alert.status === "open" ? "Decide" : "Change the decision"),
      textarea({ id: "alert-reason", label: "Reason", hint: "Why this is, or is not, a pattern to act on", rows: 3 }),
      h("div.button-group",
        h("button.button#confirm-alert", { type: "submit", value: "confirmed" }, "Confirm"),
        h("button.button.button--secondary#dismiss-alert", { type: "submit", value: "dismissed" }, "Dismiss")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const decision = event.submitter ? event.submitter.value : "dismissed";
      const reason = valueOf(form, "alert-reason");
      if (!reason) {
        showErrors(form, [{ id: "alert-reason", text: "Enter a reason" }]);
        return;
      }
      try {
        alert = (await api(`/api/v1/alerts/${alert.id}`, { method: "POST", body: { decision, reason } })).data;
        render();
        const element = h("div.notification.notification--success", { role: "status", tabindex: "-1" },
          h("p.notification__title", decision === "confirmed" ? "Alert confirmed." : "Alert dismissed. It comes back only with new evidence."));
        clear(main.querySelector("#alert-notice"), element);
        element.focus();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, [{ id: null, text: error.message }]);
      }
    });
    return form;
  }

  render();
}

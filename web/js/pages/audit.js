// An auditor's first page: the audit log, filtered by record, user, action and dates, each
// read listed with who, when and why.

import { api, pathOf, withQuery } from "../api.js";
import { h, clear, dateTime, show } from "../dom.js";
import { field, button, valueOf } from "../forms.js";
import { agencies, staffNames } from "../state.js";

const FILTERS = [
  ["person_id", "Person (their id in the index)", "20", "Every read of their record and of each referral they are in"],
  ["record_id", "Record (a referral's id)", "20"],
  ["actor", "User or client (its id)", "20"],
  ["agency_id", "Agency (its id)", "20"],
  ["purpose", "Purpose", "10", "For example: triage, referrer_follow_up, information_sharing"],
  ["action", "Action", "10", "For example: read, search, triage, decide, refused"],
  ["at_from", "From", "10", "A date, for example 2026-12-01"],
  ["at_to", "To", "10", "A date, for example 2026-12-31"],
];

function asInstant(value, end) {
  if (!value) return undefined;
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T${end ? "23:59:59" : "00:00:00"}Z` : value;
}

export async function auditPage({ main, query }) {
  const [names, directory] = await Promise.all([staffNames(), agencies()]);
  const form = h("form#audit-filters", { novalidate: true, "aria-label": "Filter the audit log" },
    h("div.filters", FILTERS.map(([id, label, width, hint]) =>
      field({ id: `q-${id}`, label, hint, width, value: query.get(id) || "", spellcheck: false }))),
    button("Show entries"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [id] of FILTERS) {
      const value = valueOf(form, `q-${id}`);
      if (value) params.set(id, value);
    }
    window.location.hash = `/audit${params.toString() ? `?${params}` : ""}`;
  });

  const tbody = h("tbody");
  const more = h("div");
  async function load(path) {
    const { data } = await api(path);
    for (const e of data.items) {
      tbody.appendChild(h("tr.audit-row",
        h("td", dateTime(e.at)),
        h("td", names.get(e.actor) || e.actor, h("div.body-s.secondary", directory.get(e.agency_id)?.name || "")),
        h("td", e.action),
        h("td", `${e.record_type} `, h("code", e.record_id)),
        h("td", e.purpose)));
    }
    clear(more, data.links.next ? button("Show more", { type: "button", secondary: true, onclick: () => load(pathOf(data.links.next)) }) : null);
  }
  const params = {};
  for (const [id] of FILTERS) if (query.get(id)) params[id] = query.get(id);
  params.at_from = asInstant(params.at_from, false);
  params.at_to = asInstant(params.at_to, true);

  const { data: check } = await api("/api/v1/audit/verification");
  const status = check.ok
    ? h("div.notification.notification--success#chain-status", { role: "status" },
      h("p.notification__title", `The chain holds: ${check.entries} entries verified at ${dateTime(check.verified_at)}.`),
      h("p.body", check.last_checkpoint ? `Last checkpoint: entry ${check.last_checkpoint.seq}, sealed ${dateTime(check.last_checkpoint.sealed_at)}.` : "No checkpoint sealed yet."))
    : h("div.error-summary#chain-status", { role: "alert" },
      h("h2.error-summary__title", "The audit chain does not hold"),
      h("ul.list", check.problems.map((p) => h("li", `Entry ${p.seq}: ${p.problem}`))));
  const exportLink = withQuery("/api/v1/audit/export", params);

  show(main,
    h("h1.heading-l", "Audit log"),
    status,
    h("p.body", "Every read and change of a child's record: who, when and why. Newest first."),
    form,
    h("p.body", h("a#export", { href: exportLink, download: "audit-extract.csv" }, "Download these entries as CSV"),
      h("span.body-s.secondary", " (the download is itself audited)")),
    h("div.table-wrap", h("table.table#audit-entries",
      h("caption.visually-hidden", "Audit entries, newest first"),
      h("thead", h("tr", ["When", "Who", "Action", "Record", "Why (purpose)"].map((t) => h("th", { scope: "col" }, t)))),
      tbody)),
    more);
  await load(withQuery("/api/v1/audit", { ...params, limit: 50 }));
  if (!tbody.children.length) tbody.appendChild(h("tr", h("td", { colspan: "5" }, "No entries match.")));
}

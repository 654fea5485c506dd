// The manager's view of timeliness: referrals in today and this week, decisions within
// one working day as a percentage, and what is overdue at which agency.

import { api } from "../api.js";
import { h, dateTime, show } from "../dom.js";
import { agencies } from "../state.js";

function stat(value, label, id) {
  return h("div.stat", { id }, h("span.stat__value", value), h("span.stat__label", label));
}

function percent(period) {
  return period.decided_in_time_percent === null ? "–" : `${period.decided_in_time_percent}%`;
}

function periodSection(title, period, id) {
  return h("section", { "aria-labelledby": `${id}-title` },
    h("h2.heading-m", { id: `${id}-title` }, title),
    h("div.stats",
      stat(String(period.referrals_received), "referrals received", `${id}-received`),
      stat(String(period.decisions), "decisions made", `${id}-decisions`),
      stat(percent(period), period.decisions ? `decided within one working day (${period.decided_in_time} of ${period.decisions})` : "decided within one working day (no decisions yet)", `${id}-in-time`)));
}

export async function timelinessPage({ main }) {
  const [{ data: report }, agencyMap] = await Promise.all([api("/api/v1/reports/timeliness"), agencies()]);
  const rows = report.overdue_by_agency.map((a) => h("tr",
    h("th", { scope: "row" }, agencyMap.get(a.agency_id)?.name || "Unknown agency"),
    h("td.numeric", String(a.overdue_information_requests))));
  show(main,
    h("span.caption", "MASH"),
    h("h1.heading-l", "Timeliness"),
    h("p.body.secondary", `Figures at ${dateTime(report.as_of)} (${report.time_zone}). The week starts on Monday.`),
    periodSection("Today", report.today, "today"),
    periodSection("This week", report.this_week, "week"),
    h("section", { "aria-labelledby": "overdue-title" },
      h("h2.heading-m#overdue-title", "Open and overdue now"),
      h("div.stats",
        stat(String(report.open_referrals), "open referrals", "open"),
        stat(String(report.overdue_decisions), "decisions overdue", "overdue-decisions"),
        stat(String(report.overdue_information_requests), "partner answers overdue", "overdue-answers")),
      rows.length ? h("div.table-wrap", h("table.table#overdue-by-agency",
        h("caption", "Partners' answers overdue, by agency (late decisions are the MASH's, above)"),
        h("thead", h("tr", h("th", { scope: "col" }, "Agency"), h("th", { scope: "col" }, "Its answers overdue"))),
        h("tbody", rows))) : h("p.body", "No partner's answer is overdue.")));
}

// The board report: the front door's figures by week or month, for the safeguarding
// partnership's board, MASH managers and auditors. Aggregates only. Each chart is an SVG
// drawn here, labelled with its values (readable without colour), with its data table
// beside it; the partner tables sort by any column; the page prints as a board paper.

import { api } from "../api.js";
import { h, show, dateOnly, dateTime, announce } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(name, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) if (child) el.append(child);
  return el;
}

function label(period, interval) {
  const start = new Date(`${period.starts_on}T12:00:00Z`);
  if (interval === "month") return start.toLocaleDateString("en-GB", { month: "short", year: "numeric", timeZone: "UTC" });
  return `w/c ${start.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" })}`;
}

const show1 = (value, suffix = "") => (value === null || value === undefined ? "–" : `${value}${suffix}`);

// A bar chart of one figure per period: bars with their value written on them.
function barChart(id, title, periods, interval, value, { percent = false } = {}) {
  const width = 640;
  const barArea = 180;
  const top = 24;
  const slot = width / Math.max(periods.length, 1);
  const values = periods.map(value);
  const max = percent ? 100 : Math.max(1, ...values.map((v) => v || 0));
  const bars = periods.map((period, i) => {
    const v = values[i];
    const height = v === null ? 0 : Math.round((v / max) * barArea);
    const x = i * slot + slot * 0.15;
    const y = top + barArea - height;
    return svg("g", {},
      svg("rect", { x, y, width: slot * 0.7, height, class: "chart__bar" }),
      svg("text", { x: x + slot * 0.35, y: y - 6, "text-anchor": "middle", class: "chart__value" }, document.createTextNode(show1(v, percent ? "%" : ""))),
      svg("text", { x: x + slot * 0.35, y: top + barArea + 18, "text-anchor": "middle", class: "chart__label" }, document.createTextNode(label(period, interval))));
  });
  const chart = svg("svg", { viewBox: `0 0 ${width} ${top + barArea + 30}`, role: "img", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-table`, class: "chart" },
    svg("title", { id: `${id}-svg-title` }, document.createTextNode(title)),
    svg("line", { x1: 0, x2: width, y1: top + barArea, y2: top + barArea, class: "chart__axis" }),
    ...bars);
  const table = h("table.table", { id: `${id}-table` },
    h("caption", `${title}: the figures`),
    h("thead", h("tr", h("th", { scope: "col" }, interval === "month" ? "Month" : "Week"), h("th.numeric", { scope: "col" }, title))),
    h("tbody", periods.map((period, i) => h("tr",
      h("th", { scope: "row" }, `${dateOnly(period.starts_on)} to ${dateOnly(period.ends_on)}`),
      h("td.numeric", show1(values[i], percent ? "%" : ""))))));
  return h("section.board-figure", { id, "aria-labelledby": `${id}-title` },
    h("h2.heading-m", { id: `${id}-title` }, title),
    h("div.board-figure__body", h("div.board-figure__chart", chart), h("div.table-wrap", table)));
}

// A table whose column headers sort it (aria-sort says how).
function sortableTable(id, caption, columns, rows) {
  let sortBy = 0;
  let ascending = true;
  const body = h("tbody");
  const headers = columns.map((column, i) => {
    const sortButton = h("button.sort-button", { type: "button" }, column.title);
    const th = h("th", { scope: "col", class: column.numeric ? "numeric" : "" }, sortButton);
    sortButton.addEventListener("click", () => {
      ascending = sortBy === i ? !ascending : !column.numeric;
      sortBy = i;
      draw();
      announce(`Sorted by ${column.title}, ${ascending ? "ascending" : "descending"}`);
    });
    return th;
  });
  function draw() {
    const key = columns[sortBy].value;
    const sorted = [...rows].sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const order = x === null ? 1 : y === null ? -1 : x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    headers.forEach((th, i) => {
      if (i === sortBy) th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    });
    body.replaceChildren(...sorted.map((row) => h("tr", columns.map((column, i) => {
      const text = column.show ? column.show(row) : show1(column.value(row));
      return i === 0 ? h("th", { scope: "row" }, text) : h(column.numeric ? "td.numeric" : "td", text);
    }))));
  }
  draw();
  return h("div.table-wrap", h("table.table", { id }, h("caption", caption), h("thead", h("tr", headers)), body));
}

const AGENCY_COLUMNS = [
  { title: "Agency", value: (a) => (a.name || a.agency_id).toLowerCase(), show: (a) => a.name || "Agency not named yet" },
  { title: "Referrals made", value: (a) => a.referrals, numeric: true },
  { title: "Questions asked of it", value: (a) => a.information_requests, numeric: true },
  { title: "Answered", value: (a) => a.answered, numeric: true },
  { title: "Answered on time", value: (a) => a.answered_on_time_percent, numeric: true, show: (a) => show1(a.answered_on_time_percent, "%") },
  { title: "Median hours to answer", value: (a) => a.median_hours_to_answer, numeric: true },
  { title: "Unanswered", value: (a) => a.unanswered, numeric: true },
];

const PEER_COLUMNS = [
  { title: "Hub", value: (p) => (p.name || p.la_code || "").toLowerCase(), show: (p) => `${p.name || "Hub"} (LA ${p.la_code || "?"})` },
  { title: "Notices sent", value: (p) => p.sent, numeric: true },
  { title: "Accepted", value: (p) => p.delivered, numeric: true },
  { title: "Waiting", value: (p) => p.pending, numeric: true },
  { title: "Given up", value: (p) => p.dead, numeric: true },
  { title: "Not shared, with reason", value: (p) => p.not_shared, numeric: true },
  { title: "Median seconds to accept", value: (p) => p.median_seconds_to_deliver, numeric: true },
];

const SCHOOL_COLUMNS = [
  { title: "School", value: (s) => (s.name || s.urn).toLowerCase(), show: (s) => `${s.name || "School"} (URN ${s.urn})` },
  { title: "Referrals made", value: (s) => s.referrals, numeric: true },
  { title: "Operation Encompass notices", value: (s) => s.encompass_notices, numeric: true },
  { title: "Notices read", value: (s) => s.encompass_acknowledged, numeric: true },
  { title: "Median hours to read", value: (s) => s.encompass_median_hours_to_read, numeric: true },
  { title: "Questions asked of it", value: (s) => s.information_requests, numeric: true },
  { title: "Answered", value: (s) => s.answered, numeric: true },
];

function stat(value, text, id) {
  return h("div.stat", { id }, h("span.stat__value", value), h("span.stat__label", text));
}

function rangeForm(query) {
  const form = h("form.board-range.no-print", { "aria-label": "Report range" },
    h("div.form-group", h("label.label", { for: "board-from" }, "From"), h("input.input#board-from", { type: "date", name: "from", value: query.get("from") || "" })),
    h("div.form-group", h("label.label", { for: "board-to" }, "To"), h("input.input#board-to", { type: "date", name: "to", value: query.get("to") || "" })),
    h("div.form-group", h("label.label", { for: "board-interval" }, "By"),
      h("select.select#board-interval", { name: "interval" },
        h("option", { value: "month", selected: query.get("interval") !== "week" }, "month"),
        h("option", { value: "week", selected: query.get("interval") === "week" }, "week"))),
    h("button.button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new URLSearchParams();
    for (const name of ["from", "to", "interval"]) {
      const value = form.elements[name].value;
      if (value) data.set(name, value);
    }
    window.location.hash = `/board?${data}`;
  });
  return form;
}

function csvLink(search) {
  const link = h("a.link.no-print#board-csv", { href: `/api/v1/reports/board?${search}` }, "Download these figures as CSV");
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    const response = await fetch(`/api/v1/reports/board?${search}`, { headers: { accept: "text/csv" }, credentials: "same-origin" });
    if (!response.ok) {
      announce("The CSV could not be made. Try again.");
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const save = h("a", { href: url, download: "mash-board-report.csv" });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  return link;
}

export async function boardPage({ main, query }) {
  const search = new URLSearchParams();
  for (const name of ["from", "to", "interval"]) if (query.get(name)) search.set(name, query.get(name));
  const { data: report } = await api(`/api/v1/reports/board?${search}`);
  const totals = report.totals;
  const interval = report.interval;
  show(main,
    h("span.caption", "Safeguarding partnership"),
    h("h1.heading-l", "Board report: the front door"),
    h("p.body.secondary", `${dateOnly(report.from_date)} to ${dateOnly(report.to_date)}, by ${interval} (${report.time_zone}). Made ${dateTime(report.generated_at)}. No child or person is named in these figures.`),
    rangeForm(query),
    csvLink(search.toString()),
    h("section", { "aria-labelledby": "board-totals-title" },
      h("h2.heading-m#board-totals-title", "The whole period"),
      h("div.stats",
        stat(String(totals.referrals), "referrals received", "board-referrals"),
        stat(show1(totals.decided_within_timescale_percent, "%"), `decided within one working day (${totals.decided_within_timescale} of ${totals.decisions})`, "board-in-time"),
        stat(String(totals.late_decisions), "late decisions (the MASH's)", "board-late"),
        stat(show1(totals.re_referral_percent, "%"), "re-referrals within 12 months", "board-re-referrals"),
        stat(show1(totals.no_further_action_percent, "%"), "decisions of no further action", "board-nfa"))),
    barChart("chart-referrals", "Referrals received", report.periods, interval, (p) => p.referrals),
    barChart("chart-timeliness", "Decided within one working day", report.periods, interval, (p) => p.decided_within_timescale_percent, { percent: true }),
    barChart("chart-re-referrals", "Re-referrals within 12 months", report.periods, interval, (p) => p.re_referral_percent, { percent: true }),
    h("section", { "aria-labelledby": "board-partners-title" },
      h("h2.heading-m#board-partners-title", "Partner engagement"),
      h("p.body", "Each agency's own figures: what it referred, and how it answered the MASH's questions. Late decisions are the MASH's and are counted above, not here."),
      sortableTable("board-agencies", "Partner agencies", AGENCY_COLUMNS, report.agencies)),
    h("section", { "aria-labelledby": "board-schools-title" },
      h("h2.heading-m#board-schools-title", "Every school"),
      report.schools.length
        ? sortableTable("board-schools", "Schools, by name and URN", SCHOOL_COLUMNS, report.schools)
        : h("p.body", "No school is registered with the hub yet.")),
    report.peer_hubs && report.peer_hubs.length ? h("section", { "aria-labelledby": "board-peers-title" },
      h("h2.heading-m#board-peers-title", "Other hubs: children placed out of area"),
      sortableTable("board-peers", "Notices exchanged with other hubs", PEER_COLUMNS, report.peer_hubs)) : null);
}

// Building the page: every piece of data goes in as text (textContent), never as HTML.

/**
 * h("a.link", {href: "#/queue"}, "Queue") makes <a class="link" href="#/queue">Queue</a>.
 * Attributes: class names after dots, id after "#"; `on*` keys add event listeners;
 * children are nodes, strings (as text), arrays, or null/false (skipped).
 */
export function h(spec, attrs = {}, ...children) {
  const tag = (spec.match(/^[a-z][a-z0-9]*/i) || ["div"])[0];
  const el = document.createElement(tag);
  const classes = [];
  for (const [, kind, name] of spec.slice(tag === "div" && !spec.startsWith("div") ? 0 : tag.length).matchAll(/([.#])([\w-]+)/g)) {
    if (kind === "#") el.id = name;
    else classes.push(name);
  }
  if (classes.length) el.className = classes.join(" ");
  if (attrs === null || typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = [el.className, value].filter(Boolean).join(" ");
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace what a page's element shows. */
export function show(main, ...children) {
  clear(main, ...children);
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// --- words for codes -------------------------------------------------------------------

export const OUTCOMES = {
  no_further_action: "No further action",
  advice_signposting: "Advice or signposting",
  early_help: "Early help",
  cin_assessment: "Child and family assessment (section 17)",
  strategy_discussion: "Strategy discussion (section 47)",
  immediate_protection: "Immediate protection",
};

export const OUTCOME_HINTS = {
  no_further_action: "No concerns that need a service.",
  advice_signposting: "The family or referrer is pointed to help elsewhere.",
  early_help: "Support from the early help team, with the family's agreement.",
  cin_assessment: "A social work assessment of a child in need, within 45 working days.",
  strategy_discussion: "Reasonable cause to suspect significant harm. Needs a MASH manager.",
  immediate_protection: "The child needs protecting now. Needs a MASH manager.",
};

export const MANAGER_OUTCOMES = new Set(["strategy_discussion", "immediate_protection"]);

export const STATUSES = {
  received: "New",
  triaged: "Triaged",
  awaiting_information: "Awaiting information",
  awaiting_approval: "Awaiting a manager's approval",
  decided: "Decided",
  closed: "Closed",
};

export const RAG = { red: "Red", amber: "Amber", green: "Green" };

export const SUBJECT_ROLES = {
  child: "Child",
  adult_of_concern: "Adult of concern",
  parent_carer: "Parent or carer",
  sibling: "Sibling",
  other_adult: "Other adult",
};

export const CONSENT = {
  given: "Consent given",
  not_given: "Consent not given",
  not_sought: "Consent not sought",
};

export function ragTag(rag) {
  if (!rag) return h("strong.tag.tag--grey", "Not rated");
  return h(`strong.tag.tag--${rag}`, `${RAG[rag] || rag}`);
}

export function statusTag(status) {
  return h("strong.tag.tag--status", STATUSES[status] || status);
}

// --- times ------------------------------------------------------------------------------

const DATE_TIME = new Intl.DateTimeFormat("en-GB", {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
});
const SHORT_DATE_TIME = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
const DATE = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric" });
const TIME = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });

export function dateTime(value) {
  return value ? DATE_TIME.format(new Date(value)) : "";
}

export function shortDateTime(value) {
  return value ? SHORT_DATE_TIME.format(new Date(value)) : "";
}

export function dateOnly(value) {
  if (!value) return "";
  const [y, m, d] = value.split("-").map(Number);
  return DATE.format(new Date(y, m - 1, d));
}

export function clockTime(value) {
  return TIME.format(value instanceof Date ? value : new Date(value));
}

export function timeElement(value) {
  return h("time", { datetime: value }, dateTime(value));
}

function span(ms) {
  const minutes = Math.floor(ms / 60000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days > 0) return `${days} ${days === 1 ? "day" : "days"} ${hours} h`;
  if (hours > 0) return `${hours} h ${mins} min`;
  const seconds = Math.floor((ms % 60000) / 1000);
  return `${mins} min ${String(seconds).padStart(2, "0")} s`;
}

/** "3 h 20 min left" or "Overdue by 12 min 05 s", from a deadline and the time now. */
export function countdown(due, now = Date.now()) {
  const left = new Date(due).getTime() - now;
  if (left <= 0) return { overdue: true, soon: false, text: `Overdue by ${span(-left)}` };
  return { overdue: false, soon: left < 3600000, text: `${span(left)} left` };
}

/** A live countdown: its text is refreshed by tickCountdowns(), once a second. */
export function countdownElement(due, { decides = false } = {}) {
  const state = countdown(due);
  const el = h("span.countdown", { dataset: { due, decides: decides ? "1" : "0" } });
  renderCountdown(el, state);
  return el;
}

function renderCountdown(el, state) {
  el.classList.toggle("countdown--overdue", state.overdue);
  el.classList.toggle("countdown--soon", state.soon);
  const parts = [];
  if (state.overdue) parts.push(h("strong.overdue-flag", h("span.overdue-flag__icon", { "aria-hidden": "true" }, "!"), " Overdue"));
  if (state.overdue) parts.push(" ");
  parts.push(h("span.countdown__text", state.overdue ? state.text.replace("Overdue by", "by") : state.text));
  clear(el, ...parts);
}

// WCAG 2.2.2: a practitioner may pause everything that updates by itself.
export const live = { paused: false };

export function tickCountdowns(root = document, { force = false } = {}) {
  if (live.paused && !force) return;
  const now = Date.now();
  for (const el of root.querySelectorAll("[data-due]")) {
    const state = countdown(el.dataset.due, now);
    const text = el.querySelector(".countdown__text");
    const wasOverdue = el.classList.contains("countdown--overdue");
    if (!text || wasOverdue !== state.overdue) renderCountdown(el, state);
    else text.textContent = state.overdue ? state.text.replace("Overdue by", "by") : state.text;
    el.classList.toggle("countdown--soon", state.soon);
    // A row whose deadline passes while the page is open turns overdue there and then.
    const row = el.closest("[data-deadline-row]");
    if (row && el.dataset.decides === "1") row.classList.toggle("row--overdue", state.overdue);
  }
}

export function nhsNumber(value) {
  return value && value.length === 10 ? `${value.slice(0, 3)} ${value.slice(3, 6)} ${value.slice(6)}` : value || "";
}

// --- page furniture -----------------------------------------------------------------

export function summaryList(rows) {
  return h("dl.summary-list", rows.filter(Boolean).map(([key, value]) =>
    h("div.summary-list__row", h("dt.summary-list__key", key), h("dd.summary-list__value", value ?? ""))));
}

export function backLink(href, text) {
  return h("a.back-link", { href }, text);
}

export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A fresh text node, a moment later, so screen readers announce a repeated message too.
  setTimeout(() => { region.textContent = message; }, 50);
}

let uniqueCounter = 0;
export function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/** Whole years from a date of birth ("2012-04-02") to today on the page's clock. */
export function ageFrom(dateOfBirth, now = new Date()) {
  if (!dateOfBirth) return null;
  const [y, m, d] = dateOfBirth.split("-").map(Number);
  let age = now.getFullYear() - y;
  if (now.getMonth() + 1 < m || (now.getMonth() + 1 === m && now.getDate() < d)) age -= 1;
  return age;
}

export function ageText(age) {
  if (age === null || age === undefined) return "";
  return age === 1 ? "1 year old" : `${age} years old`;
}

export function fullName(person, fallback = "Name not known") {
  return [person && person.given_name, person && person.family_name].filter(Boolean).join(" ") || fallback;
}

/** "Amelia Reviewcase (12)" for each child a list item names. */
export function childrenText(children) {
  if (!children || !children.length) return "";
  return children.map((c) => `${fullName(c)}${c.age !== null && c.age !== undefined ? ` (${c.age})` : c.date_of_birth ? "" : " (unborn or age not known)"}`).join(", ");
}

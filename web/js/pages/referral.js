// One referral, as MASH staff work it: a person banner that stays on screen, the record
// (the referrer's account, the people, triage, partners' answers, the decision, the
// chronology with case notes) beside the actions (allocation, triage, questions, the
// decision or its approval, a case note, a strategy discussion). Every change sends
// If-Match; a 409 or 412 is explained, and what the user typed is kept, never lost.

import { api, ApiError, withQuery } from "../api.js";
import {
  h, clear, ragTag, statusTag, countdownElement, dateTime, dateOnly, timeElement, nhsNumber,
  summaryList, backLink, announce, OUTCOMES, OUTCOME_HINTS, MANAGER_OUTCOMES, RAG, STATUSES,
  SUBJECT_ROLES, CONSENT, show, ageFrom, ageText, fullName,
} from "../dom.js";
import { textarea, select, choices, field, button, showErrors, apiErrors, valueOf, draftsOf, restoreDrafts, clearErrors } from "../forms.js";
import { agencies, staffNames, colleagues, isManager, session } from "../state.js";

const OPEN = new Set(["received", "triaged", "awaiting_information", "awaiting_approval"]);
const WORKABLE = new Set(["received", "triaged", "awaiting_information"]);
const WATCH_SECONDS = 30;

export const NOTE_KINDS = {
  note: "Case note",
  phone_call: "Phone call",
  meeting: "Meeting",
  management_oversight: "Management oversight",
};

export const SD_OUTCOMES = {
  s47_enquiry: "Section 47 enquiry",
  no_s47: "No section 47 enquiry",
  further_information: "Further information needed",
};

function itemsOf(data) {
  return Array.isArray(data) ? data : data && Array.isArray(data.items) ? data.items : [];
}

export async function referralPage({ main, params }) {
  const id = params[0];
  session.lastReferral = id;
  const state = {
    ref: null, etag: null, requests: [], deliveries: [], people: [], notes: null, discussions: null,
    alerts: [], colleagues: [], changedBy: null,
  };

  async function fetchAll() {
    const { data, etag } = await api(`/api/v1/referrals/${id}`);
    state.ref = data;
    state.etag = etag;
    state.changedBy = null;
    const requestIds = data.timeline.filter((t) => t.what === "information_requested" && t.detail.information_request_id)
      .map((t) => t.detail.information_request_id);
    const [requests, deliveries, people, notes, discussions, alerts, mates] = await Promise.all([
      Promise.all(requestIds.map((rid) => api(`/api/v1/information-requests/${rid}`).then((r) => r.data).catch(() => null))),
      api(withQuery("/api/v1/deliveries", { referral_id: id, limit: 50 })).then((r) => r.data.items).catch(() => null),
      earlierReferrals(data),
      api(`/api/v1/referrals/${id}/notes`).then((r) => itemsOf(r.data)).catch(() => null),
      api(`/api/v1/referrals/${id}/strategy-discussions`).then((r) => itemsOf(r.data)).catch(() => null),
      api(withQuery("/api/v1/alerts", { status: "open" })).then((r) => itemsOf(r.data).filter((a) => (a.referral_ids || []).includes(id))).catch(() => []),
      colleagues(),
    ]);
    if (!state.cseTool) state.cseTool = await api("/api/v1/hub/screening-tools/cse").then((r) => r.data).catch(() => null);
    state.requests = requests.filter(Boolean);
    state.deliveries = deliveries;
    state.people = people;
    state.notes = notes;
    state.discussions = discussions;
    state.alerts = alerts;
    state.colleagues = mates;
  }

  async function renderPage({ keepDrafts = true } = {}) {
    const drafts = keepDrafts ? draftsOf(main) : {};
    const scroll = window.scrollY;
    const asideScroll = main.querySelector(".referral-actions")?.scrollTop || 0;
    const [agencyMap, staff] = await Promise.all([agencies(), staffNames()]);
    const ctx = { ...state, agencyMap, staff, act };
    show(main, ...page(ctx));
    restoreDrafts(main, drafts);
    // No jump: the page stays where the practitioner was working.
    const banner = main.querySelector(".person-banner");
    if (banner) main.style.setProperty("--banner-height", `${banner.offsetHeight + 10}px`);
    window.scrollTo(0, scroll);
    const aside = main.querySelector(".referral-actions");
    if (aside) aside.scrollTop = asideScroll;
  }

  /** Put a notice where the user is working: by the form if it is still there, else at the top. */
  function placeNotice(element, formId) {
    const slot = (formId && main.querySelector(`#${CSS.escape(formId)}-notice`)) || main.querySelector("#actions-notice") || main.querySelector("#referral-notice");
    clear(slot, element);
    element.focus({ preventScroll: true });
    element.scrollIntoView({ block: "nearest" });
  }

  /** Send a change with If-Match; on success reload, on 409/412 explain and keep the text. */
  async function act(form, path, body, { prefix, labels = {}, aliases = {}, done, method = "POST" }) {
    clearErrors(form);
    const submit = form.querySelector("button[type=submit]");
    if (submit) submit.disabled = true;
    try {
      const { data } = await api(path, { method, body, etag: state.etag });
      const mine = new Set(Array.from(form.querySelectorAll("input, textarea, select")).map((el) => el.id));
      const drafts = Object.fromEntries(Object.entries(draftsOf(main)).filter(([key]) => !mine.has(key)));
      await fetchAll();
      await renderPage({ keepDrafts: false });
      restoreDrafts(main, drafts);
      const message = typeof done === "function" ? done(data) : done;
      const element = h("div.notification.notification--success", { role: "status", tabindex: "-1" },
        h("p.notification__title", message));
      placeNotice(element, form.id);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (submit) submit.disabled = false;
      if (error.status === 412 || error.status === 409) {
        await conflict(form, error);
      } else if (error.status === 422) {
        showErrors(form, apiErrors(form, error, { prefix, labelOf: (fid) => labels[fid], aliases }));
      } else {
        const title = error.status === 403 ? "This needs a MASH manager" : "There is a problem";
        showErrors(form, [{ id: null, text: error.message }], title);
      }
    }
  }

  /** What the user had put in a form, as label and value, to show if the form goes. */
  function typedIn(form) {
    const typed = [];
    for (const el of form.querySelectorAll("input, textarea, select")) {
      if (!el.id || el.type === "hidden") continue;
      let value = null;
      let label = null;
      if (el.type === "radio" || el.type === "checkbox") {
        if (!el.checked) continue;
        label = el.closest("fieldset")?.querySelector("legend")?.textContent;
        value = form.querySelector(`label[for="${CSS.escape(el.id)}"]`)?.textContent || el.value;
      } else {
        value = el.tagName === "SELECT" ? el.selectedOptions[0]?.textContent : el.value;
        if (el.tagName === "SELECT" && !el.value) continue;
        label = form.querySelector(`label[for="${CSS.escape(el.id)}"]`)?.textContent;
      }
      if (value && String(value).trim()) typed.push({ id: el.id, label: label || "", value: String(value) });
    }
    return typed;
  }

  async function conflict(form, error) {
    const before = state.ref;
    const formId = form.id;
    const typed = typedIn(form);
    await fetchAll();
    const changes = await describeChanges(before, state.ref);
    await renderPage({ keepDrafts: true });
    const stillThere = Boolean(formId && main.querySelector(`#${CSS.escape(formId)}`));
    const lost = typed.filter((t) => !main.querySelector(`#${CSS.escape(t.id)}`));
    const decided = before.status !== state.ref.status && !stillThere;
    const element = h("div.error-summary.conflict", { tabindex: "-1", "aria-labelledby": "conflict-title" },
      h("h2.error-summary__title#conflict-title", decided
        ? "Someone else changed this referral before yours was saved: yours was not saved"
        : "Someone else changed this referral while you were working on it"),
      stillThere
        ? h("p.body", "Nothing you typed has been saved yet, and nothing is lost: your text is still in the form. This is what changed:")
        : h("p.body", "What you sent was not saved, because the referral had already changed. This is what changed:"),
      h("ul.list", changes.map((c) => h("li", c))),
      error.status === 409 && error.message ? h("p.body", `The hub said: ${error.message}`) : null,
      lost.length ? unsentBlock(lost) : null,
      h("p.body", stillThere ? "Check your text against these changes, then send it again."
        : "Your text is kept above: copy it into a case note, or reopen the referral if it needs deciding again."));
    placeNotice(element, stillThere ? formId : null);
    element.focus();
  }

  function unsentBlock(lost) {
    return h("div.unsent#unsent",
      h("h3.heading-s", "What you had entered (not saved)"),
      lost.map((t, index) => t.value.length > 60 || t.id.endsWith("rationale") || t.id.endsWith("text")
        ? h("div.form-group", h("label.label", { for: `unsent-${index}` }, t.label || "Your text"),
          Object.assign(h("textarea.textarea", { id: `unsent-${index}`, rows: 4, readonly: true, dataset: { unsentFrom: t.id } }), { value: t.value }))
        : h("p.body", h("strong", `${t.label || "Your choice"}: `), h("span", { dataset: { unsentFrom: t.id } }, t.value))));
  }

  async function describeChanges(before, after) {
    const staff = await staffNames();
    const agencyMap = await agencies();
    const lines = [];
    if (before.status !== after.status) lines.push(`Status: now ${STATUSES[after.status] || after.status} (was ${STATUSES[before.status] || before.status}).`);
    if (before.rag !== after.rag) lines.push(`Rating: now ${RAG[after.rag] || "not rated"} (was ${RAG[before.rag] || "not rated"}).`);
    if (before.rag_rationale !== after.rag_rationale && after.rag_rationale) lines.push(`Reason for the rating: “${after.rag_rationale}”.`);
    if (before.outcome !== after.outcome) lines.push(`Decision: ${after.outcome ? OUTCOMES[after.outcome] : "none now"}${after.decided_by ? `, by ${staff.get(after.decided_by) || "a member of staff"}` : ""}.`);
    if ((before.assignee?.id || null) !== (after.assignee?.id || null)) lines.push(`Allocated to: ${after.assignee ? after.assignee.display_name || staff.get(after.assignee.id) || "a colleague" : "nobody now"}.`);
    const seen = before.timeline.length;
    for (const entry of after.timeline.slice(seen)) lines.push(`${dateTime(entry.at)}: ${timelineText(entry, staff, agencyMap)}.`);
    if (!lines.length) lines.push("The referral's version changed, but nothing shown on this page is different.");
    return lines;
  }

  // Someone else changing the referral while it is open here: say so, without redrawing
  // under the practitioner's hands (they choose when to see the changes).
  async function watch() {
    if (document.hidden) return;
    let latest;
    try {
      latest = (await api(`/api/v1/referrals/${id}`)).data;
    } catch {
      return;
    }
    if (!state.ref || latest.version === state.ref.version || !main.isConnected) return;
    const staff = await staffNames();
    const mine = session.me.subject;
    const others = latest.timeline.slice(state.ref.timeline.length).filter((t) => t.actor && t.actor !== mine);
    if (!others.length) return;
    const who = [...new Set(others.map((t) => staff.get(t.actor) || "A colleague"))].join(" and ");
    const slot = main.querySelector("#watch-notice");
    if (!slot) return;
    clear(slot, h("div.notification.notification--warning", { role: "status" },
      h("p.notification__title", `${who} changed this referral while you were on this page.`),
      h("p.body", others.map((t) => `${dateTime(t.at)}: ${timelineText(t, staff, new Map())}.`).join(" ")),
      h("p.body", h("button.link-button#show-changes", { type: "button", onclick: async () => {
        await fetchAll();
        await renderPage({ keepDrafts: true });
        announce("The page shows the latest changes. What you typed is kept.");
      } }, "Show the latest version (what you typed is kept)"))));
  }

  await fetchAll();
  await renderPage({ keepDrafts: false });
  const timer = setInterval(() => { watch().catch(() => {}); }, WATCH_SECONDS * 1000);
  return () => clearInterval(timer);
}

async function earlierReferrals(ref) {
  const ids = [...new Set(ref.subjects.filter((s) => s.role === "child" && s.person_id).map((s) => s.person_id))];
  const people = await Promise.all(ids.map((pid) => api(`/api/v1/people/${pid}`).then((r) => r.data).catch(() => null)));
  return people.filter(Boolean);
}

function page(ctx) {
  const { ref } = ctx;
  const flags = [
    statusTag(ref.status), " ", ragTag(ref.rag), " ",
    ref.immediate_risk && h("strong.tag.tag--risk", "Immediate risk"), " ",
    ref.is_re_referral && h("strong.tag.tag--flag", "Re-referral"), " ",
    ref.kind === "notification" && h("strong.tag.tag--grey", "Notification (information only)"), " ",
    ref.cse_level && h(`strong.tag#cse-level${ref.cse_level === "high" ? ".tag--risk" : ".tag--flag"}`, `CSE screening: ${ref.cse_level} risk`),
  ];
  return [
    backLink(session.lastQueue || "#/queue", "Back to the queue"),
    personBanner(ctx),
    h("span.caption", "Referral"),
    h("h1.heading-l", ref.reference),
    h("p.body", flags),
    h("div#referral-notice"),
    h("div#watch-notice"),
    assigneeWarning(ctx),
    h("div.referral-layout",
      h("div.referral-record",
        deadlines(ref),
        h("h2.heading-m", "The referral"),
        summaryList([
          ["Received", timeElement(ref.received_at)],
          ["Kind", ref.kind === "notification" ? "Notification: for information only" : "Referral"],
          ["Source", `${ref.source_description || ref.source} (${ref.source})`],
          ["Referring agency", ctx.agencyMap.get(ref.referring_agency_id)?.name || ref.referring_agency_id],
          ["Referrer", referrer(ref.referrer)],
          ["Consent", [CONSENT[ref.consent.status] || ref.consent.status, ref.consent.reason ? h("p", `Reason: ${ref.consent.reason}`) : null]],
          ["Allocated to", ref.assignee ? assigneeName(ctx, ref.assignee) : "Nobody"],
          ref.external_reference && ["Referrer's own reference", ref.external_reference],
          ref.known_to && ["Known to", `${ref.known_to.name} (local authority ${ref.known_to.la_code}), their reference ${ref.known_to.their_reference || "not given"}`],
          ref.peer_notices && ref.peer_notices.length && ["Other hubs told", h("ul.list", ref.peer_notices.map((n) => h("li", peerNoticeText(n))))],
          ref.same_day_as && ["Same day as", [h("a", { href: `#/referrals/${ref.same_day_as}` }, "an earlier referral of this child today"), " (the census counts them once)"]],
        ]),
        h("h2.heading-m", "The referrer's account"),
        h("p.narrative", ref.summary || "No account given."),
        h("h2.heading-m", "Concerns"),
        h("ul.list", ref.concerns.map((c) => h("li", `${c.description || "Unknown code"} (${c.code})`))),
        h("h2.heading-m", "People"),
        ref.subjects.map((s, i) => subjectCard(s, i)),
        earlierPanel(ctx),
        triageRecord(ctx),
        requestsRecord(ctx),
        decisionSection(ctx),
        discussionsRecord(ctx),
        chronology(ctx)),
      h("aside.referral-actions", { "aria-labelledby": "actions-title" },
        h("h2.heading-m.actions-title#actions-title", "Work on this referral"),
        h("div#actions-notice"),
        allocation(ctx),
        triageForm(ctx),
        screeningForm(ctx),
        requestForm(ctx),
        decisionActions(ctx),
        noteForm(ctx),
        discussionForm(ctx))),
  ];
}

// --- the person banner --------------------------------------------------------------------

function personBanner(ctx) {
  const { ref } = ctx;
  const children = ref.subjects.filter((s) => s.role === "child");
  const shown = children.length ? children : ref.subjects.slice(0, 1);
  const flags = [
    ref.is_re_referral && h("strong.tag.tag--flag", "Re-referral"),
    ref.same_day_as && h("strong.tag.tag--flag", "Same day as another referral"),
    ref.immediate_risk && h("strong.tag.tag--risk", "Immediate risk"),
    ...ctx.alerts.map((a) => h("a.tag.tag--risk.tag--link", { href: "#/alerts" }, `Alert: ${a.kind ? String(a.kind).replaceAll("_", " ") : "pattern"}`)),
  ].filter(Boolean);
  return h("section.person-banner", { "aria-label": "Who this referral is about" },
    h("ul.person-banner__people", shown.map((s) => {
      const age = ageFrom(s.date_of_birth);
      const name = fullName(s);
      return h("li.person-banner__person",
        h("span.person-banner__name", s.person_id ? h("a", { href: `#/people/${s.person_id}` }, name) : name),
        s.role !== "child" ? h("span.person-banner__item", SUBJECT_ROLES[s.role] || s.role) : null,
        s.date_of_birth ? h("span.person-banner__item", `${ageText(age)}, born ${dateOnly(s.date_of_birth)}`)
          : s.expected_date_of_birth ? h("span.person-banner__item", `Unborn, due ${dateOnly(s.expected_date_of_birth)}`)
            : h("span.person-banner__item", "Date of birth not known"),
        s.nhs_number ? h("span.person-banner__item", `NHS ${nhsNumber(s.nhs_number)}`) : null,
        s.upn ? h("span.person-banner__item", `UPN ${s.upn}`) : null);
    })),
    flags.length ? h("div.person-banner__flags", flags) : null);
}

function assigneeName(ctx, assignee) {
  if (assignee.id === session.me.subject) return "You";
  return assignee.display_name || ctx.staff.get(assignee.id) || "A colleague";
}

function assigneeWarning(ctx) {
  const { ref } = ctx;
  if (!ref.assignee || ref.assignee.id === session.me.subject) return null;
  return h("div.warning-text.assignee-warning",
    h("span.warning-text__icon", { "aria-hidden": "true" }, "!"),
    h("strong", h("span.visually-hidden", "Warning: "),
      `${assigneeName(ctx, ref.assignee)} is working on this referral. Talk to them before you change it.`));
}

// --- allocation ---------------------------------------------------------------------------

function allocation(ctx) {
  const { ref } = ctx;
  if (ref.status === "closed") return null;
  const me = session.me.subject;
  const mine = ref.assignee && ref.assignee.id === me;
  const form = h("form#assign-form", { novalidate: true, "aria-labelledby": "assign-title" },
    h("h3.heading-s#assign-title", "Allocation"),
    h("div#assign-form-notice"),
    h("p.body", ref.assignee ? ["Allocated to ", h("strong#assignee-name", assigneeName(ctx, ref.assignee)), "."] : "Not allocated to anyone."));
  const send = (userId, done) => ctx.act(form, `/api/v1/referrals/${ref.id}/assignee`, { user_id: userId },
    { method: "PUT", prefix: "as", labels: { "as-user_id": "Colleague" }, done });
  const buttons = h("div.button-group",
    mine ? null : button(ref.assignee ? "Take it over: allocate to me" : "Allocate to me", {
      type: "button", secondary: true, id: "assign-me", onclick: () => send(me, "Allocated to you."),
    }),
    ref.assignee ? button("Unallocate", {
      type: "button", secondary: true, id: "unassign", onclick: () => send(null, "No longer allocated to anyone."),
    }) : null);
  const others = ctx.colleagues.filter((u) => u.id !== me && (!ref.assignee || u.id !== ref.assignee.id));
  const choose = others.length ? h("div.assign-colleague",
    select({ id: "as-user_id", label: "Allocate to a colleague", options: [["", "Choose a colleague"], ...others.map((u) => [u.id, u.display_name])] }),
    button("Allocate", { type: "submit", secondary: true })) : null;
  form.append(buttons, choose || "");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const userId = valueOf(form, "as-user_id");
    if (!userId) return showErrors(form, [{ id: "as-user_id", text: "Choose the colleague to allocate it to" }]);
    const name = others.find((u) => u.id === userId)?.display_name || "your colleague";
    send(userId, `Allocated to ${name}.`);
  });
  return form;
}

function deadlines(ref) {
  const rows = [];
  if (OPEN.has(ref.status) && ref.decision_due_at) rows.push(["Decision due", [countdownElement(ref.decision_due_at), h("div.body-s.secondary", dateTime(ref.decision_due_at))]]);
  if (OPEN.has(ref.status) && ref.response_due_at) rows.push(["Partner answers due", [countdownElement(ref.response_due_at), h("div.body-s.secondary", dateTime(ref.response_due_at))]]);
  if (!rows.length) return null;
  const overdue = ref.decision_overdue || new Date(ref.decision_due_at) <= new Date();
  return h("div", overdue && OPEN.has(ref.status) ? h("div.warning-text", h("span.warning-text__icon", { "aria-hidden": "true" }, "!"),
    h("strong", h("span.visually-hidden", "Warning: "), "The decision on this referral is overdue.")) : null, summaryList(rows));
}

function referrer(r) {
  return [h("p", r.name, r.role ? `, ${r.role}` : ""), r.phone && h("p", `Phone: ${r.phone}`), r.email && h("p", `Email: ${r.email}`)];
}

function subjectCard(s, index) {
  const name = [s.given_name, s.family_name].filter(Boolean).join(" ") || "Name not known";
  const address = s.address ? [s.address.line1, s.address.line2, s.address.town, s.address.postcode].filter(Boolean).join(", ") : "";
  const match = s.match ? matchLine(s) : null;
  return h("section.card", { "aria-labelledby": `subject-${index}` },
    h("h3.card__title", { id: `subject-${index}` }, `${SUBJECT_ROLES[s.role] || s.role}: ${name}`),
    h("div.card__content", summaryList([
      s.other_names && s.other_names.length && ["Other names", s.other_names.join(", ")],
      s.date_of_birth && ["Date of birth", dateOnly(s.date_of_birth)],
      s.expected_date_of_birth && ["Expected date of birth", dateOnly(s.expected_date_of_birth)],
      s.sex && ["Sex", { F: "Female", M: "Male", U: "Not known" }[s.sex] || s.sex],
      s.nhs_number && ["NHS number", nhsNumber(s.nhs_number)],
      s.upn && ["Unique pupil number", s.upn],
      s.police_reference && ["Police reference", s.police_reference],
      s.local_id && ["Referrer's id", s.local_id],
      address && ["Address", address],
      s.school && ["School", s.school],
      s.looked_after && ["Looked after", lookedAfterText(s.looked_after)],
      s.child_protection_plan && ["Child protection plan", PROTECTION_PLANS[s.child_protection_plan] || s.child_protection_plan],
      match && ["Person index", match],
    ])));
}

const PROTECTION_PLANS = { current: "Subject to a plan now", ended: "Was subject to a plan", none: "Never subject to a plan" };

function lookedAfterText(placed) {
  const where = placed.placing_la_code === placed.host_la_code
    ? `placed by local authority ${placed.placing_la_code} in its own area`
    : `placed by local authority ${placed.placing_la_code} in the area of local authority ${placed.host_la_code}`;
  return `Yes: ${where}${placed.placed_at ? ` since ${dateOnly(placed.placed_at)}` : ""}`;
}

function peerNoticeText(n) {
  const hub = n.peer_hub || "another hub";
  if (n.status === "not_shared") return `${hub}: not shared. Reason: ${n.reason || "not given"}`;
  const what = n.status === "delivered" ? `told${n.their_reference ? `, their reference ${n.their_reference}` : ""}`
    : n.status === "dead" ? "not told: sending failed (an administrator can send it again)" : "being sent";
  return `${hub}: ${what} (${n.legal_basis || "no legal basis recorded"})`;
}

/** The word for someone in a referral: "child", "adult", "parent or carer". */
export function roleNoun(role) {
  return { child: "child", sibling: "child", parent_carer: "parent or carer", adult_of_concern: "adult", other_adult: "adult" }[role] || "person";
}

function matchLine(s) {
  const noun = roleNoun(s.role);
  if (s.match.status === "review") {
    return [`A possible match with a known ${noun} is waiting for review. `,
      s.match.review_id ? h("a", { href: `#/match-reviews/${s.match.review_id}` }, "Review the match") : null];
  }
  const page = s.person_id ? h("span.no-print", " ", h("a", { href: `#/people/${s.person_id}` }, `See this ${noun}'s page`)) : "";
  if (s.match.status === "linked") return [`Recognised as a ${noun} already known to the hub.`, page];
  return [`Not known to the hub before this referral.`, page];
}

function earlierPanel(ctx) {
  const { ref } = ctx;
  const children = ref.subjects.filter((s) => s.role === "child");
  const body = [];
  for (const person of ctx.people) {
    const earlier = person.referrals.filter((r) => r.id !== ref.id);
    const name = person.names && person.names[0] ? `${person.names[0].given_name || ""} ${person.names[0].family_name || ""}`.trim() : "This child";
    body.push(h("h3.heading-s", name));
    if (!earlier.length) {
      body.push(h("p.body", "No earlier referrals about this child."));
      continue;
    }
    body.push(h("table.table", h("caption.visually-hidden", `Earlier referrals about ${name}`),
      h("thead", h("tr", ["Received", "Reference", "From", "Outcome", "Flags"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", earlier.map((r) => h("tr",
        h("td", dateTime(r.received_at)),
        h("td", h("a", { href: `#/referrals/${r.id}` }, r.reference)),
        h("td", ctx.agencyMap.get(r.referring_agency_id)?.name || r.source),
        h("td", r.outcome ? OUTCOMES[r.outcome] || r.outcome : STATUSES[r.status] || r.status),
        h("td", r.is_re_referral ? h("strong.tag.tag--flag", "Re-referral") : "", r.same_day_as ? " Same day" : ""))))));
  }
  if (!ctx.people.length) {
    const pending = children.some((s) => s.match && s.match.status === "review");
    body.push(h("p.body", pending ? "Earlier referrals show once the possible match has been reviewed."
      : ref.is_re_referral ? "This child was referred within the last 12 months (a re-referral)." : "No earlier referrals about this child are known."));
  }
  return h("section", { "aria-labelledby": "earlier-title" },
    h("h2.heading-m#earlier-title", "Earlier referrals about this child"),
    ref.is_re_referral ? h("p.body", h("strong.tag.tag--flag", "Re-referral"), " Referred within 12 months of an earlier referral.") : null,
    body);
}

// --- triage --------------------------------------------------------------------------

function triageRecord(ctx) {
  const { ref } = ctx;
  return h("section", { "aria-labelledby": "triage-title" }, h("h2.heading-m#triage-title", "Triage"),
    ref.rag ? summaryList([["Rating", ragTag(ref.rag)], ["Reason", h("p.narrative", ref.rag_rationale || "")]]) : h("p.body", "Not rated yet."));
}

function triageForm(ctx) {
  const { ref } = ctx;
  if (!WORKABLE.has(ref.status)) return null;
  const labels = { "t-rag": "Rating", "t-rationale": "Reason for the rating" };
  const form = h("form#triage-form.action-form", { novalidate: true, "aria-labelledby": "triage-form-title" },
    h("h3.heading-s#triage-form-title", ref.rag ? "Change the rating" : "Triage"),
    h("div#triage-form-notice"),
    choices({ id: "t-rag", legend: ref.rag ? "New rating" : "Rating", value: ref.rag || undefined, small: true,
      options: [["red", "Red", "Significant harm likely: partners answer first, worked to completion"], ["amber", "Amber"], ["green", "Green"]] }),
    textarea({ id: "t-rationale", label: "Reason for the rating", hint: "What in the referral led to this rating", rows: 3 }),
    button(ref.rag ? "Save the new rating" : "Save triage"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const rag = valueOf(form, "t-rag");
    const rationale = valueOf(form, "t-rationale");
    const missing = [];
    if (!rag) missing.push({ id: "t-rag", text: "Choose a rating: red, amber or green" });
    if (!rationale) missing.push({ id: "t-rationale", text: "Enter the reason for the rating" });
    if (missing.length) return showErrors(form, missing);
    ctx.act(form, `/api/v1/referrals/${ref.id}/triage`, { rag, rationale }, { prefix: "t", labels, done: `Triage saved: ${RAG[rag]}.` });
  });
  return form;
}

// --- structured screening (the CSE tool, held by the hub as data) -----------------------

function screeningForm(ctx) {
  const { ref, cseTool: tool } = ctx;
  if (!tool || !WORKABLE.has(ref.status)) return null;
  const indicators = tool.categories.flatMap((c) => c.indicators);
  const labels = { "s-level": "Level to record", "s-reason": "Reason for another level" };
  const shown = h("p.body#screening-computed", { "aria-live": "polite" });
  const form = h("form#screening-form.action-form", { novalidate: true, "aria-labelledby": "screening-title" },
    h("h3.heading-s#screening-title", tool.title),
    h("div#screening-form-notice"),
    h("p.body-s.secondary", "Tick each indicator that is present. The level follows the hub's tool; record another only with a reason."),
    tool.categories.map((c) => choices({ id: `s-${c.id}`, legend: c.title, multiple: true, small: true,
      options: c.indicators.map((i) => [i.id, i.text]) })),
    shown,
    select({ id: "s-level", label: "Level to record", hint: "As computed, unless your judgement differs",
      options: [["", "As computed"], ["low", "Low"], ["medium", "Medium"], ["high", "High"]] }),
    textarea({ id: "s-reason", label: "Reason for another level", rows: 2 }),
    button("Save the screening"));
  const answers = () => Object.fromEntries(tool.categories.flatMap((c) => [].concat(valueOf(form, `s-${c.id}`) || []))
    .map((id) => [id, true]));
  const computed = () => {
    const present = indicators.filter((i) => answers()[i.id]);
    const score = present.reduce((sum, i) => sum + i.weight, 0);
    const level = present.some((i) => i.critical) || score >= tool.thresholds.high ? "high" : score >= tool.thresholds.medium ? "medium" : "low";
    return { score, level };
  };
  const update = () => { const { score, level } = computed(); shown.textContent = `Computed level: ${level} (score ${score})`; };
  form.addEventListener("change", update);
  update();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const level = valueOf(form, "s-level");
    const reason = valueOf(form, "s-reason");
    if (level && level !== computed().level && !reason) {
      return showErrors(form, [{ id: "s-reason", text: "Give the reason for recording another level" }]);
    }
    const body = { tool: tool.tool, answers: answers() };
    if (level) body.level = level;
    if (reason) body.reason = reason;
    ctx.act(form, `/api/v1/referrals/${ref.id}/screenings`, body, { prefix: "s", labels, done: (d) => `Screening saved: ${d.level} risk.` });
  });
  return form;
}

// --- information requests ---------------------------------------------------------------

function requestsRecord(ctx) {
  const list = ctx.requests.length ? h("div", ctx.requests.map((r) => requestCard(r, ctx))) : h("p.body", "No questions have been put to partners.");
  return h("section", { "aria-labelledby": "requests-title" }, h("h2.heading-m#requests-title", "Information from partners"), list);
}

function requestForm(ctx) {
  const { ref } = ctx;
  if (ref.status === "received") return h("p.body.secondary.no-print", "Triage the referral before asking partners for information.");
  if (ref.status !== "triaged" && ref.status !== "awaiting_information") return null;
  const partners = [...ctx.agencyMap.values()].filter((a) => a.kind !== "local_authority" || a.id !== session.me.agency_id);
  const labels = { "ir-agency_id": "Agency", "ir-question": "Question" };
  const form = h("form#request-form.action-form", { novalidate: true, "aria-labelledby": "ask-title" },
    h("h3.heading-s#ask-title", "Ask a partner agency"),
    h("div#request-form-notice"),
    select({ id: "ir-agency_id", label: "Agency", options: [["", "Choose an agency"], ...partners.map((a) => [a.id, a.name])] }),
    textarea({ id: "ir-question", label: "Question", hint: "The agency sees this question only, not the referral. Due by the rating's response time.", rows: 3 }),
    button("Send the question", { secondary: true }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const agencyId = valueOf(form, "ir-agency_id");
    const question = valueOf(form, "ir-question");
    const missing = [];
    if (!agencyId) missing.push({ id: "ir-agency_id", text: "Choose the agency to ask" });
    if (!question) missing.push({ id: "ir-question", text: "Enter the question" });
    if (missing.length) return showErrors(form, missing);
    const name = ctx.agencyMap.get(agencyId)?.name || "the agency";
    ctx.act(form, `/api/v1/referrals/${ref.id}/information-requests`, { agency_id: agencyId, question },
      { prefix: "ir", labels, aliases: { agency_id: "agency_id" }, done: `Question sent to ${name}.` });
  });
  return form;
}

function requestCard(r, ctx) {
  const agency = ctx.agencyMap.get(r.agency_id)?.name || "An agency";
  const state = r.status === "answered" ? h("strong.tag.tag--green", "Answered")
    : r.status === "withdrawn" ? h("strong.tag.tag--grey", "Withdrawn")
      : r.status === "declined" ? h("strong.tag.tag--amber", "Declined")
      : h("span", h("strong.tag.tag--status", "Awaiting answer"), " ", countdownElement(r.due_at));
  return h("section.card.request", { dataset: { requestId: r.id }, "aria-label": `Question to ${agency}` },
    h("h3.card__title", agency),
    h("div.card__content", summaryList([
      ["Asked", timeElement(r.created_at)],
      ["Question", h("p.narrative", r.question)],
      ["Status", state],
      r.status !== "answered" && r.status !== "withdrawn" && r.status !== "declined" && ["Due", dateTime(r.due_at)],
      r.decline_reason && ["Why declined", h("p.narrative.decline", [DECLINED[r.decline_reason] || r.decline_reason,
        r.held_by_agency_id ? `: ${ctx.agencyMap.get(r.held_by_agency_id)?.name || "another agency"} holds it` : "",
        r.decline_detail ? `. “${r.decline_detail}”` : ""].join(""))],
      r.extension_until && ["More time asked", `Until ${dateTime(r.extension_until)}: ${r.extension_reason || ""}`],
      r.answer && ["Answer", h("p.narrative.answer", r.answer)],
      r.answered_at && ["Answered", timeElement(r.answered_at)],
    ])));
}

// --- decision ------------------------------------------------------------------------

/** The outcome a practitioner proposed and a manager has still to approve. */
export function proposal(ref) {
  if (ref.status !== "awaiting_approval" || !ref.pending_decision) return null;
  const p = ref.pending_decision;
  return { outcome: p.outcome, rationale: p.rationale || "", by: p.proposed_by, at: p.proposed_at };
}

function decisionSection(ctx) {
  const { ref } = ctx;
  const parts = [];
  const pending = proposal(ref);
  if (pending) {
    parts.push(h("div.inset", h("p.body", h("strong", "Waiting for a MASH manager's approval.")),
      summaryList([
        ["Proposed outcome", h("strong", OUTCOMES[pending.outcome] || pending.outcome || "")],
        ["Reason", h("p.narrative", pending.rationale)],
        ["Proposed", [pending.at ? timeElement(pending.at) : "", pending.by ? ` by ${ctx.staff.get(pending.by) || "a member of staff"}` : ""]],
      ])));
  } else if (ref.outcome) {
    parts.push(summaryList([
      ["Outcome", h("strong", OUTCOMES[ref.outcome] || ref.outcome)],
      ["Reason", h("p.narrative", ref.decision_rationale || "")],
      ["Decided", [timeElement(ref.decided_at), ref.decided_by ? ` by ${ctx.staff.get(ref.decided_by) || "a member of staff"}` : ""]],
      ref.approved_by && ["Approved by", ref.approved_by.display_name || ctx.staff.get(ref.approved_by.id) || "a MASH manager"],
      ref.signed_off_by && ["Signed off by", ref.signed_off_by],
      ["Referrer told", toldText(ctx, "mash.referral.decided")],
    ]));
  } else {
    parts.push(h("p.body", "Not decided yet."));
  }
  parts.push(h("p.body.secondary", "Acknowledgement to the referrer: ", toldText(ctx, "mash.referral.received")));
  return h("section", { "aria-labelledby": "decision-title" }, h("h2.heading-m#decision-title", "Decision"), parts);
}

function decisionActions(ctx) {
  const { ref } = ctx;
  if (ref.status === "received") return h("p.body.secondary.no-print", "Triage the referral before deciding.");
  if (ref.status === "awaiting_approval") return isManager() ? approvalForm(ctx) : h("p.body.secondary", "The proposed decision is waiting for a MASH manager's approval.");
  if (ref.status === "decided") return afterDecision(ctx);
  if (WORKABLE.has(ref.status)) return decisionForm(ctx);
  return null;
}

// The child's primary need (CIN census), asked for when social care will assess.
const ASSESSMENT_OUTCOMES = new Set(["cin_assessment", "strategy_discussion", "immediate_protection"]);
const PRIMARY_NEEDS = [
  ["", "Choose the primary need"],
  ["N1", "N1 Abuse or neglect"], ["N2", "N2 Child's disability or illness"],
  ["N3", "N3 Parental disability or illness"], ["N4", "N4 Family in acute stress"],
  ["N5", "N5 Family dysfunction"], ["N6", "N6 Socially unacceptable behaviour"],
  ["N7", "N7 Low income"], ["N8", "N8 Absent parenting"],
  ["N9", "N9 Cases other than children in need"], ["N0", "N0 Not stated"],
];

function decisionForm(ctx) {
  const { ref } = ctx;
  const labels = { "d-outcome": "Outcome", "d-rationale": "Reason for the decision", "d-need": "Primary need" };
  const manager = isManager();
  const hints = { ...OUTCOME_HINTS };
  if (!manager) {
    for (const outcome of MANAGER_OUTCOMES) hints[outcome] = `${OUTCOME_HINTS[outcome].replace(" Needs a MASH manager.", "")} Goes to a MASH manager for approval.`;
  }
  const form = h("form#decision-form.action-form", { novalidate: true, "aria-labelledby": "decision-form-title" },
    h("h3.heading-s#decision-form-title", "Decide"),
    h("div#decision-form-notice"),
    choices({ id: "d-outcome", legend: "Outcome", small: true, options: Object.entries(OUTCOMES).map(([value, text]) => [value, text, hints[value]]) }),
    select({ id: "d-need", label: "Primary need (for an assessment)", hint: "The child's main need, for the Children in Need census.", options: PRIMARY_NEEDS }),
    textarea({ id: "d-rationale", label: "Reason for the decision", hint: "The referrer is told the outcome, not this reason.", rows: 4 }),
    button("Record the decision"));
  const need = form.querySelector("#d-need").closest(".form-group");
  const showNeed = () => { need.hidden = !ASSESSMENT_OUTCOMES.has(valueOf(form, "d-outcome")); };
  form.addEventListener("change", showNeed);
  showNeed();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const outcome = valueOf(form, "d-outcome");
    const rationale = valueOf(form, "d-rationale");
    const primaryNeed = ASSESSMENT_OUTCOMES.has(outcome) ? valueOf(form, "d-need") : "";
    const missing = [];
    if (!outcome) missing.push({ id: "d-outcome", text: "Choose an outcome" });
    if (ASSESSMENT_OUTCOMES.has(outcome) && !primaryNeed) missing.push({ id: "d-need", text: "Choose the child's primary need" });
    if (!rationale) missing.push({ id: "d-rationale", text: "Enter the reason for the decision" });
    if (missing.length) return showErrors(form, missing);
    const body = primaryNeed ? { outcome, rationale, primary_need: primaryNeed } : { outcome, rationale };
    ctx.act(form, `/api/v1/referrals/${ref.id}/decision`, body, {
      prefix: "d", labels, aliases: { rationale: "rationale", signed_off_by: "outcome", primary_need: "need" },
      done: (data) => data && data.status === "awaiting_approval"
        ? `Sent to a MASH manager for approval: ${OUTCOMES[outcome]}.`
        : `Decision recorded: ${OUTCOMES[outcome]}.`,
    });
  });
  return form;
}

function approvalForm(ctx) {
  const { ref } = ctx;
  const pending = proposal(ref);
  const form = h("form#approval-form.action-form", { novalidate: true, "aria-labelledby": "approval-title" },
    h("h3.heading-s#approval-title", "Approve the decision"),
    h("div#approval-form-notice"),
    h("p.body", "Proposed: ", h("strong", OUTCOMES[pending.outcome] || pending.outcome || "")),
    choices({ id: "ap-approve", legend: "Your decision", small: true, options: [["yes", "Approve it"], ["no", "Return it to the practitioner"]] }),
    textarea({ id: "ap-comment", label: "Comment", hint: "Needed when you return it: what should be looked at again", rows: 3 }),
    button("Send your decision"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const choice = valueOf(form, "ap-approve");
    const comment = valueOf(form, "ap-comment");
    const missing = [];
    if (!choice) missing.push({ id: "ap-approve", text: "Choose whether to approve the decision or return it" });
    if (choice === "no" && !comment) missing.push({ id: "ap-comment", text: "Enter a comment saying why you are returning it" });
    if (missing.length) return showErrors(form, missing);
    const body = { approve: choice === "yes" };
    if (comment) body.comment = comment;
    ctx.act(form, `/api/v1/referrals/${ref.id}/decision/approval`, body, {
      prefix: "ap", labels: { "ap-approve": "Your decision", "ap-comment": "Comment" }, aliases: { approve: "approve" },
      done: choice === "yes" ? `Approved: ${OUTCOMES[pending.outcome] || "the decision"}.` : "Returned to the practitioner with your comment.",
    });
  });
  return form;
}

function afterDecision(ctx) {
  const { ref } = ctx;
  const close = h("form#close-form.action-form", { novalidate: true, "aria-label": "Close the referral" },
    h("div#close-form-notice"), button("Close the referral", { secondary: true }));
  close.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.act(close, `/api/v1/referrals/${ref.id}/close`, undefined, { prefix: "c", done: "Referral closed." });
  });
  const reopen = h("form#reopen-form.action-form", { novalidate: true, "aria-labelledby": "reopen-title" },
    h("h3.heading-s#reopen-title", "Reopen"),
    h("div#reopen-form-notice"),
    textarea({ id: "r-reason", label: "Why it needs deciding again", rows: 3 }),
    button("Reopen the referral", { secondary: true }));
  reopen.addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = valueOf(reopen, "r-reason");
    if (!reason) return showErrors(reopen, [{ id: "r-reason", text: "Enter why the referral needs deciding again" }]);
    ctx.act(reopen, `/api/v1/referrals/${ref.id}/reopen`, { reason }, { prefix: "r", labels: { "r-reason": "Reason" }, done: "Referral reopened." });
  });
  return h("div", close, reopen);
}

// --- case notes and strategy discussions --------------------------------------------------

function noteForm(ctx) {
  const { ref } = ctx;
  if (ctx.notes === null) return null;  // this hub keeps no case notes
  const labels = { "n-kind": "Kind of note", "n-text": "Note" };
  const form = h("form#note-form.action-form", { novalidate: true, "aria-labelledby": "note-title" },
    h("h3.heading-s#note-title", "Add a case note"),
    h("div#note-form-notice"),
    choices({ id: "n-kind", legend: "Kind of note", small: true, value: "note",
      options: Object.entries(NOTE_KINDS).filter(([kind]) => kind !== "management_oversight" || isManager()) }),
    textarea({ id: "n-text", label: "Note", hint: "Notes are kept as written: they cannot be changed later, only added to.", rows: 4 }),
    button("Add the note", { secondary: true }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const kind = valueOf(form, "n-kind");
    const text = valueOf(form, "n-text");
    const missing = [];
    if (!kind) missing.push({ id: "n-kind", text: "Choose the kind of note" });
    if (!text) missing.push({ id: "n-text", text: "Enter the note" });
    if (missing.length) return showErrors(form, missing);
    ctx.act(form, `/api/v1/referrals/${ref.id}/notes`, { kind, text }, { prefix: "n", labels, done: `${NOTE_KINDS[kind]} added to the chronology.` });
  });
  return form;
}

function discussionsRecord(ctx) {
  if (ctx.discussions === null || !ctx.discussions.length) return null;
  return h("section", { "aria-labelledby": "discussions-title" },
    h("h2.heading-m#discussions-title", "Strategy discussions"),
    ctx.discussions.map((d, index) => h("section.card.discussion", { "aria-labelledby": `discussion-${index}` },
      h("h3.card__title", { id: `discussion-${index}` }, `${dateTime(d.held_at)}: ${SD_OUTCOMES[d.outcome] || d.outcome}`),
      h("div.card__content", summaryList([
        ["Attended", h("ul.list.list--plain", (d.attendees || []).map((a) => h("li", `${a.name}${a.role ? `, ${a.role}` : ""} (${ctx.agencyMap.get(a.agency_id)?.name || "agency not known"})`)))],
        ["Outcome", SD_OUTCOMES[d.outcome] || d.outcome],
        ["Reasons", h("p.narrative", d.reasons || "")],
        ["Actions", (d.actions || []).length ? h("ul.list.list--plain", d.actions.map((a) => h("li", a.text, " – ",
          ctx.agencyMap.get(a.agency_id)?.name || "owner not known", a.due_at ? `, by ${dateTime(a.due_at)}` : ""))) : "None"],
        (d.recorded_by || d.author) && ["Recorded by", personOf(ctx, d.recorded_by || d.author)],
      ])))));
}

function personOf(ctx, who) {
  if (!who) return "";
  if (typeof who === "object") return who.display_name || ctx.staff.get(who.id) || "a member of staff";
  return ctx.staff.get(who) || "a member of staff";
}

function discussionForm(ctx) {
  const { ref } = ctx;
  if (ctx.discussions === null || ref.status === "closed") return null;
  const agencyOptions = [["", "Choose an agency"], ...[...ctx.agencyMap.values()].map((a) => [a.id, a.name])];
  const attendee = (i) => h("div.repeat", { dataset: { attendee: String(i) } },
    field({ id: `sd-attendees-${i}-name`, label: `Attendee ${i + 1}: name`, width: "20" }),
    field({ id: `sd-attendees-${i}-role`, label: `Attendee ${i + 1}: role`, width: "20" }),
    select({ id: `sd-attendees-${i}-agency_id`, label: `Attendee ${i + 1}: agency`, options: agencyOptions }));
  const action = (i) => h("div.repeat", { dataset: { action: String(i) } },
    field({ id: `sd-actions-${i}-text`, label: `Action ${i + 1}` }),
    select({ id: `sd-actions-${i}-agency_id`, label: `Action ${i + 1}: owner`, options: agencyOptions }),
    field({ id: `sd-actions-${i}-due_at`, label: `Action ${i + 1}: due`, type: "datetime-local", width: "20" }));
  const attendees = h("div", [0, 1, 2].map(attendee));
  const actions = h("div", [0, 1].map(action));
  const now = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const form = h("form#discussion-form.action-form", { novalidate: true, "aria-labelledby": "discussion-form-title" },
    h("h3.heading-s#discussion-form-title", "Record a strategy discussion"),
    h("div#discussion-form-notice"),
    field({ id: "sd-held_at", label: "When it was held", type: "datetime-local", value: now, width: "20" }),
    h("fieldset.fieldset", h("legend.fieldset__legend", "Who attended"), attendees,
      button("Add another attendee", { type: "button", secondary: true, onclick: () => attendees.append(attendee(attendees.children.length)) })),
    choices({ id: "sd-outcome", legend: "Outcome", small: true, options: Object.entries(SD_OUTCOMES) }),
    textarea({ id: "sd-reasons", label: "Reasons", rows: 3 }),
    h("fieldset.fieldset", h("legend.fieldset__legend", "Actions"), actions,
      button("Add another action", { type: "button", secondary: true, onclick: () => actions.append(action(actions.children.length)) })),
    button("Record the strategy discussion", { secondary: true }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const missing = [];
    const heldAt = valueOf(form, "sd-held_at");
    const outcome = valueOf(form, "sd-outcome");
    const reasons = valueOf(form, "sd-reasons");
    const people = [];
    for (let i = 0; i < attendees.children.length; i += 1) {
      const name = valueOf(form, `sd-attendees-${i}-name`);
      const role = valueOf(form, `sd-attendees-${i}-role`);
      const agencyId = valueOf(form, `sd-attendees-${i}-agency_id`);
      if (!name && !role && !agencyId) continue;
      if (!name) missing.push({ id: `sd-attendees-${i}-name`, text: `Enter the name of attendee ${i + 1}` });
      if (!agencyId) missing.push({ id: `sd-attendees-${i}-agency_id`, text: `Choose the agency of attendee ${i + 1}` });
      people.push({ name, role: role || null, agency_id: agencyId });
    }
    const todo = [];
    for (let i = 0; i < actions.children.length; i += 1) {
      const text = valueOf(form, `sd-actions-${i}-text`);
      const agencyId = valueOf(form, `sd-actions-${i}-agency_id`);
      const due = valueOf(form, `sd-actions-${i}-due_at`);
      if (!text && !agencyId && !due) continue;
      if (!text) missing.push({ id: `sd-actions-${i}-text`, text: `Enter what action ${i + 1} is` });
      if (!agencyId) missing.push({ id: `sd-actions-${i}-agency_id`, text: `Choose who owns action ${i + 1}` });
      if (!due) missing.push({ id: `sd-actions-${i}-due_at`, text: `Enter when action ${i + 1} is due` });
      todo.push({ text, agency_id: agencyId, due_at: due ? new Date(due).toISOString() : null });
    }
    if (!heldAt) missing.push({ id: "sd-held_at", text: "Enter when the strategy discussion was held" });
    if (!people.length) missing.push({ id: "sd-attendees-0-name", text: "Enter who attended" });
    if (!outcome) missing.push({ id: "sd-outcome", text: "Choose the outcome" });
    if (!reasons) missing.push({ id: "sd-reasons", text: "Enter the reasons" });
    if (missing.length) return showErrors(form, missing);
    const labels = { "sd-held_at": "When it was held", "sd-outcome": "Outcome", "sd-reasons": "Reasons", "sd-attendees-0-name": "Who attended", "sd-actions-0-text": "Actions" };
    ctx.act(form, `/api/v1/referrals/${ref.id}/strategy-discussions`,
      { held_at: new Date(heldAt).toISOString(), attendees: people, outcome, reasons, actions: todo },
      { prefix: "sd", labels, done: `Strategy discussion recorded: ${SD_OUTCOMES[outcome]}.` });
  });
  return form;
}

function toldText(ctx, eventType) {
  if (ctx.deliveries === null) return "Not known (the delivery log could not be read).";
  const found = ctx.deliveries.filter((d) => d.event_type === eventType);
  if (!found.length) return "Not yet: the notice is on its way to the notification service.";
  const agency = ctx.agencyMap.get(ctx.ref.referring_agency_id)?.name || "The referring agency";
  return found.map((d) => {
    if (d.status === "delivered") return `Yes: told ${dateTime(d.completed_at)} by ${d.channel === "email" ? "email" : "webhook"}.`;
    if (d.status === "pending") return `Being sent (attempt ${d.attempt_count + 1}${d.next_attempt_at ? `, next try ${dateTime(d.next_attempt_at)}` : ""}).`;
    if (d.status === "dead") return `No: delivery failed (${d.dead_reason || d.last_error || "gave up"}). An administrator can send it again.`;
    if (d.status === "no_subscription") return `No: ${agency} has not subscribed to these notices. Tell them another way, for example by phone.`;
    return d.status;
  }).join(" ");
}

// --- chronology ---------------------------------------------------------------------------

const DECLINED = { not_known: "Not known to them", held_elsewhere: "Another agency holds this", cannot_share: "They cannot share this" };

export function timelineText(entry, staff, agencyMap) {
  const who = entry.actor ? staff.get(entry.actor) || agencyMap.get(entry.agency_id)?.name || "Someone" : "The hub";
  const d = entry.detail || {};
  const agency = d.agency_id ? agencyMap.get(d.agency_id)?.name || "an agency" : "";
  switch (entry.what) {
    case "received": return `Received from ${agencyMap.get(entry.agency_id)?.name || "a partner"}${d.immediate_risk ? ", marked as immediate risk" : ""}`;
    case "triaged": return `${who} rated it ${RAG[d.rag] || d.rag}${d.rationale ? `: “${d.rationale}”` : ""}`;
    case "information_requested": return `${who} asked ${agency} for information`;
    case "information_answered": return `${who} answered a question`;
    case "information_withdrawn": return `${who} withdrew a question`;
    case "information_declined": return `${who} declined a question: ${DECLINED[d.reason] || d.reason}${d.held_by_agency_id ? ` (${agencyMap.get(d.held_by_agency_id)?.name || "another agency"} holds it)` : ""}`;
    case "information_more_time": return `${who} asked for more time to answer${d.reason ? `: “${d.reason}”` : ""}`;
    case "withdrawn": return `${who} withdrew the referral (sent in error)${d.reason ? `: “${d.reason}”` : ""}`;
    case "decided": return d.approved_by
      ? `${who} approved the decision: ${OUTCOMES[d.outcome] || d.outcome}${d.proposed_by ? `, proposed by ${staff.get(d.proposed_by) || "a practitioner"}` : ""}${d.comment ? `: “${d.comment}”` : ""}`
      : `${who} decided: ${OUTCOMES[d.outcome] || d.outcome}${d.signed_off_by ? ` (signed off by ${d.signed_off_by})` : ""}`;
    case "reopened": return `${who} reopened it${d.reason ? `: “${d.reason}”` : ""}`;
    case "closed": return `${who} closed it`;
    case "assigned": return `${who} allocated it to ${d.assignee_name || staff.get(d.assignee_id) || "a colleague"}`;
    case "unassigned": return `${who} took it off ${d.previous_assignee_id ? staff.get(d.previous_assignee_id) || "a colleague" : "its allocation"}`;
    case "awaiting_approval": return `${who} proposed: ${OUTCOMES[d.outcome] || d.outcome}, for a manager's approval`;
    case "approval_refused": return `${who} returned the proposed decision (${OUTCOMES[d.outcome] || d.outcome || "an outcome"})${d.comment ? `: “${d.comment}”` : ""}`;
    case "strategy_discussion": return `${who} recorded a strategy discussion${d.outcome ? `: ${SD_OUTCOMES[d.outcome] || d.outcome}` : ""}`;
    case "children_status_recorded": return `The referrer said ${(d.children || []).map((c) => [c.looked_after ? lookedAfterText(c.looked_after).replace("Yes: ", "a child is looked after, ") : null, c.child_protection_plan ? `child protection plan: ${PROTECTION_PLANS[c.child_protection_plan] || c.child_protection_plan}` : null].filter(Boolean).join("; ")).join("; ")}`;
    case "peer_hub_notified": return `${d.peer_hub || "Another hub"} was told${d.their_reference ? ` (their reference ${d.their_reference})` : ""}`;
    default: return `${who}: ${entry.what.replaceAll("_", " ")}`;
  }
}

const NOTE_EVENTS = new Set(["note"]);

function chronology(ctx) {
  // Case notes are part of the chronology, in time order with everything else.
  const entries = ctx.ref.timeline.filter((t) => !(ctx.notes && NOTE_EVENTS.has(t.what)))
    .map((entry) => ({ at: entry.at, item: h("li.timeline__item",
      h("p.timeline__meta", timeElement(entry.at)),
      h("p.timeline__title", timelineText(entry, ctx.staff, ctx.agencyMap))) }));
  for (const note of ctx.notes || []) {
    entries.push({ at: note.created_at, item: h("li.timeline__item.timeline__item--note", { dataset: { noteId: note.id } },
      h("p.timeline__meta", timeElement(note.created_at)),
      h("p.timeline__title", `${NOTE_KINDS[note.kind] || "Note"} by ${personOf(ctx, note.author)}`),
      h("p.narrative.note-text", note.text)) });
  }
  entries.sort((x, y) => new Date(x.at) - new Date(y.at));
  return h("section", { "aria-labelledby": "chronology-title" },
    h("h2.heading-m#chronology-title", "Chronology"),
    h("ol.timeline", entries.map((e) => e.item)));
}

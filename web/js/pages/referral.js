// One referral, as MASH staff work it: the referrer's account, the people, triage,
// questions to partners and their answers, the decision, whether the referrer has been
// told, and the chronology. Every change sends If-Match; a 412 is explained, not lost.

import { api, ApiError, withQuery } from "../api.js";
import {
  h, clear, ragTag, statusTag, countdownElement, dateTime, dateOnly, timeElement, nhsNumber,
  summaryList, backLink, announce, OUTCOMES, OUTCOME_HINTS, MANAGER_OUTCOMES, RAG, STATUSES,
  SUBJECT_ROLES, CONSENT, show,
} from "../dom.js";
import { textarea, select, choices, field, button, showErrors, apiErrors, valueOf, draftsOf, restoreDrafts, clearErrors } from "../forms.js";
import { agencies, staffNames, isManager, session } from "../state.js";

const OPEN = new Set(["received", "triaged", "awaiting_information"]);

export async function referralPage({ main, params }) {
  const id = params[0];
  session.lastReferral = id;
  const state = { ref: null, etag: null, requests: [], deliveries: [], people: [], notice: null };

  async function fetchAll() {
    const { data, etag } = await api(`/api/v1/referrals/${id}`);
    state.ref = data;
    state.etag = etag;
    const requestIds = data.timeline.filter((t) => t.what === "information_requested" && t.detail.information_request_id)
      .map((t) => t.detail.information_request_id);
    const [requests, deliveries, people] = await Promise.all([
      Promise.all(requestIds.map((rid) => api(`/api/v1/information-requests/${rid}`).then((r) => r.data).catch(() => null))),
      api(withQuery("/api/v1/deliveries", { referral_id: id, limit: 50 })).then((r) => r.data.items).catch(() => null),
      earlierReferrals(data),
    ]);
    state.requests = requests.filter(Boolean);
    state.deliveries = deliveries;
    state.people = people;
  }

  async function renderPage({ keepDrafts = true, notice = null, focus = null } = {}) {
    const drafts = keepDrafts ? draftsOf(main) : {};
    const [agencyMap, staff] = await Promise.all([agencies(), staffNames()]);
    const ctx = { ...state, agencyMap, staff, act };
    show(main, ...page(ctx));
    restoreDrafts(main, drafts);
    if (notice) {
      const slot = main.querySelector(notice.slot || "#referral-notice");
      clear(slot, notice.element);
      notice.element.focus();
    } else if (focus) {
      const target = main.querySelector(focus);
      if (target) target.focus();
    }
  }

  /** Send a change with If-Match; on success reload, on 412 explain and keep the text. */
  async function act(form, path, body, { prefix, labels = {}, done }) {
    clearErrors(form);
    const submit = form.querySelector("button[type=submit]");
    if (submit) submit.disabled = true;
    try {
      await api(path, { method: "POST", body, etag: state.etag });
      const mine = new Set(Array.from(form.querySelectorAll("input, textarea, select")).map((el) => el.id));
      const drafts = Object.fromEntries(Object.entries(draftsOf(main)).filter(([key]) => !mine.has(key)));
      await fetchAll();
      await renderPage({ keepDrafts: false });
      restoreDrafts(main, drafts);
      const element = h("div.notification.notification--success", { role: "status", tabindex: "-1" },
        h("p.notification__title", done));
      clear(main.querySelector("#referral-notice"), element);
      element.focus();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (submit) submit.disabled = false;
      if (error.status === 412) {
        await conflict(form);
      } else if (error.status === 422) {
        showErrors(form, apiErrors(form, error, { prefix, labelOf: (fid) => labels[fid] }));
      } else {
        const title = error.status === 409 ? "This cannot be done now" : error.status === 403 ? "This needs a MASH manager" : "There is a problem";
        showErrors(form, [{ id: null, text: error.message }], title);
      }
    }
  }

  async function conflict(form) {
    const before = state.ref;
    const formId = form.id;
    await fetchAll();
    const changes = await describeChanges(before, state.ref);
    const element = h("div.error-summary.conflict", { tabindex: "-1", "aria-labelledby": "conflict-title" },
      h("h2.error-summary__title#conflict-title", "Someone else changed this referral while you were working on it"),
      h("p.body", "Nothing you typed has been saved yet, and nothing is lost: your text is still in the form. This is what changed:"),
      h("ul.list", changes.map((c) => h("li", c))),
      h("p.body", "Check your text against these changes, then send it again."));
    await renderPage({ keepDrafts: true, notice: { slot: `#${formId}-notice`, element } });
  }

  async function describeChanges(before, after) {
    const staff = await staffNames();
    const agencyMap = await agencies();
    const lines = [];
    if (before.status !== after.status) lines.push(`Status: now ${STATUSES[after.status] || after.status} (was ${STATUSES[before.status] || before.status}).`);
    if (before.rag !== after.rag) lines.push(`Rating: now ${RAG[after.rag] || "not rated"} (was ${RAG[before.rag] || "not rated"}).`);
    if (before.rag_rationale !== after.rag_rationale && after.rag_rationale) lines.push(`Reason for the rating: “${after.rag_rationale}”.`);
    if (before.outcome !== after.outcome) lines.push(`Decision: ${after.outcome ? OUTCOMES[after.outcome] : "none now"}.`);
    const seen = before.timeline.length;
    for (const entry of after.timeline.slice(seen)) lines.push(`${dateTime(entry.at)}: ${timelineText(entry, staff, agencyMap)}.`);
    if (!lines.length) lines.push("The referral's version changed, but nothing shown on this page is different.");
    return lines;
  }

  await fetchAll();
  await renderPage({ keepDrafts: false });
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
    ref.kind === "notification" && h("strong.tag.tag--grey", "Notification (information only)"),
  ];
  return [
    backLink(session.lastQueue || "#/queue", "Back to the queue"),
    h("span.caption", "Referral"),
    h("h1.heading-l", ref.reference),
    h("p.body", flags),
    h("div#referral-notice"),
    deadlines(ref),
    h("div.grid-row", h("div.column-two-thirds",
      h("h2.heading-m", "The referral"),
      summaryList([
        ["Received", timeElement(ref.received_at)],
        ["Kind", ref.kind === "notification" ? "Notification: for information only" : "Referral"],
        ["Source", `${ref.source_description || ref.source} (${ref.source})`],
        ["Referring agency", ctx.agencyMap.get(ref.referring_agency_id)?.name || ref.referring_agency_id],
        ["Referrer", referrer(ref.referrer)],
        ["Consent", [CONSENT[ref.consent.status] || ref.consent.status, ref.consent.reason ? h("p", `Reason: ${ref.consent.reason}`) : null]],
        ref.external_reference && ["Referrer's own reference", ref.external_reference],
        ref.same_day_as && ["Same day as", [h("a", { href: `#/referrals/${ref.same_day_as}` }, "an earlier referral of this child today"), " (the census counts them once)"]],
      ]),
      h("h2.heading-m", "The referrer's account"),
      h("p.narrative", ref.summary || "No account given."),
      h("h2.heading-m", "Concerns"),
      h("ul.list", ref.concerns.map((c) => h("li", `${c.description || "Unknown code"} (${c.code})`))),
      h("h2.heading-m", "People"),
      ref.subjects.map((s, i) => subjectCard(s, i)),
      earlierPanel(ctx),
      triageSection(ctx),
      requestsSection(ctx),
      decisionSection(ctx),
      chronology(ctx))),
  ];
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
      match && ["Person index", match],
    ])));
}

function matchLine(s) {
  if (s.match.status === "review") {
    return ["A possible match with a known child is waiting for review. ",
      s.match.review_id ? h("a", { href: `#/match-reviews/${s.match.review_id}` }, "Review the match") : null];
  }
  if (s.match.status === "linked") return "Recognised as a child already known to the hub.";
  return "Not known to the hub before this referral.";
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

function triageSection(ctx) {
  const { ref } = ctx;
  const current = ref.rag ? summaryList([["Rating", ragTag(ref.rag)], ["Reason", h("p.narrative", ref.rag_rationale || "")]]) : null;
  if (!OPEN.has(ref.status)) {
    return h("section", { "aria-labelledby": "triage-title" }, h("h2.heading-m#triage-title", "Triage"), current || h("p.body", "Not rated."));
  }
  const labels = { "t-rag": "Rating", "t-rationale": "Reason for the rating" };
  const form = h("form#triage-form", { novalidate: true, "aria-labelledby": "triage-title" },
    h("div#triage-form-notice"),
    choices({ id: "t-rag", legend: ref.rag ? "Change the rating" : "Rating", value: ref.rag || undefined,
      options: [["red", "Red", "Significant harm likely: partners answer first, worked to completion"], ["amber", "Amber"], ["green", "Green"]] }),
    textarea({ id: "t-rationale", label: "Reason for the rating", hint: "What in the referral led to this rating" }),
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
  return h("section", { "aria-labelledby": "triage-title" }, h("h2.heading-m#triage-title", "Triage"), current, form);
}

// --- information requests ---------------------------------------------------------------

function requestsSection(ctx) {
  const { ref } = ctx;
  const list = ctx.requests.length ? h("div", ctx.requests.map((r) => requestCard(r, ctx))) : h("p.body", "No questions have been put to partners.");
  let form = null;
  if (ref.status === "triaged" || ref.status === "awaiting_information") {
    const partners = [...ctx.agencyMap.values()].filter((a) => a.kind !== "local_authority" || a.id !== session.me.agency_id);
    const labels = { "ir-agency_id": "Agency", "ir-question": "Question" };
    form = h("form#request-form", { novalidate: true, "aria-labelledby": "ask-title" },
      h("h3.heading-s#ask-title", "Ask a partner agency"),
      h("div#request-form-notice"),
      select({ id: "ir-agency_id", label: "Agency", options: [["", "Choose an agency"], ...partners.map((a) => [a.id, a.name])] }),
      textarea({ id: "ir-question", label: "Question", hint: "The agency sees this question only, not the referral. Due by the rating's response time.", rows: 4 }),
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
        { prefix: "ir", labels, done: `Question sent to ${name}.` });
    });
  } else if (ref.status === "received") {
    form = h("p.body.secondary", "Triage the referral before asking partners for information.");
  }
  return h("section", { "aria-labelledby": "requests-title" }, h("h2.heading-m#requests-title", "Information from partners"), list, form);
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

function decisionSection(ctx) {
  const { ref } = ctx;
  const parts = [];
  if (ref.outcome) {
    parts.push(summaryList([
      ["Outcome", h("strong", OUTCOMES[ref.outcome] || ref.outcome)],
      ["Reason", h("p.narrative", ref.decision_rationale || "")],
      ["Decided", [timeElement(ref.decided_at), ref.decided_by ? ` by ${ctx.staff.get(ref.decided_by) || "a member of staff"}` : ""]],
      ref.signed_off_by && ["Signed off by", ref.signed_off_by],
      ["Referrer told", toldText(ctx, "mash.referral.decided")],
    ]));
    if (ref.status === "decided") parts.push(afterDecision(ctx));
  } else if (ref.status === "received") {
    parts.push(h("p.body.secondary", "Triage the referral before deciding."));
  } else if (OPEN.has(ref.status)) {
    parts.push(decisionForm(ctx));
  }
  parts.push(h("p.body.secondary", "Acknowledgement to the referrer: ", toldText(ctx, "mash.referral.received")));
  return h("section", { "aria-labelledby": "decision-title" }, h("h2.heading-m#decision-title", "Decision"), parts);
}

function decisionForm(ctx) {
  const { ref } = ctx;
  const labels = { "d-outcome": "Outcome", "d-rationale": "Reason for the decision", "d-signed_off_by": "Signed off by" };
  const manager = isManager();
  const form = h("form#decision-form", { novalidate: true, "aria-labelledby": "decision-title" },
    h("div#decision-form-notice"),
    choices({ id: "d-outcome", legend: "Outcome", options: Object.entries(OUTCOMES).map(([value, text]) => [value, text, OUTCOME_HINTS[value]]) }),
    textarea({ id: "d-rationale", label: "Reason for the decision", hint: "The referrer is told the outcome, not this reason." }),
    manager ? null : field({ id: "d-signed_off_by", label: "Signed off by (if needed)", width: "20",
      hint: "A strategy discussion or immediate protection needs a MASH manager: give the name of the manager who signed it off." }),
    button("Record the decision"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const outcome = valueOf(form, "d-outcome");
    const rationale = valueOf(form, "d-rationale");
    const missing = [];
    if (!outcome) missing.push({ id: "d-outcome", text: "Choose an outcome" });
    if (!rationale) missing.push({ id: "d-rationale", text: "Enter the reason for the decision" });
    if (missing.length) return showErrors(form, missing);
    const body = { outcome, rationale };
    const signedOff = manager ? undefined : valueOf(form, "d-signed_off_by");
    if (signedOff) body.signed_off_by = signedOff;
    if (MANAGER_OUTCOMES.has(outcome) && manager) body.signed_off_by = undefined;
    ctx.act(form, `/api/v1/referrals/${ref.id}/decision`, body, { prefix: "d", labels, done: `Decision recorded: ${OUTCOMES[outcome]}.` });
  });
  return form;
}

function afterDecision(ctx) {
  const { ref } = ctx;
  const close = h("form#close-form", { novalidate: true, "aria-label": "Close the referral" },
    h("div#close-form-notice"), button("Close the referral", { secondary: true }));
  close.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.act(close, `/api/v1/referrals/${ref.id}/close`, undefined, { prefix: "c", done: "Referral closed." });
  });
  const reopen = h("form#reopen-form", { novalidate: true, "aria-labelledby": "reopen-title" },
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
    case "decided": return `${who} decided: ${OUTCOMES[d.outcome] || d.outcome}${d.signed_off_by ? ` (signed off by ${d.signed_off_by})` : ""}`;
    case "reopened": return `${who} reopened it${d.reason ? `: “${d.reason}”` : ""}`;
    case "closed": return `${who} closed it`;
    default: return `${who}: ${entry.what.replaceAll("_", " ")}`;
  }
}

function chronology(ctx) {
  return h("section", { "aria-labelledby": "chronology-title" },
    h("h2.heading-m#chronology-title", "Chronology"),
    h("ol.timeline", ctx.ref.timeline.map((entry) => h("li.timeline__item",
      h("p.timeline__meta", timeElement(entry.at)),
      h("p.timeline__title", timelineText(entry, ctx.staff, ctx.agencyMap))))));
}

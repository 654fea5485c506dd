// Partner practitioners (a police officer, a school's safeguarding lead): make a referral,
// follow their agency's referrals to the outcome, answer questions put to their agency.

import { api, ApiError, pathOf, withQuery, newIdempotencyKey } from "../api.js";
import { h, clear, countdownElement, dateTime, timeElement, summaryList, backLink, announce, OUTCOMES, STATUSES, SUBJECT_ROLES, show } from "../dom.js";
import { field, textarea, select, choices, button, showErrors, apiErrors, valueOf, clearErrors } from "../forms.js";
import { codes } from "../codes.js";
import { session, agencies } from "../state.js";

const DEFAULTS = {
  police: { source: "6", role: "Police officer" },
  school: { source: "2A", role: "Designated safeguarding lead" },
  health: { source: "3F", role: "Safeguarding nurse" },
};

const LABELS = {
  "f-source": "Source",
  "f-kind": "What you are sending",
  "f-referrer-name": "Your name",
  "f-referrer-role": "Your role",
  "f-referrer-phone": "Your phone number",
  "f-referrer-email": "Your email address",
  "f-subjects-0-given_name": "Child's first name",
  "f-subjects-0-family_name": "Child's last name",
  "f-subjects-0-date_of_birth": "Child's date of birth",
  "f-subjects-0-sex": "Child's sex",
  "f-subjects-0-nhs_number": "NHS number",
  "f-subjects-0-upn": "Unique pupil number",
  "f-subjects-0-address-line1": "Address",
  "f-subjects-0-address-postcode": "Postcode",
  "f-subjects-0-school": "School",
  "f-subjects-1-role": "The other person's role",
  "f-subjects-1-given_name": "The other person's first name",
  "f-subjects-1-family_name": "The other person's last name",
  "f-concerns": "Concerns",
  "f-immediate_risk": "Immediate risk",
  "f-summary": "What has happened",
  "f-consent-status": "Consent",
  "f-consent-reason": "Why consent was not given or not sought",
  "f-external_reference": "Your reference",
};

function dateInput(id, legend, hint) {
  const part = (suffix, label, width) => h("div.date-input__item",
    h("label.label", { for: `${id}${suffix}` }, label),
    h(`input.input.input--${width}`, { id: `${id}${suffix}`, name: `${id}${suffix}`, inputmode: "numeric", autocomplete: "off" }));
  return h("div.form-group", { dataset: { field: id } },
    h("fieldset.fieldset", { role: "group", "aria-describedby": `${id}-hint` },
      h("legend.fieldset__legend", legend),
      h("div.hint", { id: `${id}-hint` }, hint),
      h("div.date-input", part("", "Day", "5"), part("-month", "Month", "5"), part("-year", "Year", "5"))));
}

function dateValue(form, id) {
  const day = valueOf(form, id);
  const month = valueOf(form, `${id}-month`);
  const year = valueOf(form, `${id}-year`);
  if (!day && !month && !year) return undefined;
  return `${(year || "").padStart(4, "0")}-${(month || "").padStart(2, "0")}-${(day || "").padStart(2, "0")}`;
}

function compact(object) {
  const out = {};
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined || value === null || value === "") continue;
    if (typeof value === "object" && !Array.isArray(value)) {
      const inner = compact(value);
      if (Object.keys(inner).length) out[key] = inner;
    } else out[key] = value;
  }
  return out;
}

function referralBody(form) {
  const child = compact({
    role: "child",
    given_name: valueOf(form, "f-subjects-0-given_name"),
    family_name: valueOf(form, "f-subjects-0-family_name"),
    date_of_birth: dateValue(form, "f-subjects-0-date_of_birth"),
    sex: valueOf(form, "f-subjects-0-sex"),
    nhs_number: valueOf(form, "f-subjects-0-nhs_number"),
    upn: valueOf(form, "f-subjects-0-upn"),
    address: { line1: valueOf(form, "f-subjects-0-address-line1"), postcode: valueOf(form, "f-subjects-0-address-postcode") },
    school: valueOf(form, "f-subjects-0-school"),
  });
  const subjects = [child];
  const other = compact({ given_name: valueOf(form, "f-subjects-1-given_name"), family_name: valueOf(form, "f-subjects-1-family_name") });
  if (Object.keys(other).length) subjects.push({ role: valueOf(form, "f-subjects-1-role") || "adult_of_concern", ...other });
  const immediate = valueOf(form, "f-immediate_risk");
  return compact({
    source: valueOf(form, "f-source"),
    kind: valueOf(form, "f-kind"),
    referrer: { name: valueOf(form, "f-referrer-name"), role: valueOf(form, "f-referrer-role"), phone: valueOf(form, "f-referrer-phone"), email: valueOf(form, "f-referrer-email") },
    subjects,
    concerns: valueOf(form, "f-concerns"),
    immediate_risk: immediate === undefined ? undefined : immediate === "yes",
    summary: valueOf(form, "f-summary"),
    consent: { status: valueOf(form, "f-consent-status"), reason: valueOf(form, "f-consent-reason") },
    external_reference: valueOf(form, "f-external_reference"),
  });
}

export async function referralFormPage({ main }) {
  const { sources, concerns } = await codes();
  const agency = (await agencies()).get(session.me.agency_id);
  const defaults = DEFAULTS[agency?.kind] || { source: "", role: "" };
  let key = newIdempotencyKey();

  const form = h("form#referral-form", { novalidate: true, "aria-labelledby": "refer-title" },
    h("h2.heading-m", "About you"),
    field({ id: "f-referrer-name", label: "Your name", value: session.me.display_name || "", width: "30", autocomplete: "name" }),
    field({ id: "f-referrer-role", label: "Your role", value: defaults.role, width: "30", autocomplete: "organization-title" }),
    field({ id: "f-referrer-phone", label: "Your phone number", hint: "So the MASH can call you back", type: "tel", width: "20", autocomplete: "tel" }),
    field({ id: "f-referrer-email", label: "Your email address (optional)", type: "email", width: "30", autocomplete: "email", spellcheck: false }),
    select({ id: "f-source", label: "Source", hint: "Who the referral comes from (CIN census referral source)", value: defaults.source,
      options: [["", "Choose a source"], ...sources.map(([code, words]) => [code, `${words} (${code})`])] }),
    choices({ id: "f-kind", legend: "What you are sending", value: "referral", options: [
      ["referral", "A referral", "You think the child may need help or protection"],
      ["notification", "A notification for information only", "For example a police incident the MASH should know of"]] }),

    h("div#f-subjects", h("div#f-subjects-0",
    h("h2.heading-m", "The child"),
    field({ id: "f-subjects-0-given_name", label: "Child's first name", width: "20", autocomplete: "off", spellcheck: false }),
    field({ id: "f-subjects-0-family_name", label: "Child's last name", width: "20", autocomplete: "off", spellcheck: false }),
    dateInput("f-subjects-0-date_of_birth", "Child's date of birth", "For example, 27 3 2012"),
    choices({ id: "f-subjects-0-sex", legend: "Child's sex (optional)", inline: true, options: [["F", "Female"], ["M", "Male"], ["U", "Not known"]] }),
    field({ id: "f-subjects-0-nhs_number", label: "NHS number (optional)", hint: "10 digits, for example 943 476 5919", width: "10", inputmode: "numeric", spellcheck: false }),
    field({ id: "f-subjects-0-upn", label: "Unique pupil number (optional)", hint: "13 characters, for example A123456789012", width: "10", spellcheck: false }),
    field({ id: "f-subjects-0-address-line1", label: "Address (optional)", width: "30", autocomplete: "off" }),
    field({ id: "f-subjects-0-address-postcode", label: "Postcode (optional)", width: "10", autocomplete: "off" }),
    field({ id: "f-subjects-0-school", label: "School (optional)", width: "30" })),

    h("div#f-subjects-1",
    h("h2.heading-m", "Another person (optional)"),
    select({ id: "f-subjects-1-role", label: "The other person's role", value: "adult_of_concern",
      options: Object.entries(SUBJECT_ROLES).filter(([role]) => role !== "child") }),
    field({ id: "f-subjects-1-given_name", label: "The other person's first name", width: "20", autocomplete: "off" }),
    field({ id: "f-subjects-1-family_name", label: "The other person's last name", width: "20", autocomplete: "off" }))),

    h("h2.heading-m", "Your concerns"),
    choices({ id: "f-concerns", legend: "Concerns", hint: "Select all that apply", multiple: true, small: true, options: concerns.map(([code, words]) => [code, words]) }),
    choices({ id: "f-immediate_risk", legend: "Is the child at immediate risk of harm?", hint: "If the child is in danger now, also call 999.", inline: true, value: "no", options: [["yes", "Yes"], ["no", "No"]] }),
    textarea({ id: "f-summary", label: "What has happened", hint: "In your own words: what you saw or were told, when, and what has been done", rows: 8 }),
    choices({ id: "f-consent-status", legend: "Consent", hint: "Did the family agree to this referral?", options: [
      ["given", "Consent given"], ["not_given", "Consent not given"], ["not_sought", "Consent not sought"]] }),
    textarea({ id: "f-consent-reason", label: "Why consent was not given or not sought", hint: "Needed unless consent was given. For example: asking would put the child at more risk", rows: 3 }),
    field({ id: "f-external_reference", label: "Your reference (optional)", hint: "Your own system's reference, so you can find this referral again", width: "20" }),
    button("Send the referral"));
  const concernsBox = form.querySelector("div.checkboxes");
  concernsBox.classList.add("checkboxes--columns");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const { data } = await api("/api/v1/referrals", { method: "POST", body: referralBody(form), headers: { "Idempotency-Key": key } });
      key = newIdempotencyKey();
      show(main,
        h("div.panel", h("h1.panel__title", "Referral received"), h("div.panel__body", "Your reference", h("strong#referral-reference", data.reference))),
        h("h2.heading-m", "What happens next"),
        h("p.body", "The MASH decides what happens within one working day, and tells you the outcome. Call the MASH if the child's situation changes."),
        h("p.body", h("a", { href: `#/our-referrals/${data.id}` }, "Follow this referral")),
        h("p.body", h("a", { href: "#/refer", id: "another" }, "Make another referral")));
      main.querySelector("h1").setAttribute("tabindex", "-1");
      main.querySelector("h1").focus();
      document.title = "Referral received – MASH referral hub";
    } catch (error) {
      submit.disabled = false;
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, apiErrors(form, error, { prefix: "f", labelOf: (id) => LABELS[id] }));
    }
  });

  show(main,
    h("span.caption", agency ? agency.name : "Partner agency"),
    h("h1.heading-l#refer-title", "Make a referral"),
    h("div.grid-row", h("div.column-two-thirds",
      h("p.body", "Tell the MASH about a child you are worried about. If a child is in immediate danger, call 999 first."),
      form)));
}

export async function ourReferralsPage({ main }) {
  const tbody = h("tbody");
  const more = h("div");
  let next = null;
  async function load(path) {
    const { data } = await api(path);
    for (const r of data.items) {
      tbody.appendChild(h("tr",
        h("td", h("a", { href: `#/our-referrals/${r.id}` }, r.reference)),
        h("td", r.external_reference || ""),
        h("td", dateTime(r.received_at)),
        h("td", STATUSES[r.status] || r.status),
        h("td.outcome", r.outcome ? OUTCOMES[r.outcome] || r.outcome : h("span.secondary", "Not decided yet"))));
    }
    next = data.links.next;
    clear(more, next ? button("Show more", { type: "button", secondary: true, onclick: () => load(pathOf(next)) }) : null);
  }
  const agency = (await agencies()).get(session.me.agency_id);
  show(main,
    h("span.caption", agency ? agency.name : ""),
    h("h1.heading-l", "Your agency's referrals"),
    h("p.body", h("a.button", { href: "#/refer" }, "Make a referral")),
    h("div.table-wrap", h("table.table#our-referrals",
      h("caption.visually-hidden", "Referrals your agency has made, newest first"),
      h("thead", h("tr", ["Reference", "Your reference", "Received", "Status", "Outcome"].map((t) => h("th", { scope: "col" }, t)))),
      tbody)),
    more);
  await load(withQuery("/api/v1/referrals", { limit: 50 }));
  if (!tbody.children.length) tbody.appendChild(h("tr", h("td", { colspan: "5" }, "Your agency has made no referrals yet.")));
}

const NEXT_STEPS = {
  no_further_action: "The MASH found no need for a service. Refer again if anything changes.",
  advice_signposting: "The family or you have been given advice or pointed to other help.",
  early_help: "The early help team will offer the family support.",
  cin_assessment: "A social worker will assess the child's needs (within 45 working days).",
  strategy_discussion: "Agencies will meet for a strategy discussion; you may be asked to take part.",
  immediate_protection: "The council is acting now to protect the child.",
};

export async function ourReferralPage({ main, params }) {
  const { data: r } = await api(`/api/v1/referrals/${params[0]}`);
  show(main,
    backLink("#/our-referrals", "Back to your referrals"),
    h("span.caption", "Referral"),
    h("h1.heading-l", r.reference),
    summaryList([
      ["Received", timeElement(r.received_at)],
      ["Kind", r.kind === "notification" ? "Notification" : "Referral"],
      r.external_reference && ["Your reference", r.external_reference],
      ["Status", STATUSES[r.status] || r.status],
      ["Outcome", h("strong#outcome", r.outcome ? OUTCOMES[r.outcome] || r.outcome : "Not decided yet")],
      r.decided_at && ["Decided", timeElement(r.decided_at)],
    ]),
    r.outcome ? h("div.inset", h("p.body", NEXT_STEPS[r.outcome] || "")) : h("p.body", "The MASH decides within one working day of receiving a referral."));
}

export async function requestsPage({ main }) {
  const agency = (await agencies()).get(session.me.agency_id);
  const notice = h("div#requests-notice");
  const waiting = h("div#waiting");
  const answered = h("div#answered");

  async function load() {
    const items = [];
    let path = withQuery("/api/v1/information-requests", { limit: 200 });
    while (path) {
      const { data } = await api(path);
      items.push(...data.items);
      path = data.links.next ? pathOf(data.links.next) : null;
    }
    const open = items.filter((r) => r.status === "open" || r.status === "overdue").sort((a, b) => a.due_at.localeCompare(b.due_at));
    const done = items.filter((r) => r.status === "answered");
    clear(waiting, open.length ? open.map(openCard) : h("p.body", "No questions are waiting for your agency's answer."));
    clear(answered, done.length ? done.map(answeredCard) : h("p.body", "None yet."));
  }

  function openCard(r) {
    const textId = `a-${r.id}`;
    const form = h("form.answer-form", { novalidate: true, "aria-label": "Answer this question" },
      textarea({ id: textId, label: "Your answer", hint: "What your agency knows. The MASH sees your answer at once.", rows: 5 }),
      button("Send the answer"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = valueOf(form, textId);
      if (!text) return showErrors(form, [{ id: textId, text: "Enter your answer" }]);
      try {
        await api(`/api/v1/information-requests/${r.id}/response`, { method: "POST", body: { text } });
        await load();
        const element = h("div.notification.notification--success", { role: "status", tabindex: "-1" }, h("p.notification__title", "Answer sent to the MASH."));
        clear(notice, element);
        element.focus();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, error.status === 422 ? apiErrors(form, error, { prefix: "a", labelOf: () => "Your answer" }).map((e) => ({ ...e, id: textId })) : [{ id: null, text: error.message }]);
      }
    });
    return h("section.card.request", { dataset: { requestId: r.id }, "aria-label": "Question from the MASH" },
      h("h3.card__title", "Question from the MASH"),
      h("div.card__content",
        summaryList([["Asked", timeElement(r.created_at)], ["Due", [countdownElement(r.due_at), h("div.body-s.secondary", dateTime(r.due_at))]], ["Question", h("p.narrative.question", r.question)]]),
        form));
  }

  function answeredCard(r) {
    return h("section.card", { "aria-label": "Answered question" },
      h("h3.card__title", `Answered ${dateTime(r.answered_at)}`),
      h("div.card__content", summaryList([["Question", h("p.narrative", r.question)], ["Your answer", h("p.narrative", r.answer || "")]])));
  }

  show(main,
    h("span.caption", agency ? agency.name : ""),
    h("h1.heading-l", "Information requests"),
    h("p.body", "Questions the MASH has asked your agency. You see the question only; answer with what your agency knows."),
    notice,
    h("h2.heading-m", "Waiting for your answer"), waiting,
    h("h2.heading-m", "Answered"), answered);
  await load();
  announce("");
}

// Partner practitioners (a police officer, a school's safeguarding lead): make a referral,
// follow their agency's referrals to the outcome, answer questions put to their agency.

import { api, ApiError, pathOf, withQuery, newIdempotencyKey } from "../api.js";
import { h, clear, countdownElement, dateOnly, dateTime, timeElement, summaryList, backLink, announce, OUTCOMES, STATUSES, SUBJECT_ROLES, show } from "../dom.js";
import { field, textarea, select, choices, button, showErrors, apiErrors, valueOf, clearErrors } from "../forms.js";
import { codes } from "../codes.js";
import { session, agencies } from "../state.js";

const DEFAULT_SOURCE = { police: "6", school: "2A", health: "3F" };
const PEOPLE_ROLES = [["parent_carer", "Parent or carer"], ["adult_of_concern", "Adult of concern"], ["sibling", "Sibling (not referred)"], ["other_adult", "Other adult"]];
const STATUS_WORDS = { ...STATUSES, withdrawn: "Withdrawn" };

const LABELS = {
  "f-source": "Source",
  "f-kind": "What you are sending",
  "f-referrer-name": "Your name",
  "f-referrer-role": "Your role",
  "f-referrer-phone": "Your phone number",
  "f-referrer-email": "Your email address",
  "f-concerns": "Concerns",
  "f-immediate_risk": "Immediate risk",
  "f-summary": "What has happened",
  "f-consent-status": "Consent",
  "f-consent-reason": "Why consent was not given or not sought",
  "f-external_reference": "Your reference",
};

const SUBJECT_FIELDS = {
  role: "role", given_name: "first name", family_name: "last name", date_of_birth: "date of birth",
  sex: "sex", nhs_number: "NHS number", upn: "unique pupil number", "address-line1": "address",
  "address-postcode": "postcode", school: "school",
};

/** The label an error names: "Child 2's last name", "Person 3's date of birth". */
function labelOf(form, id) {
  if (LABELS[id]) return LABELS[id];
  const match = /^f-subjects-(\d+)-(.+)$/.exec(id);
  if (!match) return null;
  const block = form.querySelector(`#f-subjects-${match[1]}`);
  const name = block ? block.dataset.title : `Person ${Number(match[1]) + 1}`;
  return `${name}: ${SUBJECT_FIELDS[match[2]] || match[2].replace(/[-_]/g, " ")}`;
}

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

/** One person's part of the form: a child referred, or another person of the household. */
function personBlock(n, kind, title) {
  const p = `f-subjects-${n}`;
  const child = kind === "child";
  const remove = n > 0 ? button(`Remove ${title.toLowerCase()}`, { type: "button", secondary: true }) : null;
  const block = h(`fieldset.person#${p}`, { dataset: { kind, title } },
    h("legend.heading-m", title),
    child ? h("input", { type: "hidden", name: `${p}-role`, value: "child" })
      : select({ id: `${p}-role`, label: "Their part in the family", value: "parent_carer", options: PEOPLE_ROLES }),
    field({ id: `${p}-given_name`, label: "First name", width: "20", autocomplete: "off", spellcheck: false }),
    field({ id: `${p}-family_name`, label: "Last name", width: "20", autocomplete: "off", spellcheck: false }),
    dateInput(`${p}-date_of_birth`, child ? "Date of birth" : "Date of birth (optional)", "For example, 27 3 2012"),
    child && choices({ id: `${p}-sex`, legend: "Sex (optional)", inline: true, options: [["F", "Female"], ["M", "Male"], ["U", "Not known"]] }),
    child && field({ id: `${p}-nhs_number`, label: "NHS number (optional)", hint: "10 digits, for example 943 476 5919", width: "10", inputmode: "numeric", spellcheck: false }),
    child && field({ id: `${p}-upn`, label: "Unique pupil number (optional)", hint: "13 characters, for example A123456789012", width: "10", spellcheck: false }),
    field({ id: `${p}-address-line1`, label: "Address (optional)", hint: n > 0 ? "Leave blank if the same as the first child's" : undefined, width: "30", autocomplete: "off" }),
    field({ id: `${p}-address-postcode`, label: "Postcode (optional)", width: "10", autocomplete: "off" }),
    child && field({ id: `${p}-school`, label: "School (optional)", width: "30" }),
    remove);
  if (remove) remove.addEventListener("click", () => block.dispatchEvent(new CustomEvent("remove-person", { bubbles: true })));
  return block;
}

/** Number the people's fields 0, 1, 2 … in the order shown, so errors find their field. */
function renumber(list) {
  const blocks = Array.from(list.children);
  let children = 0;
  let others = 0;
  blocks.forEach((block, n) => {
    const from = block.id;
    const to = `f-subjects-${n}`;
    const title = block.dataset.kind === "child" ? `Child ${++children}` : `Other person ${++others}`;
    block.dataset.title = title;
    block.querySelector("legend").textContent = title;
    const removeButton = block.querySelector("button");
    if (removeButton) removeButton.textContent = `Remove ${title.toLowerCase()}`;
    if (from === to) return;
    const swap = (value) => value && value.split(from).join(to);
    block.id = to;
    for (const el of block.querySelectorAll("[id],[for],[name],[aria-describedby],[data-field]")) {
      for (const attr of ["id", "for", "name", "aria-describedby", "data-field"]) {
        if (el.hasAttribute(attr)) el.setAttribute(attr, swap(el.getAttribute(attr)));
      }
    }
  });
}

function subjectOf(form, n, firstAddress) {
  const p = `f-subjects-${n}`;
  const address = { line1: valueOf(form, `${p}-address-line1`), postcode: valueOf(form, `${p}-address-postcode`) };
  return compact({
    role: valueOf(form, `${p}-role`),
    given_name: valueOf(form, `${p}-given_name`),
    family_name: valueOf(form, `${p}-family_name`),
    date_of_birth: dateValue(form, `${p}-date_of_birth`),
    sex: valueOf(form, `${p}-sex`),
    nhs_number: valueOf(form, `${p}-nhs_number`),
    upn: valueOf(form, `${p}-upn`),
    address: address.line1 || address.postcode ? address : firstAddress,
    school: valueOf(form, `${p}-school`),
  });
}

function referralBody(form) {
  const count = form.querySelectorAll("fieldset.person").length;
  const subjects = [];
  for (let n = 0; n < count; n++) subjects.push(subjectOf(form, n, n > 0 ? subjects[0].address : undefined));
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
  let key = newIdempotencyKey();

  const people = h("div#f-subjects", personBlock(0, "child", "Child 1"));
  renumber(people);
  const add = (kind) => {
    const block = personBlock(people.children.length, kind, "");
    people.appendChild(block);
    renumber(people);
    block.querySelector("input:not([type=hidden]), select").focus();
  };
  people.addEventListener("remove-person", (event) => {
    const index = Array.from(people.children).indexOf(event.target);
    event.target.remove();
    renumber(people);
    const focus = people.children[Math.max(0, index - 1)];
    focus.querySelector("legend").setAttribute("tabindex", "-1");
    focus.querySelector("legend").focus();
  });

  const form = h("form#referral-form", { novalidate: true, "aria-labelledby": "refer-title" },
    h("h2.heading-m", "About you"),
    field({ id: "f-referrer-name", label: "Your name", width: "30", autocomplete: "name" }),
    field({ id: "f-referrer-role", label: "Your role", hint: "For example, designated safeguarding lead", width: "30", autocomplete: "organization-title" }),
    field({ id: "f-referrer-phone", label: "Your phone number", hint: "So the MASH can call you back", type: "tel", width: "20", autocomplete: "tel" }),
    field({ id: "f-referrer-email", label: "Your email address (optional)", type: "email", width: "30", autocomplete: "email", spellcheck: false }),
    select({ id: "f-source", label: "Source", hint: "Who the referral comes from (CIN census referral source)", value: DEFAULT_SOURCE[agency?.kind] || "",
      options: [["", "Choose a source"], ...sources.map(([code, words]) => [code, `${words} (${code})`])] }),
    choices({ id: "f-kind", legend: "What you are sending", value: "referral", options: [
      ["referral", "A referral", "You think the child may need help or protection"],
      ["notification", "A notification for information only", "For example a police incident the MASH should know of"]] }),

    h("h2.heading-m", "The children and the people around them"),
    h("p.body", "Add each child you are worried about (brothers and sisters in one referral), and the adults who matter: parents, carers, an adult of concern."),
    people,
    h("div.button-group",
      button("Add another child", { type: "button", secondary: true, id: "add-child", onclick: () => add("child") }),
      button("Add an adult or other person", { type: "button", secondary: true, id: "add-person", onclick: () => add("other") })),

    h("h2.heading-m", "Your concerns"),
    choices({ id: "f-concerns", legend: "Concerns", hint: "Select all that apply", multiple: true, small: true, options: concerns.map(([code, words]) => [code, words]) }),
    choices({ id: "f-immediate_risk", legend: "Is a child at immediate risk of harm?", hint: "If a child is in danger now, also call 999.", inline: true, options: [["yes", "Yes"], ["no", "No"]] }),
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
    if (valueOf(form, "f-immediate_risk") === undefined) {
      showErrors(form, [{ id: "f-immediate_risk", text: "Say whether a child is at immediate risk of harm" }]);
      return;
    }
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const { data } = await api("/api/v1/referrals", { method: "POST", body: referralBody(form), headers: { "Idempotency-Key": key } });
      key = newIdempotencyKey();
      show(main,
        h("div.panel", h("h1.panel__title", "Referral received"), h("div.panel__body", "Your reference", h("strong#referral-reference", data.reference))),
        h("h2.heading-m", "What happens next"),
        h("p.body", "The MASH decides what happens within one working day, and tells you the outcome. Call the MASH if a child's situation changes."),
        h("p.body", h("a", { href: `#/our-referrals/${data.id}` }, "Follow this referral")),
        h("p.body", h("a", { href: "#/refer", id: "another" }, "Make another referral")));
      main.querySelector("h1").setAttribute("tabindex", "-1");
      main.querySelector("h1").focus();
      document.title = "Referral received – MASH referral hub";
    } catch (error) {
      submit.disabled = false;
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, apiErrors(form, error, { prefix: "f", labelOf: (id) => labelOf(form, id) }));
    }
  });

  show(main,
    h("span.caption", agency ? agency.name : "Partner agency"),
    h("h1.heading-l#refer-title", "Make a referral"),
    h("div.grid-row", h("div.column-two-thirds",
      h("p.body", "Tell the MASH about the children you are worried about. If a child is in immediate danger, call 999 first."),
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
        h("td", STATUS_WORDS[r.status] || r.status),
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

const OPEN = new Set(["received", "triaged", "awaiting_information"]);

function personRows(subject) {
  const address = subject.address ? [subject.address.line1, subject.address.postcode].filter(Boolean).join(", ") : "";
  return summaryList([
    ["Role", SUBJECT_ROLES[subject.role] || subject.role],
    ["Name", [subject.given_name, subject.family_name].filter(Boolean).join(" ") || "Not given"],
    subject.date_of_birth && ["Date of birth", dateOnly(subject.date_of_birth)],
    subject.sex && ["Sex", { F: "Female", M: "Male", U: "Not known" }[subject.sex] || subject.sex],
    subject.nhs_number && ["NHS number", subject.nhs_number],
    subject.upn && ["Unique pupil number", subject.upn],
    address && ["Address", address],
    subject.school && ["School", subject.school],
  ]);
}

/** Exactly what the agency sent: its own copy, with nothing the MASH added. */
function asSentSection(sent) {
  const consent = sent.consent || {};
  return h("section#as-sent", { "aria-labelledby": "as-sent-title" },
    h("h2.heading-m#as-sent-title", "What your agency sent"),
    summaryList([
      ["Sent by", [sent.referrer.name, sent.referrer.role].filter(Boolean).join(", ")],
      sent.referrer.phone && ["Phone", sent.referrer.phone],
      ["Source", sent.source_description || sent.source],
      ["Immediate risk", sent.immediate_risk ? "Yes" : "No"],
      ["Concerns", sent.concerns.length ? h("ul.list", sent.concerns.map((c) => h("li", c.description || c.code))) : "None given"],
      ["What has happened", h("p.narrative", sent.summary || "")],
      ["Consent", consent.status ? `${{ given: "Given", not_given: "Not given", not_sought: "Not sought" }[consent.status] || consent.status}${consent.reason ? `: ${consent.reason}` : ""}` : "Not said"],
    ]),
    sent.subjects.map((subject, n) => h("div.sent-person",
      h("h3.heading-s", subject.role === "child" ? `Child: ${[subject.given_name, subject.family_name].filter(Boolean).join(" ")}` : `Person ${n + 1}`),
      personRows(subject))));
}

function withdrawalForm(r, onDone) {
  const form = h("form#withdraw-form", { novalidate: true, "aria-labelledby": "withdraw-title" },
    textarea({ id: "w-reason", label: "Why you are withdrawing it", hint: "For example: sent about the wrong family. The MASH sees this.", rows: 3 }),
    button("Withdraw the referral", { warning: true }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = valueOf(form, "w-reason");
    if (!reason) return showErrors(form, [{ id: "w-reason", text: "Say why you are withdrawing the referral" }]);
    try {
      await api(`/api/v1/referrals/${r.id}/withdrawal`, { method: "POST", body: { reason } });
      await onDone();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, [{ id: "w-reason", text: error.message }]);
    }
  });
  return h("details.details#withdraw",
    h("summary.details__summary", h("span#withdraw-title", "Withdraw this referral (sent in error)")),
    h("div.details__text", h("p.body", "Only before the MASH decides. If a child may still be at risk, do not withdraw: call the MASH."), form));
}

export async function ourReferralPage({ main, params }) {
  async function draw(notice) {
    const [{ data: r }, { data: sent }] = await Promise.all([
      api(`/api/v1/referrals/${params[0]}`), api(`/api/v1/referrals/${params[0]}/as-sent`)]);
    show(main,
      backLink("#/our-referrals", "Back to your referrals"),
      notice,
      h("span.caption", "Referral"),
      h("h1.heading-l", r.reference),
      summaryList([
        ["Received", timeElement(r.received_at)],
        ["Kind", r.kind === "notification" ? "Notification" : "Referral"],
        r.external_reference && ["Your reference", r.external_reference],
        ["Status", h("span#status", STATUS_WORDS[r.status] || r.status)],
        ["Outcome", h("strong#outcome", r.outcome ? OUTCOMES[r.outcome] || r.outcome : r.status === "withdrawn" ? "Withdrawn" : "Not decided yet")],
        r.decided_at && ["Decided", timeElement(r.decided_at)],
        r.withdrawn_at && ["Withdrawn", [timeElement(r.withdrawn_at), h("p.narrative", r.withdrawal_reason || "")]],
      ]),
      r.outcome ? h("div.inset", h("p.body", NEXT_STEPS[r.outcome] || ""))
        : r.status === "withdrawn" ? null : h("p.body", "The MASH decides within one working day of receiving a referral."),
      OPEN.has(r.status) ? withdrawalForm(r, () => draw(h("div.notification.notification--success", { role: "status" }, h("p.notification__title", "Referral withdrawn. The MASH has been told why.")))) : null,
      asSentSection(sent));
  }
  await draw(null);
}

let hubSettings = null;

/** The hub's contact and calendar (read once). */
export async function hubSettingsOf() {
  if (!hubSettings) hubSettings = (await api("/api/v1/hub/settings")).data;
  return hubSettings;
}

function contactOf(settings) {
  const { phone, duty_mailbox: mailbox } = settings.contact;
  return h("p.body-s.contact", "Questions about this? Call the MASH on ",
    h("a", { href: `tel:${phone.replace(/\s/g, "")}` }, phone), " or email ",
    h("a", { href: `mailto:${mailbox}` }, mailbox), ".");
}

const DECLINE_WORDS = {
  not_known: "Not known to us",
  held_elsewhere: "Another agency holds this",
  cannot_share: "We cannot share this",
};

/** Requests addressed to the agency, in two lists: waiting, and done with. */
export async function loadRequests() {
  const items = [];
  let path = withQuery("/api/v1/information-requests", { limit: 200 });
  while (path) {
    const { data } = await api(path);
    items.push(...data.items);
    path = data.links.next ? pathOf(data.links.next) : null;
  }
  const open = items.filter((r) => r.status === "open" || r.status === "overdue").sort((a, b) => a.due_at.localeCompare(b.due_at));
  const done = items.filter((r) => r.status === "answered" || r.status === "declined");
  return { open, done };
}

export function dueRows(r, settings, agency) {
  const hours = settings.partner_hours.find((p) => p.agency_kind === agency?.kind);
  const note = hours ? `In your working hours (${hours.opening_time}–${hours.closing_time} on working days), unless the MASH rated it red: red runs on the clock.`
    : "Red requests run on the clock; others in working hours.";
  return ["Due", [countdownElement(r.due_at), h("div.body-s.secondary", dateTime(r.due_at)), h("div.body-s.secondary", note)]];
}

export async function requestsPage({ main }) {
  const directory = await agencies();
  const agency = directory.get(session.me.agency_id);
  const settings = await hubSettingsOf();
  const notice = h("div#requests-notice");
  const waiting = h("div#waiting");
  const answered = h("div#answered");

  async function load() {
    const { open, done } = await loadRequests();
    clear(waiting, open.length ? open.map(openCard) : h("p.body", "No questions are waiting for your agency's answer."));
    clear(answered, done.length ? done.map(doneCard) : h("p.body", "None yet."));
  }

  async function after(message) {
    await load();
    const element = h("div.notification.notification--success", { role: "status", tabindex: "-1" }, h("p.notification__title", message));
    clear(notice, element);
    element.focus();
  }

  function failed(form, error, id) {
    if (!(error instanceof ApiError)) throw error;
    showErrors(form, error.status === 422 ? apiErrors(form, error, { prefix: "x", labelOf: () => null }).map((e) => ({ ...e, id: e.id && form.querySelector(`#${CSS.escape(e.id)}`) ? e.id : id })) : [{ id, text: error.message }]);
  }

  function answerForm(r) {
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
        await after("Answer sent to the MASH.");
      } catch (error) {
        failed(form, error, textId);
      }
    });
    return form;
  }

  function declineForm(r) {
    const reasonId = `d-${r.id}-reason`;
    const agencyId = `d-${r.id}-agency`;
    const detailId = `d-${r.id}-detail`;
    const others = [...directory.values()].filter((a) => a.id !== session.me.agency_id && a.kind !== "local_authority");
    const form = h("form.decline-form", { novalidate: true, "aria-label": "Decline this question" },
      choices({ id: reasonId, legend: "Why you cannot answer", options: Object.entries(DECLINE_WORDS) }),
      select({ id: agencyId, label: "Which agency holds it (if you know)", options: [["", "Not sure"], ...others.map((a) => [a.id, a.name])] }),
      textarea({ id: detailId, label: "Anything the MASH should know (optional)", hint: "For example, who to ask there", rows: 3 }),
      button("Decline the question", { secondary: true }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const reason = valueOf(form, reasonId);
      if (!reason) return showErrors(form, [{ id: reasonId, text: "Choose why you cannot answer" }]);
      const held = reason === "held_elsewhere" ? valueOf(form, agencyId) : undefined;
      try {
        await api(`/api/v1/information-requests/${r.id}/decline`, { method: "POST", body: compact({ reason, detail: valueOf(form, detailId), held_by_agency_id: held }) });
        await after("You declined the question. The MASH has been told why.");
      } catch (error) {
        failed(form, error, reasonId);
      }
    });
    return h("details.details", h("summary.details__summary", h("span", "We cannot answer this")), h("div.details__text", form));
  }

  function timeForm(r) {
    const untilId = `t-${r.id}-until`;
    const reasonId = `t-${r.id}-reason`;
    const form = h("form.time-form", { novalidate: true, "aria-label": "Ask for more time" },
      field({ id: untilId, label: "When you can answer by", hint: "A date and time after the deadline", type: "datetime-local", width: "20" }),
      textarea({ id: reasonId, label: "Why you need more time", rows: 3 }),
      button("Ask for more time", { secondary: true }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const until = valueOf(form, untilId);
      const reason = valueOf(form, reasonId);
      const errors = [];
      if (!until) errors.push({ id: untilId, text: "Enter when you can answer by" });
      if (!reason) errors.push({ id: reasonId, text: "Say why you need more time" });
      if (errors.length) return showErrors(form, errors);
      try {
        await api(`/api/v1/information-requests/${r.id}/extension`, { method: "POST", body: { reason, until: new Date(until).toISOString() } });
        await after("You asked for more time. The deadline stands until the MASH agrees.");
      } catch (error) {
        failed(form, error, untilId);
      }
    });
    return h("details.details", h("summary.details__summary", h("span", "We need more time")), h("div.details__text", form));
  }

  function openCard(r) {
    return h("section.card.request", { dataset: { requestId: r.id }, "aria-label": "Question from the MASH" },
      h("h3.card__title", "Question from the MASH"),
      h("div.card__content",
        summaryList([
          ["Asked", timeElement(r.created_at)],
          dueRows(r, settings, agency),
          ["Question", h("p.narrative.question", r.question)],
          r.extension_until && ["More time asked", `Until ${dateTime(r.extension_until)}: ${r.extension_reason || ""}`],
        ]),
        contactOf(settings),
        answerForm(r), declineForm(r), timeForm(r)));
  }

  function doneCard(r) {
    const declined = r.status === "declined";
    return h("section.card", { "aria-label": declined ? "Declined question" : "Answered question" },
      h("h3.card__title", declined ? `Declined ${dateTime(r.declined_at)}` : `Answered ${dateTime(r.answered_at)}`),
      h("div.card__content", summaryList([
        ["Question", h("p.narrative", r.question)],
        declined ? ["Why", [DECLINE_WORDS[r.decline_reason] || r.decline_reason,
          r.held_by_agency_id ? ` (${directory.get(r.held_by_agency_id)?.name || "another agency"})` : "",
          r.decline_detail ? h("p.narrative", r.decline_detail) : null]]
          : ["Your answer", h("p.narrative", r.answer || "")]])));
  }

  show(main,
    h("span.caption", agency ? agency.name : ""),
    h("h1.heading-l", "Information requests"),
    h("p.body", "Questions the MASH has asked your agency. You see the question only; answer with what your agency knows, or say why you cannot."),
    notice,
    h("h2.heading-m", "Waiting for your answer"), waiting,
    h("h2.heading-m", "Answered or declined"), answered);
  await load();
  announce("");
}

// Finding a child: one search box on every staff page (a name, a date of birth, an NHS
// number, a UPN or a postcode, in any mix), the people found, and a person's page with
// their identifiers, every referral about them across agencies, their household, and the
// decisions that linked their records (each with its undo).

import { api, ApiError, pathOf, withQuery } from "../api.js";
import {
  h, clear, dateTime, dateOnly, timeElement, nhsNumber, summaryList, backLink, announce,
  OUTCOMES, STATUSES, SUBJECT_ROLES, show, ageText, fullName, ragTag,
} from "../dom.js";
import { field, textarea, button, showErrors, apiErrors, valueOf } from "../forms.js";
import { agencies, staffNames, session } from "../state.js";

const IDENTIFIERS = { nhs_number: "NHS number", upn: "Unique pupil number", police_reference: "Police reference", local_id: "Agency's own id" };
const METHODS = {
  identifier: "Same identifier (NHS number or UPN)",
  probabilistic: "Details agreed closely enough to link automatically",
  review: "A person decided after a match review",
  new: "First seen: a new person",
};

/** What one box's words mean: a name, a date of birth, an NHS number, a UPN, a postcode. */
export function parseSearch(text) {
  const terms = {};
  let rest = ` ${String(text || "").trim()} `;
  const take = (pattern, key, value) => {
    const m = rest.match(pattern);
    if (!m) return;
    terms[key] = value(m);
    rest = rest.replace(m[0], " ");
  };
  take(/\s(\d{3}\s?\d{3}\s?\d{4})\s/, "nhs_number", (m) => m[1].replace(/\s/g, ""));
  take(/\s([A-Za-z]\d{11}[0-9A-Za-z])\s/, "upn", (m) => m[1].toUpperCase());
  take(/\s(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s/, "date_of_birth", (m) => `${m[3]}-${m[2].padStart(2, "0")}-${m[1].padStart(2, "0")}`);
  take(/\s(\d{4})-(\d{2})-(\d{2})\s/, "date_of_birth", (m) => `${m[1]}-${m[2]}-${m[3]}`);
  take(/\s([A-Za-z]{1,2}\d[A-Za-z\d]?)\s*(\d[A-Za-z]{2})\s/, "postcode", (m) => `${m[1]} ${m[2]}`.toUpperCase());
  const name = rest.replace(/\s+/g, " ").trim();
  if (name) terms.q = name;
  return terms;
}

/** The search box shown on every staff page, in its own landmark. */
export function searchBox(value = "") {
  const form = h("form.search-box#search-box", { role: "search", "aria-label": "Find a child or adult", novalidate: true },
    h("label.label", { for: "search-q" }, "Find a person"),
    h("input.input#search-q", { type: "search", name: "q", value, autocomplete: "off", spellcheck: "false",
      "aria-describedby": "search-q-hint" }),
    button("Search", { secondary: true, id: "search-submit" }),
    h("span.visually-hidden#search-q-hint", "A name, a date of birth (like 2/4/2012), an NHS number, a UPN or a postcode"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = form.querySelector("#search-q").value.trim();
    window.location.hash = withQuery("/search", { q: text });
  });
  return form;
}

const TERM_WORDS = { q: "name", date_of_birth: "date of birth", nhs_number: "NHS number", upn: "UPN", postcode: "postcode" };

function describeTerms(terms) {
  return Object.entries(terms).map(([key, value]) => `${TERM_WORDS[key]} “${key === "date_of_birth" ? dateOnly(value) : key === "nhs_number" ? nhsNumber(value) : value}”`).join(", ");
}

export async function searchPage({ main, query }) {
  const text = query.get("q") || "";
  const terms = parseSearch(text);
  session.lastSearch = window.location.hash;
  const form = h("form#search-form", { novalidate: true, "aria-labelledby": "search-form-title" },
    h("h2.heading-m#search-form-title", "Search by each detail"),
    field({ id: "s-q", label: "Name", hint: "First name, last name or both: spelling mistakes and nicknames are allowed", value: terms.q || "", width: "30", spellcheck: false }),
    field({ id: "s-date_of_birth", label: "Date of birth", hint: "For example 27/3/2012", value: terms.date_of_birth ? terms.date_of_birth.split("-").reverse().join("/") : "", width: "10" }),
    field({ id: "s-nhs_number", label: "NHS number", value: terms.nhs_number ? nhsNumber(terms.nhs_number) : "", width: "10", inputmode: "numeric" }),
    field({ id: "s-upn", label: "Unique pupil number", value: terms.upn || "", width: "10", spellcheck: false }),
    field({ id: "s-postcode", label: "Postcode", value: terms.postcode || "", width: "10" }),
    button("Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const parts = ["s-q", "s-date_of_birth", "s-nhs_number", "s-upn", "s-postcode"].map((id) => valueOf(form, id)).filter(Boolean);
    if (!parts.length) return showErrors(form, [{ id: "s-q", text: "Enter a name, a date of birth, an NHS number, a UPN or a postcode" }]);
    window.location.hash = withQuery("/search", { q: parts.join(" ") });
  });
  const results = h("div#search-results");
  show(main,
    h("span.caption", "MASH"),
    h("h1.heading-l", text ? "People found" : "Find a person"),
    results,
    form);
  if (!Object.keys(terms).length) {
    clear(results, h("p.body", "Search for a child or an adult by name, date of birth, NHS number, UPN or postcode. Every search is recorded."));
    return;
  }
  const date = terms.date_of_birth;
  if (date && Number.isNaN(new Date(date).getTime())) {
    showErrors(form, [{ id: "s-date_of_birth", text: "Date of birth must be a real date, for example 27/3/2012" }]);
    return;
  }
  let page;
  try {
    page = (await api(withQuery("/api/v1/people", { ...terms, limit: 25 }))).data;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 422) throw error;
    showErrors(form, apiErrors(form, error, { prefix: "s", labelOf: (id) => form.querySelector(`label[for="${id}"]`)?.textContent }));
    clear(results, h("p.body", "Check the details below and search again."));
    return;
  }
  const items = [...page.items];
  let next = page.links && page.links.next;
  const list = h("ol.list.list--plain.people-results#people-results");
  const more = h("div");
  function draw() {
    clear(list, items.map((p) => h("li.person-result",
      h("h2.heading-s", h("a", { href: `#/people/${p.id}` }, fullName(p))),
      h("p.body", [
        p.date_of_birth ? `Born ${dateOnly(p.date_of_birth)} (${ageText(p.age)})` : "Date of birth not known",
        ...p.identifiers.filter((i) => i.type === "nhs_number" || i.type === "upn")
          .map((i) => `. ${IDENTIFIERS[i.type]} ${i.type === "nhs_number" ? nhsNumber(i.value) : i.value}`),
        `. ${p.referral_count} ${p.referral_count === 1 ? "referral" : "referrals"}`,
        p.last_referral_at ? `, the latest ${dateTime(p.last_referral_at)}` : "",
        ".",
      ].join("")))));
    clear(more, next ? button("Show more people", { type: "button", secondary: true, onclick: async () => {
      const further = (await api(pathOf(next))).data;
      items.push(...further.items);
      next = further.links && further.links.next;
      draw();
    } }) : null);
  }
  draw();
  clear(results,
    h("p.body#search-summary", items.length ? `${items.length}${next ? "+" : ""} ${items.length === 1 ? "person" : "people"} found for ${describeTerms(terms)}, best match first.`
      : `No one found for ${describeTerms(terms)}. Try fewer details, or another spelling.`),
    list, more);
  announce(document.getElementById("search-summary").textContent);
}

export async function personPage({ main, params }) {
  const id = params[0];
  let person = (await api(`/api/v1/people/${id}`)).data;
  const [agencyMap, staff] = await Promise.all([agencies(), staffNames()]);
  const loadEpisodes = () => api(withQuery("/api/v1/missing-episodes", { person_id: id })).then((r) => r.data.items).catch(() => []);
  let episodes = await loadEpisodes();
  const notice = h("div#person-notice");

  function render() {
    const name = fullName(person);
    const ids = person.identifiers.map((i) => [IDENTIFIERS[i.type] || i.type,
      [i.type === "nhs_number" ? nhsNumber(i.value) : i.value, h("span.secondary", ` (from ${agencyMap.get(i.source_agency_id)?.name || "an agency"}, ${dateOnly(i.first_seen_at.slice(0, 10))})`)]]);
    const otherNames = [...new Set(person.names.map((n) => fullName(n, "")).filter((n) => n && n !== name))];
    const addresses = [...new Set(person.addresses.map((a) => [a.line1, a.postcode].filter(Boolean).join(", ")))];
    show(main,
      backLink(session.lastSearch || "#/search", "Back to the search"),
      h("section.person-banner", { "aria-label": "This person" },
        h("ul.person-banner__people", h("li.person-banner__person",
          h("span.person-banner__name", name),
          person.date_of_birth ? h("span.person-banner__item", `${ageText(person.age)}, born ${dateOnly(person.date_of_birth)}`) : h("span.person-banner__item", "Date of birth not known"),
          ...person.identifiers.filter((i) => i.type === "nhs_number" || i.type === "upn").map((i) => h("span.person-banner__item", `${i.type === "nhs_number" ? "NHS" : "UPN"} ${i.type === "nhs_number" ? nhsNumber(i.value) : i.value}`)))),
        (person.flags || []).length ? h("ul.person-banner__flags", { "aria-label": "Warnings" },
          person.flags.map((f) => h("li", h("strong.tag.tag--red", { dataset: { flag: f.code } }, f.text)))) : null),
      h("span.caption", "Person"),
      h("h1.heading-l", name),
      notice,
      h("div.grid-row", h("div.column-two-thirds",
        h("h2.heading-m", "Identifiers"),
        summaryList([
          ...ids,
          person.sex && ["Sex", { F: "Female", M: "Male", U: "Not known" }[person.sex]],
          person.dates_of_birth.length > 1 && ["Dates of birth given", person.dates_of_birth.map(dateOnly).join("; ")],
          otherNames.length && ["Other names given", otherNames.join("; ")],
          addresses.length && ["Addresses given", h("ul.list.list--plain", addresses.map((a) => h("li", a)))],
        ]),
        h("h2.heading-m#referrals-title", "Referrals, all agencies"),
        person.referrals.length ? h("div.table-wrap", h("table.table.table--cards#person-referrals",
          h("caption.visually-hidden", `Referrals about ${name}, oldest first`),
          h("thead", h("tr", ["Received", "Reference", "From", "Role", "Rating", "Outcome", "Flags"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", person.referrals.map((r) => h("tr",
            h("td", { dataset: { label: "Received" } }, timeElement(r.received_at)),
            h("td", { dataset: { label: "Reference" } }, h("a", { href: `#/referrals/${r.id}` }, r.reference)),
            h("td", { dataset: { label: "From" } }, agencyMap.get(r.referring_agency_id)?.name || r.source),
            h("td", { dataset: { label: "Role" } }, SUBJECT_ROLES[r.role] || r.role),
            h("td", { dataset: { label: "Rating" } }, ragTag(r.rag)),
            h("td", { dataset: { label: "Outcome" } }, r.outcome ? OUTCOMES[r.outcome] || r.outcome : STATUSES[r.status] || r.status),
            h("td", { dataset: { label: "Flags" } }, r.is_re_referral ? h("strong.tag.tag--flag", "Re-referral") : "", r.same_day_as ? " Same day" : "")))))) : h("p.body", "No referrals."),
        h("h2.heading-m#links-title", "How the records were linked"),
        h("p.body.secondary", "Each referral's details were tied to this person by a decision. A wrong link can be undone: the referral then gets a person of its own."),
        h("div#links", person.links.map((link) => linkCard(link)))),
      h("div.column-one-third",
        h("h2.heading-m#household-title", "Household"),
        h("p.body.secondary", "People given the same address in a referral."),
        person.household.length ? h("ul.list.list--plain#household", person.household.map((m) => h("li.household-member",
          h("a", { href: `#/people/${m.id}` }, fullName(m)),
          m.date_of_birth ? `, ${ageText(m.age)} (born ${dateOnly(m.date_of_birth)})` : "",
          h("span.secondary", ` at ${[m.address.line1, m.address.postcode].filter(Boolean).join(", ")}; ${m.referral_count} ${m.referral_count === 1 ? "referral" : "referrals"}`))))
          : h("p.body", "No one else is known at the same address."),
        missingSection())));
  }

  // Missing from home: the child's episodes, and a form to record one (MASH staff, police).
  function missingSection() {
    const labels = { "m-went_missing_at": "When they went missing", "m-returned_at": "When they returned", "m-found_at_place": "Where they were found" };
    const form = h("form#missing-form.action-form", { novalidate: true, "aria-labelledby": "missing-form-title" },
      h("h3.heading-s#missing-form-title", "Record a missing episode"),
      field({ id: "m-went_missing_at", label: labels["m-went_missing_at"], type: "datetime-local" }),
      field({ id: "m-returned_at", label: labels["m-returned_at"], hint: "Leave empty if they have not returned", type: "datetime-local" }),
      field({ id: "m-found_at_place", label: labels["m-found_at_place"], hint: "An address, a postcode or a named place" }),
      button("Record the episode"));
    const instant = (value) => (value ? new Date(value).toISOString() : undefined);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const went = valueOf(form, "m-went_missing_at");
      if (!went) return showErrors(form, [{ id: "m-went_missing_at", text: "Enter when they went missing" }]);
      const body = { person_id: person.id, went_missing_at: instant(went) };
      const returned = valueOf(form, "m-returned_at");
      const place = valueOf(form, "m-found_at_place");
      if (returned) body.returned_at = instant(returned);
      if (place) body.found_at_place = place;
      try {
        await api("/api/v1/missing-episodes", { method: "POST", body });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        return showErrors(form, error.status === 422 ? apiErrors(form, error, { prefix: "m", labelOf: (fid) => labels[fid] }) : [{ id: null, text: error.message }]);
      }
      [person, episodes] = await Promise.all([api(`/api/v1/people/${id}`).then((r) => r.data), loadEpisodes()]);
      render();
      announce("Missing episode recorded.");
    });
    return h("section#missing", { "aria-labelledby": "missing-title" },
      h("h2.heading-m#missing-title", "Missing from home"),
      episodes.length ? h("ul.list.list--plain#missing-episodes", episodes.map((e) => h("li.missing-episode",
        h("p.body", "Missing ", dateTime(e.went_missing_at), e.returned_at ? [", returned ", dateTime(e.returned_at)] : ", not returned yet",
          e.found_at_place ? `, found at ${e.found_at_place}` : ""),
        e.returned_at ? h("p.body-s", e.return_interview_at ? ["Return interview held ", dateTime(e.return_interview_at)]
          : [e.return_interview_overdue ? h("strong.tag.tag--red", "Return interview overdue") : "Return interview due ", " ", dateTime(e.return_interview_due_at)]) : null)))
        : h("p.body", "No missing episodes recorded."),
      form);
  }

  function linkCard(link) {
    const subject = link.subject ? `${fullName(link.subject)}${link.subject.role ? ` (${SUBJECT_ROLES[link.subject.role] || link.subject.role})` : ""}` : "A subject";
    const ref = person.referrals.find((r) => r.id === link.referral_id);
    const rows = [
      ["Referral", ref ? h("a", { href: `#/referrals/${ref.id}` }, ref.reference) : "A referral"],
      ["How", METHODS[link.method] || link.method],
      link.weight !== null && link.weight !== undefined && ["Match weight", link.weight.toFixed(1)],
      ["Decided", [timeElement(link.decided_at), ` by ${link.decided_by === "system" || !link.decided_by ? "the hub" : staff.get(link.decided_by) || "a member of staff"}`]],
      link.reason && ["Reason", link.reason],
      link.undone_at && ["Undone", [timeElement(link.undone_at), ` by ${staff.get(link.undone_by) || "a member of staff"}`, link.undo_reason ? `: “${link.undo_reason}”` : ""]],
    ];
    let form = null;
    if (link.undo) {
      const fid = `undo-${link.id}`;
      form = h(`form#${fid}-form`, { novalidate: true, "aria-label": `Undo the link of ${subject}` },
        h("details.details", h("summary", "Undo this link"),
          textarea({ id: `${fid}-reason`, label: "Why this link is wrong", rows: 3 }),
          button("Undo the link", { warning: true })));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const reason = valueOf(form, `${fid}-reason`);
        if (!reason) return showErrors(form, [{ id: `${fid}-reason`, text: "Enter why this link is wrong" }]);
        try {
          person = (await api(pathOf(link.undo), { method: "POST", body: { reason } })).data;
          render();
          const element = h("div.notification.notification--success", { role: "status", tabindex: "-1" },
            h("p.notification__title", `Link undone: ${subject} is now a person of their own.`));
          clear(main.querySelector("#person-notice"), element);
          element.focus();
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          showErrors(form, error.status === 422 ? apiErrors(form, error, { prefix: fid, labelOf: () => "Why this link is wrong" })
            : [{ id: null, text: error.message }], error.status === 409 ? "This link has already been undone" : "There is a problem");
        }
      });
    }
    return h("section.card.link-card", { "aria-label": `Link: ${subject}`, dataset: { linkId: link.id } },
      h("h3.card__title", subject, link.undone_at ? " (undone)" : ""),
      h("div.card__content", summaryList(rows), form));
  }

  session.lastPerson = id;
  render();
}

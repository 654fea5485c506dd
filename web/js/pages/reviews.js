// Match reviews: a possible match between someone in a referral (a child, or an adult) and
// a person the hub already knows, shown side by side with each field's agreement and
// weight, for a person to decide, with a reason; who decided and when; and the undo of a
// "same" decision (the link it made) from the page.

import { api, ApiError, pathOf, withQuery } from "../api.js";
import { h, clear, dateTime, dateOnly, nhsNumber, backLink, summaryList, show, timeElement } from "../dom.js";
import { button, showErrors, textarea, valueOf } from "../forms.js";
import { staffNames } from "../state.js";
import { roleNoun } from "./referral.js";

const FIELDS = {
  given_name: "First name", family_name: "Last name", date_of_birth: "Date of birth", sex: "Sex",
  nhs_number: "NHS number", upn: "Unique pupil number", postcode: "Postcode", address: "Address",
};

function display(fieldName, value) {
  if (value === null || value === undefined || value === "") return h("span.secondary", "Not given");
  if (fieldName === "date_of_birth") return dateOnly(String(value));
  if (fieldName === "nhs_number") return nhsNumber(String(value));
  if (fieldName === "sex") return { F: "Female", M: "Male", U: "Not known" }[value] || String(value);
  return String(value);
}

function nameOf(record) {
  return [record.given_name, record.family_name].filter(Boolean).join(" ") || "Name not known";
}

export async function matchReviewsPage({ main, query }) {
  const status = query.get("status") === "decided" ? "decided" : "open";
  let data;
  try {
    ({ data } = await api(withQuery("/api/v1/match-reviews", { status })));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      show(main, h("h1.heading-l", "Match reviews"), h("p.body", "This hub does not recognise children across referrals yet."));
      return;
    }
    throw error;
  }
  const items = [...data.items];
  let next = data.links ? data.links.next : data.next;
  const tbody = h("tbody");
  const more = h("div");
  function rows() {
    clear(tbody, items.length ? items.map((r) => h("tr",
      h("td", h("a", { href: `#/match-reviews/${r.id}` }, `${nameOf(r.subject)} and ${nameOf(r.candidate)}`)),
      h("td", dateTime(r.created_at)),
      h("td.weight", r.total_weight.toFixed(1)),
      h("td", r.decision ? (r.decision === "same" ? "Same person" : "Different people") : "Waiting"))) :
      h("tr", h("td", { colspan: "4" }, status === "open" ? "No possible matches are waiting for review." : "No reviews decided yet.")));
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
    h("h1.heading-l", "Match reviews"),
    h("p.body", "Possible matches between someone in a new referral and a person the hub already knows. Decide whether they are the same person."),
    h("p.body", status === "open" ? h("a", { href: "#/match-reviews?status=decided" }, "See decided reviews") : h("a", { href: "#/match-reviews" }, "See reviews waiting")),
    h("div.table-wrap", h("table.table#reviews",
      h("caption.visually-hidden", status === "open" ? "Reviews waiting" : "Decided reviews"),
      h("thead", h("tr", ["Records", "Opened", "Match weight", "Decision"].map((t) => h("th", { scope: "col" }, t)))),
      tbody)),
    more);
}

export async function matchReviewPage({ main, params }) {
  let review = (await api(`/api/v1/match-reviews/${params[0]}`)).data;
  const notice = h("div#review-notice");
  const staff = await staffNames();
  // The subject's role, from the referral: "child" or "adult" in every sentence below.
  const referral = await api(`/api/v1/referrals/${review.referral_id}`).then((r) => r.data).catch(() => null);
  const role = referral ? referral.subjects.find((x) => x.id === review.subject_id)?.role : null;
  const noun = roleNoun(role || "child");
  const same = noun === "child" ? "Same child" : noun === "adult" ? "Same adult" : "Same person";
  const different = noun === "child" ? "Different children" : noun === "adult" ? "Different adults" : "Different people";
  let link = null;  // the link a "same" decision made, with its undo

  async function findLink() {
    link = null;
    if (review.decision !== "same") return;
    const person = await api(`/api/v1/people/${review.candidate.person_id}`).then((r) => r.data).catch(() => null);
    link = person ? person.links.find((l) => l.review_id === review.id) || null : null;
  }

  function render() {
    const comparisons = review.comparisons.map((c) => h("tr",
      h("th", { scope: "row" }, FIELDS[c.field] || c.field),
      h("td", display(c.field, c.subject_value)),
      h("td", display(c.field, c.candidate_value)),
      h("td", c.agrees === true ? h("span.match-yes", "Agrees") : c.agrees === false ? h("span.match-no", "Disagrees") : h("span.secondary", "Cannot compare"),
        c.level ? h("span.secondary", ` (${c.level})`) : null),
      h("td.weight", `${c.weight > 0 ? "+" : ""}${c.weight.toFixed(1)}`)));
    const decided = review.status === "open" ? decisionForm() : h("div#review-decided",
      summaryList([
        ["Decision", review.decision === "same" ? same : different],
        ["Decided by", review.decided_by ? staff.get(review.decided_by) || "a member of staff" : "Not known"],
        ["When", review.decided_at ? timeElement(review.decided_at) : ""],
        ["Reason", review.reason || h("span.secondary", "None given")],
        link && link.undone_at && ["Undone", [timeElement(link.undone_at), ` by ${staff.get(link.undone_by) || "a member of staff"}`, link.undo_reason ? `: “${link.undo_reason}”` : ""]],
      ]),
      undoForm());
    show(main,
      backLink("#/match-reviews", "Back to match reviews"),
      h("span.caption", "Match review"),
      h("h1.heading-l", `Is this the same ${noun}?`),
      notice,
      h("p.body", `On the left, the ${noun} in the new referral (`, h("a", { href: `#/referrals/${review.referral_id}` }, "open the referral"),
        `); on the right, the ${noun} the hub already knows (`, h("a", { href: `#/people/${review.candidate.person_id}` }, "their page"),
        "). Each field adds weight when it agrees and takes it away when it disagrees."),
      h("div.table-wrap", h("table.table.comparison#comparison",
        h("caption.visually-hidden", "The two records field by field"),
        h("thead", h("tr", h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "New referral"), h("th", { scope: "col" }, `Known ${noun}`), h("th", { scope: "col" }, "Agreement"), h("th", { scope: "col" }, "Weight"))),
        h("tbody", comparisons),
        h("tfoot", h("tr", h("th", { scope: "row", colspan: "4" }, "Total weight"), h("td.weight", review.total_weight.toFixed(1)))))),
      h("p.body.secondary", `The hub keeps records apart on its own below a total of ${review.thresholds.lower.toFixed(1)} and links them above ${review.thresholds.upper.toFixed(1)}, unless the details contradict an identifier. This pair needs a person to decide.`),
      decided);
  }

  function say(text) {
    const element = h("div.notification.notification--success", { role: "status", tabindex: "-1" }, h("p.notification__title", text));
    clear(main.querySelector("#review-notice"), element);
    element.focus();
  }

  function decisionForm() {
    const form = h("form#review-form", { novalidate: true, "aria-label": "Decide the match" },
      textarea({ id: "rv-reason", label: "Reason", hint: `What made you decide: for example, the school confirmed the ${noun}'s date of birth`, rows: 3 }),
      h("div.button-group",
        h("button.button#same-child", { type: "submit", value: "same" }, same),
        h("button.button.button--secondary#different-children", { type: "submit", value: "different" }, different)));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const decision = event.submitter ? event.submitter.value : "different";
      const reason = valueOf(form, "rv-reason");
      if (!reason) return showErrors(form, [{ id: "rv-reason", text: "Enter the reason for your decision" }]);
      try {
        review = (await api(`/api/v1/match-reviews/${review.id}`, { method: "POST", body: { decision, reason } })).data;
        await findLink();
        render();
        say(decision === "same" ? `Recorded: the same ${noun}. The referral now shows the ${noun}'s earlier referrals.` : `Recorded: ${different.toLowerCase()}.`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, [{ id: null, text: error.message }], error.status === 409 ? "This review has already been decided" : "There is a problem");
      }
    });
    return form;
  }

  function undoForm() {
    if (review.decision !== "same") {
      return h("p.body.secondary", `A decision that they are different people gave the ${noun} a record of their own; nothing needs undoing. If they turn out to be the same, a new match review or an identifier will link them.`);
    }
    if (!link || !link.undo) return null;
    const form = h("form#undo-form", { novalidate: true, "aria-labelledby": "undo-title" },
      h("h2.heading-m#undo-title", "Undo this decision"),
      h("p.body", `Undoing it separates the records again: the ${noun} in the new referral gets a record of their own, and earlier referrals no longer show on it. The decision stays on record.`),
      textarea({ id: "undo-reason", label: "Why the decision was wrong", rows: 3 }),
      button("Undo the decision", { warning: true }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const reason = valueOf(form, "undo-reason");
      if (!reason) return showErrors(form, [{ id: "undo-reason", text: "Enter why the decision was wrong" }]);
      try {
        await api(pathOf(link.undo), { method: "POST", body: { reason } });
        await findLink();
        render();
        say(`Undone: the records are separate again.`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, [{ id: null, text: error.message }], error.status === 409 ? "This has already been undone" : "There is a problem");
      }
    });
    return form;
  }

  await findLink();
  render();
}

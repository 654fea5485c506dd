// Match reviews: a possible match between a referral's child and a child the hub already
// knows, shown side by side with each field's agreement and weight, for a person to decide.

import { api, ApiError, pathOf, withQuery } from "../api.js";
import { h, clear, dateTime, dateOnly, nhsNumber, backLink, summaryList, show } from "../dom.js";
import { button, showErrors } from "../forms.js";

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
      h("td", r.decision ? (r.decision === "same" ? "Same child" : "Different children") : "Waiting"))) :
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
    h("p.body", "Possible matches between a child in a new referral and a child the hub already knows. Decide whether they are the same child."),
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

  function render() {
    const comparisons = review.comparisons.map((c) => h("tr",
      h("th", { scope: "row" }, FIELDS[c.field] || c.field),
      h("td", display(c.field, c.subject_value)),
      h("td", display(c.field, c.candidate_value)),
      h("td", c.agrees === true ? h("span.match-yes", "Agrees") : c.agrees === false ? h("span.match-no", "Disagrees") : h("span.secondary", "Cannot compare"),
        c.level ? h("span.secondary", ` (${c.level})`) : null),
      h("td.weight", `${c.weight > 0 ? "+" : ""}${c.weight.toFixed(1)}`)));
    const form = review.status === "open" ? decisionForm() : summaryList([
      ["Decision", review.decision === "same" ? "Same child" : "Different children"],
      ["Decided", dateTime(review.decided_at)],
    ]);
    show(main,
      backLink("#/match-reviews", "Back to match reviews"),
      h("span.caption", "Match review"),
      h("h1.heading-l", "Is this the same child?"),
      notice,
      h("p.body", "On the left, the child in the new referral (", h("a", { href: `#/referrals/${review.referral_id}` }, "open the referral"),
        "); on the right, the child the hub already knows. Each field adds weight when it agrees and takes it away when it disagrees."),
      h("div.table-wrap", h("table.table.comparison#comparison",
        h("caption.visually-hidden", "The two records field by field"),
        h("thead", h("tr", h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "New referral"), h("th", { scope: "col" }, "Known child"), h("th", { scope: "col" }, "Agreement"), h("th", { scope: "col" }, "Weight"))),
        h("tbody", comparisons),
        h("tfoot", h("tr", h("th", { scope: "row", colspan: "4" }, "Total weight"), h("td.weight", review.total_weight.toFixed(1)))))),
      h("p.body.secondary", `The hub keeps records apart on its own below a total of ${review.thresholds.lower.toFixed(1)} and links them above ${review.thresholds.upper.toFixed(1)}, unless the details contradict an identifier. This pair needs a person to decide.`),
      form);
  }

  function decisionForm() {
    const form = h("form#review-form", { novalidate: true, "aria-label": "Decide the match" },
      h("div.button-group",
        h("button.button#same-child", { type: "submit", value: "same" }, "Same child"),
        h("button.button.button--secondary#different-children", { type: "submit", value: "different" }, "Different children")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const decision = event.submitter ? event.submitter.value : "different";
      try {
        review = (await api(`/api/v1/match-reviews/${review.id}`, { method: "POST", body: { decision } })).data;
        render();
        const element = h("div.notification.notification--success", { role: "status", tabindex: "-1" },
          h("p.notification__title", decision === "same" ? "Recorded: the same child. The referral now shows the child's earlier referrals." : "Recorded: different children."));
        clear(main.querySelector("#review-notice"), element);
        element.focus();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, [{ id: null, text: error.message }], error.status === 409 ? "This review has already been decided" : "There is a problem");
      }
    });
    return form;
  }

  render();
}

// A partner practitioner's first page: what is waiting for their agency (questions from the
// MASH, soonest deadline first), then their agency's latest referrals, and how to reach the
// MASH.

import { api, withQuery } from "../api.js";
import { h, countdownElement, dateTime, OUTCOMES, STATUSES, show } from "../dom.js";
import { session, agencies } from "../state.js";
import { hubSettingsOf, loadRequests } from "./partner.js";

export async function partnerHomePage({ main }) {
  const [directory, settings, requests, referrals] = await Promise.all([
    agencies(), hubSettingsOf(), loadRequests(),
    api(withQuery("/api/v1/referrals", { limit: 5 })).then(({ data }) => data.items)]);
  const agency = directory.get(session.me.agency_id);
  const { open, done } = requests;
  const overdue = open.filter((r) => r.status === "overdue" || new Date(r.due_at) < new Date()).length;
  const { phone, duty_mailbox: mailbox } = settings.contact;

  show(main,
    h("span.caption", agency ? agency.name : ""),
    h("h1.heading-l", "Waiting for your agency"),
    h("section#waiting-summary", { "aria-labelledby": "waiting-title" },
      h("h2.heading-m#waiting-title", open.length
        ? `${open.length} ${open.length === 1 ? "question" : "questions"} from the MASH to answer${overdue ? ` (${overdue} overdue)` : ""}`
        : "No questions are waiting for your answer"),
      open.length ? h("ul.waiting-list", open.slice(0, 5).map((r) => h("li",
        h("p.body", h("a", { href: "#/information-requests" }, r.question.length > 120 ? `${r.question.slice(0, 117)}…` : r.question)),
        h("p.body-s", "Due ", dateTime(r.due_at), ": ", countdownElement(r.due_at))))) : null,
      open.length ? h("p.body", h("a.button", { href: "#/information-requests", id: "answer-questions" }, "Answer the questions")) : null,
      done.length ? h("p.body-s.secondary", `${done.length} answered or declined.`) : null),
    h("section.home-actions", { "aria-labelledby": "refer-title" },
      h("h2.heading-m#refer-title", "Worried about a child?"),
      h("p.body", "If a child is in immediate danger, call 999. Otherwise make a referral; you can add brothers and sisters in the same form."),
      h("p.body", h("a.button.button--secondary", { href: "#/refer" }, "Make a referral"))),
    h("section", { "aria-labelledby": "recent-title" },
      h("h2.heading-m#recent-title", "Your agency's latest referrals"),
      referrals.length ? h("div.table-wrap", h("table.table#recent-referrals",
        h("caption.visually-hidden", "Your agency's five latest referrals"),
        h("thead", h("tr", ["Reference", "Received", "Status", "Outcome"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", referrals.map((r) => h("tr",
          h("td", h("a", { href: `#/our-referrals/${r.id}` }, r.reference)),
          h("td", dateTime(r.received_at)),
          h("td", r.status === "withdrawn" ? "Withdrawn" : STATUSES[r.status] || r.status),
          h("td", r.outcome ? OUTCOMES[r.outcome] || r.outcome : "Not decided yet")))))) : h("p.body", "None yet."),
      h("p.body", h("a", { href: "#/our-referrals" }, "All your agency's referrals"))),
    h("section", { "aria-labelledby": "contact-title" },
      h("h2.heading-m#contact-title", "Contact the MASH"),
      h("p.body", "Phone ", h("a", { href: `tel:${phone.replace(/\s/g, "")}` }, phone), " · duty mailbox ",
        h("a", { href: `mailto:${mailbox}` }, mailbox))));
}

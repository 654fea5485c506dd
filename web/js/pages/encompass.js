// Operation Encompass for a school's designated safeguarding lead: the police notifications
// about the school's pupils, newest first, each marked read once someone at the school has
// read it (the board's figures count those acknowledgements and how long they took).

import { api } from "../api.js";
import { h, dateTime, summaryList, backLink, announce, show } from "../dom.js";
import { button } from "../forms.js";

const yesNo = (value) => (value === true ? "Yes" : value === false ? "No" : "Not known");
const names = (pupils) => pupils.map((p) => [p.given_name, p.family_name].filter(Boolean).join(" ")).join(", ");

export async function encompassInboxPage({ main }) {
  const { data } = await api("/api/v1/encompass-notices");
  show(main,
    h("h1.heading-l", "Operation Encompass"),
    h("p.body", "The police tell the MASH when one of your pupils was involved in a domestic abuse incident, so that the school can support the child from the start of the next school day. Read each notification, then mark it as read."),
    h("p.body#encompass-unread", data.unread
      ? `${data.unread} ${data.unread === 1 ? "notification has" : "notifications have"} not been read yet.`
      : "Every notification has been read."),
    data.items.length ? h("div.table-wrap", h("table.table#encompass-notices",
      h("caption.visually-hidden", "Police notifications about your pupils, newest first"),
      h("thead", h("tr", ["Notification", "Pupils", "Incident", "Received", "Read"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", data.items.map((item) => h("tr",
        h("td", h("a", { href: `#/encompass/${item.referral_id}` }, item.reference)),
        h("td", names(item.pupils)),
        h("td", item.incident ? dateTime(item.incident.occurred_at) : "Not given"),
        h("td", dateTime(item.received_at)),
        h("td", item.acknowledgement
          ? h("span", "Read ", dateTime(item.acknowledgement.read_at))
          : h("strong.tag.tag--red", "Not read"))))))) : h("p.body", "No notifications."));
}

export async function encompassNoticePage({ main, params }) {
  const [id] = params;
  const { data: notice } = await api(`/api/v1/referrals/${encodeURIComponent(id)}/encompass`);
  const { data: inbox } = await api("/api/v1/encompass-notices");
  const line = inbox.items.find((item) => item.referral_id === id);
  const status = h("div#encompass-read-status", { role: "status" },
    line && line.acknowledgement ? h("p.body", "Read ", dateTime(line.acknowledgement.read_at),
      line.acknowledgement.read_by_name ? ` by ${line.acknowledgement.read_by_name}` : "", ".") : null);
  const mark = line && line.acknowledgement ? null : button("Mark as read", {
    id: "encompass-mark-read", type: "button",
    onclick: async () => {
      const { data: ack } = await api(`/api/v1/encompass-notices/${encodeURIComponent(id)}/read`, { method: "POST" });
      status.replaceChildren(h("p.body", "Read ", dateTime(ack.read_at), "."));
      mark.remove();
      announce("Marked as read.");
    },
  });
  show(main,
    backLink("#/encompass", "All notifications"),
    h("span.caption", "Operation Encompass"),
    h("h1.heading-l", `Police notification ${notice.reference}`),
    summaryList([
      ["Received", dateTime(notice.received_at)],
      ["Incident", notice.incident ? dateTime(notice.incident.occurred_at) : "Not given"],
      ["Where", notice.incident && notice.incident.place ? notice.incident.place : "Not given"],
      ["Police reference", notice.external_reference || "Not given"],
    ]),
    h("h2.heading-m", "Your pupils"),
    h("div#encompass-pupils", notice.pupils.map((p) => h("section.pupil",
      h("h3.heading-s", [p.given_name, p.family_name].filter(Boolean).join(" ")),
      summaryList([
        ["Date of birth", p.date_of_birth || "Not given"],
        ["Present at the incident", yesNo(p.present_at_incident)],
        ["The child's voice", p.voice || "Not recorded"],
      ])))),
    status, mark);
}

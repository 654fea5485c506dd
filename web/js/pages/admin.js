// An administrator's first page: the hub's agencies (with a school's URN and safeguarding
// lead) and its users, whose roles can be changed or who can be disabled (their sessions
// end at once), and the hub's own settings that are safe to show.

import { api, ApiError } from "../api.js";
import { h, clear, dateTime, show } from "../dom.js";
import { field, textarea, select, button, showErrors, apiErrors, valueOf, clearErrors } from "../forms.js";
import { hubSettingsOf } from "./partner.js";

const ROLES = [
  ["mash_practitioner", "MASH practitioner"], ["mash_manager", "MASH manager"],
  ["partner_practitioner", "Partner practitioner"], ["admin", "Administrator"],
  ["auditor", "Auditor"], ["board_member", "Board member"],
];
const ROLE_WORDS = Object.fromEntries(ROLES);
const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

export async function adminPage({ main }) {
  const notice = h("div#admin-notice");
  const users = h("tbody");
  const agencyRows = h("tbody");
  const subscriptionRows = h("tbody");
  const deadRows = h("tbody");
  const clientRows = h("tbody");
  const changeRows = h("tbody");
  const agencySelects = [];
  let agencyNames = new Map();

  async function load() {
    const [{ data: agencyList }, { data: userList }] = await Promise.all([api("/api/v1/agencies"), api("/api/v1/users")]);
    agencyNames = new Map(agencyList.map((a) => [a.id, a.name]));
    for (const box of agencySelects) {
      const value = box.value;
      clear(box, agencyList.map((a) => h("option", { value: a.id, selected: a.id === value }, a.name)));
    }
    const [{ data: clients }, { data: changes }] = await Promise.all([api("/api/v1/clients"), api("/api/v1/admin-changes")]);
    clear(clientRows, clients.map((c) => h("tr.client-row", { dataset: { clientId: c.client_id } },
      h("td", h("strong", c.name), h("div.body-s.secondary", c.client_id)),
      h("td", agencyNames.get(c.agency_id) || ""),
      h("td", c.jwks_uri ? ["Keys from ", h("code", c.jwks_uri)] : c.token_endpoint_auth_method === "private_key_jwt" ? "Uploaded public key" : "Client secret"),
      h("td", c.active ? "Active" : "Disabled"),
      h("td", button(c.active ? "Disable" : "Enable", { type: "button", secondary: true, onclick: async () => {
        await api(`/api/v1/clients/${encodeURIComponent(c.client_id)}`, { method: "PATCH", body: { active: !c.active } });
        await load();
        done(`${c.name} is ${c.active ? "disabled: it gets no new tokens" : "enabled"}.`);
      } }), rotateForm(c)))));
    clear(changeRows, changes.slice(0, 20).map((c) => h("tr",
      h("td", dateTime(c.at)), h("td", c.action.replaceAll("_", " ")),
      h("td", `${c.record_type} `, h("code", c.record_id)),
      h("td", Object.entries(c.changes).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : typeof v === "object" && v ? "…" : v}`).join("; ")))));
    clear(agencyRows, agencyList.map((a) => h("tr",
      h("td", a.name), h("td", a.kind.replace("_", " ")), h("td", a.school_urn || ""),
      h("td", a.safeguarding_lead_email || ""), h("td", a.active ? "Active" : "Disabled"))));
    clear(users, userList.map(userRow));
    const [{ data: subs }, { data: dead }] = await Promise.all([
      api("/api/v1/subscriptions"), api("/api/v1/deliveries?status=dead&limit=50")]);
    clear(subscriptionRows, subs.length ? subs.map((x) => h("tr",
      h("td", agencyNames.get(x.agency_id) || x.agency_id),
      h("td", x.channel === "webhook" ? "Webhook" : "Email"),
      h("td", h("code", x.url || x.address || "")),
      h("td", x.event_types.join(", ")),
      h("td", !x.active ? `Off${x.disabled_reason ? `: ${x.disabled_reason}` : ""}` : x.failing_since ? `Failing since ${dateTime(x.failing_since)}` : "On"))) : h("tr", h("td", { colspan: "5" }, "No subscriptions.")));
    clear(deadRows, dead.items.length ? dead.items.map(deadRow) : h("tr", h("td", { colspan: "5" }, "No failed deliveries.")));
  }

  function rotateForm(c) {
    const id = `k-${c.client_id.replace(/[^\w-]/g, "_")}`;
    const form = h("form.rotate-form", { novalidate: true, "aria-label": `New keys for ${c.name}` },
      field({ id, label: `New JWKS URL for ${c.name}`, type: "url", width: "20", spellcheck: false }),
      button("Replace keys", { secondary: true }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const url = valueOf(form, id);
      if (!url) return showErrors(form, [{ id, text: "Enter the URL where the system publishes its keys" }]);
      try {
        await api(`/api/v1/clients/${encodeURIComponent(c.client_id)}`, { method: "PATCH", body: { jwks_uri: url } });
        await load();
        done(`${c.name} now signs with the keys at ${url}.`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, [{ id, text: error.message }]);
      }
    });
    return h("details.details", h("summary.details__summary", h("span", "Rotate its keys")), h("div.details__text", form));
  }

  function deadRow(d) {
    const replay = button("Replay", { type: "button", secondary: true, onclick: async () => {
      try {
        await api(`/api/v1/deliveries/${d.id}/retry`, { method: "POST" });
        await load();
        done(`Delivery of ${d.event_type} replayed: it is sent again with the same webhook-id.`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        const problem = h("div.error-summary", { role: "alert", tabindex: "-1" }, h("p.body", error.message));
        clear(notice, problem);
        problem.focus();
      }
    } });
    return h("tr.dead-row", { dataset: { deliveryId: d.id } },
      h("td", d.event_type), h("td", agencyNames.get(d.agency_id) || d.agency_id || ""),
      h("td", dateTime(d.created_at)),
      h("td", [d.dead_reason, d.last_status_code ? `HTTP ${d.last_status_code}` : null, d.last_error].filter(Boolean).join("; ")),
      h("td", replay));
  }

  function done(message) {
    const element = h("div.notification.notification--success", { role: "status", tabindex: "-1" }, h("p.notification__title", message));
    clear(notice, element);
    element.focus();
  }

  function userRow(u) {
    const id = `role-${u.id}`;
    const form = h("form.role-form", { novalidate: true, "aria-label": `Role of ${u.username}` },
      select({ id, label: `Role of ${u.username}`, value: u.roles[0], options: ROLES }),
      button("Change role", { secondary: true }));
    form.querySelector("label").classList.add("visually-hidden");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const role = form.querySelector(`#${CSS.escape(id)}`).value;
      try {
        await api(`/api/v1/users/${u.id}`, { method: "PATCH", body: { roles: [role] } });
        await load();
        done(`${u.username} is now ${ROLE_WORDS[role].toLowerCase()}. Their sessions have ended: they sign in again with the new role.`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, [{ id, text: error.message }]);
      }
    });
    const toggle = button(u.active ? "Disable" : "Enable", { type: "button", secondary: true, onclick: async () => {
      await api(`/api/v1/users/${u.id}`, { method: "PATCH", body: { active: !u.active } });
      await load();
      done(`${u.username} is ${u.active ? "disabled; their sessions have ended" : "enabled"}.`);
    } });
    const reset = button("Reset second factor", { type: "button", secondary: true, onclick: async () => {
      const { data } = await api(`/api/v1/users/${u.id}/second-factor`, { method: "POST" });
      secretOnce(`New second factor for ${u.username}`, [["Secret", data.totp_secret], ["Authenticator link", data.otpauth_uri]],
        "Their sessions have ended. Give them this secret in person or by a secure channel: it is not shown again.");
    } });
    return h("tr.user-row", { dataset: { username: u.username } },
      h("td", h("strong", u.username), h("div.body-s.secondary", u.display_name)),
      h("td", agencyNames.get(u.agency_id) || ""),
      h("td", u.roles.map((r) => ROLE_WORDS[r] || r).join(", ")),
      h("td", u.active ? "Active" : "Disabled"),
      h("td", form, toggle, reset));
  }

  function secretOnce(title, rows, words) {
    const panel = h("div.notification#secret-once", { role: "status", tabindex: "-1" },
      h("p.notification__title", title),
      h("dl.summary-list", rows.map(([k, v]) => h("div.summary-list__row", h("dt.summary-list__key", k), h("dd.summary-list__value", h("code.secret", v))))),
      h("p.body", words));
    clear(notice, panel);
    panel.focus();
  }

  const agencySelect = (id, label) => {
    const group = select({ id, label, options: [] });
    agencySelects.push(group.querySelector("select"));
    return group;
  };

  const newUser = h("form#new-user", { novalidate: true, "aria-labelledby": "new-user-title" },
    field({ id: "u-username", label: "Username", hint: "Lower case, for example j.smith", width: "20", spellcheck: false, autocomplete: "off" }),
    field({ id: "u-display_name", label: "Name and role", hint: "For example, Jo Smith (MASH social worker)", width: "30", autocomplete: "off" }),
    agencySelect("u-agency_id", "Agency"),
    select({ id: "u-roles", label: "Role", options: ROLES, value: "mash_practitioner" }),
    button("Create the user", { secondary: true }));
  newUser.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(newUser);
    try {
      const { data } = await api("/api/v1/users", { method: "POST", body: {
        username: valueOf(newUser, "u-username") || "", display_name: valueOf(newUser, "u-display_name") || "",
        agency_id: valueOf(newUser, "u-agency_id"), roles: [valueOf(newUser, "u-roles")] } });
      newUser.reset();
      await load();
      secretOnce(`${data.username} created`, [["First password", data.initial_password], ["Second factor secret", data.totp_secret], ["Authenticator link", data.otpauth_uri]],
        "Give these to them by a secure channel: they are not shown again.");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(newUser, error.status === 422 ? apiErrors(newUser, error, { prefix: "u" }) : [{ id: "u-username", text: error.message }]);
    }
  });

  const newClient = h("form#new-client", { novalidate: true, "aria-labelledby": "new-client-title" },
    field({ id: "c-client_id", label: "Client id", hint: "For example, northshire-school-mis", width: "20", spellcheck: false, autocomplete: "off" }),
    field({ id: "c-name", label: "Name", width: "30", autocomplete: "off" }),
    agencySelect("c-agency_id", "Agency"),
    field({ id: "c-jwks_uri", label: "JWKS URL (recommended)", hint: "Where the system publishes its public keys; it rotates them there", type: "url", width: "30", spellcheck: false }),
    textarea({ id: "c-jwks", label: "Or paste its public key set (JWKS, JSON)", hint: "Leave both blank for a client secret, shown once", rows: 3 }),
    button("Register the system", { secondary: true }));
  newClient.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(newClient);
    let jwks;
    const pasted = valueOf(newClient, "c-jwks");
    if (pasted) {
      try {
        jwks = JSON.parse(pasted);
      } catch {
        return showErrors(newClient, [{ id: "c-jwks", text: "The key set is not JSON" }]);
      }
    }
    try {
      const { data } = await api("/api/v1/clients", { method: "POST", body: {
        client_id: valueOf(newClient, "c-client_id") || "", name: valueOf(newClient, "c-name") || "",
        agency_id: valueOf(newClient, "c-agency_id"), jwks_uri: valueOf(newClient, "c-jwks_uri") || undefined, jwks } });
      newClient.reset();
      await load();
      if (data.client_secret) {
        secretOnce(`${data.name} registered`, [["Client id", data.client_id], ["Client secret", data.client_secret]], "Give the secret to the system's operator by a secure channel: it is not shown again.");
      } else done(`${data.name} registered: it signs its token requests with its own key.`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(newClient, error.status === 422 ? apiErrors(newClient, error, { prefix: "c" }) : [{ id: "c-client_id", text: error.message }]);
    }
  });

  const newAgency = h("form#new-agency", { novalidate: true, "aria-labelledby": "new-agency-title" },
    field({ id: "g-name", label: "Name", width: "30", autocomplete: "organization" }),
    select({ id: "g-kind", label: "Kind", value: "school", options: [["school", "School"], ["police", "Police"], ["health", "Health"], ["local_authority", "Local authority"], ["other", "Other"]] }),
    field({ id: "g-school_urn", label: "School URN (schools only)", hint: "The DfE unique reference number: 6 digits", width: "10", inputmode: "numeric" }),
    field({ id: "g-safeguarding_lead_email", label: "Safeguarding lead's mailbox (schools only)", hint: "Told of police notifications about its pupils (Operation Encompass)", type: "email", width: "30", spellcheck: false }),
    button("Add the agency", { secondary: true }));
  newAgency.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(newAgency);
    try {
      const { data } = await api("/api/v1/agencies", { method: "POST", body: {
        name: valueOf(newAgency, "g-name") || "", kind: valueOf(newAgency, "g-kind"),
        school_urn: valueOf(newAgency, "g-school_urn") || undefined,
        safeguarding_lead_email: valueOf(newAgency, "g-safeguarding_lead_email") || undefined } });
      newAgency.reset();
      await load();
      done(`${data.name} added.`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(newAgency, error.status === 422 ? apiErrors(newAgency, error, { prefix: "g" }) : [{ id: "g-name", text: error.message }]);
    }
  });

  const settings = await hubSettingsOf();
  show(main,
    h("h1.heading-l", "Administration"),
    notice,
    h("h2.heading-m", "Users"),
    h("p.body", "Changing a user's role or disabling them ends their sessions at once. Every change is audited."),
    h("div.table-wrap", h("table.table#users",
      h("caption.visually-hidden", "Users of the hub"),
      h("thead", h("tr", ["User", "Agency", "Roles", "Status", "Change"].map((t) => h("th", { scope: "col" }, t)))),
      users)),
    h("details.details", h("summary.details__summary", h("span#new-user-title", "Create a user")), h("div.details__text", newUser)),
    h("h2.heading-m", "Agencies"),
    h("div.table-wrap", h("table.table#agencies",
      h("caption.visually-hidden", "Agencies of the hub"),
      h("thead", h("tr", ["Name", "Kind", "School URN", "Safeguarding lead", "Status"].map((t) => h("th", { scope: "col" }, t)))),
      agencyRows)),
    h("details.details", h("summary.details__summary", h("span#new-agency-title", "Add an agency")), h("div.details__text", newAgency)),
    h("h2.heading-m", "Partner systems (API clients)"),
    h("p.body", "A disabled system gets no new tokens at once. To rotate keys, the system publishes its new key at its JWKS URL."),
    h("div.table-wrap", h("table.table#clients",
      h("caption.visually-hidden", "Partner systems"),
      h("thead", h("tr", ["System", "Agency", "Signs in with", "Status", "Change"].map((t) => h("th", { scope: "col" }, t)))),
      clientRows)),
    h("details.details", h("summary.details__summary", h("span#new-client-title", "Register a partner system")), h("div.details__text", newClient)),
    h("h2.heading-m", "Webhook and email subscriptions"),
    h("div.table-wrap", h("table.table#subscriptions",
      h("caption.visually-hidden", "Subscriptions of every agency"),
      h("thead", h("tr", ["Agency", "Channel", "Endpoint", "Events", "State"].map((t) => h("th", { scope: "col" }, t)))),
      subscriptionRows)),
    h("h2.heading-m", "Failed deliveries"),
    h("p.body", "Deliveries that ran out of retries. Replay one when the partner's endpoint works again."),
    h("div.table-wrap", h("table.table#dead-deliveries",
      h("caption.visually-hidden", "Dead-lettered deliveries, newest first"),
      h("thead", h("tr", ["Event", "Agency", "Created", "Why it failed", "Action"].map((t) => h("th", { scope: "col" }, t)))),
      deadRows)),
    h("h2.heading-m", "Recent administrative changes"),
    h("div.table-wrap", h("table.table#admin-changes",
      h("caption.visually-hidden", "The latest changes administrators made, newest first"),
      h("thead", h("tr", ["When", "What", "Record", "Changes"].map((t) => h("th", { scope: "col" }, t)))),
      changeRows)),
    h("h2.heading-m", "The hub's settings"),
    h("dl.summary-list#hub-settings",
      ...[["Contact", `${settings.contact.phone} · ${settings.contact.duty_mailbox}`],
        ["Working hours", `${settings.opening_time}–${settings.closing_time}, ${settings.working_days.map((d) => DAYS[d]).join(", ")}`],
        ...settings.partner_hours.map((p) => [`Working hours (${p.agency_kind})`, `${p.opening_time}–${p.closing_time}`]),
        ["Partner response times", Object.entries(settings.rag_response_hours).map(([rag, hours]) => `${rag} ${hours} h`).join(", ") + (settings.red_on_clock_time ? " (red on the clock)" : "")],
        ["Bank holidays", settings.bank_holidays.join(", ") || "None in the next year"]]
        .map(([key, value]) => h("div.summary-list__row", h("dt.summary-list__key", key), h("dd.summary-list__value", value)))));
  await load();
}

// The thin web client of the MASH referral hub: a router over the public API.

import { api, ApiError, onSessionEnded } from "./api.js";
import { h, clear, show, announce, tickCountdowns, clockTime } from "./dom.js";
import { BOARD_READERS, MASH_STAFF, PARTNERS, session, hasRole, isMashStaff, isManager } from "./state.js";
import { field, button, showErrors, apiErrors, valueOf } from "./forms.js";
import { queuePage } from "./pages/queue.js";
import { referralPage } from "./pages/referral.js";
import { referralFormPage, ourReferralsPage, ourReferralPage, requestsPage } from "./pages/partner.js";
import { timelinessPage } from "./pages/reports.js";
import { matchReviewsPage, matchReviewPage } from "./pages/reviews.js";
import { boardPage } from "./pages/board.js";
import { encompassInboxPage, encompassNoticePage } from "./pages/encompass.js";
import { searchPage, personPage, searchBox } from "./pages/people.js";
import { approvalsPage } from "./pages/approvals.js";
import { alertsPage, alertPage } from "./pages/alerts.js";
import { partnerHomePage } from "./pages/partner_home.js";
import { auditPage } from "./pages/audit.js";
import { adminPage } from "./pages/admin.js";

const AUDITORS = ["auditor"];
const ADMINS = ["admin"];

// --- routes -------------------------------------------------------------------------------

const ROUTES = [
  { path: /^\/sign-in$/, page: signInPage, open: true },
  { path: /^\/queue$/, page: queuePage, roles: MASH_STAFF },
  { path: /^\/referrals\/([\w-]+)$/, page: referralPage, roles: MASH_STAFF },
  { path: /^\/match-reviews$/, page: matchReviewsPage, roles: MASH_STAFF },
  { path: /^\/match-reviews\/([\w-]+)$/, page: matchReviewPage, roles: MASH_STAFF },
  { path: /^\/reports\/timeliness$/, page: timelinessPage, roles: MASH_STAFF },
  { path: /^\/alerts$/, page: alertsPage, roles: MASH_STAFF },
  { path: /^\/alerts\/([\w-]+)$/, page: alertPage, roles: MASH_STAFF },
  { path: /^\/board$/, page: boardPage, roles: BOARD_READERS },
  { path: /^\/search$/, page: searchPage, roles: MASH_STAFF },
  { path: /^\/people\/([\w-]+)$/, page: personPage, roles: MASH_STAFF },
  { path: /^\/approvals$/, page: approvalsPage, roles: ["mash_manager"] },
  { path: /^\/refer$/, page: referralFormPage, roles: PARTNERS },
  { path: /^\/our-referrals$/, page: ourReferralsPage, roles: PARTNERS },
  { path: /^\/our-referrals\/([\w-]+)$/, page: ourReferralPage, roles: PARTNERS },
  { path: /^\/information-requests$/, page: requestsPage, roles: PARTNERS },
  { path: /^\/home$/, page: partnerHomePage, roles: PARTNERS },
  { path: /^\/encompass$/, page: encompassInboxPage, roles: PARTNERS },
  { path: /^\/encompass\/([\w-]+)$/, page: encompassNoticePage, roles: PARTNERS },
  { path: /^\/audit$/, page: auditPage, roles: AUDITORS },
  { path: /^\/admin$/, page: adminPage, roles: ADMINS },
  { path: /^\/$/, page: homePage },
];

export function currentRoute() {
  const hash = window.location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = hash.split("?");
  return { path: path || "/", query: new URLSearchParams(search), hash: hash };
}

export function go(hash) {
  if (window.location.hash === `#${hash}`) render();
  else window.location.hash = hash;
}

let cleanup = null;
let firstRender = true;
let rendering = 0;  // the newest render: an older one still loading must not show

async function render() {
  const mine = ++rendering;
  const { path, query, hash } = currentRoute();
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  const main = document.getElementById("main");
  const route = ROUTES.find((r) => r.path.test(path));
  if (!route) {
    show(main, h("h1.heading-l", { tabindex: "-1" }, "Page not found"), h("p.body", "There is nothing at this address. ", h("a", { href: "#/" }, "Go to the start")));
    return;
  }
  if (!route.open && !session.me) {
    if (!(await loadSession())) {
      go(`/sign-in?next=${encodeURIComponent(hash)}`);
      return;
    }
  }
  renderHeader();
  if (route.roles && !hasRole(route.roles)) {
    show(main, h("h1.heading-l", { tabindex: "-1" }, "You cannot see this page"),
      h("p.body", "Your role does not include this page. ", h("a", { href: "#/" }, "Go to your start page")));
    return;
  }
  const params = path.match(route.path).slice(1);
  // Each page draws into a view of its own: a page the user has left while it was still
  // loading then draws into a view no longer shown, not over the page they went to.
  const view = h("div.view");
  show(main, view);
  main.setAttribute("aria-busy", "true");
  try {
    const result = await route.page({ main: view, params, query, hash });
    if (mine !== rendering) {
      if (typeof result === "function") result();  // left while loading: stop its timers
      return;
    }
    if (typeof result === "function") cleanup = result;
  } catch (error) {
    if (mine !== rendering) return;
    show(view, h("h1.heading-l", { tabindex: "-1" }, error.status === 404 ? "Not found" : "Sorry, there is a problem"),
      h("p.body", error instanceof ApiError ? error.message : "Something went wrong showing this page. Try again."),
      h("p.body", h("a", { href: "#/" }, "Go to your start page")));
    if (!(error instanceof ApiError)) console.error(error);
  } finally {
    if (mine === rendering) main.removeAttribute("aria-busy");
  }
  const heading = main.querySelector("h1");
  if (heading) {
    document.title = `${heading.textContent} – MASH referral hub`;
    if (!firstRender) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }
  firstRender = false;
}

async function loadSession() {
  try {
    const { data } = await api("/api/v1/me", { retry: false });
    session.me = data.kind === "user" ? data : null;
  } catch {
    session.me = null;
  }
  return Boolean(session.me);
}

function homePage({ main }) {
  if (isMashStaff()) go("/queue");
  else if (hasRole(PARTNERS)) go("/home");
  else if (hasRole(AUDITORS)) go("/audit");
  else if (hasRole(ADMINS)) go("/admin");
  else if (hasRole(BOARD_READERS)) go("/board");
  else {
    show(main, h("h1.heading-l", "MASH referral hub"),
      h("p.body", "Your account has no role in this web client. Partner systems use the API: see the ",
        h("a", { href: "/docs" }, "API reference"), "."));
  }
}

// --- header ---------------------------------------------------------------------------------

function navItems() {
  if (isMashStaff()) {
    return [["#/queue", "Queue"], isManager() && ["#/approvals", "Approvals"], ["#/match-reviews", "Match reviews"], ["#/alerts", "Alerts"], ["#/reports/timeliness", "Timeliness"], isManager() && ["#/board", "Board report"]].filter(Boolean);
  }
  if (hasRole(PARTNERS)) {
    const school = session.me && session.me.agency_kind === "school";
    return [["#/home", "Home"], school && ["#/encompass", "Operation Encompass"], ["#/information-requests", "Information requests"], ["#/refer", "Make a referral"], ["#/our-referrals", "Your referrals"]].filter(Boolean);
  }
  if (hasRole(AUDITORS)) return [["#/audit", "Audit log"], ["#/board", "Board report"], ["/docs", "API reference"]];
  if (hasRole(ADMINS)) return [["#/admin", "Administration"], ["/docs", "API reference"]];
  if (hasRole(BOARD_READERS)) return [["#/board", "Board report"]];
  return [];
}

function renderHeader() {
  const nav = document.getElementById("nav");
  const account = document.getElementById("account");
  if (!session.me) {
    clear(nav);
    clear(account);
    clear(document.getElementById("search"));
    return;
  }
  const { path } = currentRoute();
  clear(nav, h("ul.nav__list", navItems().map(([href, text]) => {
    const current = path === href.slice(1) || path.startsWith(`${href.slice(1)}/`);
    return h(`li.nav__item${current ? ".nav__item--active" : ""}`,
      h("a.nav__link", { href, "aria-current": current ? "page" : undefined }, text));
  })));
  // The search box on every staff page (its own landmark, after the navigation).
  const search = document.getElementById("search");
  if (isMashStaff()) {
    const typed = search.querySelector("#search-q");
    const value = path === "/search" ? currentRoute().query.get("q") || "" : typed ? typed.value : "";
    clear(search, searchBox(value));
  } else {
    clear(search);
  }
  clear(account,
    h("span.account__name", session.me.display_name || session.me.username),
    h("button.link-button", { type: "button", onclick: signOut }, "Sign out"));
}

async function signOut() {
  try {
    await api("/api/v1/sessions/current", { method: "DELETE", retry: false });
  } catch {
    // Already ended: signed out all the same.
  }
  session.me = null;
  session.agencies = null;
  session.staff = null;
  clearTimeout(expiryTimer);
  clearTimeout(warningTimer);
  clear(document.getElementById("session-warning"));
  renderHeader();
  go("/sign-in?signed_out=1");
}

// --- signing in ---------------------------------------------------------------------------

function signInForm(prefix, onSignedIn) {
  const ids = { username: `${prefix}-username`, password: `${prefix}-password`, otp: `${prefix}-otp` };
  const labels = { [ids.username]: "Username", [ids.password]: "Password", [ids.otp]: "Security code" };
  const form = h("form.form", { novalidate: true, "aria-label": "Sign in" },
    field({ id: ids.username, label: "Username", autocomplete: "username", spellcheck: false, width: "20" }),
    field({ id: ids.password, label: "Password", type: "password", autocomplete: "current-password", width: "20" }),
    field({ id: ids.otp, label: "Security code", hint: "The 6-digit code from your authenticator app", inputmode: "numeric", autocomplete: "one-time-code", width: "5", spellcheck: false }),
    button("Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { username: valueOf(form, ids.username) || "", password: form.querySelector(`#${ids.password}`).value, otp: (valueOf(form, ids.otp) || "").replace(/\s/g, "") };
    const missing = Object.entries(body).filter(([, v]) => !v).map(([k]) => ({ id: ids[k], text: `Enter your ${labels[ids[k]].toLowerCase()}` }));
    if (missing.length) {
      showErrors(form, missing);
      return;
    }
    try {
      const { data } = await api("/api/v1/sessions", { method: "POST", body, retry: false });
      await onSignedIn(data);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const errors = error.status === 422
        ? apiErrors(form, error, { prefix, labelOf: (id) => labels[id] })
        : error.status === 401
          // The hub does not say which of the three was wrong (so as not to help a guesser);
          // a code that has just changed is the usual cause, so the code field says so.
          ? [{ id: ids.otp, text: `${error.message} Enter the code showing now in your authenticator app, and check your username and password.` }]
          : [{ id: null, text: error.message }];
      form.querySelector(`#${ids.password}`).value = "";
      form.querySelector(`#${ids.otp}`).value = "";
      showErrors(form, errors);
    }
  });
  return form;
}

function signInPage({ main, query }) {
  const next = query.get("next") || "/";
  const notice = query.get("signed_out") ? h("div.notification", { role: "status" }, h("p.body", "You have signed out.")) : null;
  show(main, h("div.grid-row", h("div.column-two-thirds",
    notice,
    h("h1.heading-l", "Sign in"),
    h("p.body", "Sign in with your username, password and the security code from your authenticator app."),
    signInForm("f", async (me) => {
      session.me = me;
      scheduleExpiry(me);
      go(next.startsWith("/") && !next.startsWith("/sign-in") ? next : "/");
    }))));
}

// A session that ends while a page is open: say so, and sign in again over the page, so
// nothing typed is lost and the page stays where it was.
let signingInAgain = null;

function askToSignInAgain(reason) {
  if (signingInAgain) return signingInAgain;
  signingInAgain = new Promise((resolve) => {
    const before = session.me ? session.me.subject : null;
    const dialog = h("dialog.dialog", { "aria-labelledby": "session-ended-title" });
    const form = signInForm("s", async (me) => {
      session.me = me;
      session.agencies = null;
      scheduleExpiry(me);
      dialog.close();
      dialog.remove();
      signingInAgain = null;
      renderHeader();
      announce("You are signed in again.");
      if (before && me.subject !== before) render();
      resolve();
    });
    clear(dialog,
      h("h2.heading-m#session-ended-title", "Your session has ended"),
      h("p.body", reason || "You have been signed out, so the hub did not accept that. Sign in again to carry on: you stay on this page and what you typed is kept."),
      form);
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    document.body.appendChild(dialog);
    dialog.showModal();
    dialog.querySelector("input").focus();
  });
  return signingInAgain;
}

let expiryTimer = null;
let warningTimer = null;
const WARN_BEFORE_MS = 5 * 60 * 1000;

function scheduleExpiry(me) {
  clearTimeout(expiryTimer);
  clearTimeout(warningTimer);
  clear(document.getElementById("session-warning"));
  if (!me.session_expires_at) return;
  const left = new Date(me.session_expires_at).getTime() - Date.now();
  if (left > WARN_BEFORE_MS && left < 2 ** 31) {
    warningTimer = setTimeout(() => {
      const warning = h("div.notification", { role: "status" },
        h("p.notification__title", `Your session ends at ${clockTime(new Date(me.session_expires_at))}.`),
        h("p.body", "You will then be asked to sign in again. You stay on the same page and nothing you have typed is lost."));
      clear(document.getElementById("session-warning"), warning);
    }, left - WARN_BEFORE_MS);
  }
  if (left > 0 && left < 2 ** 31) {
    expiryTimer = setTimeout(() => askToSignInAgain("Your session has reached its time limit. Sign in again to carry on: you stay on this page and what you typed is kept."), left);
  }
}

onSessionEnded(() => askToSignInAgain());

// --- start ------------------------------------------------------------------------------------

document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  const main = document.getElementById("main");
  main.setAttribute("tabindex", "-1");
  main.focus();
});
window.addEventListener("hashchange", render);
// On a narrow screen a table's rows become cards (WCAG 1.4.10): each cell names its column.
function labelCells(root) {
  for (const table of root.querySelectorAll(".table-wrap > table")) {
    const heads = Array.from(table.querySelectorAll("thead th"), (th) => th.textContent.trim());
    if (!heads.length) continue;
    for (const row of table.querySelectorAll("tbody tr")) {
      Array.from(row.children).forEach((cell, index) => {
        if (!cell.dataset.label && heads[index] && cell.tagName === "TD" && !cell.hasAttribute("colspan")) cell.dataset.label = heads[index];
      });
    }
  }
}
const addsRows = (record) => Array.from(record.addedNodes).some((node) => node.nodeType === 1 && (node.matches("table, tbody, tr") || node.querySelector("table")));
new MutationObserver((records) => {
  if (records.some(addsRows)) labelCells(document.getElementById("main"));
}).observe(document.getElementById("main"), { childList: true, subtree: true });
setInterval(() => tickCountdowns(), 1000);
render();

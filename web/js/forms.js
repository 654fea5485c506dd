// Form fields and errors in the GOV.UK pattern: a label, a hint, the error message next
// to the field, and an error summary at the top linking to each field. The messages come
// from the API's problem+json `errors` ({loc, msg}), said in plain English by the field.

import { h, clear, uniqueId } from "./dom.js";

export function field({ id, label, hint, type = "text", value = "", width, autocomplete, inputmode, spellcheck }) {
  const hintId = hint ? `${id}-hint` : null;
  const input = h(`input.input${width ? `.input--${width}` : ""}`, {
    id, name: id, type, value, autocomplete, inputmode,
    spellcheck: spellcheck === false ? "false" : undefined,
    "aria-describedby": hintId,
  });
  return group(id, h("label.label", { for: id }, label), hint && h("div.hint", { id: hintId }, hint), input);
}

export function textarea({ id, label, hint, value = "", rows = 5 }) {
  const hintId = hint ? `${id}-hint` : null;
  const area = h("textarea.textarea", { id, name: id, rows, "aria-describedby": hintId });
  area.value = value;
  return group(id, h("label.label", { for: id }, label), hint && h("div.hint", { id: hintId }, hint), area);
}

export function select({ id, label, hint, options, value = "" }) {
  const hintId = hint ? `${id}-hint` : null;
  const el = h("select.select", { id, name: id, "aria-describedby": hintId },
    options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)));
  return group(id, h("label.label", { for: id }, label), hint && h("div.hint", { id: hintId }, hint), el);
}

/** Radios or checkboxes in a fieldset; the first input carries the id errors link to. */
export function choices({ id, legend, hint, options, value, multiple = false, inline = false, small = false }) {
  const hintId = hint ? `${id}-hint` : null;
  const chosen = new Set(Array.isArray(value) ? value : value ? [value] : []);
  const items = options.map(([optionValue, text, itemHint], index) => {
    const inputId = index === 0 ? id : `${id}-${index}`;
    const itemHintId = itemHint ? `${inputId}-item-hint` : null;
    return h(`div.${multiple ? "checkboxes" : "radios"}__item`,
      h(`input.${multiple ? "checkboxes" : "radios"}__input`, {
        id: inputId, name: id, type: multiple ? "checkbox" : "radio", value: optionValue,
        checked: chosen.has(optionValue), "aria-describedby": itemHintId,
      }),
      h(`label.label.${multiple ? "checkboxes" : "radios"}__label`, { for: inputId }, text),
      itemHint && h(`div.hint.${multiple ? "checkboxes" : "radios"}__hint`, { id: itemHintId }, itemHint));
  });
  const kind = multiple ? "checkboxes" : "radios";
  return h("div.form-group", { dataset: { field: id } },
    h("fieldset.fieldset", { "aria-describedby": hintId },
      h("legend.fieldset__legend", legend),
      hint && h("div.hint", { id: hintId }, hint),
      h(`div.${kind}${inline ? `.${kind}--inline` : ""}${small ? `.${kind}--small` : ""}`, items)));
}

function group(id, ...children) {
  return h("div.form-group", { dataset: { field: id } }, ...children);
}

export function button(text, attrs = {}) {
  return h(`button.button${attrs.secondary ? ".button--secondary" : ""}${attrs.warning ? ".button--warning" : ""}`,
    { type: attrs.type || "submit", "data-module": "button", onclick: attrs.onclick, id: attrs.id }, text);
}

/** The value of a form control by id: text, the checked radio, or checked boxes. */
export function valueOf(form, id) {
  const named = form.querySelectorAll(`[name="${CSS.escape(id)}"]`);
  if (!named.length) return undefined;
  const first = named[0];
  if (first.type === "checkbox") return Array.from(named).filter((e) => e.checked).map((e) => e.value);
  if (first.type === "radio") {
    const checked = Array.from(named).find((e) => e.checked);
    return checked ? checked.value : undefined;
  }
  const text = first.value.trim();
  return text === "" ? undefined : text;
}

// --- errors -----------------------------------------------------------------------------

export function clearErrors(form) {
  for (const groupEl of form.querySelectorAll(".form-group--error")) {
    groupEl.classList.remove("form-group--error");
    for (const message of groupEl.querySelectorAll(".error-message")) message.remove();
    for (const input of groupEl.querySelectorAll("[aria-invalid]")) {
      input.removeAttribute("aria-invalid");
      const described = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => !x.endsWith("-error"));
      if (described.length) input.setAttribute("aria-describedby", described.join(" "));
      else input.removeAttribute("aria-describedby");
    }
  }
  const summary = form.querySelector(".error-summary");
  if (summary) summary.remove();
}

/**
 * Show errors: each {field id, text} next to its field, all in a summary at the top of
 * the form, which takes focus (so a screen reader reads it and the user sees it).
 * `title` heads the summary. Errors with no field are listed in the summary only.
 */
export function showErrors(form, errors, title = "There is a problem") {
  clearErrors(form);
  const links = [];
  for (const { id, text } of errors) {
    const target = id && form.querySelector(`#${CSS.escape(id)}`);
    const groupEl = target && target.closest(".form-group");
    if (groupEl) {
      groupEl.classList.add("form-group--error");
      const errorId = uniqueId(`${id}-error`);
      const message = h("p.error-message", { id: errorId }, h("span.visually-hidden", "Error: "), text);
      const anchor = groupEl.querySelector("fieldset > .hint, fieldset > div.radios, fieldset > div.checkboxes, input, textarea, select");
      anchor.parentNode.insertBefore(message, anchor.matches("fieldset > .hint") ? anchor.nextSibling : anchor);
      for (const input of groupEl.querySelectorAll("input, textarea, select")) {
        if (input.type !== "radio" && input.type !== "checkbox") input.setAttribute("aria-invalid", "true");
        const described = input.getAttribute("aria-describedby");
        input.setAttribute("aria-describedby", [described, errorId].filter(Boolean).join(" "));
      }
      links.push(h("li", h("a", { href: `#${id}`, onclick: (event) => focusField(event, id) }, text)));
    } else {
      links.push(h("li", text));
    }
  }
  const titleId = uniqueId("error-summary-title");
  const summary = h("div.error-summary", { tabindex: "-1", "aria-labelledby": titleId });
  clear(summary, h("h2.error-summary__title", { id: titleId }, title), h("ul.list.error-summary__list", links));
  form.prepend(summary);
  summary.focus();
  return summary;
}

function focusField(event, id) {
  event.preventDefault();
  const target = document.getElementById(id);
  if (!target) return;
  const fieldsetLegend = target.closest("fieldset")?.querySelector("legend");
  (fieldsetLegend || target).scrollIntoView({ block: "start" });
  target.focus({ preventScroll: true });
}

// Pydantic's own wording, said as a person would. Anything not listed keeps the API's
// words, less a "Value error, " prefix; a field's internal name never reaches the page.
const PLAIN = [
  [/^Field required$/i, (label) => label ? `Enter ${lower(label)}` : "Enter the missing details"],
  [/^List should have at least 1 item/i, (label) => label ? `${label}: choose at least one` : "Choose at least one"],
  [/^String should have at least 1 character/i, (label) => label ? `Enter ${lower(label)}` : "Enter the missing text"],
  [/^String should have at most (\d+) characters?/i, (label, m) => `${label || "This"} must be ${Number(m[1]).toLocaleString("en-GB")} characters or fewer`],
  [/^String should have at least (\d+) characters?/i, (label, m) => `${label || "This"} must be at least ${m[1]} characters`],
  [/^List should have at most (\d+) items?/i, (label, m) => `Choose no more than ${m[1]}`],
  [/^Input should be a valid date/i, (label) => `${label || "The date"} must be a real date, for example 27 3 2012`],
  [/^Input should be a valid datetime/i, (label) => `${label || "The date and time"} must be a real date and time`],
  [/^Input should be '.*'$|^Input should be (.*) or '.*'$/i, (label) => label ? `Choose ${lower(label)} from the list` : "Choose one of the options"],
  [/^Input should be a valid (integer|number)/i, (label) => `${label || "This"} must be a number`],
  [/^Extra inputs are not permitted$/i, () => "The page sent something the hub does not expect: reload the page and try again"],
];

function lower(label) {
  return label.charAt(0).toLowerCase() + label.slice(1);
}

/** The API's message for a field, in plain English. */
export function plainMessage(msg, label = null) {
  const text = String(msg || "is not valid").replace(/^Value error, /, "");
  for (const [pattern, say] of PLAIN) {
    const m = text.match(pattern);
    if (m) return say(label, m);
  }
  return label ? `${label}: ${text}` : text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The API's validation errors as {id, text}: `loc` ["body", "referrer", "name"] is the
 * field with id "f-referrer-name" if there is one, else the nearest enclosing field
 * ("f-referrer"), else the form as a whole. `labelOf(id)` names the field in the message;
 * `aliases` maps an API field name to a form field's name where they differ.
 */
export function apiErrors(form, error, { prefix = "f", labelOf = () => null, aliases = {} } = {}) {
  if (!error.errors.length) return [{ id: null, text: error.message }];
  return error.errors.map(({ loc, msg }) => {
    const parts = (loc || []).filter((part) => part !== "body" && part !== "query").map((part) => aliases[part] || part);
    let id = null;
    for (let n = parts.length; n > 0 && !id; n -= 1) {
      const candidate = [prefix, ...parts.slice(0, n)].join("-");
      const found = form.querySelector(`#${CSS.escape(candidate)}`);
      if (!found) continue;
      // An error about a group of fields (a person, the list of people) goes by its first field.
      const control = found.matches("input, textarea, select") ? found : found.querySelector("input[id], textarea[id], select[id]");
      if (control) id = control.id;
    }
    const label = id ? labelOf(id) : null;
    return { id, text: plainMessage(msg, label) };
  });
}

/** Values typed into the page's forms, by control id, to carry over a re-render. */
export function draftsOf(root) {
  const drafts = {};
  for (const el of root.querySelectorAll("input, textarea, select")) {
    if (!el.id) continue;
    drafts[el.id] = el.type === "radio" || el.type === "checkbox" ? el.checked : el.value;
  }
  return drafts;
}

export function restoreDrafts(root, drafts) {
  for (const [id, value] of Object.entries(drafts || {})) {
    const el = root.querySelector(`#${CSS.escape(id)}`);
    if (!el) continue;
    if (el.type === "radio" || el.type === "checkbox") el.checked = Boolean(value);
    else el.value = value;
  }
}

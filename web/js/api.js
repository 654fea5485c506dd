// The hub's public API, as any partner system uses it. The session is an HttpOnly cookie
// the script never sees; every change carries the anti-CSRF header x-mash-csrf: 1.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem && typeof problem === "object" ? problem.detail || problem.title : null;
    super(detail || `The hub answered ${status}.`);
    this.status = status;
    this.problem = problem && typeof problem === "object" ? problem : {};
  }

  get errors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

let whenSignedOut = null;

/** Called on a 401 from a signed-in page; resolves once the user has signed in again. */
export function onSessionEnded(handler) {
  whenSignedOut = handler;
}

/** A path and query string of a `next` link (the API gives absolute URLs). */
export function pathOf(link) {
  const url = new URL(link, window.location.origin);
  return url.pathname + url.search;
}

export function withQuery(path, params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * Call the API. Returns {data, etag}. Throws ApiError with the problem document.
 * A 401 on a signed-in page asks the user to sign in again (keeping the page), then
 * sends the request once more: a refused request changed nothing, so that is safe.
 */
export async function api(path, { method = "GET", body, etag, headers = {}, retry = true } = {}) {
  const sent = { accept: "application/json, application/problem+json", ...headers };
  if (body !== undefined) sent["content-type"] = "application/json";
  if (UNSAFE.has(method)) sent["x-mash-csrf"] = "1";
  if (etag) sent["if-match"] = etag;
  let response;
  try {
    response = await fetch(path, {
      method, headers: sent, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { title: "No connection", detail: "The hub could not be reached. Check your connection and try again." });
  }
  if (response.status === 401 && retry && whenSignedOut && !path.startsWith("/api/v1/sessions")) {
    await whenSignedOut();
    return api(path, { method, body, etag, headers, retry: false });
  }
  const type = response.headers.get("content-type") || "";
  let data = null;
  if (response.status !== 204) data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, etag: response.headers.get("etag") };
}

export function newIdempotencyKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

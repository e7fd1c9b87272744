// Calls to Salon's JSON API from our pages: the session cookie authenticates, and every
// write carries the session's CSRF token (rendered into <meta name="csrf-token">).

export class ApiError extends Error {
  constructor(detail, code, status) {
    super(detail);
    this.code = code;
    this.status = status;
  }
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/** fetch() with JSON body and CSRF header; resolves to the Response when it is ok. */
export async function request(url, { method = "GET", json, headers = {}, signal } = {}) {
  const init = { method, signal, credentials: "same-origin", headers: { ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrfToken();
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await fetch(url, init);
  if (!response.ok) throw await errorOf(response);
  return response;
}

/** The ApiError for a failed response ({detail, code} bodies; anything else in general terms). */
export async function errorOf(response) {
  let detail = `The server answered ${response.status}.`;
  let code = "HTTP_" + response.status;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") detail = body.detail;
    if (typeof body.code === "string") code = body.code;
  } catch {
    // not JSON: keep the general message
  }
  return new ApiError(detail, code, response.status);
}

/** An HTML fragment of ours (GET); null when the session has ended (we were sent to log in). */
export async function fragment(url) {
  const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
  if (response.redirected || !response.ok) return null;
  return response.text();
}

// What the modules that draw parts with vendored libraries (charts.js, diagrams.js) share:
// loading a library's classic script once under the page's CSP nonce, linking a stylesheet
// once, and noticing parts added to the page later (streamed answers, swapped message lists).

/** The nonce of this page's scripts (the IDL property keeps it after the attribute is hidden). */
export function pageNonce() {
  for (const script of document.querySelectorAll("script[nonce]")) {
    if (script.nonce) return script.nonce;
  }
  return "";
}

export function linkStylesheet(href) {
  if (document.querySelector(`link[href="${href}"]`)) return;
  const link = Object.assign(document.createElement("link"), { rel: "stylesheet", href });
  document.head.append(link);
}

const loading = new Map();

/**
 * ``window[name]``, defined by the classic script at ``src`` (loaded once with a <script>
 * element carrying the page's nonce; a failed load is tried again on the next call).
 */
export function loadScript(src, name, label) {
  if (window[name]) return Promise.resolve(window[name]);
  if (loading.has(src)) return loading.get(src);
  const promise = new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.nonce = pageNonce();
    script.addEventListener("load", () => (window[name] ? resolve(window[name])
      : reject(new Error(`${label} did not load`))));
    script.addEventListener("error", () => reject(new Error(`${label} could not be loaded`)));
    document.head.append(script);
  });
  loading.set(src, promise);
  promise.catch(() => loading.delete(src));
  return promise;
}

/** Call ``draw()`` (at most once a frame) whenever elements are added anywhere in the page. */
export function whenAdded(draw) {
  let scheduled = false;
  new MutationObserver(() => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      draw();
    });
  }).observe(document.body, { childList: true, subtree: true });
}

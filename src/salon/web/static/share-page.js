// The share viewer page: after logging in to clone (the page is opened with ?clone=1), the
// clone happens by itself. The "Clone chat" form carries the session's CSRF token and works
// without JavaScript too; this only sends it, once: ?clone=1 is dropped from the address, and
// the tab remembers the auto-clone for a while, so coming back (through the login page's
// redirect, say) does not clone again.

const REMEMBER_MS = 10 * 60 * 1000;

function alreadyCloned(key) {
  try {
    const at = Number(window.sessionStorage.getItem(key));
    if (at && Date.now() - at < REMEMBER_MS) return true;
    window.sessionStorage.setItem(key, String(Date.now()));
  } catch {
    // storage unavailable: clone anyway (the person asked for it)
  }
  return false;
}

function autoClone() {
  const url = new URL(window.location.href);
  if (url.searchParams.get("clone") !== "1") return;
  url.searchParams.delete("clone");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  const form = document.getElementById("clone-form");
  if (!(form instanceof HTMLFormElement)) return;
  if (alreadyCloned("salon-auto-clone:" + url.pathname)) return;
  form.requestSubmit();
}

autoClone();

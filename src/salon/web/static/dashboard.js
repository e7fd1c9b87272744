// The Shared chats dashboard (/shared), enhanced. Without this script every part still works
// (GET forms, links and form posts); with it:
// - row, bulk and danger-zone actions go through the JSON API and the listing is refreshed in
//   place (the server's own rendering of the same address, so sorting and filters hold);
// - select-all and the selection count; danger buttons stay disabled until the word matches;
// - copy-link buttons; "Modify" opens the share dialog (static/share-dialog.js);
// - a link whose expiry time passes shows "Expired" without a reload (checked every second);
// - dropping a chat from the sidebar opens its share dialog; dropping a Salon chat file
//   (exported as JSON) imports it into your chats and opens the dialog for the new chat.
// Nothing here puts text from the server into HTML: notices use textContent, and the listing
// is swapped as nodes parsed from our own escaped page.

import { fragment, request } from "./api.js";

const $ = (id) => document.getElementById(id);
const main = $("main");
const results = $("shared-results");
const liveNotice = $("live-notice");
const API = "/api/v1/chats";
const DRAG_TYPE = "application/x-salon-chat";

function plural(n) {
  return `${n} shared chat${n === 1 ? "" : "s"}`;
}

/** Show ``message`` in the page's notice area (replacing the notice the page came with). */
function say(message, { error = false } = {}) {
  for (const old of document.querySelectorAll("#dashboard-notice, #form-error")) old.remove();
  liveNotice.textContent = message;
  liveNotice.className = `alert ${error ? "alert-error" : "alert-success"}`;
  liveNotice.hidden = false;
}

// --- the listing ---------------------------------------------------------------------------

/** Re-render the listing from the server (same address: same filters, sort and page). */
async function refresh() {
  const html = await fragment(window.location.href);
  if (html === null) {
    window.location.reload(); // signed out meanwhile: let the page send us to log in
    return;
  }
  const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("shared-results");
  if (!fresh) return;
  results.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
  enhanceListing();
}

function enhanceListing() {
  for (const button of results.querySelectorAll("[data-copy-link]")) button.hidden = false;
  const selectAll = $("select-all");
  if (selectAll) selectAll.hidden = false;
  updateSelection();
  watchExpiry();
}

function rowBoxes() {
  return [...results.querySelectorAll('input[name="chat_ids"][form="bulk-form"]')];
}

function updateSelection() {
  const boxes = rowBoxes();
  const chosen = boxes.filter((box) => box.checked).length;
  const selectAll = $("select-all");
  if (selectAll) {
    selectAll.checked = chosen > 0 && chosen === boxes.length;
    selectAll.indeterminate = chosen > 0 && chosen < boxes.length;
  }
  const count = $("bulk-count");
  if (count) count.textContent = chosen ? `${chosen} selected` : "";
  for (const button of results.querySelectorAll("[data-bulk]")) button.disabled = chosen === 0;
}

results.addEventListener("change", (event) => {
  if (event.target.id === "select-all") {
    for (const box of rowBoxes()) box.checked = event.target.checked;
  }
  updateSelection();
});

// --- actions -------------------------------------------------------------------------------

const ROW_ACTIONS = {
  revoke: (id) => ({ url: `${API}/${id}/share`, method: "DELETE", done: "Revoked 1 shared chat." }),
  restore: (id) => ({ url: `${API}/${id}/share/restore`, method: "POST", done: "The link was restored." }),
  reset_stats: (id) => ({ url: `${API}/${id}/reset_stats`, method: "POST", done: "Statistics reset for 1 shared chat." }),
};

async function act(work) {
  try {
    say(await work());
  } catch (error) {
    say(error.message, { error: true });
  }
  await refresh();
}

async function rowAction(form, action) {
  const chatId = form.querySelector('input[name="chat_ids"]').value;
  const call = ROW_ACTIONS[action](encodeURIComponent(chatId));
  await act(async () => {
    await request(call.url, { method: call.method });
    return call.done;
  });
}

async function bulkAction(action) {
  const chatIds = rowBoxes().filter((box) => box.checked).map((box) => box.value);
  if (!chatIds.length) {
    say("Select at least one shared chat first.", { error: true });
    return;
  }
  await act(async () => {
    const response = await request(`${API}/shared/bulk`, { method: "POST", json: { action, chat_ids: chatIds } });
    const { updated } = await response.json();
    return action === "revoke" ? `Revoked ${plural(updated)}.` : `Statistics reset for ${plural(updated)}.`;
  });
}

results.addEventListener("submit", (event) => {
  const form = event.target;
  const action = event.submitter?.value;
  if (form.classList.contains("row-form") && action in ROW_ACTIONS) {
    event.preventDefault();
    rowAction(form, action);
  } else if (form.id === "bulk-form" && (action === "revoke" || action === "reset_stats")) {
    event.preventDefault();
    bulkAction(action);
  }
});

// --- the danger zone -----------------------------------------------------------------------

const DANGER = {
  revoke_all: { url: `${API}/shared/all`, method: "DELETE", key: "revoked", done: (n) => `Revoked every link: ${plural(n)} changed.` },
  reset_all: { url: `${API}/shared/all/reset_stats`, method: "POST", key: "reset", done: (n) => `Statistics reset for every share: ${plural(n)} changed.` },
  clear_revoked: { url: `${API}/shared/revoked`, method: "DELETE", key: "cleared", done: (n) => `Cleared ${plural(n)} from the dashboard.` },
};

function setupDangerZone() {
  for (const form of document.querySelectorAll("form[data-danger]")) {
    const input = form.querySelector("[data-confirm-word]");
    const button = form.querySelector('button[type="submit"]');
    const sync = () => { button.disabled = input.value.trim() !== input.dataset.confirmWord; };
    input.addEventListener("input", sync);
    sync();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (input.value.trim() !== input.dataset.confirmWord) return;
      const call = DANGER[form.dataset.danger];
      act(async () => {
        const response = await request(call.url, { method: call.method, json: { confirm: input.value.trim() } });
        input.value = "";
        sync();
        return call.done((await response.json())[call.key]);
      });
    });
  }
}

// --- copy and modify -----------------------------------------------------------------------

results.addEventListener("click", async (event) => {
  const copy = event.target.closest("[data-copy-link]");
  if (copy) {
    try {
      await navigator.clipboard.writeText(copy.dataset.copyLink);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Copy failed";
    }
    setTimeout(() => { copy.textContent = "Copy link"; }, 2000);
    return;
  }
  const modify = event.target.closest("[data-modify]");
  if (modify) {
    event.preventDefault();
    openDialog(modify.dataset.modify);
  }
});

/** The share dialog for ``chatId``; without the dialog module, the chat's own page. */
async function openDialog(chatId) {
  let dialog;
  try {
    dialog = await import("./share-dialog.js");
  } catch {
    window.location.assign(`/c/${encodeURIComponent(chatId)}`);
    return;
  }
  dialog.openShareDialog(chatId, { onChange: () => refresh() });
}

// --- expiry --------------------------------------------------------------------------------

let expiryTimer = 0;

function watchExpiry() {
  clearInterval(expiryTimer);
  const rows = [...results.querySelectorAll("tr[data-expires-at]")];
  if (!rows.length) return;
  const tick = () => {
    const now = Date.now();
    for (const row of rows) {
      if (row.dataset.status === "active" && Date.parse(row.dataset.expiresAt) <= now) markExpired(row);
    }
  };
  tick();
  expiryTimer = setInterval(tick, 1000);
}

function markExpired(row) {
  row.dataset.status = "expired";
  const badge = row.querySelector("[data-status-badge]");
  badge.textContent = "Expired";
  badge.className = "status-badge status-expired";
  const restore = row.querySelector("[data-restore]");
  if (restore) restore.hidden = false;
  if (main.dataset.statusFilter === "active") {
    row.classList.add("row-stale");
    const note = document.createElement("span");
    note.className = "stale-note";
    note.textContent = "No longer matches the Active filter";
    badge.after(note);
  }
}

// --- drag and drop -------------------------------------------------------------------------

const overlay = $("drop-overlay");
let dragDepth = 0;

function chatIdFromLink(text) {
  const line = (text || "").split(/\r?\n/).find((l) => l.trim() && !l.startsWith("#"));
  if (!line) return null;
  let url;
  try {
    url = new URL(line.trim(), window.location.origin);
  } catch {
    return null;
  }
  if (url.origin !== window.location.origin) return null;
  const match = /^\/c\/([^/]+)$/.exec(url.pathname);
  return match ? decodeURIComponent(match[1]) : null;
}

function isDroppable(types) {
  return types.includes("Files") || types.includes(DRAG_TYPE) || types.includes("text/uri-list")
    || types.includes("text/plain");
}

function showOverlay(show) {
  overlay.hidden = !show;
  main.classList.toggle("drop-active", show);
}

function setupDragAndDrop() {
  $("drag-hint").hidden = false;
  $("conversations").addEventListener("dragstart", (event) => {
    const link = event.target.closest?.("a[data-id]");
    if (!link) return;
    event.dataTransfer.setData(DRAG_TYPE, link.dataset.id);
    event.dataTransfer.setData("text/uri-list", link.href);
    event.dataTransfer.setData("text/plain", link.href);
    event.dataTransfer.effectAllowed = "copyLink";
  });
  main.addEventListener("dragenter", (event) => {
    if (!isDroppable([...event.dataTransfer.types])) return;
    event.preventDefault();
    dragDepth += 1;
    showOverlay(true);
  });
  main.addEventListener("dragover", (event) => {
    if (!isDroppable([...event.dataTransfer.types])) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  main.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) showOverlay(false);
  });
  main.addEventListener("drop", (event) => {
    event.preventDefault();
    dragDepth = 0;
    showOverlay(false);
    handleDrop(event.dataTransfer);
  });
}

/** Import the dropped chat file (Salon's JSON export), then open the new chat's dialog. */
async function importFile(files) {
  if (files.length !== 1) {
    say("Drop one chat file at a time.", { error: true });
    return;
  }
  const [file] = files;
  let payload;
  try {
    payload = JSON.parse(await file.text());
  } catch {
    say(`${file.name} was not imported: it is not JSON.`, { error: true });
    return;
  }
  say(`Importing ${file.name}…`);
  let report;
  try {
    report = await (await request(`${API}/import`, { method: "POST", json: payload })).json();
  } catch (error) {
    say(`${file.name} was not imported: ${error.message}`, { error: true });
    return;
  }
  const [made] = report.imported;
  const [known] = report.skipped;
  if (!made && !known) {
    const reason = report.failed[0]?.reason || "it holds no conversation.";
    say(`${file.name} was not imported: ${reason}`, { error: true });
    return;
  }
  say(made ? `Imported “${made.title}” into your chats.`
    : `${file.name} was imported before: here is that chat.`);
  openDialog((made || known).chat_id);
}

function handleDrop(data) {
  if (data.files.length || [...data.types].includes("Files")) {
    importFile([...data.files]);
    return;
  }
  const chatId = data.getData(DRAG_TYPE) || chatIdFromLink(data.getData("text/uri-list"))
    || chatIdFromLink(data.getData("text/plain"));
  // Only chats of this page's sidebar: a drag from another site cannot name one of ours.
  if (!chatId || !document.querySelector(`#conversations a[data-id="${CSS.escape(chatId)}"]`)) {
    say("Drop a chat from the sidebar to share it.", { error: true });
    return;
  }
  openDialog(chatId);
}

// --- start ---------------------------------------------------------------------------------

function setupAutosubmit() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
  for (const button of document.querySelectorAll("[data-autosubmit-button]")) button.hidden = true;
}

/** Forget ``done``/``n`` in the address: the notice was shown, a reload should not repeat it. */
function dropNoticeParams() {
  const url = new URL(window.location.href);
  if (!url.searchParams.has("done")) return;
  url.searchParams.delete("done");
  url.searchParams.delete("n");
  window.history.replaceState(null, "", url);
}

dropNoticeParams();
enhanceListing();
setupDangerZone();
setupAutosubmit();
setupDragAndDrop();

// The "Share chat" dialog (templates/_share_dialog.html), shared by every page that shares.
//
// Contract:
//   {% include "_share_dialog.html" %}            once in the page body (it links its CSS)
//   import { openShareDialog } from "/static/share-dialog.js";
//   openShareDialog(chatId, { onChange } = {})    -> Promise resolved when the dialog closes
//     chatId    the conversation to share (one of the signed-in user's).
//     onChange  optional; called with the share JSON (as GET /api/v1/chats/{id}/share returns
//               it) after every successful change: create, update, snapshot, rotate, delete
//               (a revoked share), restore.
// Also exported: cleanShareId(raw), isGuessableShareId(cleaned) and expirySummary({...}), the
// exact mirrors of the server's domain/links.py clean_share_id and is_guessable_share_id and
// domain/shares.py expiry_summary (times in UTC).
//
// Everything is an API call (static/api.js sends the CSRF token); API errors show their
// `detail` inside the dialog. Text from the server is only ever set with textContent.

import { request } from "./api.js";
import { confirmDialog } from "./app.js";

const MAX_SHARE_ID_CHARS = 144;
const MIN_SHARE_ID_CHARS = 4;
const SAFE_SHARE_ID_CHARS = 8;
// domain/links.py COMMON_IDS (a browser test checks they are the same).
const COMMON_IDS = new Set([
  "abcdefgh", "analysis", "assignment", "baseball", "birthday", "brainstorm", "business",
  "chat-log", "checklist", "christmas", "conversation", "document", "download", "feedback",
  "football", "homework", "iloveyou", "interview", "meeting-notes", "my-conversation", "my-notes",
  "password", "password1", "personal", "presentation", "princess", "proposal", "question",
  "questions", "qwertyuiop", "research", "shared-chat", "shared-conversation", "sharedchat",
  "shopping", "solution", "starwars", "sunshine", "superman", "transcript", "trustno1", "untitled",
  "vacation", "whatever"
]);
const DIGITS_ONLY = /^[0-9\-._~]+$/;
const MAX_LIMIT = 2147483647;
// Python's str.isspace() characters, which `\s` and strip() use in clean_share_id.
const WHITESPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SPACES = new RegExp(`[${WHITESPACE}]+`, "g");
const EDGE_SPACES = new RegExp(`^[${WHITESPACE}]+|[${WHITESPACE}]+$`, "g");
const NOT_ALLOWED = /[^A-Za-z0-9\-._~]/g;

// -- the server's rules, mirrored ------------------------------------------------------------

/** What a custom link id becomes on the server (domain/links.py clean_share_id). */
export function cleanShareId(raw) {
  return raw.replace(EDGE_SPACES, "").replace(SPACES, "-").replace(NOT_ALLOWED, "");
}

/** Whether a cleaned id is easy to guess (domain/links.py is_guessable_share_id). */
export function isGuessableShareId(cleaned) {
  return cleaned.length < SAFE_SHARE_ID_CHARS || DIGITS_ONLY.test(cleaned)
    || COMMON_IDS.has(cleaned.toLowerCase());
}

/** The spec's date style in UTC, as domain/shares.py format_when: "10/26/2024, 5:00:00 PM". */
export function formatWhen(date) {
  const hour = date.getUTCHours() % 12 || 12;
  const half = date.getUTCHours() < 12 ? "AM" : "PM";
  const two = (n) => String(n).padStart(2, "0");
  return `${date.getUTCMonth() + 1}/${date.getUTCDate()}/${date.getUTCFullYear()}, `
    + `${hour}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} ${half}`;
}

const count = (n, noun) => (n === 1 ? `${n} ${noun}` : `${n} ${noun}s`);

/** domain/shares.py expiry_summary: limits are null when unlimited. */
export function expirySummary({ expiresAt, maxViews, maxClones, allowViewAfterCloneLimit }) {
  const ends = [];
  if (expiresAt) ends.push(`on ${formatWhen(expiresAt)}`);
  if (maxViews != null) ends.push(`after ${count(maxViews, "view")}`);
  if (maxClones != null && !allowViewAfterCloneLimit) ends.push(`after ${count(maxClones, "clone")}`);
  let sentence = ends.length ? `Expires ${ends.join(" or ")}` : "Never expires";
  if (maxClones != null && allowViewAfterCloneLimit) {
    sentence += `; cloning stops after ${count(maxClones, "clone")}`;
  }
  return sentence;
}

/** domain/shares.py adjust_limit: 0 is unlimited; a limit not above the count becomes count + 1. */
function adjustLimit(requested, current) {
  if (requested === 0) return null;
  return requested > current ? requested : Math.min(current + 1, MAX_LIMIT);
}

// -- the dialog's elements and state ---------------------------------------------------------

const $ = (id) => document.getElementById(id);

let els = null;
let state = { chatId: null, share: null, onChange: null, generation: 0 };

function elements() {
  const dialog = $("share-dialog");
  if (!dialog) throw new Error('openShareDialog needs {% include "_share_dialog.html" %} on the page');
  if (els?.dialog === dialog) return els;
  els = {
    dialog, form: $("share-form"), title: $("share-chat-title"), state: $("share-state"),
    link: $("share-link"), url: $("share-url"), copy: $("share-copy"), open: $("share-open"),
    qr: $("share-qr-image"), qrSvg: $("share-qr-svg"), qrPng: $("share-qr-png"),
    snapshot: $("share-snapshot"), rotate: $("share-rotate"), restore: $("share-restore"),
    remove: $("share-delete"), customId: $("share-custom-id"), cleaned: $("share-cleaned-id"),
    guessable: $("share-custom-id-warning"),
    visibility: $("share-visibility"), live: $("share-live"), username: $("share-username"),
    cloning: $("share-cloning"), password: $("share-password-input"),
    passwordLabel: $("share-password-label"), passwordCurrent: $("share-password-current"),
    passwordRemove: $("share-password-remove"), currentPassword: $("share-current-password"),
    expiry: $("share-expiry"), expiryKeep: $("share-expiry-keep"),
    customField: $("share-expiry-custom-field"), custom: $("share-expiry-custom"),
    maxViews: $("share-max-views"), maxClones: $("share-max-clones"),
    viewAfter: $("share-view-after-clones"), summary: $("share-summary"),
    summaryUtc: $("share-summary-utc"), upto: $("share-upto"),
    error: $("share-error"), save: $("share-save"), fields: $("share-fields"),
  };
  wire(els);
  return els;
}

function wire(e) {
  e.form.addEventListener("input", refreshPreview);
  e.form.addEventListener("change", refreshPreview);
  e.form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  e.copy.addEventListener("click", copyLink);
  $("share-community-button")?.addEventListener("click", shareToCommunity);
  e.snapshot.addEventListener("click", () => act("Snapshot updated.", "POST", "", { update_snapshot: true }));
  e.rotate.addEventListener("click", rotate);
  e.restore.addEventListener("click", () => act("Link restored.", "POST", "/restore"));
  e.remove.addEventListener("click", removeLink);
  for (const radio of e.dialog.querySelectorAll('input[name="share-qr-style"]')) {
    radio.addEventListener("change", showQr);
  }
}

// -- opening ---------------------------------------------------------------------------------

/** Open the dialog for ``chatId``; resolves when it closes (see the contract at the top). */
export function openShareDialog(chatId, { onChange } = {}) {
  const e = elements();
  const generation = state.generation + 1;
  state = { chatId, share: null, onChange: onChange ?? null, generation };
  resetForm(e);
  if (!e.dialog.open) e.dialog.showModal();
  load(chatId, generation);
  return new Promise((resolve) => e.dialog.addEventListener("close", () => resolve(), { once: true }));
}

const url = (chatId, suffix = "") => `/api/v1/chats/${encodeURIComponent(chatId)}/share${suffix}`;

async function load(chatId, generation) {
  const e = els;
  try {
    const [share, chat] = await Promise.all([fetchShare(chatId), fetchChat(chatId)]);
    if (generation !== state.generation) return; // another chat was opened meanwhile
    e.title.textContent = chat.title;
    fillMessages(e, chat.chat?.messages ?? []);
    showShare(share);
    setLoading(e, false);
    e.customId.focus();
  } catch (error) {
    if (generation === state.generation) {
      e.state.textContent = "";
      showError(error.message);
    }
  }
}

/** The chat's share, or null when it is not shared yet (404). */
async function fetchShare(chatId) {
  try {
    return await (await request(url(chatId))).json();
  } catch (error) {
    if (error.status === 404 && error.code === "SHARE_NOT_FOUND") return null;
    throw error;
  }
}

async function fetchChat(chatId) {
  return (await request(`/api/v1/chats/${encodeURIComponent(chatId)}`)).json();
}

function fillMessages(e, messages) {
  const options = messages.filter((m) => m.role === "user" || m.role === "assistant")
    .map((m, index) => {
      const who = m.role === "user" ? "You" : "Salon";
      const text = (m.content ?? "").replace(/\s+/g, " ").trim();
      const label = `${index + 1}. ${who}: ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`;
      return Object.assign(document.createElement("option"), { value: m.id, textContent: label });
    });
  e.upto.replaceChildren(e.upto.options[0], ...options);
}

// -- showing a share (or none) ---------------------------------------------------------------

/** While the chat's share loads, the form is disabled: what it will show is not known yet, and
 * a choice made now would be overwritten by it. */
function setLoading(e, loading) {
  e.fields.disabled = loading;
  e.save.disabled = loading;
  e.form.setAttribute("aria-busy", String(loading));
}

function resetForm(e) {
  e.form.reset();
  setLoading(e, true);
  resetCommunity();
  e.title.textContent = "";
  e.state.textContent = "Loading…";
  e.link.hidden = true;
  e.upto.replaceChildren(Object.assign(document.createElement("option"),
    { value: "", textContent: "The whole conversation" }));
  e.save.textContent = "Create link";
  hideError();
  showShareFields(e, null);
  refreshPreview();
}

function showShare(share) {
  const e = els;
  state.share = share;
  showShareFields(e, share);
  e.save.textContent = share ? "Update link settings" : "Create link";
  e.state.textContent = share ? describe(share) : "This chat is not shared yet.";
  e.link.hidden = !share;
  if (share) {
    e.url.value = share.url;
    e.open.href = share.url;
    e.restore.hidden = share.status !== "revoked";
    e.remove.hidden = share.status === "revoked";
    showQr();
  }
  refreshPreview();
}

function describe(share) {
  const status = { active: "Active", expired: "Expired", revoked: "Revoked" }[share.status] ?? share.status;
  const kind = share.type === "live" ? "live" : "snapshot";
  const who = share.visibility === "only_me" ? " · only you can open it" : "";
  return `${status} ${kind} link${who} · ${count(share.views, "view")} · ${count(share.clones, "clone")}`;
}

/** The form shows the share's settings (or the defaults for a new one). */
function showShareFields(e, share) {
  const s = share ?? {};
  e.customId.value = share ? share.share_id : "";
  setVisibility(e, s.visibility ?? (s.is_public === false ? "private" : "public"));
  e.live.checked = s.live ?? false;
  e.username.checked = s.display_username ?? false;
  e.cloning.checked = s.allow_cloning ?? true;
  e.viewAfter.checked = s.allow_view_after_clone_limit ?? false;
  e.maxViews.value = String(s.max_views ?? 0);
  e.maxClones.value = String(s.max_clones ?? 0);
  e.upto.value = s.upto_message_id ?? "";
  e.password.value = "";
  e.currentPassword.value = "";
  e.passwordRemove.checked = false;
  e.passwordCurrent.hidden = !s.has_password;
  e.passwordLabel.textContent = s.has_password ? "New password (leave empty to keep it)" : "Password (optional)";
  const expires = s.expires_at ? new Date(s.expires_at) : null;
  e.expiryKeep.hidden = !expires;
  e.expiryKeep.textContent = expires ? `Keep: ${formatWhen(expires)} UTC` : "Keep the current expiry";
  e.expiry.value = expires ? "keep" : "never";
  e.custom.value = "";
}

// -- live preview: cleaned id and expiry summary ---------------------------------------------

function refreshPreview() {
  const e = els;
  if (!e) return;
  const cleaned = cleanShareId(e.customId.value);
  e.cleaned.textContent = cleaned ? `/s/${cleaned}` : "a random id";
  e.guessable.hidden = !cleaned || !isGuessableShareId(cleaned);
  e.customField.hidden = e.expiry.value !== "custom";
  e.passwordRemove.disabled = !state.share?.has_password;
  e.password.disabled = e.passwordRemove.checked;
  const summary = expirySummary(previewLimits(e));
  e.summary.textContent = summary;
  e.summaryUtc.hidden = !summary.startsWith("Expires on ");
}

/** The expiry and limits as the server would store them if the form were saved now. */
function previewLimits(e) {
  const share = state.share;
  let expiresAt = share?.expires_at ? new Date(share.expires_at) : null;
  const choice = e.expiry.value;
  if (choice === "never") expiresAt = null;
  else if (choice === "custom") expiresAt = customExpiry(e);
  else if (choice !== "keep") expiresAt = new Date(Date.now() + Number(choice) * 1000);
  const limit = (input, stored, current) => {
    const value = wholeNumber(input.value);
    if (value === null) return stored || null;
    return share && value === stored ? stored || null : adjustLimit(value, current);
  };
  return {
    expiresAt: expiresAt && !Number.isNaN(expiresAt.getTime()) ? expiresAt : null,
    maxViews: limit(e.maxViews, share?.max_views ?? 0, share?.views ?? 0),
    maxClones: limit(e.maxClones, share?.max_clones ?? 0, share?.clones ?? 0),
    allowViewAfterCloneLimit: e.viewAfter.checked,
  };
}

/** The custom date-time (typed in local time), or null when empty or unreadable. */
function customExpiry(e) {
  if (!e.custom.value) return null;
  const date = new Date(e.custom.value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function wholeNumber(text) {
  const trimmed = String(text).trim();
  if (!/^\d+$/.test(trimmed)) return null;
  const value = Number(trimmed);
  return value <= MAX_LIMIT ? value : null;
}

// -- saving ----------------------------------------------------------------------------------

class FormProblem extends Error {}

/** The options to send: only what differs from the share (or from the defaults), checked
 * here first so that obvious mistakes never reach the server. */
function collectChanges(e) {
  const share = state.share;
  const changes = {};
  const custom = customIdChange(e, share);
  if (custom !== undefined) changes.share_id = custom;
  const visibility = chosenVisibility(e);
  if (visibility !== (share ? share.visibility : "public")) changes.visibility = visibility;
  const flags = [["live", e.live, false],
    ["display_username", e.username, false], ["allow_cloning", e.cloning, true],
    ["allow_view_after_clone_limit", e.viewAfter, false]];
  for (const [name, input, fallback] of flags) {
    if (input.checked !== (share ? share[name] : fallback)) changes[name] = input.checked;
  }
  for (const [name, input, label] of [["max_views", e.maxViews, "Max views"],
    ["max_clones", e.maxClones, "Max clones"]]) {
    const value = wholeNumber(input.value);
    if (value === null) throw new FormProblem(`${label} must be a whole number from 0 to ${MAX_LIMIT}.`);
    if (value !== (share ? share[name] : 0)) changes[name] = value;
  }
  Object.assign(changes, expiryChange(e), passwordChange(e, share));
  const upto = e.upto.value || null;
  if (upto !== (share?.upto_message_id ?? null)) changes.upto_message_id = upto;
  return changes;
}

/** Who can open the link: "public", "private" (logged-in users) or "only_me". */
function chosenVisibility(e) {
  return e.visibility.querySelector("input[name=visibility]:checked")?.value ?? "public";
}

function setVisibility(e, value) {
  for (const input of e.visibility.querySelectorAll("input[name=visibility]")) {
    input.checked = input.value === value;
  }
}

function customIdChange(e, share) {
  const raw = e.customId.value;
  if (!raw.trim()) {
    if (share) throw new FormProblem("The link needs an id: keep the current one or type a new one.");
    return undefined;
  }
  const cleaned = cleanShareId(raw);
  if (!cleaned) {
    throw new FormProblem("The custom link is empty once unsupported characters are removed. "
      + "Use letters, digits, '-', '.', '_' or '~'.");
  }
  if (cleaned.length < MIN_SHARE_ID_CHARS) {
    throw new FormProblem(`The custom link needs at least ${MIN_SHARE_ID_CHARS} characters `
      + "(a shorter one is easy to guess).");
  }
  if (cleaned.length > MAX_SHARE_ID_CHARS) {
    throw new FormProblem(`The custom link can be at most ${MAX_SHARE_ID_CHARS} characters.`);
  }
  return share && cleaned === share.share_id ? undefined : cleaned;
}

function expiryChange(e) {
  const choice = e.expiry.value;
  if (choice === "keep") return {};
  if (choice === "never") return state.share?.expires_at ? { expires_at: null } : {};
  if (choice !== "custom") return { expires_in: Number(choice) };
  const date = customExpiry(e);
  if (!date) throw new FormProblem("Choose the date and time the link expires.");
  if (date.getTime() <= Date.now()) {
    throw new FormProblem("The expiry date must be in the future.");
  }
  return { expires_at: date.toISOString() };
}

function passwordChange(e, share) {
  const remove = e.passwordRemove.checked;
  const next = e.password.value;
  if (!share?.has_password) return next ? { password: next } : {};
  if (!remove && !next) return {};
  if (!e.currentPassword.value) {
    throw new FormProblem("Enter the current password to change or remove it.");
  }
  return { password: remove ? null : next, current_password: e.currentPassword.value };
}

async function save() {
  const e = els;
  hideError();
  let changes;
  try {
    changes = collectChanges(e);
  } catch (error) {
    if (!(error instanceof FormProblem)) throw error;
    showError(error.message);
    return;
  }
  if (state.share && Object.keys(changes).length === 0) {
    e.state.textContent = `${describe(state.share)} · Nothing to change.`;
    return;
  }
  await act(state.share ? "Link settings updated." : "Link created.", "POST", "", changes);
}

/** One API call on the share; on success the dialog shows the returned share. */
async function act(done, method, suffix, json) {
  const e = els;
  const { chatId, generation } = state;
  hideError();
  setBusy(e, true);
  try {
    const response = await request(url(chatId, suffix), { method, json });
    const share = await response.json();
    if (generation !== state.generation) return;
    showShare(share);
    e.state.textContent = `${done} ${describe(share)}`;
    state.onChange?.(share);
  } catch (error) {
    if (generation === state.generation) showError(error.message);
  } finally {
    setBusy(e, false);
  }
}

async function rotate() {
  const ok = await confirmDialog("Rotate the link? The current link stops working at once.",
    { confirmLabel: "Rotate link" });
  if (ok) await act("New link made.", "POST", "/rotate");
}

async function removeLink() {
  const ok = await confirmDialog("Delete this link? Anyone who opens it will be told it was revoked.",
    { confirmLabel: "Delete link" });
  if (ok) await act("Link deleted.", "DELETE", "");
}

function setBusy(e, busy) {
  for (const button of [e.save, e.snapshot, e.rotate, e.restore, e.remove]) button.disabled = busy;
  e.form.setAttribute("aria-busy", String(busy));
}

function showError(message) {
  els.error.textContent = message;
  els.error.hidden = false;
}

function hideError() {
  els.error.hidden = true;
  els.error.textContent = "";
}

// -- community -------------------------------------------------------------------------------

/** Publish a snapshot on the community hub (the section exists only when the server has it). */
async function shareToCommunity() {
  const button = $("share-community-button");
  const result = $("share-community-result");
  const error = $("share-community-error");
  const { chatId, generation } = state;
  button.disabled = true;
  error.hidden = true;
  result.hidden = true;
  button.textContent = "Publishing…";
  try {
    const body = await (await request(url(chatId, "/community"), { method: "POST" })).json();
    if (generation !== state.generation) return;
    const link = $("share-community-link");
    link.href = body.url;
    link.textContent = body.url;
    result.hidden = false;
  } catch (failure) {
    if (generation !== state.generation) return;
    error.textContent = failure.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = "Share to community";
  }
}

/** A new chat in the dialog: no community result from the previous one. */
function resetCommunity() {
  for (const id of ["share-community-result", "share-community-error"]) {
    const node = $(id);
    if (node) node.hidden = true;
  }
}

// -- the link: copy and QR code --------------------------------------------------------------

async function copyLink() {
  const e = els;
  e.url.select();
  try {
    await navigator.clipboard.writeText(e.url.value);
    e.copy.textContent = "Copied";
  } catch {
    e.copy.textContent = "Press Ctrl+C";
  }
  setTimeout(() => { e.copy.textContent = "Copy"; }, 2000);
}

/** The QR image and download links for the chosen style (the share id busts the cache
 * after a rotation or a new custom id). */
function showQr() {
  const e = els;
  const share = state.share;
  if (!share) return;
  const style = e.dialog.querySelector('input[name="share-qr-style"]:checked')?.value ?? "plain";
  const qr = (format, download) => url(state.chatId, "/qr?") + new URLSearchParams({
    format, style, v: share.share_id, ...(download ? { download: "1" } : {}),
  });
  e.qr.src = qr("svg", false);
  e.qrSvg.href = qr("svg", true);
  e.qrPng.href = qr("png", true);
}

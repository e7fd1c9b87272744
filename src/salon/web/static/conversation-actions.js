// Rename (PATCH /api/chat/title) and delete (DELETE /api/v1/chats/{id}) the open
// conversation, each through its <dialog>; export it (a download of
// /api/v1/chats/{id}/export); share it (the header's Share button, or any conversation's share
// button in the sidebar) through the share dialog, and show in the header whether the open
// conversation is shared. The id is read from <main data-conversation-id>,
// which chat.js sets when a new chat gets its id.

import { request } from "./api.js";
import { openShareDialog } from "./share-dialog.js";

const $ = (id) => document.getElementById(id);
const main = $("main");
const titleHeading = $("chat-title");
const currentId = () => main.dataset.conversationId;

/** Show a conversation title in the header and the tab. */
export function setTitle(title) {
  titleHeading.textContent = title;
  document.title = `${title} · Salon`;
}

// Export: the link follows the open conversation (a new chat gets its id after the page loads).
$("export-link").addEventListener("click", (event) => {
  event.currentTarget.href = `/api/v1/chats/${encodeURIComponent(currentId())}/export?format=json`;
});

const renameDialog = $("rename-dialog");
const renameInput = $("rename-input");
const renameError = $("rename-error");

$("rename-button").addEventListener("click", () => {
  renameInput.value = titleHeading.textContent.trim();
  renameError.hidden = true;
  renameDialog.showModal();
  renameInput.select();
});

$("rename-form").addEventListener("submit", async (event) => {
  if (event.submitter?.value !== "save") return; // Cancel closes the dialog
  event.preventDefault();
  const title = renameInput.value.trim();
  if (!title) return;
  try {
    const response = await request("/api/chat/title", {
      method: "PATCH", json: { conversation_id: currentId(), title },
    });
    const saved = (await response.json()).title;
    setTitle(saved);
    const link = document.querySelector(`#conversations a[data-id="${CSS.escape(currentId())}"]`);
    if (link) link.textContent = saved;
    link?.parentElement?.querySelector("[data-share-chat]")?.setAttribute("title", `Share “${saved}”`);
    renameDialog.close();
  } catch (error) {
    renameError.textContent = error.message;
    renameError.hidden = false;
  }
});

const deleteDialog = $("delete-dialog");
const deleteError = $("delete-error");

$("delete-button").addEventListener("click", () => {
  $("delete-title").textContent = titleHeading.textContent.trim();
  deleteError.hidden = true;
  deleteDialog.showModal();
});

deleteDialog.querySelector("form").addEventListener("submit", async (event) => {
  if (event.submitter?.value !== "delete") return;
  event.preventDefault();
  try {
    await request(`/api/v1/chats/${encodeURIComponent(currentId())}`, { method: "DELETE" });
    window.location.assign("/");
  } catch (error) {
    deleteError.textContent = error.message;
    deleteError.hidden = false;
  }
});

// -- sharing ---------------------------------------------------------------------------------

const shareBadge = $("share-badge");
const BADGES = { active: "Shared", expired: "Share expired" };

/** The header badge for the open conversation's share (null: not shared). */
export function showShareBadge(share) {
  const text = share ? BADGES[share.status] : undefined;
  shareBadge.hidden = !text;
  shareBadge.textContent = text ?? "";
  shareBadge.classList.toggle("share-badge-expired", share?.status === "expired");
  shareBadge.title = share && text ? share.expiry_summary : "";
}

/** Ask the server whether the open conversation is shared (the page itself does not say). */
export async function refreshShareBadge() {
  const id = currentId();
  if (!id) return showShareBadge(null);
  try {
    const response = await request(`/api/v1/chats/${encodeURIComponent(id)}/share`);
    if (id === currentId()) showShareBadge(await response.json());
  } catch {
    if (id === currentId()) showShareBadge(null); // 404: not shared (or the chat is gone)
  }
}

function share(chatId) {
  openShareDialog(chatId, {
    onChange: (changed) => { if (changed.chat_id === currentId()) showShareBadge(changed); },
  });
}

$("share-button").addEventListener("click", () => share(currentId()));
$("conversations").addEventListener("click", (event) => {
  const button = event.target.closest?.("[data-share-chat]");
  if (button) share(button.dataset.shareChat);
});
refreshShareBadge();

// Rename (PATCH /api/chat/title) and delete (DELETE /api/v1/chats/{id}) the open
// conversation, each through its <dialog>. The id is read from <main data-conversation-id>,
// which chat.js sets when a new chat gets its id.

import { request } from "./api.js";

const $ = (id) => document.getElementById(id);
const main = $("main");
const titleHeading = $("chat-title");
const currentId = () => main.dataset.conversationId;

/** Show a conversation title in the header and the tab. */
export function setTitle(title) {
  titleHeading.textContent = title;
  document.title = `${title} · Salon`;
}

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

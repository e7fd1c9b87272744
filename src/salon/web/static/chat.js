// The chat page: send a message (with attachments), stream the answer token by token from
// POST /api/chat (server-sent events), then swap in the server-rendered messages so the final
// answer is drawn by the same renderer as on a reload (rename and delete live in
// conversation-actions.js, attachment reading in attachments.js).
//
// Streamed text is only ever inserted with textContent; HTML comes from our own fragments.

import { csrfToken, errorOf, fragment } from "./api.js";
import { chip, readAttachment } from "./attachments.js";
import { setTitle } from "./conversation-actions.js";
import { readEvents } from "./sse.js";
import { enhanceTables } from "./tables.js";

const $ = (id) => document.getElementById(id);
const main = $("main");
const form = $("composer");
const textarea = $("q");
const sendButton = $("send-button");
const stopButton = $("stop-button");
const fileInput = $("file-input");
const attachmentList = $("attachments");
const composerError = $("composer-error");
const messages = $("messages");
const scroller = $("messages-scroll");

let conversationId = main.dataset.conversationId || null;
let pending = []; // attachments not sent yet: {kind, name, size, data, preview}
let controller = null;

// -- small DOM helpers -----------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function isNearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
}

function scrollToBottom() {
  scroller.scrollTop = scroller.scrollHeight;
}

function showComposerError(message) {
  composerError.textContent = message;
  composerError.hidden = !message;
}

// -- the composer ----------------------------------------------------------------------------

function autosize() {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, window.innerHeight * 0.4)}px`;
}

function setBusy(busy) {
  sendButton.hidden = busy;
  stopButton.hidden = !busy;
  messages.setAttribute("aria-busy", String(busy));
}

textarea.addEventListener("input", autosize);
textarea.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  sendMessage();
});
stopButton.addEventListener("click", () => controller?.abort());

for (const starter of document.querySelectorAll("[data-starter]")) {
  starter.addEventListener("click", () => {
    textarea.value = starter.textContent.trim();
    autosize();
    textarea.focus();
  });
}

// -- attachments -----------------------------------------------------------------------------

$("attach-button").addEventListener("click", () => fileInput.click());
fileInput.addEventListener("change", async () => {
  await addFiles([...fileInput.files]);
  fileInput.value = "";
});
textarea.addEventListener("paste", (event) => {
  const files = [...(event.clipboardData?.files ?? [])];
  if (files.length) {
    event.preventDefault();
    addFiles(files);
  }
});
form.addEventListener("dragover", (event) => event.preventDefault());
form.addEventListener("drop", (event) => {
  event.preventDefault();
  addFiles([...(event.dataTransfer?.files ?? [])]);
});

async function addFiles(files) {
  showComposerError("");
  for (const file of files) {
    try {
      pending.push(await readAttachment(file, pending));
    } catch (error) {
      showComposerError(error.message);
    }
  }
  renderAttachments();
}

function renderAttachments() {
  attachmentList.replaceChildren(...pending.map((attachment, index) => {
    const item = chip(attachment);
    const remove = el("button", "icon-button");
    remove.type = "button";
    remove.setAttribute("aria-label", `Remove ${attachment.name}`);
    remove.textContent = "×";
    remove.addEventListener("click", () => {
      pending.splice(index, 1);
      renderAttachments();
      textarea.focus();
    });
    item.append(remove);
    return item;
  }));
  attachmentList.hidden = pending.length === 0;
}

// -- sending and streaming -------------------------------------------------------------------

async function sendMessage() {
  if (controller) return;
  const q = textarea.value;
  if (!q.trim() && pending.length === 0) return;
  const attachments = pending;
  const body = {
    q,
    stream: true,
    images: attachments.filter((a) => a.kind === "image").map((a) => a.data),
    files: attachments.filter((a) => a.kind === "file").map((a) => ({ name: a.name, content: a.data })),
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
  if (conversationId) body.conversation_id = conversationId;

  textarea.value = "";
  pending = [];
  renderAttachments();
  autosize();
  showComposerError("");
  $("welcome")?.remove();
  const question = appendQuestion(q, attachments);
  const answer = new PendingAnswer();
  scrollToBottom();
  controller = new AbortController();
  setBusy(true);
  let finished = false;
  try {
    const response = await fetch("/api/chat", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream",
                 "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!response.ok) {
      // Nothing was stored: put the message back so it can be sent again.
      const error = await errorOf(response);
      question.remove();
      answer.article.remove();
      textarea.value = q;
      pending = attachments;
      renderAttachments();
      autosize();
      showComposerError(error.message);
      return;
    }
    for await (const event of readEvents(response)) {
      if (applyEvent(event, answer)) finished = true;
    }
    if (!finished) answer.fail("The connection ended before the answer was complete.");
  } catch (error) {
    if (error.name === "AbortError") answer.stop();
    else answer.fail("The connection was lost. Reload the page to see what was saved.");
  } finally {
    controller = null;
    setBusy(false);
    textarea.focus();
    await refresh({ messages: finished });
  }
}

/** Handle one stream event; returns true for the final `end_response`. */
function applyEvent(event, answer) {
  switch (event.type) {
    case "metadata":
      adoptConversation(event.data.conversationId);
      return false;
    case "status":
      answer.setStatus(String(event.data));
      return false;
    case "thought":
      answer.addThought(String(event.data));
      return false;
    case "message":
      answer.addText(String(event.data));
      return false;
    case "error":
      answer.fail(event.data?.detail ?? "The model failed.");
      return false;
    case "end_response":
      answer.setStatus("");
      return true;
    default:
      return false;
  }
}

/** A new chat got its id: the address bar and the header buttons follow. */
function adoptConversation(id) {
  if (!id || id === conversationId) return;
  conversationId = id;
  main.dataset.conversationId = id;
  history.replaceState(null, "", `/c/${encodeURIComponent(id)}`);
  $("chat-actions").hidden = false;
}

function appendQuestion(q, attachments) {
  const article = el("article", "message message-user");
  const body = el("div", "message-body");
  if (q.trim()) body.append(el("div", "part part-text streaming-text", q));
  if (attachments.length) {
    const list = el("ul", "sent-attachments");
    list.append(...attachments.map(chip));
    body.append(list);
  }
  article.append(el("h3", "visually-hidden", "You"), body);
  messages.append(article);
  return article;
}

/** The answer while it streams: status line, optional thought, text as it arrives. */
class PendingAnswer {
  constructor() {
    this.article = el("article", "message message-assistant");
    const avatar = el("div", "avatar", "S");
    avatar.setAttribute("aria-hidden", "true");
    this.body = el("div", "message-body");
    this.status = el("p", "message-status", "Waiting for the model…");
    this.status.setAttribute("role", "status");
    this.text = el("div", "part part-text streaming-text");
    this.body.append(this.status, this.text);
    this.article.append(el("h3", "visually-hidden", "Salon"), avatar, this.body);
    messages.append(this.article);
  }

  setStatus(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  addThought(chunk) {
    if (!this.thought) {
      const details = el("details", "part part-thought");
      details.append(el("summary", "", "Thought"));
      this.thought = el("div", "details-body streaming-text");
      details.append(this.thought);
      this.text.before(details);
    }
    this.follow(() => this.thought.append(chunk));
  }

  addText(chunk) {
    this.follow(() => {
      this.text.append(chunk);
      this.setStatus("");
    });
  }

  fail(detail) {
    this.setStatus("");
    this.body.append(el("p", "message-error", detail));
  }

  stop() {
    this.setStatus("");
    this.body.append(el("p", "message-note", "Stopped."));
  }

  /** Keep the newest text in view, unless the reader scrolled up to read. */
  follow(change) {
    const stick = isNearBottom();
    change();
    if (stick) scrollToBottom();
  }
}

/** Swap in the server's rendering of the messages (and the sidebar, for titles and order). */
async function refresh({ messages: withMessages }) {
  if (!conversationId) return;
  const id = encodeURIComponent(conversationId);
  const [list, sidebar] = await Promise.all([
    withMessages ? fragment(`/c/${id}/messages`) : null,
    fragment(`/fragments/sidebar?current=${id}`),
  ]);
  if (list !== null) {
    const stick = isNearBottom();
    messages.innerHTML = list;
    enhanceTables(messages);
    if (stick) scrollToBottom();
  }
  if (sidebar !== null) {
    $("conversations").innerHTML = sidebar;
    const current = document.querySelector('#conversations a[aria-current="page"]');
    if (current) setTitle(current.textContent);
  }
}

if (messages.children.length) scrollToBottom();
autosize();

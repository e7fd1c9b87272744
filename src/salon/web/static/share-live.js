// A live share's page follows the conversation (server-sent events from /s/{id}/events):
// - an answer being written appears word by word (as plain text); a page opened mid-answer
//   gets the words written so far first, as one token event;
// - when a message is stored, the page fetches it rendered (/s/{id}/messages?after=N) and
//   replaces the words with it; the files list and the title follow too;
// - whatever the order in which the stored question, that fetch's answer and the first words
//   arrive, no word is lost or shown twice (see settle);
// - when the link ends (revoked, expired, rotated, made private, new password, deleted) the
//   stream says why and the page shows it; a viewer who fell behind is asked to reload.
// The browser reconnects by itself after a network hiccup, sending the last event's id, so
// nothing is missed or shown twice. Nothing from the server goes into HTML except the
// fragments our own templates rendered; words and notices are set as text.

const main = document.getElementById("main");
const messages = document.getElementById("messages");
const filesArea = document.getElementById("share-files-area");
const notice = document.getElementById("live-notice");
const title = document.querySelector(".share-title");
const link = main.dataset.link;
const base = `/s/${encodeURIComponent(link)}`;
// What goes when the link ends: the download links and the Clone forms (share.html).
const CLOSED_CONTROLS = ".share-files, #clone-form, #clone-login, #clone-confirm";

let count = Number(messages.dataset.count) || 0;
let fetching = null;
let again = false;
// The turns whose stored answer is shown: their words still on the way are dropped.
const ended = new Set();

function say(text, { error = false } = {}) {
  notice.textContent = text;
  notice.classList.toggle("share-live-error", error);
  notice.hidden = false;
}

function setTitle(text) {
  if (typeof text !== "string" || !text) return;
  title.textContent = text;
}

/** The articles showing answers being written, oldest first (after the stored messages). */
function streams() {
  return [...messages.querySelectorAll(".message-streaming")];
}

/** Show a piece of the answer being written (plain text, never HTML). */
function addToken(data) {
  if (typeof data.text !== "string" || typeof data.turn_id !== "string") return;
  if (ended.has(data.turn_id)) return;
  let streaming = streams().find((article) => article.dataset.turn === data.turn_id);
  if (!streaming) {
    streaming = document.createElement("article");
    streaming.className = "message message-assistant message-streaming";
    streaming.dataset.turn = data.turn_id;
    const body = document.createElement("div");
    body.className = "message-body";
    const text = document.createElement("div");
    text.className = "part part-text streaming-text";
    body.append(text);
    streaming.append(body);
    messages.querySelector(".share-empty")?.remove();
    messages.append(streaming);
  }
  delete streaming.dataset.stored; // more words: the turn event since was another turn's
  streaming.querySelector(".streaming-text").textContent += data.text;
}

/** A turn event came: an answer being written whose words came before it is now stored
 * (one answer is written at a time), so the next fetch will bring it or it is shown. */
function markStored() {
  for (const streaming of streams()) streaming.dataset.stored = "true";
}

/**
 * Show ``fresh`` (the messages stored since the last fetch) and end the streams whose answer
 * it shows. ``announced``: the streams whose stored answer a turn event announced before
 * this fetch began, so that answer is among ``fresh`` or already shown (unless more words
 * came since: that event was another turn's). Events and fetches land in any order, so:
 * - fresh messages go before the answers still being written, whose words stay;
 * - a stream ends when its answer is stored by this fetch: an announced one, or, for each
 *   further answer among ``fresh``, the oldest stream left (the fetch outran the events);
 *   its words still on the way are then dropped.
 */
function settle(fresh, announced) {
  const stored = announced.filter((streaming) => streaming.dataset.stored);
  const answers = fresh.filter((node) => node.classList.contains("message-assistant")).length;
  const writing = streams().filter((streaming) => !stored.includes(streaming));
  const done = [...stored, ...writing.slice(0, Math.max(0, answers - stored.length))];
  for (const streaming of done) {
    ended.add(streaming.dataset.turn);
    streaming.remove();
  }
  if (!fresh.length) return;
  messages.querySelector(".share-empty")?.remove();
  const next = streams()[0];
  if (next) next.before(...fresh);
  else messages.append(...fresh);
}

/** Fetch the messages stored since the last fetch (one fetch at a time; repeat if asked). */
async function refresh() {
  if (fetching) {
    again = true;
    return fetching;
  }
  fetching = (async () => {
    do {
      again = false;
      const announced = streams().filter((streaming) => streaming.dataset.stored);
      const response = await fetch(`${base}/messages?after=${count}`, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const body = await response.json();
      const fresh = new DOMParser().parseFromString(body.messages, "text/html").body;
      settle([...fresh.children].map((node) => document.importNode(node, true)), announced);
      count = body.count;
      messages.dataset.count = String(count);
      const files = new DOMParser().parseFromString(body.files, "text/html").body;
      filesArea.replaceChildren(...[...files.childNodes].map((node) => document.importNode(node, true)));
      setTitle(body.title);
    } while (again);
  })();
  try {
    await fetching;
  } finally {
    fetching = null;
  }
}

function listen() {
  const source = new EventSource(`${base}/events`);
  const data = (event) => {
    try {
      return JSON.parse(event.data);
    } catch {
      return {};
    }
  };
  // What was stored between this page's render and the stream's start has no event: fetch it
  // (each time the stream opens, so also after a reconnect).
  source.addEventListener("open", () => refresh());
  source.addEventListener("token", (event) => addToken(data(event)));
  source.addEventListener("turn", (event) => {
    setTitle(data(event).title);
    markStored();
    refresh();
  });
  source.addEventListener("title", (event) => setTitle(data(event).title));
  source.addEventListener("closed", (event) => {
    source.close();
    const { detail } = data(event);
    main.classList.add("share-closed");
    // The link is over: its files and clones are refused now, so their controls go at once.
    for (const control of main.querySelectorAll(CLOSED_CONTROLS)) control.remove();
    for (const file of messages.querySelectorAll("a[download]")) file.replaceWith(file.textContent);
    say(detail || "This shared chat is no longer available.", { error: true });
  });
  source.addEventListener("reload", (event) => {
    source.close();
    say(data(event).detail || "Reload the page to see the latest messages.");
  });
  source.addEventListener("error", () => {
    // Closed for good (the server refused the stream): the page stays as it is.
    if (source.readyState === EventSource.CLOSED) {
      say("Live updates stopped: reload the page to see new messages.");
    }
  });
  main.dataset.listening = "true";
}

listen();

// Every page: the phone menu (sidebar drawer), confirmation dialogs for forms marked
// data-confirm, [data-close-dialog] buttons, copy buttons (data-copy="#input"), and sortable
// tables.

import { enhanceTables } from "./tables.js";

function setupMenu() {
  const button = document.getElementById("menu-button");
  const sidebar = document.getElementById("sidebar");
  const scrim = document.getElementById("scrim");
  if (!button || !sidebar) return;
  const setOpen = (open) => {
    document.body.classList.toggle("nav-open", open);
    button.setAttribute("aria-expanded", String(open));
    if (scrim) scrim.hidden = !open;
    if (open) sidebar.querySelector("a, button")?.focus();
  };
  button.addEventListener("click", () => setOpen(!document.body.classList.contains("nav-open")));
  scrim?.addEventListener("click", () => setOpen(false));
  document.getElementById("sidebar-close")?.addEventListener("click", () => {
    setOpen(false);
    button.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("nav-open")) {
      setOpen(false);
      button.focus();
    }
  });
}

/** Ask in a <dialog>; resolves true when the person confirms. */
export function confirmDialog(message, { confirmLabel = "Confirm", danger = true } = {}) {
  const dialog = document.createElement("dialog");
  dialog.className = "dialog";
  const form = document.createElement("form");
  form.method = "dialog";
  form.className = "stack";
  const text = document.createElement("p");
  text.textContent = message;
  const buttons = document.createElement("div");
  buttons.className = "dialog-buttons";
  const cancel = Object.assign(document.createElement("button"),
    { type: "submit", value: "cancel", className: "button", textContent: "Cancel" });
  const ok = Object.assign(document.createElement("button"), {
    type: "submit", value: "ok", textContent: confirmLabel,
    className: danger ? "button button-danger" : "button button-primary",
  });
  buttons.append(cancel, ok);
  form.append(text, buttons);
  dialog.append(form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    dialog.showModal();
    cancel.focus();
  });
}

function setupConfirmForms() {
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (form.dataset.confirmed) return;
    event.preventDefault();
    if (await confirmDialog(form.dataset.confirm, { confirmLabel: "Yes, continue" })) {
      form.dataset.confirmed = "1";
      form.requestSubmit();
    }
  });
}

function setupCopyButtons() {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.querySelector(button.dataset.copy);
      if (!source) return;
      source.select?.();
      try {
        await navigator.clipboard.writeText(source.value ?? source.textContent);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Press Ctrl+C";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  }
}

// Code blocks get a "Copy" button (only with JavaScript, where it can work), also in messages
// that arrive later (streamed answers, fragments).
function addCodeCopyButtons() {
  for (const block of document.querySelectorAll(".codeblock:not([data-copy-ready])")) {
    block.dataset.copyReady = "1";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "codeblock-copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy code");
    block.prepend(button);
  }
}

function setupCodeCopyButtons() {
  addCodeCopyButtons();
  new MutationObserver(addCodeCopyButtons).observe(document.body, { childList: true, subtree: true });
  document.addEventListener("click", async (event) => {
    const button = event.target.closest?.(".codeblock-copy");
    const code = button?.closest(".codeblock")?.querySelector("pre code");
    if (!code) return;
    try {
      await navigator.clipboard.writeText(code.textContent);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
}

function setupDialogCloseButtons() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest?.("[data-close-dialog]");
    button?.closest("dialog")?.close();
  });
}

setupMenu();
setupConfirmForms();
setupDialogCloseButtons();
setupCopyButtons();
setupCodeCopyButtons();
enhanceTables();

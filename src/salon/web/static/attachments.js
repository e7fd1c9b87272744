// Attachments for the composer: images become data URLs (sent as `images`), other files must
// be text (sent as `files`); each shows as a chip with its name and size.

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
const MAX_IMAGES = 10;
const MAX_FILES = 20;

export function humanSize(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Read one file as an attachment {kind, name, size, data, preview}; throws a readable Error. */
export async function readAttachment(file, pending) {
  if (file.size > MAX_ATTACHMENT_BYTES) {
    throw new Error(`${file.name} is larger than ${humanSize(MAX_ATTACHMENT_BYTES)}.`);
  }
  const kind = IMAGE_TYPES.has(file.type) ? "image" : "file";
  const limit = kind === "image" ? MAX_IMAGES : MAX_FILES;
  if (pending.filter((a) => a.kind === kind).length >= limit) {
    throw new Error(`At most ${limit} ${kind}s per message.`);
  }
  if (kind === "image") {
    return { kind, name: file.name, size: file.size, data: await dataUrl(file),
             preview: URL.createObjectURL(file) };
  }
  const text = await file.text();
  if (text.includes("\u0000")) {
    throw new Error(`${file.name} is not a text file: attach text files or images.`);
  }
  return { kind, name: file.name, size: file.size, data: text, preview: null };
}

function dataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error(`Could not read ${file.name}.`));
    reader.readAsDataURL(file);
  });
}

/** A chip (<li>) showing an attachment: preview for images, name, size. */
export function chip(attachment) {
  const item = document.createElement("li");
  item.className = "chip";
  if (attachment.preview) {
    const img = document.createElement("img");
    img.src = attachment.preview;
    img.alt = "";
    item.append(img);
  }
  const name = document.createElement("span");
  name.className = "chip-name";
  name.textContent = attachment.name;
  const meta = document.createElement("span");
  meta.className = "chip-meta";
  meta.textContent = humanSize(attachment.size);
  item.append(name, meta);
  return item;
}

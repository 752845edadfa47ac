// Small DOM helpers shared by every view: element builder, clipboard, formatting, toasts.

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "html") element.innerHTML = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

// navigator.clipboard needs a secure context; LAN mode over plain http is not one, so fall back.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = h("textarea", { class: "sr-only", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("The browser refused clipboard access");
  }
  toast(`Copied: ${text.length > 60 ? text.slice(0, 57) + "…" : text}`);
}

export function toast(message, { kind = "info", timeout = 3500 } = {}) {
  const host = document.getElementById("toasts");
  if (!host) return;
  const item = h("div", { class: `toast toast--${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  host.append(item);
  setTimeout(() => item.remove(), timeout);
}

// Messages are joined from parts (daemon reasons, UI advice): each part must be a sentence of
// its own, capitalised and ending in a full stop, or the join reads "...to download The...".
// (capital: false for a sentence that follows a colon.)
export function sentence(text, { capital = true } = {}) {
  const trimmed = String(text ?? "").trim();
  if (!trimmed) return "";
  const start = capital ? trimmed[0].toUpperCase() + trimmed.slice(1) : trimmed;
  return /[.!?…][)"'”’]?$/.test(start) ? start : `${start}.`;
}

export function formatCount(value) {
  return Number(value || 0).toLocaleString("en-US");
}

export function formatBytes(bytes) {
  if (!bytes && bytes !== 0) return "";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function formatDate(epochSeconds) {
  if (!epochSeconds) return "";
  return new Date(epochSeconds * 1000).toLocaleString();
}

export function debounce(fn, wait) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

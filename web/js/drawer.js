// Metadata drawer: generation summary with copy buttons, reference thumbnails, collapsible raw
// JSON, EXIF basics for non-AI images, and the InvokeAI bridge actions.

import { api, ApiError } from "./api.js";
import { copyText, formatBytes, formatDate, h, sentence, toast } from "./dom.js";
import { icon } from "./icons.js";

const FIELDS = [
  ["positive_prompt", "Prompt"],
  ["negative_prompt", "Negative prompt"],
  ["model", "Model"],
  ["seed", "Seed"],
  ["steps", "Steps"],
  ["cfg_scale", "CFG scale"],
  ["guidance", "Guidance"],
  ["scheduler", "Scheduler"],
  ["scheduler_in_file", "Scheduler in file"],
  ["scheduler_note", "Scheduler note"],
  ["sampler", "Sampler"],
  ["size", "Size"],
  ["strength", "Strength"],
  ["clip_skip", "CLIP skip"],
  ["vae", "VAE"],
  ["generation_mode", "Mode"],
  ["generator", "Generator"],
];

// [availability key, action route, body, label, title] — the bridge lists which apply per image.
const INVOKEAI_ACTIONS = [
  ["recall", "recall", { mode: "recall" }, "Recall", "Every setting including the seed: Invoke recreates the image"],
  ["remix", "recall", { mode: "remix" }, "Remix", "Every setting except the seed: a new image in the same style"],
  ["prompts", "recall", { mode: "prompts" }, "Recall prompts", "Only the positive and negative prompt"],
  ["seed", "recall", { mode: "seed" }, "Recall seed", "Only the seed"],
  ["reference", "reference", { append: false }, "Use as Ref Image", "Make this image InvokeAI's reference image (replacing the current ones)"],
  ["reference_append", "reference", { append: true }, "Append as Ref Image", "Add this image to InvokeAI's reference images"],
  ["gallery", "gallery", {}, "Send to InvokeAI gallery", "Upload to your board with its metadata, so InvokeAI's own Recall works on it"],
];

export class Drawer {
  constructor(root) {
    this.root = root;
    this.body = root.querySelector(".drawer-body");
    this.image = null;
    this.open = window.matchMedia("(min-width: 900px)").matches;
    this.request = 0;
    this.sync();
  }

  toggle(force) {
    this.open = force === undefined ? !this.open : force;
    this.sync();
    if (this.open && this.image) this.show(this.image);
  }

  sync() {
    this.root.hidden = !this.open;
    const button = document.getElementById("viewer-info");
    if (button) button.setAttribute("aria-expanded", String(this.open));
  }

  async show(image) {
    this.image = image;
    if (!this.open) return;
    const request = ++this.request;
    this.body.replaceChildren(this.renderBasics(image), h("p", { class: "muted" }, "Loading metadata…"));
    let metadata = null;
    let failure = null;
    try {
      metadata = await api.metadata(image.id);
    } catch (error) {
      failure = error;
    }
    if (request !== this.request) return;
    const summary = (metadata && metadata.summary) || image.metadata_summary || null;
    const sections = [this.renderBasics(image)];
    if (summary && summary.generator) sections.push(this.renderSummary(summary));
    else sections.push(await this.renderExif(image));
    // 404: the image was removed since it was listed; its basics above are all there is.
    if (failure && !(failure instanceof ApiError && failure.status === 404)) {
      sections.push(h("p", { class: "error-text" }, `Metadata could not be read: ${failure.message}`));
    }
    sections.push(await this.renderActions(image));
    if (metadata && metadata.raw) sections.push(this.renderRaw(metadata.raw));
    if (request === this.request) this.body.replaceChildren(...sections);
  }

  renderBasics(image) {
    const folder = image.path ? image.path.replace(/[\\/][^\\/]*$/, "") : "";
    return h(
      "dl",
      { class: "meta-list" },
      row("File", image.name),
      row("Date", formatDate(image.created_at || image.mtime)),
      row("Pixels", image.width && image.height ? `${image.width} × ${image.height}` : ""),
      row("File size", formatBytes(image.size)),
      row("Folder", folder),
      row("InvokeAI board", image.board),
      row("Path", image.path),
      image.status === "error" ? row("Indexing error", image.error || "unknown") : null,
    );
  }

  renderSummary(summary) {
    const values = { ...summary };
    if (summary.width && summary.height) values.size = `${summary.width} × ${summary.height}`;
    if (summary.model && typeof summary.model === "object") {
      const model = summary.model;
      values.model = [model.name || model.key || model.hash, model.base ? `(${model.base})` : ""]
        .filter(Boolean)
        .join(" ");
    }
    if (summary.generator_version) values.generator = `${summary.generator} ${summary.generator_version}`;
    // `scheduler` is InvokeAI's name (what Recall sends); show the file's own words when they differ.
    const stored = summary.stored_scheduler;
    if (stored && stored !== summary.scheduler && stored !== summary.sampler) values.scheduler_in_file = stored;
    if (summary.extra && typeof summary.extra.scheduler_note === "string") values.scheduler_note = summary.extra.scheduler_note;
    const list = h("dl", { class: "meta-list meta-list--gen" });
    for (const [key, label] of FIELDS) {
      const item = row(label, values[key], { prose: key.endsWith("prompt") });
      if (item) list.append(item);
    }
    if (Array.isArray(summary.loras) && summary.loras.length) {
      const loras = summary.loras.map((lora) => `${lora.name}${lora.weight !== undefined && lora.weight !== null ? ` @ ${lora.weight}` : ""}`);
      list.append(row("LoRAs", loras.join(", "), { items: loras }));
    }
    const sections = [h("h3", {}, "Generation"), list];
    const refs = summary.reference_images || [];
    if (refs.length) sections.push(h("h3", {}, "Reference images"), this.renderReferences(refs));
    return h("section", { class: "drawer-section" }, sections);
  }

  renderReferences(refs) {
    const list = h("ul", { class: "ref-list" });
    for (const ref of refs) {
      const name = ref.image_name || ref.name || "";
      const thumb = h("span", { class: "ref-thumb" }, h("span", { class: "ref-missing", html: icon("image") }));
      list.append(
        h("li", {}, thumb, h("span", { class: "ref-name" }, name, ref.weight !== undefined && ref.weight !== null ? ` @ ${ref.weight}` : ""), copyButton(name, "reference image name")),
      );
      const id = ref.image_id;
      const known = id ? Promise.resolve({ id }) : name ? api.imageByName(name).catch(() => null) : Promise.resolve(null);
      known.then((found) => {
        if (found && found.id) {
          thumb.replaceChildren(h("img", { src: `/api/images/${found.id}/thumbnail`, alt: `Reference ${name}`, loading: "lazy" }));
        }
      });
    }
    return list;
  }

  // Photos and other non-AI images: camera EXIF basics read by the daemon.
  async renderExif(image) {
    let exif = {};
    try {
      exif = (await api.exif(image.id)).exif || {};
    } catch {
      // The image was removed since it was listed: no EXIF to show beside its basics.
    }
    const entries = Object.entries(exif).slice(0, 20);
    if (!entries.length) {
      return h("p", { class: "muted" }, "No generation metadata and no camera EXIF in this file.");
    }
    const list = h("dl", { class: "meta-list" });
    for (const [label, value] of entries) {
      const item = row(label, value);
      if (item) list.append(item);
    }
    return h("section", { class: "drawer-section" }, h("h3", {}, "Camera (EXIF)"), list);
  }

  async renderActions(image) {
    const box = h("section", { class: "drawer-section invoke-actions", "aria-label": "InvokeAI actions" });
    box.append(h("h3", {}, "InvokeAI"));
    let status;
    try {
      status = await api.invokeaiStatus();
    } catch (error) {
      box.append(h("p", { class: "muted" }, `InvokeAI status unavailable: ${error.message}`));
      return box;
    }
    if (status.configured === false) {
      box.append(h("p", { class: "muted" }, "Connect InvokeAI in Settings → InvokeAI to send prompts, seeds and reference images to it."));
      return box;
    }
    if (!status.reachable) {
      box.append(h("p", { class: "muted" }, `${sentence(`InvokeAI is not reachable${status.detail ? `: ${status.detail}` : ""}`)} Check the URL in Settings → InvokeAI.`));
      return box;
    }
    let available;
    try {
      available = await api.invokeaiActions(image.id);
    } catch (error) {
      box.append(h("p", { class: "muted" }, error.message));
      return box;
    }
    const buttons = h("div", { class: "button-row" });
    for (const [key, action, body, label, title] of INVOKEAI_ACTIONS) {
      if (!available[key]) continue;
      const button = h("button", { type: "button", class: "btn", title, "data-action": key }, label);
      button.addEventListener("click", () => this.runAction(image, action, body, label, button));
      buttons.append(button);
    }
    box.append(buttons, h("p", { class: "muted small" }, "Then switch to InvokeAI and press Invoke."));
    return box;
  }

  async runAction(image, action, body, label, button) {
    button.disabled = true;
    try {
      const result = await api.invokeaiAction(image.id, action, body);
      const notes = [...(result.warnings || [])];
      if (result.unresolved_models && result.unresolved_models.length) {
        notes.push(`InvokeAI does not have: ${result.unresolved_models.join(", ")}`);
      }
      const parts = [result.message || `${label}: sent to InvokeAI`, ...notes];
      toast(parts.map((part) => sentence(part)).join(" "), { timeout: notes.length ? 8000 : 4000 });
    } catch (error) {
      toast(`${label} failed: ${error.message}`, { kind: "error", timeout: 8000 });
    } finally {
      button.disabled = false;
    }
  }

  renderRaw(raw) {
    const details = h("details", { class: "raw-json" }, h("summary", {}, "View full metadata (JSON)"));
    details.addEventListener(
      "toggle",
      () => {
        if (details.open && details.children.length === 1) {
          const text = JSON.stringify(raw, null, 2);
          details.append(
            h("div", { class: "button-row" }, h("button", { type: "button", class: "btn btn-small", onclick: () => copyText(text) }, "Copy JSON")),
            jsonTree(raw, 0),
          );
        }
      },
    );
    return details;
  }
}

// Prompts longer than this start folded to a few lines, so the model, seed and LoRAs below them
// stay in view; "Show all" unfolds them and the copy button always copies the whole text.
const FOLD_CHARS = 400;

function row(label, value, { prose = false, items = null } = {}) {
  if (value === undefined || value === null || value === "") return null;
  const text = String(value);
  let shown = h("span", { class: "meta-value" }, text);
  if (prose && text.length > FOLD_CHARS) shown = foldable(shown, text.length);
  return h(
    "div",
    { class: "meta-row" },
    h("dt", {}, label),
    h("dd", { class: prose ? "prose" : "" }, shown, copyButton(text, label)),
  );
}

function foldable(value, length) {
  value.classList.add("folded");
  const more = `Show all (${length.toLocaleString("en-US")} characters)`;
  const toggle = h("button", { type: "button", class: "link-btn", "aria-expanded": "false" }, more);
  toggle.addEventListener("click", () => {
    const folded = value.classList.toggle("folded");
    toggle.setAttribute("aria-expanded", String(!folded));
    toggle.textContent = folded ? more : "Show less";
  });
  return h("div", { class: "meta-value-wrap" }, value, toggle);
}

function copyButton(text, label) {
  return h("button", {
    type: "button",
    class: "icon-btn copy-btn",
    "aria-label": `Copy ${label}`,
    title: `Copy ${label}`,
    html: icon("copy", { size: 14 }),
    onclick: () => copyText(text).catch((error) => toast(error.message, { kind: "error" })),
  });
}

// Pretty JSON as nested <details>, so deep InvokeAI graphs stay readable.
function jsonTree(value, depth) {
  if (value === null || typeof value !== "object") {
    let text = JSON.stringify(value);
    // Chunks that are JSON strings inside JSON are common (workflow, graph): show them parsed.
    if (typeof value === "string" && /^[[{]/.test(value.trim())) {
      try {
        return jsonTree(JSON.parse(value), depth);
      } catch {
        // not JSON after all
      }
    }
    return h("span", { class: `json-${value === null ? "null" : typeof value}` }, text);
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const bracket = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  const details = h("details", { class: "json-node", open: depth < 2 }, h("summary", {}, `${bracket[0]} ${entries.length} ${Array.isArray(value) ? "items" : "keys"} ${bracket[1]}`));
  const list = h("ul");
  for (const [key, child] of entries) list.append(h("li", {}, h("span", { class: "json-key" }, `${key}: `), jsonTree(child, depth + 1)));
  details.append(list);
  return details;
}

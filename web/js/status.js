// Header status: connection dot (green/amber/red like InvokeAI), indexing progress with
// count/rate/ETA, model state chip, and the banners for error and empty states.

import { $, formatCount, formatDuration, h, sentence } from "./dom.js";
import { Connection } from "./events.js";

const DOT_TEXT = {
  [Connection.CONNECTING]: "Connecting to photomapd…",
  [Connection.OPEN]: "Connected: live updates on",
  [Connection.RECONNECTING]: "Connection interrupted, reconnecting…",
  [Connection.LOST]: "Connection lost: photomapd is not reachable",
};

export class StatusBar {
  constructor() {
    this.dot = $("#conn-dot");
    this.dotLabel = $("#conn-label");
    this.progress = $("#progress");
    this.progressBar = $("#progress-bar");
    this.progressText = $("#progress-text");
    this.model = $("#model-chip");
    this.banners = $("#banners");
    this.connection = Connection.CONNECTING;
  }

  setConnection(state) {
    this.connection = state;
    this.dot.dataset.state = state;
    this.dot.title = DOT_TEXT[state];
    this.dotLabel.textContent = DOT_TEXT[state];
    this.renderBanner("unreachable", state === Connection.LOST ? unreachableBanner() : null);
  }

  setIndexing(indexing) {
    if (!indexing) return;
    const queued = indexing.queued || 0;
    const done = indexing.done || 0;
    const active = queued > 0 || indexing.paused;
    this.progress.hidden = !active;
    if (!active) return;
    const total = done + queued;
    const percent = total ? Math.round((100 * done) / total) : 0;
    this.progressBar.value = percent;
    this.progressBar.max = 100;
    const parts = [`Indexing ${formatCount(done)} / ${formatCount(total)}`];
    if (indexing.rate) parts.push(`${indexing.rate.toFixed(1)}/s`);
    if (indexing.eta_seconds) parts.push(`ETA ${formatDuration(indexing.eta_seconds)}`);
    if (indexing.failed) parts.push(`${formatCount(indexing.failed)} failed`);
    if (indexing.paused) parts.push("paused");
    this.progressText.textContent = parts.join(" · ");
    this.progressBar.setAttribute("aria-valuetext", this.progressText.textContent);
  }

  setModel(model) {
    if (!model) return;
    const state = model.state || "unknown";
    // The daemon's ModelState values (photomapd/model/lifecycle.py).
    const labels = { ready: "ready", loading: "loading…", unloaded: "idle", unavailable: "unavailable" };
    this.model.dataset.state = state;
    this.model.textContent = `Model ${labels[state] || state}`;
    const detail = [model.name, model.pretrained, model.device].filter(Boolean).join(" · ");
    this.model.title = model.error ? `${detail}\n${model.error}` : detail;
    const unavailable = state === "unavailable";
    this.renderBanner(
      "model",
      unavailable
        ? h(
            "div",
            { class: "banner banner--warn", role: "status" },
            h("strong", {}, "Semantic search is unavailable: "),
            // The daemon's reason is a clause (it may or may not end in a full stop).
            sentence(model.error, { capital: false }) || "the model could not be loaded.",
            " The gallery, favourites and prompt search keep working; images are embedded as soon as the model loads. Check the model name and checkpoint in Settings.",
          )
        : null,
    );
  }

  setAlbums(albums) {
    const missing = [];
    for (const album of albums) {
      for (const folder of album.folders || []) if (folder.exists === false) missing.push([album, folder]);
    }
    this.renderBanner(
      "missing",
      missing.length
        ? h("div", { class: "banner banner--warn", role: "status" }, h("strong", {}, "Folder missing: "), missing.map(([album, folder]) => `${folder.path} (album ${album.name || album.key})`).join(", "), ". Reconnect the drive or edit the album in Albums; its index is kept until the folder is back.")
        : null,
    );
  }

  renderBanner(key, element) {
    const existing = this.banners.querySelector(`[data-banner="${key}"]`);
    if (existing) existing.remove();
    if (!element) return;
    element.dataset.banner = key;
    this.banners.append(element);
  }
}

function unreachableBanner() {
  return h(
    "div",
    { class: "banner banner--error", role: "alert" },
    h("strong", {}, "photomapd is not reachable. "),
    "Start it with ",
    h("code", {}, "photomapd"),
    " (or from the tray icon). This page reconnects by itself and catches up on what it missed.",
  );
}

// "Map" tab: embeds the semantic map page (web/map.html, another issue) when it exists and
// turns its DOM events into gallery actions.

import { $ } from "./dom.js";

export class MapTab {
  constructor(app) {
    this.app = app;
    this.available = false;
    this.panel = $("#map-panel");
    this.tab = $("#tab-map");
    this.galleryTab = $("#tab-gallery");
    this.tab.addEventListener("click", () => app.update({ view: "map" }));
    this.galleryTab.addEventListener("click", () => app.update({ view: "gallery" }));
    // map.js may also be loaded into this document directly; listen here as well.
    window.addEventListener("photomapd:open-image", (event) => this.openImage(event));
    window.addEventListener("photomapd:result-set", (event) => this.resultSet(event));
  }

  async probe() {
    try {
      const response = await fetch("./map.html", { method: "HEAD" });
      this.available = response.ok;
    } catch {
      this.available = false;
    }
    this.tab.hidden = !this.available;
    if (!this.available && this.app.state.view === "map") this.app.update({ view: "gallery" });
    else this.show(this.app.state.view === "map");
  }

  show(on) {
    on = on && this.available;
    this.panel.hidden = !on;
    $("#gallery-panel").hidden = on;
    this.tab.setAttribute("aria-selected", String(on));
    this.galleryTab.setAttribute("aria-selected", String(!on));
    if (on) this.ensureFrame();
  }

  ensureFrame() {
    const album = this.app.state.album === "all" ? "" : this.app.state.album;
    const src = `./map.html${album ? `?album=${encodeURIComponent(album)}` : ""}`;
    let frame = this.panel.querySelector("iframe");
    if (frame && frame.dataset.src === src) return;
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = "Semantic map of the album";
      frame.className = "map-frame";
      this.panel.append(frame);
    }
    frame.dataset.src = src;
    frame.src = src;
    frame.addEventListener("load", () => {
      const win = frame.contentWindow;
      for (const target of [win, win.document]) {
        target.addEventListener("photomapd:open-image", (event) => this.openImage(event));
        target.addEventListener("photomapd:result-set", (event) => this.resultSet(event));
      }
    }, { once: true });
  }

  // The same event can reach both the frame's document and window listeners when it bubbles.
  once(event) {
    this.seen = this.seen || new WeakSet();
    if (this.seen.has(event)) return false;
    this.seen.add(event);
    return true;
  }

  openImage(event) {
    if (!this.once(event)) return;
    if (event.detail && event.detail.id !== undefined) this.app.openImageById(event.detail.id);
  }

  resultSet(event) {
    if (!this.once(event)) return;
    if (event.detail && Array.isArray(event.detail.ids)) this.app.showIds(event.detail.ids, "Map selection");
  }
}

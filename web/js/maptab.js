// "Map" tab: mounts the semantic map (web/map.js) and turns its DOM events into gallery actions
// (open an image, show a cluster or lasso).

import { $, h } from "./dom.js";
import { writeState } from "./state.js";

export class MapTab {
  constructor(app) {
    this.app = app;
    this.module = null;
    this.map = null;
    this.mountedAlbum = null;
    this.panel = $("#map-panel");
    this.tab = $("#tab-map");
    this.galleryTab = $("#tab-gallery");
    this.tab.addEventListener("click", () => app.update({ view: "map" }));
    this.galleryTab.addEventListener("click", () => app.update({ view: "gallery" }));
    this.panel.addEventListener("photomapd:open-image", (event) => {
      if (event.detail && event.detail.id !== undefined) this.app.openImageById(event.detail.id);
    });
    // The map's cluster-strength slider: kept in the URL (replaced, not a new history entry).
    this.panel.addEventListener("photomapd:strength", (event) => {
      this.app.state = { ...this.app.state, strength: String(event.detail.strength) };
      writeState(this.app.state, { push: false });
    });
    this.panel.addEventListener("photomapd:result-set", (event) => {
      if (event.detail && Array.isArray(event.detail.ids)) {
        const label = event.detail.lasso ? "Lasso selection" : "Map cluster";
        this.app.showIds(event.detail.ids, label);
      }
    });
  }

  show(on) {
    this.panel.hidden = !on;
    $("#gallery-panel").hidden = on;
    this.tab.setAttribute("aria-selected", String(on));
    this.galleryTab.setAttribute("aria-selected", String(!on));
    if (on) this.mount();
  }

  // The map is per album; with "all albums" selected it shows the first one.
  async mount() {
    const albums = this.app.albums;
    const key = this.app.state.album !== "all" ? this.app.state.album : albums[0]?.key;
    if (!key || key === this.mountedAlbum) return;
    if (this.mountedAlbum && this.app.state.strength) {
      // The strength in the URL was the previous album's; this one shows its own.
      this.app.state = { ...this.app.state, strength: "" };
      writeState(this.app.state, { push: false });
    }
    this.mountedAlbum = key;
    try {
      if (!this.module) {
        document.head.append(h("link", { rel: "stylesheet", href: "./map.css" }));
        this.module = await import("../map.js");
      }
      this.map?.close();
      const holder = h("div", { class: "map-holder", "aria-label": `Semantic map of ${key}` });
      this.panel.replaceChildren(holder);
      const strength = this.module.parseStrength(this.app.state.strength);
      this.map = await this.module.createMap(holder, { album: key, strength });
    } catch (error) {
      this.mountedAlbum = null;
      this.panel.replaceChildren(
        h("div", { class: "empty" }, h("h2", {}, "The map is not available"), h("p", { class: "error-text" }, error.message)),
      );
    }
  }

  // Keep the map's marker on the image being viewed.
  setCurrent(id) {
    this.map?.setCurrent(id);
  }
}

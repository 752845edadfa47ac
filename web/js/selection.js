// Favourites and multi-select actions: star toggling (optimistic, stored server-side by image
// id) and the bar for selected images (favourite, download zip, copy paths).

import { api } from "./api.js";
import { $, copyText, h, toast } from "./dom.js";

export class Favourites {
  constructor(getSet, onChange) {
    this.getSet = getSet;
    this.onChange = onChange;
  }

  async toggle(index) {
    const set = this.getSet();
    const entry = set && set.get(index);
    if (!entry) return;
    await this.setMany([entry.image], !entry.image.favourite);
  }

  async setMany(images, on) {
    const set = this.getSet();
    const previous = new Map(images.map((image) => [image.id, image.favourite]));
    for (const image of images) this.apply(set, image.id, on);
    this.onChange();
    const results = await Promise.allSettled(images.map((image) => api.setFavourite(image.id, on)));
    const failed = results.filter((result) => result.status === "rejected");
    if (failed.length) {
      images.forEach((image, i) => results[i].status === "rejected" && this.apply(set, image.id, previous.get(image.id)));
      this.onChange();
      toast(`Could not update ${failed.length} favourite(s): ${failed[0].reason.message}`, { kind: "error" });
    }
  }

  apply(set, id, on) {
    const index = set.indexOfId(id);
    if (index === -1) return;
    const entry = set.get(index);
    set.entries[index] = { ...entry, image: { ...entry.image, favourite: on } };
  }
}

export class SelectionBar {
  constructor(root, gallery, favourites) {
    this.root = root;
    this.gallery = gallery;
    this.favourites = favourites;
    this.count = $("#selection-count", root);
    gallery.addEventListener("selection", () => this.render());
    $("#sel-fav", root).addEventListener("click", () => this.favourite());
    $("#sel-zip", root).addEventListener("click", () => this.downloadZip());
    $("#sel-paths", root).addEventListener("click", () => this.copyPaths());
    $("#sel-all", root).addEventListener("click", () => gallery.selectAllLoaded());
    $("#sel-clear", root).addEventListener("click", () => gallery.clearSelection());
  }

  render() {
    const size = this.gallery.selection.size;
    this.root.hidden = size === 0;
    this.count.textContent = `${size} selected`;
    document.body.classList.toggle("selecting", size > 0);
  }

  async images() {
    const loaded = this.gallery.selectedImages();
    const known = new Set(loaded.map((image) => image.id));
    const missing = [...this.gallery.selection].filter((id) => !known.has(id));
    const fetched = await Promise.all(missing.map((id) => api.image(id).catch(() => null)));
    return loaded.concat(fetched.filter(Boolean));
  }

  async favourite() {
    const images = await this.images();
    const on = images.some((image) => !image.favourite);
    await this.favourites.setMany(images, on);
    toast(on ? `Starred ${images.length} image(s)` : `Unstarred ${images.length} image(s)`);
  }

  async copyPaths() {
    const images = await this.images();
    await copyText(images.map((image) => image.path).join("\n")).catch((error) => toast(error.message, { kind: "error" }));
  }

  async downloadZip() {
    const ids = [...this.gallery.selection];
    toast(`Preparing a zip of ${ids.length} image(s)…`);
    try {
      const response = await api.zip(ids);
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: `photomapd-${ids.length}-images.zip` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (error) {
      toast(`Zip download failed: ${error.message}`, { kind: "error" });
    }
  }
}

// Search box (text, negative text + weight, image by upload / drop / paste) and the filter
// sidebar (album, order, favourites, facets). Emits "change" with a partial state.

import { api } from "./api.js";
import { $, h, toast } from "./dom.js";

const FILTER_SETTLE_MS = 600;

export class SearchPanel extends EventTarget {
  constructor() {
    super();
    this.form = $("#search-form");
    this.q = $("#q");
    this.negative = $("#negative");
    this.weight = $("#negative-weight");
    this.weightOut = $("#nw-out");
    this.negativeRow = $("#negative-row");
    this.negativeToggle = $("#btn-negative");
    this.fileInput = $("#image-file");
    this.chip = $("#query-image");
    this.queryImage = null;
    this.facetsAlbum = null;
    this.bindSearch();
    this.bindImageInput();
    this.bindFilters();
  }

  emit(patch, options = {}) {
    if (this.filterTimer) {
      // A filter change still settling goes along with this one instead of being lost.
      clearTimeout(this.filterTimer);
      this.filterTimer = 0;
      patch = { ...this.readFilters(), ...patch };
    }
    this.dispatchEvent(new CustomEvent("change", { detail: { patch, ...options } }));
  }

  bindSearch() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.emit({
        q: this.q.value.trim(),
        negative: this.negative.value.trim(),
        nw: Number(this.weight.value),
        similar: "",
      });
    });
    this.negativeToggle.addEventListener("click", () => this.showNegative(this.negativeRow.hidden));
    this.weight.addEventListener("input", () => (this.weightOut.textContent = Number(this.weight.value).toFixed(2)));
    this.q.addEventListener("search", () => {
      // The clear (x) button of type=search: clearing the box clears the search.
      if (!this.q.value) this.form.requestSubmit();
    });
  }

  showNegative(show) {
    this.negativeRow.hidden = !show;
    this.negativeToggle.setAttribute("aria-expanded", String(show));
    if (show && document.activeElement !== this.q) this.negative.focus();
  }

  bindImageInput() {
    $("#btn-image-search").addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      if (this.fileInput.files[0]) this.setQueryImage(this.fileInput.files[0]);
      this.fileInput.value = "";
    });
    $("button", this.chip).addEventListener("click", () => this.setQueryImage(null));
    const overlay = $("#drop-overlay");
    let depth = 0;
    const hasFile = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
    window.addEventListener("dragenter", (event) => {
      if (!hasFile(event)) return;
      depth += 1;
      overlay.hidden = false;
    });
    window.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) overlay.hidden = true;
    });
    window.addEventListener("dragover", (event) => {
      if (hasFile(event)) event.preventDefault();
    });
    window.addEventListener("drop", (event) => {
      if (!hasFile(event)) return;
      event.preventDefault();
      depth = 0;
      overlay.hidden = true;
      const file = [...event.dataTransfer.files].find((item) => item.type.startsWith("image/"));
      if (file) this.setQueryImage(file);
      else toast("Drop an image file (PNG, JPEG or WebP) to search by image", { kind: "error" });
    });
    document.addEventListener("paste", (event) => {
      const target = event.target;
      const file = [...(event.clipboardData?.files || [])].find((item) => item.type.startsWith("image/"));
      if (!file) return; // plain text pastes into inputs as usual
      if (target instanceof HTMLInputElement && target.type !== "search" && target !== this.q) return;
      event.preventDefault();
      this.setQueryImage(file);
    });
  }

  setQueryImage(file) {
    if (this.chipUrl) URL.revokeObjectURL(this.chipUrl);
    this.chipUrl = null;
    this.queryImage = file;
    this.chip.hidden = !file;
    if (file) {
      this.chipUrl = URL.createObjectURL(file);
      $("img", this.chip).src = this.chipUrl;
      $("img", this.chip).alt = `Search image: ${file.name || "pasted image"}`;
    }
    this.emit({ q: this.q.value.trim(), similar: "" }, { imageChanged: true });
  }

  bindFilters() {
    $("#album-select").addEventListener("change", (event) => this.emit({ album: event.target.value }));
    $("#order-toggle").addEventListener("click", (event) => {
      const next = event.currentTarget.dataset.order === "newest" ? "oldest" : "newest";
      this.emit({ order: next });
    });
    $("#fav-filter").addEventListener("change", (event) => this.emit({ fav: event.target.checked }));
    const filters = $("#filters-form");
    filters.addEventListener("submit", (event) => {
      event.preventDefault();
      this.emitFilters();
    });
    filters.addEventListener("change", (event) => {
      // Typing a date fires "change" at every complete value (year 0002, 0020, 0202, 2025) and
      // arrowing through a select at every option: one search (and one history entry) once
      // the user pauses, not one per step.
      if (event.target.tagName === "SELECT" || event.target.type === "date") this.emitFilters(FILTER_SETTLE_MS);
      else if (event.target.type === "checkbox") this.emitFilters();
    });
    $("#filters-clear").addEventListener("click", () => {
      clearTimeout(this.filterTimer);
      this.filterTimer = 0;
      filters.reset();
      this.emit({ prompt: "", model: "", lora: "", generator: "", seed: "", ref: false, since: "", until: "" });
    });
  }

  emitFilters(delay = 0) {
    clearTimeout(this.filterTimer);
    this.filterTimer = 0;
    if (!delay) return this.emit(this.readFilters());
    this.filterTimer = setTimeout(() => {
      this.filterTimer = 0;
      this.emit(this.readFilters());
    }, delay);
  }

  readFilters() {
    const form = new FormData($("#filters-form"));
    const value = (key) => String(form.get(key) || "").trim();
    return {
      prompt: value("prompt"),
      model: value("model"),
      lora: value("lora"),
      generator: value("generator"),
      seed: value("seed"),
      ref: form.get("ref") === "on",
      since: value("since"),
      until: value("until"),
    };
  }

  // Reflect state into the controls (after back/forward or a bookmark).
  render(state, albums) {
    clearTimeout(this.filterTimer); // back/forward or a bookmark wins over a settling change
    this.filterTimer = 0;
    this.q.value = state.q;
    this.negative.value = state.negative;
    this.weight.value = String(state.nw);
    this.weightOut.textContent = Number(state.nw).toFixed(2);
    if (state.negative && this.negativeRow.hidden) this.showNegative(true);
    this.renderAlbums(albums, state);
    this.renderFilters(state);
  }

  // Album list only (status refreshes): never touches what the user is typing.
  renderAlbums(albums, state) {
    const keys = albums.map((album) => album.key).join(",");
    if (keys !== (this.albumKeys || []).join(",")) this.facetsAlbum = null; // album set changed
    this.albumKeys = albums.map((album) => album.key);
    const select = $("#album-select");
    const options = albums.map((album) => h("option", { value: album.key }, `${album.name || album.key} (${album.count ?? 0})`));
    options.unshift(h("option", { value: "all" }, "All albums"));
    select.replaceChildren(...options);
    select.value = state.album;
    select.disabled = albums.length < 2;
    this.loadFacets(state.album, state);
  }

  renderFilters(state) {
    const order = $("#order-toggle");
    order.dataset.order = state.order;
    order.textContent = state.order === "newest" ? "Newest first" : "Oldest first";
    order.setAttribute("aria-label", `Sort order: ${order.textContent}. Activate to reverse.`);
    $("#fav-filter").checked = state.fav;
    const filters = $("#filters-form");
    for (const key of ["prompt", "seed", "since", "until"]) filters.elements[key].value = state[key] || "";
    filters.elements.ref.checked = Boolean(state.ref);
    for (const key of ["model", "lora", "generator"]) this.ensureOption(filters.elements[key], state[key]);
    this.loadFacets(state.album, state);
  }

  ensureOption(select, value) {
    if (value && ![...select.options].some((option) => option.value === value)) {
      select.append(h("option", { value }, value));
    }
    select.value = value || "";
  }

  async loadFacets(album, state) {
    const box = $("#facet-filters");
    if (!album || this.facetsAlbum === album) return;
    this.facetsAlbum = album;
    // Facets are per album; for "all albums" add up every album's counts.
    const keys = album === "all" ? this.albumKeys || [] : [album];
    let all;
    try {
      all = await Promise.all(keys.map((key) => api.facets(key)));
    } catch {
      all = []; // an album removed meanwhile, or the daemon gone: no facets, hide the selects
    }
    if (!all.length) {
      box.hidden = true;
      this.facetsAlbum = null;
      return;
    }
    box.hidden = false;
    const filters = $("#filters-form");
    for (const [key, names] of [["model", ["models", "model"]], ["lora", ["loras", "lora"]], ["generator", ["generators", "generator"]]]) {
      const values = mergeFacets(all.map((facets) => facetValues(facets, names)));
      const select = filters.elements[key];
      select.replaceChildren(h("option", { value: "" }, "Any"), ...values.map(({ value, label, count }) => h("option", { value }, count !== undefined ? `${label} (${count})` : label)));
      this.ensureOption(select, state[key]);
      select.closest(".field").hidden = values.length === 0 && !state[key];
    }
  }
}

function mergeFacets(lists) {
  const merged = new Map();
  for (const list of lists) {
    for (const item of list) {
      const known = merged.get(item.value);
      if (known) known.count = (known.count || 0) + (item.count || 0);
      else merged.set(item.value, { ...item });
    }
  }
  return [...merged.values()].sort((a, b) => (b.count || 0) - (a.count || 0));
}

// Facets may come as {models: [{value, count}]}, [{name, count}] or plain strings.
function facetValues(facets, names) {
  const source = facets.facets || facets;
  for (const name of names) {
    const list = source[name];
    if (!list) continue;
    const items = Array.isArray(list) ? list : Object.entries(list).map(([value, count]) => ({ value, count }));
    return items
      .map((item) => (typeof item === "string" ? { value: item, label: item } : { value: item.value ?? item.name ?? item.key, label: item.label ?? item.value ?? item.name ?? item.key, count: item.count }))
      .filter((item) => item.value !== undefined && item.value !== null && item.value !== "");
  }
  return [];
}

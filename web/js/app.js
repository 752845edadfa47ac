// Composition root: builds every view, owns the page state (mirrored in the URL), turns state
// into a ResultSet for the gallery and viewer, and routes live daemon events to them.

import { AlbumsDialog } from "./albums.js";
import { api, ApiError } from "./api.js";
import { $, formatCount, h, toast } from "./dom.js";
import { Drawer } from "./drawer.js";
import { EventStream } from "./events.js";
import { Gallery } from "./gallery.js";
import { registerHotkeys } from "./keymap.js";
import { Hotkeys } from "./hotkeys.js";
import { hydrateIcons } from "./icons.js";
import { LiveSearch } from "./livesearch.js";
import { MapTab } from "./maptab.js";
import { ResultSet } from "./resultset.js";
import { SearchPanel } from "./search.js";
import { Favourites, SelectionBar } from "./selection.js";
import { SettingsDialog } from "./settings.js";
import { FILTER_KEYS, FILTER_PARAMS, isSearch, readState, writeState } from "./state.js";
import { StatusBar } from "./status.js";
import { Viewer } from "./viewer.js";

const SIMILAR_LIMIT = 200;
const MATCH_BATCH = 1000; // ids per /api/search/matching request (the daemon's limit)

class App {
  constructor() {
    hydrateIcons();
    this.state = readState();
    this.albums = [];
    this.set = null;
    this.status = new StatusBar();
    this.stream = new EventStream();
    this.gallery = new Gallery($("#grid"), { tileSize: Number(localStorage.getItem("photomapd.tile")) || 180 });
    this.drawer = new Drawer($("#drawer"));
    this.viewer = new Viewer($("#viewer"), { drawer: this.drawer });
    this.search = new SearchPanel();
    this.albumsDialog = new AlbumsDialog($("#albums-dialog"));
    this.settings = new SettingsDialog($("#settings-dialog"));
    this.hotkeys = new Hotkeys($("#help-dialog"));
    this.favourites = new Favourites(() => this.set, () => this.repaint());
    this.selectionBar = new SelectionBar($("#selection-bar"), this.gallery, this.favourites);
    this.mapTab = new MapTab(this);
    this.liveSearch = new LiveSearch($("#new-results"), this.gallery.scroller, {
      canAuto: () => !this.viewer.isOpen && !this.gallery.selection.size && !this.set?.error,
      refresh: () => this.reload(),
      matches: (ids) => this.searchMatches(ids),
    });
    this.wire();
    registerHotkeys(this);
  }

  async start() {
    this.stream.connect();
    await this.refreshStatus();
    if (!this.state.album) this.state.album = this.defaultAlbum();
    writeState(this.state, { push: false });
    this.applyState();
    document.body.classList.add("ready");
  }

  wire() {
    const stream = this.stream;
    stream.addEventListener("connection", (event) => {
      this.status.setConnection(event.detail.state);
      document.body.dataset.connection = event.detail.state;
    });
    stream.addEventListener("image_added", (event) => this.onImageAdded(event.detail));
    stream.addEventListener("image_updated", (event) => this.onImageUpdated(event.detail));
    stream.addEventListener("image_removed", (event) => this.onImageRemoved(event.detail));
    stream.addEventListener("progress", (event) => {
      this.status.setIndexing(event.detail);
      this.refreshStatusSoon();
    });
    stream.addEventListener("model_state", (event) => this.status.setModel(event.detail));
    stream.addEventListener("album_changed", () => this.refreshStatus());
    // hello: the daemon's current state on every (re)connect; overflow: we fell behind and
    // missed events, so refetch like after a reconnect.
    stream.addEventListener("hello", (event) => {
      this.status.setIndexing(event.detail?.progress);
      this.status.setModel(event.detail?.model);
    });
    stream.addEventListener("overflow", () => this.reload({ keepScroll: true }));
    stream.addEventListener("resync", () => {
      this.refreshStatus();
      this.reload({ keepScroll: true });
    });
    this.search.addEventListener("change", (event) => this.update(event.detail.patch, event.detail));
    this.gallery.addEventListener("open", (event) => this.openViewer(event.detail.index));
    this.gallery.addEventListener("favourite", (event) => this.favourites.toggle(event.detail.index));
    this.gallery.addEventListener("newabove", () => ($("#new-above").hidden = false));
    this.gallery.scroller.addEventListener("scroll", () => {
      if (this.gallery.scroller.scrollTop < 10) $("#new-above").hidden = true;
    });
    $("#new-above").addEventListener("click", () => {
      this.gallery.scroller.scrollTop = 0;
      $("#new-above").hidden = true;
    });
    this.viewer.addEventListener("favourite", (event) => this.favourites.toggle(event.detail.index));
    this.viewer.addEventListener("similar", (event) => this.update({ similar: String(event.detail.image.id), q: "" }));
    this.viewer.addEventListener("show", (event) => {
      if (this.viewer.set === this.set) this.gallery.moveCursor(event.detail.index);
      this.mapTab.setCurrent(event.detail.image.id);
      if (this.state.image !== String(event.detail.image.id)) {
        this.state.image = String(event.detail.image.id);
        writeState(this.state, { push: false });
      }
    });
    this.viewer.addEventListener("close", () => {
      // The grid could not scroll while hidden behind the viewer: show the image just viewed.
      if (this.viewer.set === this.set) this.gallery.scrollToIndex(this.gallery.cursor);
      this.state.image = "";
      writeState(this.state, { push: false });
      document.title = "photomapd";
    });
    this.albumsDialog.addEventListener("changed", async (event) => {
      await this.refreshStatus();
      if (event.detail.key && !this.set?.total) this.update({ album: event.detail.key });
      if (event.detail.removed === this.state.album) this.update({ album: this.defaultAlbum() });
    });
    this.albumsDialog.addEventListener("show-image", (event) => this.openImageById(event.detail.id));
    $("#btn-albums").addEventListener("click", () => this.albumsDialog.open());
    $("#btn-settings").addEventListener("click", () => this.settings.open());
    $("#btn-help").addEventListener("click", () => this.hotkeys.showHelp());
    $("#help-close").addEventListener("click", () => $("#help-dialog").close());
    $("#btn-sidebar").addEventListener("click", () => this.toggleSidebar(undefined, { focus: true }));
    $("#sidebar-close").addEventListener("click", () => this.toggleSidebar(false, { focus: true }));
    // Escape closes the phone sheet first (capture: before the gallery's own Escape shortcut).
    window.addEventListener(
      "keydown",
      (event) => {
        if (event.key !== "Escape" || !document.body.classList.contains("sidebar-open") || !this.sidebarIsSheet()) return;
        if (this.viewer.isOpen || document.querySelector("dialog[open]")) return;
        event.preventDefault();
        this.toggleSidebar(false, { focus: true });
      },
      { capture: true },
    );
    // On phones the sidebar is a sheet over the grid: a tap on the grid closes it.
    $("#main").addEventListener("pointerdown", () => this.toggleSidebar(false));
    $("#tile-size").value = String(this.gallery.tileSize);
    $("#tile-size").addEventListener("input", (event) => {
      this.gallery.setTileSize(Number(event.target.value));
      localStorage.setItem("photomapd.tile", event.target.value);
    });
    $("#clear-search").addEventListener("click", () => this.clearSearch());
    window.addEventListener("popstate", () => this.onPopState());
    setInterval(() => {
      if (this.stream.state !== "open") this.refreshStatus();
    }, 5000);
  }

  // Every album together (the API's pseudo-album "all"); with one album that is the album.
  defaultAlbum() {
    return "all";
  }

  toggleSidebar(force, { focus = false } = {}) {
    const wasOpen = document.body.classList.contains("sidebar-open");
    const open = force ?? !wasOpen;
    document.body.classList.toggle("sidebar-open", open);
    $("#btn-sidebar").setAttribute("aria-expanded", String(open));
    // On phones the sidebar is a sheet over the page: keyboard focus goes into it and back.
    if (!focus || open === wasOpen || !this.sidebarIsSheet()) return;
    (open ? $("#sidebar-close") : $("#btn-sidebar")).focus();
  }

  sidebarIsSheet() {
    return getComputedStyle($("#btn-sidebar")).display !== "none";
  }

  // Album counts move with indexing; refetch at most once a second while events flow.
  refreshStatusSoon() {
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = null;
      this.refreshStatus();
    }, 1000);
  }

  async refreshStatus() {
    try {
      const boot = window.__photomapdBoot;
      const early = boot && boot.status;
      if (boot) boot.status = null; // only the first call may use the prefetched answer
      const status = (early && (await early)) || (await api.status());
      this.albums = status.albums || [];
      this.status.setIndexing(status.indexing);
      this.status.setModel(status.model);
      this.status.setAlbums(this.albums);
      $("#version").textContent = status.version ? `v${status.version}` : "";
      this.albumsDialog.render(this.albums);
      this.search.renderAlbums(this.albums, this.state);
      this.renderHeader();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 0) toast(`Status: ${error.message}`, { kind: "error" });
    }
  }

  update(patch, { imageChanged = false } = {}) {
    const next = { ...this.state, ...patch, image: "" };
    const changed = imageChanged || Object.keys(patch).some((key) => String(patch[key]) !== String(this.state[key]));
    if (!changed) return;
    if (patch.q !== undefined && patch.q !== this.state.q && !patch.similar) next.similar = "";
    this.state = next;
    writeState(this.state, { push: true });
    if (this.viewer.isOpen) this.viewer.close();
    this.applyState();
  }

  clearSearch() {
    this.search.setQueryImage(null);
    const cleared = { q: "", negative: "", similar: "" };
    for (const key of FILTER_KEYS) cleared[key] = key === "ref" ? false : "";
    $("#filters-form").reset();
    this.search.showNegative(false);
    this.update(cleared);
  }

  onPopState() {
    const previous = this.state;
    this.state = readState();
    if (!this.state.album) this.state.album = this.defaultAlbum();
    const onlyImage = Object.keys(this.state).every((key) => key === "image" || String(this.state[key]) === String(previous[key]));
    if (!onlyImage) this.applyState();
    else this.syncViewerToState();
  }

  applyState() {
    this.search.render(this.state, this.albums);
    this.mapTab.show(this.state.view === "map");
    this.reload();
  }

  reload({ keepScroll = false } = {}) {
    const scrollTop = this.gallery.scroller.scrollTop;
    if (this.set) this.set.dispose();
    this.set = this.buildResultSet();
    this.set.addEventListener("change", () => this.renderHeader());
    this.set.addEventListener("error", (event) => this.renderError(event.detail));
    this.gallery.clearSelection();
    this.gallery.setResultSet(this.set);
    $("#new-above").hidden = true;
    this.liveSearch.reset();
    this.renderHeader();
    this.set.start().then(() => {
      if (keepScroll) this.gallery.scroller.scrollTop = scrollTop;
      this.renderHeader();
      this.syncViewerToState();
    });
  }

  buildResultSet() {
    const state = this.state;
    const album = state.album === "all" ? "" : state.album;
    const queryImage = this.search.queryImage;
    if (state.similar) {
      const id = Number(state.similar);
      return new ResultSet(
        async (offset, limit, signal) => {
          if (offset > 0) return { entries: [], total: undefined };
          const data = await api.similar(id, { limit: SIMILAR_LIMIT, album, favourite: state.fav || "" }, { signal });
          return { entries: data.results, total: data.results.length };
        },
        { label: "similar" },
      );
    }
    if (isSearch(state, queryImage)) {
      const query = { q: state.q, ...filterQuery(state) };
      if (state.negative) Object.assign(query, { negative: state.negative, negative_weight: state.nw });
      return new ResultSet(
        async (offset, limit, signal) => {
          const paged = { ...query, offset, limit };
          const data = queryImage ? await api.searchWithImage(paged, queryImage, { signal }) : await api.search(paged, { signal });
          const entries = data.results || [];
          return { entries, total: searchTotal(data, offset, limit, entries.length) };
        },
        { label: "search" },
      );
    }
    const browseAlbum = album || "all";
    return new ResultSet(
      async (offset, limit, signal) => {
        if (!this.albums.length) return { entries: [], total: 0 };
        const early = adoptFirstPage(browseAlbum, offset, limit, state);
        const data = (early && (await early)) || await api.images(browseAlbum, { offset, limit, order: state.order, favourite: state.fav || "" }, { signal });
        return { entries: data.items.map((image) => ({ image, score: null })), total: data.total };
      },
      { label: "browse", live: { album: browseAlbum, order: state.order, favourite: state.fav } },
    );
  }

  async syncViewerToState() {
    const id = Number(this.state.image);
    if (!id) {
      if (this.viewer.isOpen) this.viewer.close();
      return;
    }
    let index = this.set.indexOfId(id);
    if (index !== -1) return this.viewer.open(this.set, index);
    // Not in the loaded part of the list (bookmark, map click): show it on its own.
    try {
      const image = await api.image(id);
      const single = new ResultSet(async () => ({ entries: [{ image, score: null }], total: 1 }));
      await single.start();
      this.viewer.open(single, 0);
    } catch (error) {
      toast(`Image ${id} is not available: ${error.message}`, { kind: "error" });
    }
  }

  openViewer(index) {
    this.viewer.open(this.set, index);
  }

  openImageById(id) {
    this.state.image = String(id);
    writeState(this.state, { push: true });
    this.syncViewerToState(); // the viewer overlays the map too; closing it returns there
  }

  showIds(ids, label = "selection") {
    const list = ids.map(Number);
    this.state.view = "gallery";
    writeState(this.state, { push: true }); // Back returns to the map
    this.mapTab.show(false);
    if (this.set) this.set.dispose();
    this.set = new ResultSet(
      async (offset, limit) => {
        const slice = list.slice(offset, offset + limit);
        const images = await Promise.all(slice.map((id) => api.image(id).catch(() => null)));
        return { entries: images.filter(Boolean).map((image) => ({ image, score: null })), total: list.length };
      },
      { label },
    );
    this.set.addEventListener("change", () => this.renderHeader());
    this.gallery.setResultSet(this.set);
    this.liveSearch.reset();
    this.set.start().then(() => this.renderHeader());
  }

  onImageAdded(data) {
    const image = data && (data.image || data);
    if (!image || !this.set) return;
    if (this.searchCouldShow(image)) this.liveSearch.noteAdded(image);
    else if (this.set.insertLive(image) && this.viewer.isOpen && this.viewer.set === this.set) {
      // A newest-first insert shifts every index by one: keep the viewer on the same image.
      if (this.set.live.order !== "oldest") this.viewer.index += 1;
      this.viewer.refresh();
    }
    const album = this.albums.find((a) => a.key === image.album);
    if (!album) this.refreshStatus();
    else this.refreshStatusSoon();
  }

  onImageUpdated(data) {
    const image = data && (data.image || data);
    if (!image || !this.set) return;
    const shown = this.viewer.isOpen ? this.viewer.current?.image : null;
    if (!this.set.updateLive(image) && this.searchCouldShow(image)) this.liveSearch.noteUpdated(image);
    if (shown && this.viewer.set !== this.set) this.viewer.set.updateLive(image); // a bookmark's
    if (shown && shown.id === image.id) {
      // Indexed at last, or found unreadable: what the viewer shows changes, not just the star.
      if (shown.status !== image.status) this.viewer.reshow();
      else this.viewer.refresh();
      this.drawer.show(image);
    }
  }

  // An open search (its results are ranked, so they are re-run, not patched) whose album and
  // favourites filter let this image in; searchMatches asks the daemon about the other filters.
  searchCouldShow(image) {
    const label = this.set?.label;
    if (label !== "search" && label !== "similar") return false;
    const state = this.state;
    if (state.album && state.album !== "all" && image.album !== state.album) return false;
    return !state.fav || Boolean(image.favourite);
  }

  // The new ids that the open search's filters let through (the daemon applies them exactly as
  // the search does, prompt words included). "More like this" narrows by album and favourites.
  async searchMatches(ids) {
    const state = this.state;
    const query = filterQuery(state);
    if (this.set?.label !== "search") for (const key of FILTER_KEYS) delete query[FILTER_PARAMS[key] || key];
    const kept = [];
    for (let start = 0; start < ids.length; start += MATCH_BATCH) {
      const data = await api.searchMatching({ ...query, ids: ids.slice(start, start + MATCH_BATCH).join(",") });
      kept.push(...data.ids);
    }
    return kept;
  }

  onImageRemoved(data) {
    if (!data || !this.set) return;
    const current = this.viewer.current;
    const showing = this.viewer.isOpen && current && current.image.id === data.id;
    const removedAt = this.set.indexOfId(data.id);
    if (!this.set.removeLive(data.id)) return;
    if (showing) {
      if (this.set.total) this.viewer.show(Math.min(this.viewer.index, this.set.total - 1));
      else this.viewer.close();
    } else if (this.viewer.isOpen && this.viewer.set === this.set) {
      if (removedAt < this.viewer.index) this.viewer.index -= 1; // same image stays in view
      this.viewer.refresh();
    }
  }

  repaint() {
    this.gallery.schedule();
    this.viewer.refresh();
  }

  renderHeader() {
    const set = this.set;
    const title = $("#result-title");
    const clear = $("#clear-search");
    const state = this.state;
    const searching = set && set.label !== "browse";
    clear.hidden = !searching;
    if (!set) return;
    const count = formatCount(set.total);
    if (set.label === "similar") title.textContent = `More like image ${state.similar} · ${count} results`;
    else if (set.label === "search") {
      const parts = [];
      if (state.q) parts.push(`“${state.q}”`);
      if (state.negative) parts.push(`avoiding “${state.negative}”`);
      if (this.search.queryImage) parts.push("similar to your image");
      for (const key of FILTER_KEYS) {
        if (state[key]) parts.push(key === "ref" ? "with reference images" : `${key}: ${state[key]}`);
      }
      title.textContent = `${parts.join(", ") || "Search"} · ${count} results`;
    } else if (set.label === "browse") {
      const album = this.albums.find((a) => a.key === state.album);
      title.textContent = `${album ? album.name || album.key : "All albums"} · ${count} images${state.fav ? " · favourites" : ""}`;
    } else title.textContent = `${set.label} · ${count} images`;
    this.renderEmpty();
  }

  renderEmpty() {
    const empty = $("#empty");
    const set = this.set;
    if (!set || set.total > 0 || set.error || (set.ready === null)) {
      if (!set || set.total > 0) empty.hidden = true;
      return;
    }
    empty.hidden = false;
    if (!this.albums.length) {
      empty.replaceChildren(
        h("h2", {}, "No InvokeAI images found yet"),
        h("p", {}, "photomapd looks for InvokeAI in --root, then $INVOKEAI_ROOT, then ~/invokeai, and did not find an outputs folder there."),
        h("p", {}, "Add the folder where your images are (for InvokeAI: ", h("code", {}, "<invokeai root>/outputs/images"), ") and photomapd indexes it now and watches it for new images."),
        h("button", { type: "button", class: "btn primary", onclick: () => { this.albumsDialog.open(); this.albumsDialog.edit(null); } }, "Add a folder"),
      );
      return;
    }
    if (set.label === "browse") {
      const album = this.albums.find((a) => a.key === this.state.album) || this.albums[0];
      const indexing = album && album.pending;
      empty.replaceChildren(
        h("h2", {}, this.state.fav ? "No favourites here yet" : indexing ? "Indexing…" : "This album is empty"),
        h("p", {}, this.state.fav ? "Star images with the ☆ on a thumbnail or the F key; they appear here." : `New images appear here as soon as they are written to ${(album?.folders || []).map((f) => f.path).join(", ") || "its folders"}.`),
      );
    } else {
      empty.replaceChildren(h("h2", {}, "No matches"), h("p", {}, this.noMatchHint()), h("button", { type: "button", class: "btn", onclick: () => this.clearSearch() }, "Clear search"));
    }
  }

  // What to loosen, naming only what this search uses (no "negative weight" without one).
  noMatchHint() {
    const state = this.state;
    if (this.set?.label === "similar") return "No other image in this album has been embedded yet; similar images show once they are indexed.";
    const names = { prompt: "prompt words", model: "model", lora: "LoRA", generator: "generator", seed: "seed", since: "from date", until: "to date", ref: "reference image" };
    const filters = FILTER_KEYS.filter((key) => state[key]).map((key) => names[key]);
    if (state.fav) filters.push("favourites");
    const tips = [];
    if (state.q) tips.push("other words");
    if (state.negative) tips.push("a lower negative weight");
    if (filters.length === 1) tips.push(`removing the ${filters[0]} filter`);
    else if (filters.length) tips.push(`fewer filters (${filters.join(", ")})`);
    if (!tips.length) return "Try other words or another image.";
    return `Try ${tips.length > 1 ? `${tips.slice(0, -1).join(", ")} or ${tips.at(-1)}` : tips[0]}.`;
  }

  renderError(error) {
    const empty = $("#empty");
    empty.hidden = false;
    const unavailable = error instanceof ApiError && error.status === 503;
    empty.replaceChildren(
      h("h2", {}, unavailable ? "Semantic search is not available right now" : "Something went wrong"),
      h("p", { class: "error-text" }, error.message),
      unavailable ? h("p", {}, "Prompt search (the Prompt filter) and browsing still work.") : null,
      h("button", { type: "button", class: "btn", onclick: () => this.reload() }, "Try again"),
    );
  }
}

// Album, favourites and metadata filters as the search API takes them.
function filterQuery(state) {
  const query = { album: state.album === "all" ? "" : state.album, favourite: state.fav || "" };
  for (const key of FILTER_KEYS) if (state[key]) query[FILTER_PARAMS[key] || key] = state[key] === true ? "true" : state[key];
  return query;
}

// The page head prefetches the first page of the default view; use it once if it matches.
function adoptFirstPage(album, offset, limit, state) {
  const boot = window.__photomapdBoot;
  const first = boot && boot.firstPage;
  if (!first) return null;
  boot.firstPage = null;
  const matches = first.key === album && offset === 0 && limit === 200 && state.order === "newest" && !state.fav;
  return matches ? first.promise : null;
}

// The search API pages with offset/limit; a full page means there may be more, so leave room
// for one more page (placeholders) until a short page tells the real end.
function searchTotal(data, offset, limit, received) {
  const seen = offset + received;
  if (typeof data.total === "number" && data.total > seen) return data.total;
  return received === limit ? seen + limit : seen;
}

const app = new App();
window.photomapd = app; // handy in devtools and used by the UI tests
app.start();

// Virtualized thumbnail grid: a fixed pool of tiles recycled over a tall spacer, so 100k rows
// cost the same DOM as 100. Keyboard focus uses aria-activedescendant on the listbox.

import { h, sentence } from "./dom.js";
import { icon } from "./icons.js";

const GAP = 6;
const OVERSCAN_ROWS = 3;

export class Gallery extends EventTarget {
  constructor(scroller, { tileSize = 180 } = {}) {
    super();
    this.scroller = scroller;
    this.tileSize = tileSize;
    this.set = null;
    this.tiles = new Map(); // index -> element
    this.spare = [];
    this.cursor = 0;
    this.selection = new Set();
    this.favouritePending = new Set();
    this.frame = 0;
    this.columns = 1;
    this.rowHeight = tileSize + GAP;
    this.spacer = h("div", { class: "grid-spacer" });
    scroller.append(this.spacer);
    scroller.setAttribute("role", "listbox");
    scroller.setAttribute("aria-multiselectable", "true");
    scroller.tabIndex = 0;
    scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    scroller.addEventListener("click", (event) => this.onClick(event));
    scroller.addEventListener("dblclick", (event) => this.onDoubleClick(event));
    scroller.addEventListener("keydown", (event) => this.onKey(event));
    new ResizeObserver(() => this.layout()).observe(scroller);
    this.onSetChange = () => this.schedule();
    this.onInsert = () => this.onLiveInsert();
  }

  setResultSet(set) {
    if (this.set) {
      this.set.removeEventListener("change", this.onSetChange);
      this.set.removeEventListener("insert", this.onInsert);
    }
    this.set = set;
    set.addEventListener("change", this.onSetChange);
    set.addEventListener("insert", this.onInsert);
    this.cursor = 0;
    this.scroller.scrollTop = 0;
    for (const tile of this.tiles.values()) this.recycle(tile);
    this.tiles.clear();
    this.layout();
  }

  setTileSize(size) {
    this.tileSize = size;
    this.layout();
  }

  layout() {
    const width = this.scroller.clientWidth - GAP;
    this.columns = Math.max(1, Math.floor(width / (this.tileSize + GAP)));
    this.cell = Math.floor(width / this.columns);
    this.rowHeight = this.cell;
    for (const tile of this.tiles.values()) this.recycle(tile);
    this.tiles.clear();
    this.render();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  visibleRange() {
    const top = this.scroller.scrollTop;
    const firstRow = Math.max(0, Math.floor(top / this.rowHeight) - OVERSCAN_ROWS);
    const lastRow = Math.ceil((top + this.scroller.clientHeight) / this.rowHeight) + OVERSCAN_ROWS;
    const total = this.set ? this.set.total : 0;
    return [firstRow * this.columns, Math.min(total, lastRow * this.columns)];
  }

  render() {
    if (!this.set) return;
    const total = this.set.total;
    const rows = Math.ceil(total / this.columns);
    this.spacer.style.height = `${rows * this.rowHeight + GAP}px`;
    this.scroller.setAttribute("aria-rowcount", String(rows));
    const [start, end] = this.visibleRange();
    for (const [index, tile] of this.tiles) {
      if (index < start || index >= end) {
        this.recycle(tile);
        this.tiles.delete(index);
      }
    }
    let missing = false;
    for (let index = start; index < end; index++) {
      const entry = this.set.get(index);
      if (!entry) missing = true;
      let tile = this.tiles.get(index);
      if (!tile) {
        tile = this.spare.pop() || this.createTile();
        this.tiles.set(index, tile);
        if (!tile.isConnected) this.scroller.append(tile);
      }
      this.paint(tile, index, entry);
    }
    if (missing) this.set.ensure(start, end);
    else this.set.focusWindow = [start, end];
    this.updateActiveDescendant();
    this.dispatchEvent(new CustomEvent("render", { detail: { start, end } }));
  }

  createTile() {
    const tile = h(
      "div",
      { class: "tile", role: "option" },
      h("img", { class: "tile-img", alt: "", decoding: "async", draggable: "false" }),
      h("span", { class: "tile-score", "aria-hidden": "true" }),
      h("span", { class: "tile-state", "aria-hidden": "true" }),
      h("button", {
        class: "tile-star",
        type: "button",
        tabindex: "-1",
        "aria-label": "Toggle favourite",
        html: icon("star", { size: 16 }),
      }),
      h("button", {
        class: "tile-check",
        type: "button",
        tabindex: "-1",
        "aria-label": "Select",
        html: icon("check", { size: 14 }),
      }),
      // Shown instead of the browser's broken-image icon: for files that failed to index, and
      // for any thumbnail that does not load (file gone, daemon restarting).
      h(
        "span",
        { class: "tile-placeholder", "aria-hidden": "true" },
        h("span", { html: icon("imageOff", { size: 32 }) }),
        h("span", { class: "tile-placeholder-label" }),
      ),
    );
    const img = tile.firstChild;
    img.addEventListener("error", () => {
      if (img.getAttribute("src")) tile.classList.add("tile--noimage");
    });
    img.addEventListener("load", () => tile.classList.remove("tile--noimage"));
    return tile;
  }

  recycle(tile) {
    tile.style.display = "none";
    tile.dataset.index = "";
    tile.dataset.id = "";
    tile.removeAttribute("id");
    this.spare.push(tile);
  }

  paint(tile, index, entry) {
    const column = index % this.columns;
    const row = Math.floor(index / this.columns);
    const size = this.cell - GAP;
    tile.style.display = "";
    tile.style.width = `${size}px`;
    tile.style.height = `${size}px`;
    tile.style.transform = `translate(${GAP + column * this.cell}px, ${GAP + row * this.rowHeight}px)`;
    tile.dataset.index = String(index);
    tile.id = `tile-${index}`;
    tile.setAttribute("aria-posinset", String(index + 1));
    tile.setAttribute("aria-setsize", String(this.set.total));
    const img = tile.firstChild;
    if (!entry) {
      tile.classList.add("tile--loading");
      tile.classList.remove("tile--noimage", "tile--error", "tile--pending");
      tile.dataset.id = "";
      tile.setAttribute("aria-label", "Loading");
      tile.removeAttribute("title");
      if (img.getAttribute("src")) img.removeAttribute("src");
      return;
    }
    const image = entry.image;
    const failed = image.status === "error";
    tile.classList.remove("tile--loading");
    tile.dataset.id = String(image.id);
    const src = failed ? null : thumbnailSrc(image);
    if (img.getAttribute("src") !== src) {
      tile.classList.remove("tile--noimage");
      if (src) img.src = src;
      else img.removeAttribute("src"); // the placeholder says it all; no request
    }
    const selected = this.selection.has(image.id);
    tile.classList.toggle("tile--fav", Boolean(image.favourite));
    tile.classList.toggle("tile--selected", selected);
    tile.classList.toggle("tile--cursor", index === this.cursor);
    tile.classList.toggle("tile--error", image.status === "error");
    tile.classList.toggle("tile--pending", image.status === "pending");
    tile.setAttribute("aria-selected", String(selected));
    if (entry.fresh) {
      entry.fresh = false;
      tile.classList.remove("tile--fresh");
      void tile.offsetWidth; // restart the slide-in animation on a recycled element
      tile.classList.add("tile--fresh");
    }
    const score = tile.children[1];
    score.textContent = typeof entry.score === "number" ? entry.score.toFixed(3) : "";
    tile.children[2].textContent = image.status === "pending" ? "indexing" : "";
    const star = tile.children[3];
    star.setAttribute("aria-pressed", String(Boolean(image.favourite)));
    tile.children[5].lastChild.textContent = failed ? "can't read" : "no preview";
    const name = image.name || `image ${image.id}`;
    const parts = [name];
    if (image.favourite) parts.push("favourite");
    if (typeof entry.score === "number") parts.push(`score ${entry.score.toFixed(3)}`);
    if (failed) parts.push(`can't read: ${failureReason(image)}`);
    else if (image.status === "pending") parts.push("indexing");
    tile.setAttribute("aria-label", parts.join(", "));
    if (failed) tile.title = `Can't read ${name}: ${failureReason(image)}`;
    else tile.removeAttribute("title");
  }

  updateActiveDescendant() {
    const tile = this.tiles.get(this.cursor);
    if (tile) this.scroller.setAttribute("aria-activedescendant", tile.id);
    else this.scroller.removeAttribute("aria-activedescendant");
  }

  onLiveInsert() {
    // Newest-first inserts push everything down one cell; if the user is reading further down,
    // keep the same rows in view instead of letting content jump.
    if (this.set.live && this.set.live.order !== "oldest") {
      if (this.scroller.scrollTop > this.rowHeight) {
        this.pendingShift = (this.pendingShift || 0) + 1;
        if (this.pendingShift >= this.columns) {
          this.scroller.scrollTop += this.rowHeight;
          this.pendingShift = 0;
        }
        this.dispatchEvent(new CustomEvent("newabove"));
      }
      this.cursor += 1;
    }
    this.schedule();
  }

  indexFromEvent(event) {
    const tile = event.target.closest(".tile");
    if (!tile || tile.dataset.index === "" || !tile.dataset.id) return null;
    return { tile, index: Number(tile.dataset.index), id: Number(tile.dataset.id) };
  }

  onClick(event) {
    const hit = this.indexFromEvent(event);
    if (!hit) return;
    this.scroller.focus({ preventScroll: true });
    if (event.target.closest(".tile-star")) {
      this.dispatchEvent(new CustomEvent("favourite", { detail: { index: hit.index } }));
      return;
    }
    if (event.target.closest(".tile-check") || event.ctrlKey || event.metaKey) {
      this.toggleSelect(hit.index);
      return;
    }
    if (event.shiftKey) {
      this.selectRange(this.cursor, hit.index);
      return;
    }
    if (this.selection.size) {
      this.toggleSelect(hit.index);
      return;
    }
    this.moveCursor(hit.index, { scroll: false });
    this.dispatchEvent(new CustomEvent("open", { detail: { index: hit.index } }));
  }

  onDoubleClick(event) {
    const hit = this.indexFromEvent(event);
    if (hit && this.selection.size) {
      this.dispatchEvent(new CustomEvent("open", { detail: { index: hit.index } }));
    }
  }

  onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = {
      ArrowRight: 1,
      ArrowLeft: -1,
      ArrowDown: this.columns,
      ArrowUp: -this.columns,
      PageDown: this.columns * Math.max(1, Math.floor(this.scroller.clientHeight / this.rowHeight)),
      PageUp: -this.columns * Math.max(1, Math.floor(this.scroller.clientHeight / this.rowHeight)),
    };
    if (event.key in moves) {
      this.moveCursor(this.cursor + moves[event.key]);
    } else if (event.key === "Home") {
      this.moveCursor(0);
    } else if (event.key === "End") {
      this.moveCursor(this.set.total - 1);
    } else if (event.key === "Enter") {
      this.dispatchEvent(new CustomEvent("open", { detail: { index: this.cursor } }));
    } else if (event.key === "x" || event.key === " ") {
      this.toggleSelect(this.cursor);
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }

  moveCursor(index, { scroll = true } = {}) {
    if (!this.set || !this.set.total) return;
    this.cursor = Math.max(0, Math.min(this.set.total - 1, index));
    if (scroll) this.scrollToIndex(this.cursor);
    this.schedule();
    this.dispatchEvent(new CustomEvent("cursor", { detail: { index: this.cursor } }));
  }

  scrollToIndex(index) {
    const row = Math.floor(index / this.columns);
    const top = row * this.rowHeight;
    const bottom = top + this.rowHeight + GAP;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (bottom > this.scroller.scrollTop + this.scroller.clientHeight) {
      this.scroller.scrollTop = bottom - this.scroller.clientHeight;
    }
  }

  toggleSelect(index) {
    const entry = this.set.get(index);
    if (!entry) return;
    const id = entry.image.id;
    if (this.selection.has(id)) this.selection.delete(id);
    else this.selection.add(id);
    this.cursor = index;
    this.schedule();
    this.dispatchEvent(new CustomEvent("selection"));
  }

  selectRange(from, to) {
    const [a, b] = from < to ? [from, to] : [to, from];
    for (let i = a; i <= b; i++) {
      const entry = this.set.get(i);
      if (entry) this.selection.add(entry.image.id);
    }
    this.cursor = to;
    this.schedule();
    this.dispatchEvent(new CustomEvent("selection"));
  }

  clearSelection() {
    this.selection.clear();
    this.schedule();
    this.dispatchEvent(new CustomEvent("selection"));
  }

  selectAllLoaded() {
    for (const entry of this.set.entries) if (entry) this.selection.add(entry.image.id);
    this.schedule();
    this.dispatchEvent(new CustomEvent("selection"));
  }

  // Selected entries that are still loaded (paths come from them).
  selectedImages() {
    const found = [];
    for (const entry of this.set.entries) {
      if (entry && this.selection.has(entry.image.id)) found.push(entry.image);
    }
    return found;
  }
}

// A waiting image's thumbnail may be a placeholder (not cacheable); a distinct URL makes the
// tile fetch the real one once an image_updated event says the image is indexed.
function thumbnailSrc(image) {
  return image.status === "pending" ? `${image.thumbnail_url}?pending` : image.thumbnail_url;
}

// Why a file failed to index, as the daemon stored it (it says what to do, too).
export function failureReason(image) {
  return sentence(image.error, { capital: false }) || "the file could not be read as an image.";
}

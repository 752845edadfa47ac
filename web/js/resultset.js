// A lazily paged, bounded-memory list of {image, score} entries behind the gallery and viewer.
// Pages load on demand; far-away entries are dropped so 100k-image albums keep a flat heap.

const PAGE_SIZE = 200;
const MAX_LOADED = 4000;
const KEEP_MARGIN = 1200;

export class ResultSet extends EventTarget {
  // fetchPage(offset, limit, signal) -> Promise<{entries:[{image, score}], total}>
  constructor(fetchPage, { label = "", pageSize = PAGE_SIZE, live = null } = {}) {
    super();
    this.fetchPage = fetchPage;
    this.label = label;
    this.pageSize = pageSize;
    this.live = live; // {album, order} when live inserts apply (browsing, not searching)
    this.entries = [];
    this.total = 0;
    this.loadedCount = 0;
    this.shift = 0; // net inserts/removals at the head since creation (keeps in-flight pages aligned)
    this.inflight = new Map();
    this.controller = new AbortController();
    this.ready = null;
    this.error = null;
    this.focusWindow = [0, 0];
  }

  start() {
    this.ready = this.load(0);
    return this.ready;
  }

  dispose() {
    this.controller.abort();
  }

  get(index) {
    return this.entries[index];
  }

  indexOfId(id) {
    return this.entries.findIndex((entry) => entry && entry.image.id === id);
  }

  // Ask for [start, end); resolves once those entries are present (or failed).
  ensure(start, end) {
    start = Math.max(0, start);
    end = Math.min(this.total, end);
    this.focusWindow = [start, end];
    const waits = [];
    for (let page = Math.floor(start / this.pageSize); page * this.pageSize < end; page++) {
      const offset = page * this.pageSize;
      const last = Math.min(offset + this.pageSize, this.total);
      let missing = false;
      for (let i = offset; i < last; i++) {
        if (this.entries[i] === undefined) {
          missing = true;
          break;
        }
      }
      if (missing) waits.push(this.load(offset));
    }
    return Promise.all(waits);
  }

  load(offset) {
    const key = offset + ":" + this.shift;
    if (this.inflight.has(key)) return this.inflight.get(key);
    const shiftAtRequest = this.shift;
    const promise = this.fetchPage(offset, this.pageSize, this.controller.signal)
      .then(({ entries, total }) => {
        const delta = this.shift - shiftAtRequest;
        if (total !== undefined && total !== null) this.total = total + delta;
        entries.forEach((entry, i) => this.put(offset + delta + i, entry));
        if (this.entries.length > this.total) this.entries.length = this.total;
        this.error = null;
        this.evict();
        this.dispatchEvent(new CustomEvent("change"));
      })
      .catch((error) => {
        if (error.name === "AbortError") return;
        this.error = error;
        this.dispatchEvent(new CustomEvent("error", { detail: error }));
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return promise;
  }

  put(index, entry) {
    if (index < 0) return;
    if (this.entries[index] === undefined) this.loadedCount += 1;
    this.entries[index] = entry;
  }

  evict() {
    if (this.loadedCount <= MAX_LOADED) return;
    const [start, end] = this.focusWindow;
    const keepFrom = start - KEEP_MARGIN;
    const keepTo = end + KEEP_MARGIN;
    for (let i = 0; i < this.entries.length; i++) {
      if ((i < keepFrom || i >= keepTo) && this.entries[i] !== undefined) {
        delete this.entries[i];
        this.loadedCount -= 1;
      }
    }
  }

  // Live events from the daemon.
  insertLive(image) {
    if (!this.live || (this.live.album !== "all" && image.album !== this.live.album)) return false;
    if (this.indexOfId(image.id) !== -1) return this.updateLive(image);
    if (this.live.favourite && !image.favourite) return false;
    const entry = { image, score: null, fresh: true };
    if (this.live.order === "oldest") {
      this.entries[this.total] = entry;
    } else {
      this.entries.unshift(entry);
      this.shift += 1;
    }
    this.loadedCount += 1;
    this.total += 1;
    this.dispatchEvent(new CustomEvent("insert", { detail: { image } }));
    this.dispatchEvent(new CustomEvent("change"));
    return true;
  }

  updateLive(image) {
    const index = this.indexOfId(image.id);
    if (index === -1) return false;
    this.entries[index] = { ...this.entries[index], image };
    this.dispatchEvent(new CustomEvent("change"));
    return true;
  }

  removeLive(id) {
    const index = this.indexOfId(id);
    if (index === -1) return false;
    this.entries.splice(index, 1);
    this.loadedCount -= 1;
    this.total = Math.max(0, this.total - 1);
    if (!this.live || this.live.order !== "oldest") this.shift -= 1;
    this.dispatchEvent(new CustomEvent("change"));
    return true;
  }
}

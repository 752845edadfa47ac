// Live updates for an open search (text, similar, image, prompt/filters): results are ranked, so
// new images cannot be slid in like the plain gallery does. Count the new images that could match
// and offer "N new images — refresh results"; re-run by itself only when the user would not lose
// their place (results at the top, no interaction for a moment, no viewer, no selection).

// Tests shorten these through window.__photomapdSearchIdleMs / __photomapdSearchRerunMs.
const IDLE_MS = window.__photomapdSearchIdleMs ?? 2500;
const MIN_RERUN_MS = window.__photomapdSearchRerunMs ?? 2000;
const DEBOUNCE_MS = 400;
const RECHECK_MS = 1000;

export class LiveSearch {
  // canAuto(): true when re-running now keeps the user's place; refresh(): re-run the search.
  constructor(pill, scroller, { canAuto, refresh }) {
    this.pill = pill;
    this.scroller = scroller;
    this.canAuto = canAuto;
    this.refresh = refresh;
    this.fresh = new Set(); // ids of new images since the results were fetched
    this.unembedded = new Set(); // ids seen without a vector yet: they join results later
    this.lastActivity = performance.now();
    this.lastRun = -Infinity;
    this.timer = 0;
    for (const kind of ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"]) {
      window.addEventListener(kind, () => (this.lastActivity = performance.now()), { passive: true, capture: true });
    }
    pill.addEventListener("click", () => this.run());
  }

  // The results were (re)fetched: nothing is new relative to them.
  reset() {
    this.fresh.clear();
    clearTimeout(this.timer);
    this.timer = 0;
    this.render();
  }

  // image_added for a search that could include it (the caller checks album and favourites).
  noteAdded(image) {
    if (image.status === "error") return; // never a result
    if (!image.embedded) this.unembedded.add(image.id);
    this.note(image.id);
  }

  // image_updated for an image not in the results: counts only when it just became searchable
  // (embedded after the model came back, or indexed after being listed), not for a star.
  noteUpdated(image) {
    if (!this.unembedded.has(image.id)) {
      if (!image.embedded || image.status === "pending") this.unembedded.add(image.id);
      return;
    }
    if (!image.embedded || image.status !== "ok") return;
    this.unembedded.delete(image.id);
    this.note(image.id);
  }

  note(id) {
    if (this.fresh.has(id)) return;
    this.fresh.add(id);
    this.schedule(DEBOUNCE_MS);
  }

  schedule(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), delay);
  }

  check() {
    this.timer = 0;
    if (!this.fresh.size) return;
    const now = performance.now();
    const idle = now - this.lastActivity >= IDLE_MS;
    const atTop = this.scroller.scrollTop < 10;
    if (idle && atTop && this.canAuto()) {
      const wait = this.lastRun + MIN_RERUN_MS - now;
      if (wait > 0) return this.schedule(wait);
      return this.run();
    }
    this.render();
    this.schedule(RECHECK_MS); // re-run by itself once the user is back at the top and idle
  }

  run() {
    this.lastRun = performance.now();
    this.reset();
    this.refresh();
  }

  render() {
    const count = this.fresh.size;
    this.pill.hidden = count === 0;
    if (count) this.pill.textContent = `${count.toLocaleString("en-US")} new image${count === 1 ? "" : "s"} — refresh results`;
  }
}

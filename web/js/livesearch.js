// Live updates for an open search (text, similar, image, prompt/filters): results are ranked, so
// new images cannot be slid in like the plain gallery does. Count the new images that pass the
// search's filters (the daemon judges them: album, favourites, model, LoRA, prompt words, ...) and
// offer "N new images — refresh results"; re-run by itself only when the user would not lose
// their place (results at the top, no interaction for a moment, no viewer, no selection).

// Tests shorten these through window.__photomapdSearchIdleMs / __photomapdSearchRerunMs.
const IDLE_MS = window.__photomapdSearchIdleMs ?? 2500;
const MIN_RERUN_MS = window.__photomapdSearchRerunMs ?? 2000;
const DEBOUNCE_MS = 400;
const RECHECK_MS = 1000;

export class LiveSearch {
  // canAuto(): true when re-running now keeps the user's place; refresh(): re-run the search;
  // matches(ids): the ids that pass the search's filters (rejects when the daemon cannot tell).
  constructor(pill, scroller, { canAuto, refresh, matches }) {
    this.pill = pill;
    this.scroller = scroller;
    this.canAuto = canAuto;
    this.refresh = refresh;
    this.matches = matches;
    this.fresh = new Set(); // ids of new images since the results were fetched that match
    this.unchecked = new Set(); // new ids not yet judged against the filters
    this.generation = 0; // bumped on every reset, so an answer for older results is dropped
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
    this.generation += 1;
    this.fresh.clear();
    this.unchecked.clear();
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
    if (this.fresh.has(id) || this.unchecked.has(id)) return;
    this.unchecked.add(id);
    this.schedule(DEBOUNCE_MS);
  }

  // One request per debounced burst: keep the new ids the search's filters let through.
  async judge() {
    const ids = [...this.unchecked];
    this.unchecked.clear();
    const generation = this.generation;
    let kept = ids;
    try {
      kept = await this.matches(ids);
    } catch {
      // A failed request: count them all, the re-run shows what matches.
    }
    if (generation !== this.generation) return false;
    for (const id of kept) this.fresh.add(id);
    return true;
  }

  schedule(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), delay);
  }

  async check() {
    this.timer = 0;
    if (this.unchecked.size && !(await this.judge())) return;
    if (this.timer) return; // a newer burst scheduled its own check meanwhile
    this.render();
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

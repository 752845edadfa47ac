// Large-image viewer over the current result set: prev/next (keys, swipe), zoom and pan,
// slideshow (interval, shuffle, wrap), download, copy image, copy path, more like this.

import { $, copyText, h, sentence, toast } from "./dom.js";
import { icon } from "./icons.js";

const ZOOM_STEPS = [1, 1.5, 2, 3, 4, 6, 8];
const UNREADABLE_HINT = "photomapd can't read this file as an image. D downloads it as it is; P copies its path.";

export class Viewer extends EventTarget {
  constructor(root, { drawer }) {
    super();
    this.root = root;
    this.drawer = drawer;
    this.set = null;
    this.index = -1;
    this.zoom = 1;
    this.pan = { x: 0, y: 0 };
    this.slideshow = { timer: null, interval: 5, shuffle: false, wrap: true, order: [], step: 0 };
    this.image = $("#viewer-image", root);
    this.stage = $("#viewer-stage", root);
    this.caption = $("#viewer-caption", root);
    this.position = $("#viewer-position", root);
    this.restoreFocus = null;
    this.bindControls();
    this.bindGestures();
  }

  get isOpen() {
    return !this.root.hidden;
  }

  get current() {
    return this.set ? this.set.get(this.index) : null;
  }

  bindControls() {
    const on = (selector, handler) => $(selector, this.root).addEventListener("click", handler);
    on("#viewer-close", () => this.close());
    on("#viewer-prev", () => this.step(-1));
    on("#viewer-next", () => this.step(1));
    on("#viewer-zoom-in", () => this.zoomBy(1));
    on("#viewer-zoom-out", () => this.zoomBy(-1));
    on("#viewer-play", () => this.toggleSlideshow());
    on("#viewer-download", () => this.download());
    on("#viewer-copy", () => this.copyImage());
    on("#viewer-path", () => this.copyPath());
    on("#viewer-similar", () => this.moreLikeThis());
    on("#viewer-fav", () => this.dispatchEvent(new CustomEvent("favourite", { detail: { index: this.index } })));
    on("#viewer-info", () => this.drawer.toggle());
    on("#viewer-fullscreen", () => this.toggleFullscreen());
    const interval = $("#slideshow-interval", this.root);
    interval.addEventListener("change", () => {
      this.slideshow.interval = Number(interval.value);
      if (this.slideshow.timer) this.startSlideshow();
    });
    const shuffle = $("#slideshow-shuffle", this.root);
    shuffle.addEventListener("change", () => {
      this.slideshow.shuffle = shuffle.checked;
      this.slideshow.order = [];
    });
    const wrap = $("#slideshow-wrap", this.root);
    wrap.addEventListener("change", () => (this.slideshow.wrap = wrap.checked));
    this.image.addEventListener("load", () => this.root.classList.remove("viewer--loading"));
    this.image.addEventListener("error", () => {
      this.root.classList.remove("viewer--loading");
      if (this.current && this.image.getAttribute("src")) this.showProblem(unloadableProblem(this.current.image));
    });
  }

  bindGestures() {
    this.stage.addEventListener("dblclick", (event) => {
      this.setZoom(this.zoom > 1 ? 1 : 2.5);
      event.preventDefault();
    });
    this.stage.addEventListener(
      "wheel",
      (event) => {
        if (!event.ctrlKey && this.zoom === 1) return;
        event.preventDefault();
        this.zoomBy(event.deltaY < 0 ? 1 : -1);
      },
      { passive: false },
    );
    let start = null;
    this.stage.addEventListener("pointerdown", (event) => {
      start = { x: event.clientX, y: event.clientY, pan: { ...this.pan }, t: Date.now() };
      this.stage.setPointerCapture(event.pointerId);
    });
    this.stage.addEventListener("pointermove", (event) => {
      if (!start || this.zoom === 1) return;
      this.pan = { x: start.pan.x + event.clientX - start.x, y: start.pan.y + event.clientY - start.y };
      this.applyTransform();
    });
    this.stage.addEventListener("pointerup", (event) => {
      if (!start) return;
      const dx = event.clientX - start.x;
      const dy = event.clientY - start.y;
      const quick = Date.now() - start.t < 600;
      start = null;
      // A horizontal swipe on an unzoomed image navigates (touch and mouse alike).
      if (this.zoom === 1 && quick && Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy)) {
        this.step(dx < 0 ? 1 : -1);
      }
    });
    this.stage.addEventListener("pointercancel", () => (start = null));
  }

  open(set, index) {
    this.set = set;
    if (!this.isOpen) {
      this.restoreFocus = document.activeElement;
      this.root.hidden = false;
      document.body.classList.add("viewer-open");
      setPageInert(true);
    }
    this.show(index);
    // The dialog itself takes focus (screen readers announce "Image viewer"; Tab reaches Close
    // first), so Space and Enter stay the slideshow and viewer shortcuts.
    if (!this.root.contains(document.activeElement)) this.root.focus({ preventScroll: true });
  }

  close() {
    if (!this.isOpen) return;
    this.stopSlideshow();
    this.root.hidden = true;
    document.body.classList.remove("viewer-open");
    setPageInert(false);
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    this.dispatchEvent(new CustomEvent("close", { detail: { index: this.index } }));
    if (this.restoreFocus && this.restoreFocus.focus) this.restoreFocus.focus({ preventScroll: true });
  }

  async show(index) {
    if (!this.set || index < 0 || index >= this.set.total) return;
    this.index = index;
    await this.set.ensure(index - 1, index + 2);
    if (this.index !== index) return;
    const entry = this.set.get(index);
    if (!entry) return;
    const image = entry.image;
    const failed = image.status === "error";
    this.setZoom(1);
    this.showProblem(failed ? unreadableProblem(image) : null);
    for (const id of ["#viewer-copy", "#viewer-similar", "#viewer-zoom-in", "#viewer-zoom-out"]) {
      $(id, this.root).disabled = failed; // nothing to copy, compare or zoom
    }
    if (failed) {
      this.image.removeAttribute("src"); // a broken-image icon would only repeat the problem
      this.root.classList.remove("viewer--loading");
    } else if (this.image.getAttribute("src") !== image.file_url) {
      this.root.classList.add("viewer--loading");
      this.image.src = image.file_url;
    }
    this.image.alt = image.name || `Image ${image.id}`;
    this.caption.textContent = image.name || "";
    this.caption.title = image.name || ""; // the whole name when the toolbar cuts it short
    document.title = `${image.name || `Image ${image.id}`} · photomapd`;
    this.position.textContent = `${index + 1} / ${this.set.total}`;
    this.renderFavourite();
    this.drawer.show(image);
    this.prefetch(index + 1);
    this.dispatchEvent(new CustomEvent("show", { detail: { index, image } }));
  }

  // Show the current entry again from scratch (its status changed): reload the file too.
  reshow() {
    if (!this.isOpen) return;
    this.image.removeAttribute("src");
    this.show(this.index);
  }

  // A panel over the stage in place of the image (null hides it).
  showProblem(content) {
    const panel = $("#viewer-problem", this.root);
    this.root.classList.toggle("viewer--problem", Boolean(content));
    panel.hidden = !content;
    panel.replaceChildren(...(content || []));
  }

  refresh() {
    if (!this.isOpen) return;
    this.renderFavourite();
    if (this.set) this.position.textContent = `${this.index + 1} / ${this.set.total}`;
  }

  renderFavourite() {
    const entry = this.current;
    const button = $("#viewer-fav", this.root);
    const on = Boolean(entry && entry.image.favourite);
    button.setAttribute("aria-pressed", String(on));
    button.classList.toggle("is-on", on);
  }

  prefetch(index) {
    const entry = this.set && this.set.get(index);
    if (entry && entry.image.status !== "error") new Image().src = entry.image.file_url;
  }

  step(delta) {
    if (!this.set || !this.set.total) return;
    let next = this.index + delta;
    if (next >= this.set.total || next < 0) {
      if (!this.slideshow.wrap && this.slideshow.timer) return this.stopSlideshow();
      next = (next + this.set.total) % this.set.total;
    }
    this.show(next);
  }

  zoomBy(direction) {
    let position = ZOOM_STEPS.findIndex((step) => step >= this.zoom);
    if (position === -1) position = ZOOM_STEPS.length - 1;
    this.setZoom(ZOOM_STEPS[Math.max(0, Math.min(ZOOM_STEPS.length - 1, position + direction))]);
  }

  setZoom(zoom) {
    this.zoom = zoom;
    if (zoom === 1) this.pan = { x: 0, y: 0 };
    this.root.classList.toggle("viewer--zoomed", zoom > 1);
    $("#viewer-zoom-level", this.root).textContent = `${Math.round(zoom * 100)}%`;
    this.applyTransform();
  }

  applyTransform() {
    this.image.style.transform = `translate(${this.pan.x}px, ${this.pan.y}px) scale(${this.zoom})`;
  }

  toggleSlideshow() {
    if (this.slideshow.timer) this.stopSlideshow();
    else this.startSlideshow();
  }

  startSlideshow() {
    clearInterval(this.slideshow.timer);
    this.slideshow.timer = setInterval(() => this.advanceSlideshow(), this.slideshow.interval * 1000);
    this.root.classList.add("viewer--playing");
    const button = $("#viewer-play", this.root);
    button.innerHTML = icon("pause");
    button.setAttribute("aria-label", "Pause slideshow");
    button.setAttribute("aria-pressed", "true");
  }

  stopSlideshow() {
    clearInterval(this.slideshow.timer);
    this.slideshow.timer = null;
    this.root.classList.remove("viewer--playing");
    const button = $("#viewer-play", this.root);
    button.innerHTML = icon("play");
    button.setAttribute("aria-label", "Start slideshow");
    button.setAttribute("aria-pressed", "false");
  }

  advanceSlideshow() {
    if (!this.slideshow.shuffle) return this.step(1);
    const total = this.set.total;
    if (this.slideshow.order.length !== total || this.slideshow.step >= total) {
      if (this.slideshow.step >= total && !this.slideshow.wrap && this.slideshow.order.length) {
        return this.stopSlideshow();
      }
      this.slideshow.order = shuffled(total);
      this.slideshow.step = 0;
    }
    this.show(this.slideshow.order[this.slideshow.step++]);
  }

  download() {
    const entry = this.current;
    if (!entry) return;
    const link = h("a", { href: entry.image.file_url, download: entry.image.name || "" });
    document.body.append(link);
    link.click();
    link.remove();
  }

  async copyImage() {
    const entry = this.current;
    if (!entry) return;
    if (entry.image.status === "error") return toast(UNREADABLE_HINT, { kind: "error" });
    try {
      const blob = await pngBlob(entry.image.file_url);
      await navigator.clipboard.write([new ClipboardItem({ "image/png": blob })]);
      toast("Image copied to the clipboard");
    } catch (error) {
      toast(`Could not copy the image (${error.message}). Copying images needs http://127.0.0.1 or https.`, {
        kind: "error",
      });
    }
  }

  copyPath() {
    const entry = this.current;
    if (entry) copyText(entry.image.path).catch((error) => toast(error.message, { kind: "error" }));
  }

  moreLikeThis() {
    const entry = this.current;
    if (entry && entry.image.status === "error") return toast(UNREADABLE_HINT, { kind: "error" });
    if (entry) this.dispatchEvent(new CustomEvent("similar", { detail: { image: entry.image } }));
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else this.root.requestFullscreen().catch(() => toast("Fullscreen is not available here"));
  }
}

// What the viewer says for a file that failed to index: the daemon's reason, then what to do.
function unreadableProblem(image) {
  return [
    h("h2", {}, h("span", { html: icon("imageOff", { size: 22 }) }), "Can't read this file"),
    h("p", { class: "viewer-problem-reason" }, sentence(image.error) || "The file could not be read as an image."),
    h(
      "p",
      { class: "viewer-problem-advice" },
      "What to do: re-save or re-export the file (P copies its path, D downloads it as it is); photomapd reads it again as soon as it changes. If it does not belong in this album, delete it or add an exclude pattern in Albums.",
    ),
    h("p", {}, h("code", {}, image.path || "")),
  ];
}

function unloadableProblem(image) {
  if (image.status === "pending") {
    return [
      h("h2", {}, h("span", { html: icon("imageOff", { size: 22 }) }), "Not readable yet"),
      h("p", { class: "viewer-problem-reason" }, "This image is still waiting to be indexed and its file did not load: it may still be being written."),
      h("p", { class: "viewer-problem-advice" }, "It shows here by itself once photomapd has indexed it; if it stays like this, check the file."),
      h("p", {}, h("code", {}, image.path || "")),
    ];
  }
  return [
    h("h2", {}, h("span", { html: icon("imageOff", { size: 22 }) }), "Can't show this image"),
    h("p", { class: "viewer-problem-reason" }, "The file did not load: it may have been moved or deleted, or be on a drive that is not connected."),
    h("p", { class: "viewer-problem-advice" }, "What to do: reconnect the drive or put the file back; a file that is gone for good leaves the gallery by itself."),
    h("p", {}, h("code", {}, image.path || "")),
  ];
}

function shuffled(count) {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

// The clipboard only takes PNG reliably, so re-encode JPEG/WebP through a canvas.
async function pngBlob(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const blob = await response.blob();
  if (blob.type === "image/png") return blob;
  const bitmap = await createImageBitmap(blob);
  const canvas = h("canvas", { width: bitmap.width, height: bitmap.height });
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  return new Promise((resolve, reject) =>
    canvas.toBlob((png) => (png ? resolve(png) : reject(new Error("encode failed"))), "image/png"),
  );
}

// The viewer is modal: Tab must cycle through its controls, never reach the page hidden behind
// it (dialogs and toasts opened over the viewer stay usable: they are not part of the page).
function setPageInert(inert) {
  for (const part of document.querySelectorAll(".skip-link, .topbar, .layout")) part.inert = inert;
}

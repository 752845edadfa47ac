// The shortcut list: which key does what, per scope. Read by the "?" overlay and docs/ui.md.

import { $ } from "./dom.js";

export function registerHotkeys(app) {
  const keys = app.hotkeys;
  const viewer = app.viewer;
  const inViewer = () => viewer.isOpen;
  const inGallery = () => !viewer.isOpen;
  const v = { scope: "viewer", when: inViewer };
  const g = { scope: "gallery", when: inGallery };

  keys.add("?", "Show this list of shortcuts", () => keys.showHelp());
  keys.add("/", "Focus the search box", () => $("#q").focus());
  keys.add("a", "Open the albums manager", () => app.albumsDialog.open());
  keys.add(",", "Open settings", () => app.settings.open());
  keys.add("o", "Reverse the sort order (newest / oldest first)", () => app.update({ order: app.state.order === "newest" ? "oldest" : "newest" }), { when: inGallery });
  keys.add("F", "Show favourites only (toggle)", () => app.update({ fav: !app.state.fav }));
  keys.add("t", "Switch between the gallery and the map", () => app.update({ view: app.state.view === "map" ? "gallery" : "map" }));

  const grid = app.gallery;
  const focusGrid = () => grid.scroller.focus({ preventScroll: true });
  const move = (delta) => () => {
    focusGrid();
    grid.moveCursor(grid.cursor + delta());
  };
  keys.add(["ArrowRight", "ArrowLeft", "ArrowUp", "ArrowDown"], "Move between thumbnails", (event) => {
    const deltas = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: grid.columns, ArrowUp: -grid.columns };
    move(() => deltas[event.key])();
  }, g);
  keys.add("Enter", "Open the highlighted image", () => app.openViewer(grid.cursor), g);
  keys.add("f", "Star / unstar the highlighted image", () => app.favourites.toggle(grid.cursor), g);
  keys.add("x", "Select / deselect the highlighted image (Ctrl+click, Shift+click for ranges)", () => grid.toggleSelect(grid.cursor), g);
  keys.add("Escape", "Clear the selection", () => grid.clearSelection(), g);
  keys.add("Home", "First image", () => grid.moveCursor(0), g);
  keys.add("End", "Last image", () => grid.moveCursor(grid.set.total - 1), g);

  keys.add(["ArrowRight", "l"], "Next image (or swipe left)", () => viewer.step(1), v);
  keys.add(["ArrowLeft", "h"], "Previous image (or swipe right)", () => viewer.step(-1), v);
  keys.add(" ", "Start / pause the slideshow", () => viewer.toggleSlideshow(), v);
  keys.add("s", "Shuffle slideshow on / off", () => $("#slideshow-shuffle").click(), v);
  keys.add("w", "Wrap around at the end on / off", () => $("#slideshow-wrap").click(), v);
  keys.add("f", "Star / unstar this image", () => app.favourites.toggle(viewer.index), v);
  keys.add("i", "Show / hide the metadata drawer", () => app.drawer.toggle(), v);
  keys.add(["+", "="], "Zoom in (also Ctrl+wheel, double-click)", () => viewer.zoomBy(1), v);
  keys.add("-", "Zoom out", () => viewer.zoomBy(-1), v);
  keys.add("0", "Fit to screen", () => viewer.setZoom(1), v);
  keys.add("m", "More like this", () => viewer.moreLikeThis(), v);
  keys.add("d", "Download the file", () => viewer.download(), v);
  keys.add("c", "Copy the image to the clipboard", () => viewer.copyImage(), v);
  keys.add("p", "Copy the file's path", () => viewer.copyPath(), v);
  keys.add("Home", "First image", () => viewer.show(0), v);
  keys.add("End", "Last image", () => viewer.show(viewer.set.total - 1), v);
  keys.add("Escape", "Close the viewer", () => viewer.close(), v);
}

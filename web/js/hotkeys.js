// Global keyboard shortcuts in one registry; the "?" overlay is generated from it so the help
// can never drift from what the keys do.

import { $, h } from "./dom.js";

const ACTIVATES = "button, a[href], summary, [role=button], [role=tab], [role=link], [role=menuitem], [role=checkbox], [role=switch]";

export class Hotkeys {
  constructor(helpDialog) {
    this.bindings = [];
    this.help = helpDialog;
    document.addEventListener("keydown", (event) => this.onKey(event));
  }

  // scope: "global" | "gallery" | "viewer"; when(): extra guard evaluated at key time.
  add(keys, description, handler, { scope = "global", when = () => true } = {}) {
    this.bindings.push({ keys: [].concat(keys), description, handler, scope, when });
  }

  onKey(event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    const typing =
      target instanceof HTMLInputElement ||
      target instanceof HTMLTextAreaElement ||
      target instanceof HTMLSelectElement ||
      target.isContentEditable;
    if (typing && event.key !== "Escape") return;
    // Enter and Space activate the focused button, link or tab (keyboard-only use); as
    // shortcuts they would open the viewer or start the slideshow instead.
    if ((event.key === "Enter" || event.key === " ") && target.closest?.(ACTIVATES)) return;
    // Keys inside an open modal dialog belong to the dialog (its own Escape closes it).
    if (document.querySelector("dialog[open]")) return;
    const binding = this.bindings.find((b) => b.keys.includes(event.key) && b.when(event));
    if (!binding) return;
    event.preventDefault();
    binding.handler(event);
  }

  showHelp() {
    const groups = { global: "Anywhere", gallery: "Gallery", viewer: "Viewer" };
    const sections = Object.entries(groups).map(([scope, title]) =>
      h(
        "section",
        {},
        h("h3", {}, title),
        h(
          "table",
          { class: "hotkey-table" },
          h("tbody", {}, this.bindings.filter((b) => b.scope === scope).map((b) => h("tr", {}, h("td", {}, b.keys.map((key) => h("kbd", {}, keyLabel(key)))), h("td", {}, b.description)))),
        ),
      ),
    );
    $("#help-body", this.help).replaceChildren(...sections);
    this.help.showModal();
  }
}

function keyLabel(key) {
  return { " ": "Space", ArrowLeft: "←", ArrowRight: "→", ArrowUp: "↑", ArrowDown: "↓", Escape: "Esc" }[key] || key;
}

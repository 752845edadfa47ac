// Global keyboard shortcuts in one registry; the "?" overlay is generated from it so the help
// can never drift from what the keys do.

import { $, h } from "./dom.js";

const ACTIVATES = "button, a[href], summary, [role=button], [role=tab], [role=link], [role=menuitem], [role=checkbox], [role=switch]";

export class Hotkeys {
  constructor(helpDialog) {
    this.bindings = [];
    this.keyboardFocused = null;
    this.help = helpDialog;
    document.addEventListener("keydown", (event) => this.onKey(event));
    // How focus arrived (:focus-visible cannot tell: any key press makes the focus visible).
    let lastInput = "keyboard";
    document.addEventListener("pointerdown", () => (lastInput = "pointer"), true);
    document.addEventListener("keydown", () => (lastInput = "keyboard"), true);
    document.addEventListener("focusin", (event) => (this.keyboardFocused = lastInput === "keyboard" ? event.target : null));
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
    // Enter and Space press the button, link or tab that keyboard focus is on (reached with Tab
    // or a key); one merely clicked with the mouse keeps them as shortcuts.
    if ((event.key === "Enter" || event.key === " ") && target === this.keyboardFocused && target.closest(ACTIVATES)) return;
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

// "Add album from InvokeAI boards": pick boards from InvokeAI's own database (read by the daemon,
// so it works when the browser is on another machine), name the album, create or change it.

import { api, ApiError } from "./api.js";
import { $, formatCount, h, sentence, toast } from "./dom.js";

const UNCATEGORIZED = { board_id: "none", board_name: "Uncategorized", archived: false, image_count: null };
// Error codes of GET /api/invokeai/local/boards (and POST /api/albums) meaning "no database".
const NO_DATABASE = new Set(["invokeai_root_not_set", "invokeai_database"]);

export class BoardAlbumForm extends EventTarget {
  constructor(form) {
    super();
    this.form = form;
    this.list = $("#board-album-boards", form);
    this.status = $("#board-album-status", form);
    this.editing = null;
    this.nameTouched = false;
    form.addEventListener("submit", (event) => this.save(event));
    form.addEventListener("change", (event) => {
      if (event.target.name === "board") this.suggestName();
    });
    form.elements.name.addEventListener("input", () => {
      this.nameTouched = Boolean(form.elements.name.value.trim());
      if (!this.editing) form.elements.key.value = slug(form.elements.name.value);
    });
    $("#board-album-cancel", form).addEventListener("click", () => this.hide());
  }

  get isOpen() {
    return !this.form.hidden;
  }

  // album: a board album to change (its boards and name); null to add one.
  async open(album = null) {
    this.editing = album;
    this.form.hidden = false;
    this.form.reset();
    this.nameTouched = Boolean(album);
    this.status.textContent = "";
    $("#board-album-title", this.form).textContent = album ? `Boards of ${album.name || album.key}` : "Add album from InvokeAI boards";
    this.form.elements.name.value = album ? album.name || "" : "";
    this.form.elements.key.value = album ? album.key : "";
    this.form.elements.key.readOnly = Boolean(album);
    $("button[type=submit]", this.form).textContent = album ? "Save" : "Create album";
    this.setAvailable(true);
    this.list.replaceChildren(h("p", { class: "muted" }, "Reading InvokeAI's boards…"));
    $("#board-album-source", this.form).textContent = "";
    const chosen = new Set((album?.boards || []).map((board) => board.id));
    try {
      const listing = await api.localBoards();
      // Archived boards last, as InvokeAI lists them apart.
      const boards = [...listing.boards].sort((a, b) => Number(a.archived) - Number(b.archived));
      this.renderBoards([UNCATEGORIZED, ...boards], chosen);
      $("#board-album-source", this.form).textContent = `From InvokeAI's database in ${listing.root}; the files are read from ${listing.images_dir}.`;
      this.list.querySelector("input")?.focus();
    } catch (error) {
      this.renderUnavailable(error);
    }
  }

  hide() {
    this.form.hidden = true;
    this.editing = null;
  }

  renderBoards(boards, chosen) {
    this.list.replaceChildren(
      ...boards.map((board) =>
        h(
          "label",
          { class: "board-option" },
          h("input", { type: "checkbox", name: "board", value: board.board_id, checked: chosen.has(board.board_id), dataset: { name: board.board_name } }),
          h("span", { class: "board-name" }, board.board_name),
          board.image_count === null ? h("span", { class: "muted" }, "images on no board") : h("span", { class: "muted" }, `${formatCount(board.image_count)} images`),
          board.archived ? h("span", { class: "badge" }, "archived") : null,
        ),
      ),
    );
  }

  renderUnavailable(error) {
    this.setAvailable(false);
    const noDatabase = error instanceof ApiError && NO_DATABASE.has(error.code);
    this.list.replaceChildren(
      h(
        "div",
        { class: "board-album-missing", role: "alert" },
        h("h4", {}, noDatabase ? "No InvokeAI database found" : "InvokeAI's boards could not be read"),
        h("p", {}, sentence(error.message)),
        h(
          "p",
          { class: "muted" },
          "Board albums read InvokeAI's own database (<InvokeAI root>/databases/invokeai.db) on the machine photomapd runs on. Without it you can still add InvokeAI's outputs/images folder as a folder album with Add album.",
        ),
      ),
    );
  }

  setAvailable(available) {
    for (const element of this.form.querySelectorAll("input[name=name], input[name=key], button[type=submit]")) element.disabled = !available;
  }

  checked() {
    return [...this.list.querySelectorAll("input[name=board]:checked")];
  }

  // Until the user types a name, the album is named after its boards.
  suggestName() {
    if (this.nameTouched) return;
    const name = this.checked().map((input) => input.dataset.name).join(" + ");
    this.form.elements.name.value = name;
    if (!this.editing) this.form.elements.key.value = slug(name);
  }

  async save(event) {
    event.preventDefault();
    const boards = this.checked().map((input) => input.value);
    if (!boards.length) {
      this.status.textContent = "Pick at least one board.";
      return;
    }
    const name = this.form.elements.name.value.trim();
    const key = this.editing ? this.editing.key : this.form.elements.key.value.trim() || slug(name);
    this.status.textContent = "Saving…";
    try {
      if (this.editing) await api.updateAlbum(key, { name, boards });
      else await api.createAlbum({ name, key, boards });
      this.status.textContent = "";
      toast(this.editing ? `Album ${name} saved` : `Album ${name} added; indexing starts now`);
      this.hide();
      this.dispatchEvent(new CustomEvent("changed", { detail: { key } }));
    } catch (error) {
      this.status.textContent = sentence(error.message);
    }
  }
}

export function slug(text) {
  return text.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40);
}

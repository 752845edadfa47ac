// Albums manager: list with per-album status, add/edit/remove with a server-side folder picker,
// "Update Index" per album and for all, and the list of files that failed with their reasons.

import { api } from "./api.js";
import { BoardAlbumForm, slug } from "./boardalbums.js";
import { $, formatCount, h, sentence, toast } from "./dom.js";
import { icon } from "./icons.js";

export class AlbumsDialog extends EventTarget {
  constructor(dialog) {
    super();
    this.dialog = dialog;
    this.list = $("#albums-list", dialog);
    this.form = $("#album-form", dialog);
    this.failures = $("#album-failures", dialog);
    this.picker = new FolderPicker($("#folder-picker"));
    this.boardForm = new BoardAlbumForm($("#board-album-form", dialog));
    this.boardForm.addEventListener("changed", (event) => this.dispatchEvent(new CustomEvent("changed", { detail: event.detail })));
    this.editing = null;
    this.albums = [];
    $("#albums-close", dialog).addEventListener("click", () => dialog.close());
    $("#albums-update-all", dialog).addEventListener("click", () => this.reindexAll());
    $("#album-add", dialog).addEventListener("click", () => this.edit(null));
    $("#album-add-boards", dialog).addEventListener("click", () => this.editBoards(null));
    $("#album-cancel", dialog).addEventListener("click", () => this.hideForm());
    $("#album-add-folder", dialog).addEventListener("click", () => this.addFolderRow(""));
    this.form.addEventListener("submit", (event) => this.save(event));
    this.form.elements.name.addEventListener("input", () => {
      if (!this.editing) this.form.elements.key.value = slug(this.form.elements.name.value);
    });
  }

  open() {
    if (!this.dialog.open) this.dialog.showModal();
    this.render(this.albums);
  }

  // Called with /api/status albums (which carry counts and state) whenever status changes.
  render(albums) {
    this.albums = albums;
    if (!this.dialog.open) return;
    if (!albums.length) {
      this.list.replaceChildren(h("p", { class: "muted" }, "No albums yet. Add the folder where InvokeAI writes images (usually <invokeai root>/outputs/images)."));
      return;
    }
    this.list.replaceChildren(...albums.map((album) => this.renderAlbum(album)));
  }

  renderAlbum(album) {
    const missing = (album.folders || []).filter((folder) => folder.exists === false);
    const state = missing.length ? "folder missing" : album.state || "ok";
    const boards = album.boards || [];
    return h(
      "article",
      { class: `album-card album-card--${state.replace(/\s+/g, "-")}${boards.length ? " album-card--boards" : ""}`, "data-key": album.key },
      h(
        "header",
        {},
        h("h3", {}, album.name || album.key),
        boards.length ? h("span", { class: "badge badge--boards" }, "InvokeAI boards") : null,
        h("span", { class: "badge" }, state),
      ),
      h(
        "p",
        { class: "album-stats" },
        `${formatCount(album.count)} images`,
        album.pending ? ` · ${formatCount(album.pending)} waiting` : "",
        album.failed ? ` · ${formatCount(album.failed)} failed` : "",
      ),
      boards.length
        ? h(
            "ul",
            { class: "board-chips", "aria-label": "Boards" },
            boards.map((board) => h("li", { class: board.name ? "" : "missing" }, board.name || `board ${board.id} (no longer in InvokeAI)`)),
          )
        : null,
      h(
        "ul",
        { class: `folder-list${boards.length ? " folder-list--source" : ""}` },
        (album.folders || []).map((folder) =>
          h("li", { class: folder.exists === false ? "missing" : "" }, h("span", { html: icon("folder", { size: 14 }) }), " ", folder.path, folder.exists === false ? " — not found. Reconnect the drive or edit the album; its index is kept." : ""),
        ),
      ),
      h(
        "div",
        { class: "button-row" },
        h("button", { type: "button", class: "btn", onclick: () => this.reindex(album.key) }, "Update Index"),
        h("button", { type: "button", class: "btn", onclick: () => (boards.length ? this.editBoards(album) : this.edit(album)) }, boards.length ? "Change boards" : "Edit"),
        album.failed ? h("button", { type: "button", class: "btn", onclick: () => this.showFailures(album) }, "Failed files") : null,
        h("button", { type: "button", class: "btn btn-danger", onclick: () => this.remove(album) }, "Remove"),
      ),
    );
  }

  async reindex(key) {
    try {
      await api.reindex(key);
      toast(`Updating index of ${key}…`);
    } catch (error) {
      toast(`Update Index failed: ${error.message}`, { kind: "error" });
    }
  }

  async reindexAll() {
    try {
      await api.reindexAll();
      toast("Updating the index of every album…");
    } catch (error) {
      toast(`Update all failed: ${error.message}`, { kind: "error" });
    }
  }

  async showFailures(album) {
    this.failures.hidden = false;
    this.failures.replaceChildren(h("h3", {}, `Failed files in ${album.name || album.key}`), h("p", { class: "muted" }, "Loading…"));
    try {
      const { items } = await api.failures(album.key);
      const show = (item) => {
        this.dialog.close();
        this.dispatchEvent(new CustomEvent("show-image", { detail: { id: item.id } }));
      };
      const list = h(
        "ul",
        { class: "failure-list" },
        items.map((item) =>
          h(
            "li",
            {},
            h("code", {}, item.path),
            h("span", { class: "error-text" }, sentence(item.error) || "Unknown error."),
            // Links and folders that could not be used have no image (id null): nothing to show.
            item.id == null ? null : h("button", { type: "button", class: "btn btn-ghost", "aria-label": `Show ${item.path.split(/[\\/]/).pop()} in the viewer`, onclick: () => show(item) }, "Show"),
          ),
        ),
      );
      this.failures.replaceChildren(
        h("h3", {}, `Failed files in ${album.name || album.key} (${items.length})`),
        h("p", { class: "muted" }, "Each file is retried when it changes. Fix or replace the file, or remove it from the folder. Symlinks and folders listed here are looked at again on Update Index."),
        items.length ? list : h("p", {}, "None."),
      );
    } catch (error) {
      this.failures.replaceChildren(h("p", { class: "error-text" }, `Could not load failures: ${error.message}`));
    }
  }

  // Board albums get their own form: their folder is InvokeAI's, their boards are the choice.
  editBoards(album) {
    this.hideForm();
    this.boardForm.open(album);
  }

  edit(album) {
    this.boardForm.hide();
    this.editing = album;
    this.form.hidden = false;
    this.form.reset();
    $("#album-form-title", this.dialog).textContent = album ? `Edit ${album.name || album.key}` : "Add album";
    this.form.elements.name.value = album ? album.name || "" : "";
    this.form.elements.key.value = album ? album.key : "";
    this.form.elements.key.readOnly = Boolean(album);
    this.form.elements.exclude.value = album && album.exclude ? album.exclude.join("\n") : "";
    $("#album-folders", this.dialog).replaceChildren();
    const folders = album ? (album.folders || []).map((folder) => folder.path ?? folder) : [""];
    for (const folder of folders) this.addFolderRow(folder);
    this.form.elements.name.focus();
  }

  hideForm() {
    this.form.hidden = true;
    this.editing = null;
  }

  addFolderRow(path) {
    const input = h("input", { type: "text", name: "folder", value: path, placeholder: "/path/to/invokeai/outputs/images", "aria-label": "Folder path", required: true });
    const row = h(
      "div",
      { class: "folder-row" },
      input,
      h("button", { type: "button", class: "btn", onclick: async () => {
        const chosen = await this.picker.choose(input.value);
        if (chosen) input.value = chosen;
      } }, "Browse…"),
      h("button", { type: "button", class: "icon-btn", "aria-label": "Remove folder", html: icon("close", { size: 14 }), onclick: () => row.remove() }),
    );
    $("#album-folders", this.dialog).append(row);
  }

  async save(event) {
    event.preventDefault();
    const elements = this.form.elements;
    const folders = [...this.form.querySelectorAll("input[name=folder]")].map((input) => input.value.trim()).filter(Boolean);
    const body = {
      name: elements.name.value.trim(),
      folders,
      exclude: elements.exclude.value.split("\n").map((line) => line.trim()).filter(Boolean),
    };
    const status = $("#album-form-status", this.dialog);
    status.textContent = "Saving…";
    try {
      if (this.editing) await api.updateAlbum(this.editing.key, body);
      else await api.createAlbum({ key: elements.key.value.trim() || slug(body.name), ...body });
      status.textContent = "";
      toast(this.editing ? "Album saved" : `Album ${body.name} added; indexing starts now`);
      const key = this.editing ? this.editing.key : elements.key.value.trim() || slug(body.name);
      this.hideForm();
      this.dispatchEvent(new CustomEvent("changed", { detail: { key } }));
    } catch (error) {
      status.textContent = error.message;
    }
  }

  async remove(album) {
    if (!confirm(`Remove album "${album.name || album.key}"? The image files stay on disk; only the index is removed.`)) return;
    try {
      await api.deleteAlbum(album.key);
      toast(`Album ${album.name || album.key} removed`);
      this.dispatchEvent(new CustomEvent("changed", { detail: { removed: album.key } }));
    } catch (error) {
      toast(`Could not remove: ${error.message}`, { kind: "error" });
    }
  }
}


// Server-side directory browser: the daemon may run on another machine than the browser (LAN).
class FolderPicker {
  constructor(dialog) {
    this.dialog = dialog;
    this.pathLabel = $("#picker-path", dialog);
    this.list = $("#picker-list", dialog);
    this.current = null;
    this.resolve = null;
    $("#picker-choose", dialog).addEventListener("click", () => this.finish(this.current));
    $("#picker-cancel", dialog).addEventListener("click", () => this.finish(null));
    $("#picker-up", dialog).addEventListener("click", () => this.parent && this.go(this.parent));
    $("#picker-go", dialog).addEventListener("submit", (event) => {
      event.preventDefault();
      this.go(event.target.elements.path.value);
    });
    dialog.addEventListener("close", () => this.finish(null));
  }

  choose(start) {
    this.dialog.showModal();
    this.go(start || "");
    return new Promise((resolve) => (this.resolve = resolve));
  }

  finish(value) {
    if (this.dialog.open) this.dialog.close();
    if (this.resolve) this.resolve(value);
    this.resolve = null;
  }

  async go(path) {
    // Only the latest request may draw: the opening listing can answer after the user's own
    // path was submitted and would otherwise replace it (and the typed path) with the start folder.
    const request = (this.request = (this.request || 0) + 1);
    try {
      const listing = await api.fsList(path);
      if (request !== this.request) return;
      this.current = listing.path;
      this.parent = listing.parent;
      this.pathLabel.textContent = listing.path;
      $("#picker-go", this.dialog).elements.path.value = listing.path;
      const sep = listing.path.includes("\\") && !listing.path.includes("/") ? "\\" : "/";
      const join = (name) => (listing.path.endsWith(sep) ? listing.path + name : listing.path + sep + name);
      this.list.replaceChildren(
        ...listing.dirs.map((name) => h("li", {}, h("button", { type: "button", class: "picker-dir", onclick: () => this.go(join(name)) }, h("span", { html: icon("folder", { size: 14 }) }), " ", name))),
      );
      if (!listing.dirs.length) this.list.append(h("li", { class: "muted" }, "No sub-folders"));
    } catch (error) {
      if (request === this.request) this.list.replaceChildren(h("li", { class: "error-text" }, error.message));
    }
  }
}

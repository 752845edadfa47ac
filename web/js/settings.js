// Settings dialog: model (name, checkpoint, device, idle unload), port (restart notice) and the
// InvokeAI bridge section, rendered from whatever fields the daemon reports.

import { api } from "./api.js";
import { $, h, sentence, toast } from "./dom.js";

const DEVICES = [
  ["auto", "Auto (CUDA, then MPS, then CPU)"],
  ["cuda", "CUDA GPU"],
  ["mps", "Apple MPS"],
  ["cpu", "CPU"],
];

export class SettingsDialog {
  constructor(dialog) {
    this.dialog = dialog;
    this.form = $("#settings-form", dialog);
    this.invoke = $("#invokeai-settings", dialog);
    this.notice = $("#settings-notice", dialog);
    this.invokeLoaded = false;
    $("#settings-close", dialog).addEventListener("click", () => dialog.close());
    this.form.addEventListener("submit", (event) => this.save(event));
  }

  async open() {
    this.dialog.showModal();
    this.notice.textContent = "";
    await Promise.all([this.loadCore(), this.loadInvokeai()]);
  }

  async loadCore() {
    const core = $("#core-settings", this.dialog);
    try {
      const settings = await api.settings();
      const model = settings.model || {};
      const el = this.form.elements;
      el.model_name.value = model.name ?? "";
      el.model_pretrained.value = model.pretrained ?? "";
      const device = el.model_device;
      device.replaceChildren(...DEVICES.map(([value, label]) => h("option", { value }, label)));
      device.value = model.device || "auto";
      el.idle_unload_seconds.value = model.idle_unload_seconds ?? 120;
      el.port.value = settings.port ?? "";
      this.coreSaved = JSON.stringify(this.coreBody());
      core.disabled = false;
    } catch (error) {
      core.disabled = true;
      this.notice.textContent = `Could not load settings: ${error.message}`;
    }
  }

  async loadInvokeai() {
    let settings;
    try {
      settings = await api.invokeaiSettings();
    } catch (error) {
      this.invoke.replaceChildren(h("legend", {}, "InvokeAI"), h("p", { class: "muted" }, `Could not load InvokeAI settings: ${error.message}`));
      this.invokeLoaded = false;
      return;
    }
    this.invokeLoaded = true;
    this.invokeSaved = JSON.stringify({ url: settings.url || "", username: settings.username || "", board_id: settings.board_id || "" });
    const field = (id, label, input, hint) => h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", { class: "muted" }, hint) : null);
    const board = h("select", { id: "i-board", name: "invokeai_board_id" }, h("option", { value: "" }, "Uncategorized"));
    if (settings.board_id) board.append(h("option", { value: settings.board_id, selected: true }, settings.board_id));
    const status = h("p", { class: "muted", id: "invokeai-status", role: "status" }, "Checking connection…");
    this.invoke.replaceChildren(
      h("legend", {}, "InvokeAI"),
      field("i-url", "InvokeAI URL", h("input", { id: "i-url", name: "invokeai_url", type: "url", value: settings.url || "", placeholder: "http://127.0.0.1:9090" })),
      h("div", { class: "field field--row field--top" },
        field("i-user", "Username (multi-user servers)", h("input", { id: "i-user", name: "invokeai_username", value: settings.username || "", autocomplete: "off" })),
        field("i-password", "Password", h("input", { id: "i-password", name: "invokeai_password", type: "password", autocomplete: "new-password", placeholder: settings.has_password ? "stored (leave empty to keep)" : "" }), settings.password_storage ? `kept in ${settings.password_storage}` : ""),
      ),
      field("i-board", "Upload board", board),
      settings.password_warning ? h("p", { class: "notice" }, settings.password_warning) : null,
      status,
    );
    api.invokeaiStatus().then(
      (s) => (status.textContent = describeInvokeStatus(s)),
      (error) => (status.textContent = `Status unavailable: ${error.message}`),
    );
    api.invokeaiBoards().then(({ boards }) => {
      board.replaceChildren(...boards.map((b) => h("option", { value: b.board_id ?? "" }, b.board_name || b.name || "Uncategorized")));
      board.value = settings.board_id || "";
    }, () => {});
  }

  async save(event) {
    event.preventDefault();
    const el = this.form.elements;
    const messages = [];
    // Only the sections the user changed are saved, so the message talks about those alone
    // (saving the InvokeAI section also re-checks the connection, which may take seconds).
    const coreBody = this.coreBody();
    if (!$("#core-settings", this.dialog).disabled && JSON.stringify(coreBody) !== this.coreSaved) {
      try {
        const result = await api.saveSettings(coreBody);
        this.coreSaved = JSON.stringify(coreBody);
        messages.push(result && result.restart_needed ? "Saved. Restart photomapd for the new port to take effect." : "Settings saved.");
      } catch (error) {
        messages.push(sentence(`Settings not saved: ${error.message}`));
      }
    }
    const invokeBody = this.invokeLoaded ? { url: el.invokeai_url.value.trim(), username: el.invokeai_username.value.trim(), board_id: el.invokeai_board_id.value } : null;
    if (invokeBody && (el.invokeai_password.value || JSON.stringify(invokeBody) !== this.invokeSaved)) {
      const body = { ...invokeBody };
      if (el.invokeai_password.value) body.password = el.invokeai_password.value; // empty keeps the stored one
      try {
        const saved = await api.saveInvokeaiSettings(body);
        messages.push(`InvokeAI settings saved. ${describeInvokeStatus(saved.status)}`);
        this.loadInvokeai();
      } catch (error) {
        messages.push(sentence(`InvokeAI settings not saved: ${error.message}`));
      }
    }
    if (!messages.length) messages.push("Nothing to save: no setting was changed.");
    this.notice.textContent = messages.join(" ");
    toast(messages.join(" "));
  }

  coreBody() {
    const el = this.form.elements;
    return {
      model: {
        name: el.model_name.value.trim(),
        pretrained: el.model_pretrained.value.trim(),
        device: el.model_device.value,
        idle_unload_seconds: Number(el.idle_unload_seconds.value),
      },
      port: Number(el.port.value),
    };
  }
}

function describeInvokeStatus(status) {
  if (!status) return "";
  if (status.configured === false) return "Not configured: enter InvokeAI's URL.";
  const version = status.version ? ` (InvokeAI ${status.version})` : "";
  if (status.reachable) return `Connected${version}.`;
  return sentence(`Not reachable${status.detail ? `: ${status.detail}` : ""}`);
}

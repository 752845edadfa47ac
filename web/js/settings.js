// Settings dialog: model (name, checkpoint, device, idle unload), port (restart notice) and the
// InvokeAI bridge section, rendered from whatever fields the daemon reports.

import { api, ApiError } from "./api.js";
import { $, h, toast } from "./dom.js";

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
    this.invokeFields = [];
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
      core.disabled = false;
    } catch (error) {
      core.disabled = true;
      this.notice.textContent = error instanceof ApiError && error.unsupported ? "This daemon does not expose settings over the API yet; edit config.toml in the data folder." : `Could not load settings: ${error.message}`;
    }
  }

  async loadInvokeai() {
    let settings;
    try {
      settings = await api.invokeaiSettings();
    } catch (error) {
      this.invoke.replaceChildren(h("legend", {}, "InvokeAI"), h("p", { class: "muted" }, error instanceof ApiError && error.unsupported ? "The InvokeAI bridge is not available in this build." : `Could not load InvokeAI settings: ${error.message}`));
      this.invokeFields = [];
      return;
    }
    this.invokeFields = Object.keys(settings);
    const fields = this.invokeFields.map((key) => invokeField(key, settings[key]));
    const status = h("p", { class: "muted", id: "invokeai-status" }, "Checking connection…");
    this.invoke.replaceChildren(h("legend", {}, "InvokeAI"), ...fields, status);
    api.invokeaiStatus().then(
      (s) => (status.textContent = describeInvokeStatus(s)),
      (error) => (status.textContent = `Status unavailable: ${error.message}`),
    );
  }

  async save(event) {
    event.preventDefault();
    const el = this.form.elements;
    const messages = [];
    if (!$("#core-settings", this.dialog).disabled) {
      const body = {
        model: {
          name: el.model_name.value.trim(),
          pretrained: el.model_pretrained.value.trim(),
          device: el.model_device.value,
          idle_unload_seconds: Number(el.idle_unload_seconds.value),
        },
        port: Number(el.port.value),
      };
      try {
        const result = await api.saveSettings(body);
        messages.push(result && result.restart_needed ? "Saved. Restart photomapd for the new port to take effect." : "Settings saved.");
      } catch (error) {
        messages.push(`Settings not saved: ${error.message}`);
      }
    }
    if (this.invokeFields.length) {
      const body = {};
      for (const key of this.invokeFields) {
        const input = this.form.elements[`invokeai_${key}`];
        if (!input) continue;
        if (input.type === "checkbox") body[key] = input.checked;
        else if (input.type === "number") body[key] = input.value === "" ? null : Number(input.value);
        else if (input.type === "password" && input.value === "") continue; // keep the stored secret
        else body[key] = input.value;
      }
      try {
        await api.saveInvokeaiSettings(body);
        messages.push("InvokeAI settings saved.");
        this.loadInvokeai();
      } catch (error) {
        messages.push(`InvokeAI settings not saved: ${error.message}`);
      }
    }
    this.notice.textContent = messages.join(" ");
    toast(messages.join(" "));
  }
}

function invokeField(key, value) {
  const label = key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  const name = `invokeai_${key}`;
  const id = `field-${name}`;
  if (typeof value === "boolean") {
    return h("label", { class: "field field--check", for: id }, h("input", { type: "checkbox", id, name, checked: value }), label);
  }
  const secret = /password|token|secret/i.test(key);
  const input = h("input", {
    id,
    name,
    type: secret ? "password" : typeof value === "number" ? "number" : "text",
    value: secret ? "" : value ?? "",
    placeholder: secret ? (value ? "stored (leave empty to keep)" : "") : "",
    autocomplete: secret ? "new-password" : "off",
  });
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

function describeInvokeStatus(status) {
  if (!status) return "";
  const connected = status.connected ?? status.reachable ?? status.ok;
  const version = status.version ? ` (InvokeAI ${status.version})` : "";
  if (connected) return `Connected${version}.`;
  return `Not connected${status.error || status.message ? `: ${status.error || status.message}` : ""}.`;
}

// Live push channel: wraps EventSource(/api/events), re-emits daemon events and tracks connection health.

export const EVENT_KINDS = [
  "hello",
  "overflow",
  "image_added",
  "image_updated",
  "image_removed",
  "progress",
  "model_state",
  "album_changed",
];

export const Connection = Object.freeze({
  CONNECTING: "connecting",
  OPEN: "open",
  RECONNECTING: "reconnecting",
  LOST: "lost",
});

// After this long without a working stream the dot turns red ("lost") instead of amber.
// (Tests shorten it through window.__photomapdLostAfterMs.)
const LOST_AFTER_MS = window.__photomapdLostAfterMs || 8000;

export class EventStream extends EventTarget {
  constructor(url = "/api/events") {
    super();
    this.url = url;
    this.state = Connection.CONNECTING;
    this.source = null;
    this.downSince = null;
    this.retryTimer = null;
    this.lostTimer = null;
    this.everOpened = false;
  }

  connect() {
    this.close();
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener("open", () => this.onOpen());
    source.addEventListener("error", () => this.onError());
    for (const kind of EVENT_KINDS) {
      source.addEventListener(kind, (message) => this.forward(kind, message));
    }
    // Kinds added later by the daemon still arrive as plain "message" events if unnamed.
    source.addEventListener("message", (message) => this.forward("message", message));
  }

  close() {
    if (this.source) this.source.close();
    this.source = null;
    clearTimeout(this.retryTimer);
  }

  forward(kind, message) {
    let data = null;
    try {
      data = message.data ? JSON.parse(message.data) : null;
    } catch {
      console.warn("photomapd: unparseable event", kind, message.data);
      return;
    }
    this.dispatchEvent(new CustomEvent(kind, { detail: data }));
  }

  onOpen() {
    const wasDown = this.everOpened && this.state !== Connection.OPEN;
    this.everOpened = true;
    this.downSince = null;
    clearTimeout(this.lostTimer);
    this.setState(Connection.OPEN);
    // Events sent while we were away are gone: tell views to refetch what they show.
    if (wasDown) this.dispatchEvent(new CustomEvent("resync"));
  }

  onError() {
    if (this.downSince === null) {
      this.downSince = Date.now();
      this.lostTimer = setTimeout(() => this.setState(Connection.LOST), LOST_AFTER_MS);
    }
    if (this.state !== Connection.LOST) this.setState(Connection.RECONNECTING);
    // EventSource gives up for good on some failures (HTTP error status); retry ourselves then.
    if (this.source && this.source.readyState === EventSource.CLOSED) {
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.connect(), 2000);
    }
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("connection", { detail: { state } }));
  }
}

// What the page shows, as one plain object mirrored into the URL so back/forward and bookmarks work.

export const DEFAULTS = Object.freeze({
  view: "gallery",
  album: "",
  order: "newest",
  fav: false,
  q: "",
  negative: "",
  nw: 0.5,
  prompt: "",
  model: "",
  lora: "",
  generator: "",
  since: "",
  until: "",
  seed: "",
  ref: false,
  similar: "",
  image: "",
  strength: "", // the map's cluster strength (0..1), set by its slider
});

// Filters the search API understands; sent only when set.
export const FILTER_KEYS = ["prompt", "model", "lora", "generator", "seed", "since", "until", "ref"];

// State key -> API parameter where they differ.
export const FILTER_PARAMS = { ref: "has_reference" };

export function readState(search = window.location.search) {
  const params = new URLSearchParams(search);
  const state = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    if (!params.has(key)) continue;
    const value = params.get(key);
    if (key === "fav" || key === "ref") state[key] = value === "1";
    else if (key === "nw") state.nw = clampWeight(Number(value));
    else state[key] = value;
  }
  if (state.order !== "oldest") state.order = "newest";
  if (state.view !== "map") state.view = "gallery";
  return state;
}

export function toQuery(state) {
  const params = new URLSearchParams();
  for (const [key, fallback] of Object.entries(DEFAULTS)) {
    const value = state[key];
    if (value === fallback || value === "" || value === undefined || value === null) continue;
    if (key === "nw" && !state.negative) continue;
    params.set(key, key === "fav" || key === "ref" ? "1" : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : window.location.pathname;
}

export function writeState(state, { push = true } = {}) {
  const url = toQuery(state);
  const current = window.location.search || window.location.pathname;
  if (url === current) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

export function isSearch(state, queryImage) {
  return Boolean(state.q || state.similar || queryImage || FILTER_KEYS.some((key) => state[key]));
}

function clampWeight(value) {
  return Number.isFinite(value) ? Math.max(0, Math.min(1, value)) : DEFAULTS.nw;
}

// JSON API client: one place that knows paths and error shapes.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function buildUrl(path, query) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    url.searchParams.set(key, value === true ? "1" : String(value));
  }
  return url.pathname + url.search;
}

async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || "Request failed";
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // Not JSON (for example aiohttp's plain-text 404 for a route that does not exist).
  }
  return new ApiError(response.status, code, message);
}

export async function request(method, path, { query, json, form, signal, raw } = {}) {
  const init = { method, signal, headers: {} };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (form !== undefined) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(buildUrl(path, query), init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "unreachable", "Cannot reach the photomapd daemon. Is it running?");
  }
  if (!response.ok) throw await errorFrom(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

const get = (path, query, options) => request("GET", path, { query, ...options });
const enc = encodeURIComponent;

export const api = {
  status: () => get("/api/status"),
  albums: () => get("/api/albums"),
  album: (key) => get(`/api/albums/${enc(key)}`),
  createAlbum: (body) => request("POST", "/api/albums", { json: body }),
  updateAlbum: (key, body) => request("PATCH", `/api/albums/${enc(key)}`, { json: body }),
  deleteAlbum: (key) => request("DELETE", `/api/albums/${enc(key)}`),
  reindexAll: () => request("POST", "/api/albums/reindex"),
  reindex: (key) => request("POST", `/api/albums/${enc(key)}/reindex`),
  failures: (key) => get(`/api/albums/${enc(key)}/failures`),
  facets: (key) => get(`/api/albums/${enc(key)}/facets`),
  images: (key, query, options) => get(`/api/albums/${enc(key)}/images`, query, options),
  image: (id) => get(`/api/images/${id}`),
  metadata: (id) => get(`/api/images/${id}/metadata`),
  exif: (id) => get(`/api/images/${id}/exif`),
  imageByName: (name) => get("/api/image-lookup", { name }),
  similar: (id, query, options) => get(`/api/images/${id}/similar`, query, options),
  setFavourite: (id, on) => request(on ? "PUT" : "DELETE", `/api/images/${id}/favourite`),
  search: (query, options) => get("/api/search", query, options),
  searchMatching: (query) => get("/api/search/matching", query),
  searchWithImage(query, file, options) {
    const form = new FormData();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") form.append(key, String(value));
    }
    if (file) form.append("image", file, file.name || "query.png");
    return request("POST", "/api/search", { form, ...options });
  },
  zip: (ids) => request("POST", "/api/images/zip", { json: { ids }, raw: true }),
  fsList: (path) => get("/api/fs/list", { path }),
  settings: () => get("/api/settings"),
  saveSettings: (body) => request("PUT", "/api/settings", { json: body }),
  invokeaiStatus: () => get("/api/invokeai/status"),
  invokeaiSettings: () => get("/api/invokeai/settings"),
  saveInvokeaiSettings: (body) => request("PUT", "/api/invokeai/settings", { json: body }),
  invokeaiBoards: () => get("/api/invokeai/boards"),
  localBoards: () => get("/api/invokeai/local/boards"),
  invokeaiActions: (id) => get(`/api/images/${id}/invokeai`),
  invokeaiAction: (id, action, body) =>
    request("POST", `/api/images/${id}/invokeai/${enc(action)}`, { json: body || {} }),
};

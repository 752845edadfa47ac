// The semantic map view: a canvas scatter of an album's map that stays smooth at 100k points.
// Plain ES module, no build step. Points are written straight into an ImageData buffer (one
// typed-array write per point), which costs a few ms per frame where 100k canvas fillRect
// calls would cost tens. Hover/click use a uniform grid index over the unit square.
//
//   const map = await createMap(element, { album: "album0" });
//   element.addEventListener("photomapd:open-image", e => open(e.detail.id));
//   element.addEventListener("photomapd:result-set", e => show(e.detail.ids));
//   map.highlight([ids]); map.setCurrent(id);
//   (or dispatch "photomapd:highlight" {ids} / "photomapd:current-image" {id} on the element)
//   A "Cluster strength" slider reclusters (PUT .../map/strength) and emits
//   "photomapd:strength" {strength} so the host can keep it in its URL; createMap's
//   `strength` option (from that URL) is applied once the map is loaded.

const GRID = 128;
const PALETTE = [
  "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
  "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
  "#808000", "#ffd8b1", "#000075", "#a9a9a9",
];
const NOISE_COLOUR = "#6b6f7a";

function decodeBase64(text, Type) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer, 0, bytes.byteLength / Type.BYTES_PER_ELEMENT);
}

export function decodePayload(payload) {
  const deltas = decodeBase64(payload.ids, Uint32Array);
  const ids = new Float64Array(deltas.length);
  let running = 0;
  for (let i = 0; i < deltas.length; i++) ids[i] = running += deltas[i];
  const scale = payload.scale || 65535;
  const xq = decodeBase64(payload.x, Uint16Array), yq = decodeBase64(payload.y, Uint16Array);
  const x = new Float32Array(xq.length), y = new Float32Array(yq.length);
  for (let i = 0; i < xq.length; i++) { x[i] = xq[i] / scale; y[i] = yq[i] / scale; }
  return { ids: Array.from(ids), x: Array.from(x), y: Array.from(y),
           cluster: Array.from(decodeBase64(payload.cluster, Int16Array)) };
}

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function packed(hex) {  // little-endian RGBA as one uint32 for the ImageData buffer
  const [r, g, b] = rgb(hex);
  return (255 << 24) | (b << 16) | (g << 8) | r;
}

function inside(polygon, px, py) {
  let result = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
    if ((yi > py) !== (yj > py) && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) result = !result;
  }
  return result;
}

const STRENGTH_DEBOUNCE_MS = 250;

export function parseStrength(value) {  // a URL parameter -> a number in [0, 1] or null
  if (value === null || value === undefined || value === "") return null;
  const number = Number(value);
  return Number.isFinite(number) && number >= 0 && number <= 1 ? number : null;
}

export async function createMap(element, { album, baseUrl = "", live = true, strength = null } = {}) {
  element.classList.add("pm-map");
  element.innerHTML = "";
  const canvas = document.createElement("canvas");
  const tooltip = document.createElement("div");
  tooltip.className = "pm-map-tooltip";
  tooltip.hidden = true;
  tooltip.innerHTML = '<img alt=""><span></span>';
  const labels = document.createElement("div");
  labels.className = "pm-map-labels";
  const status = document.createElement("div");
  status.className = "pm-map-status";
  // Native range input: arrow keys, Page Up/Down, Home/End work out of the box.
  const control = document.createElement("div");
  control.className = "pm-map-strength";
  control.innerHTML = '<span aria-hidden="true">many small</span>'
    + '<input type="range" min="0" max="1" step="0.05" aria-label="Cluster strength"'
    + ' title="Cluster strength: 0 = many small clusters, 1 = a few large ones">'
    + '<span aria-hidden="true">few large</span><output aria-hidden="true"></output>';
  const slider = control.querySelector("input"), sliderValue = control.querySelector("output");
  element.append(canvas, labels, tooltip, status, control);
  const context = canvas.getContext("2d");

  const state = { ids: [], x: [], y: [], cluster: [], index: new Map(), clusters: [],
                  highlighted: new Set(), current: null, hover: -1,
                  zoom: 1, panX: 0, panY: 0, lasso: null, version: -1, frame: 0 };
  let grid = [];
  let buffer = null;

  const size = () => Math.min(canvas.width, canvas.height) * 0.95;
  const toScreenXY = (x, y) => {
    const s = size() * state.zoom;
    return [(x - 0.5) * s + canvas.width / 2 + state.panX, (y - 0.5) * s + canvas.height / 2 + state.panY];
  };
  const toMap = (sx, sy) => {
    const s = size() * state.zoom;
    return [(sx - canvas.width / 2 - state.panX) / s + 0.5, (sy - canvas.height / 2 - state.panY) / s + 0.5];
  };

  function rebuildIndex() {
    state.index = new Map(state.ids.map((id, row) => [id, row]));
    grid = Array.from({ length: GRID * GRID }, () => []);
    for (let row = 0; row < state.ids.length; row++) grid[cellOf(state.x[row], state.y[row])].push(row);
  }
  function cellOf(x, y) {
    const cx = Math.min(GRID - 1, Math.max(0, Math.floor(x * GRID)));
    const cy = Math.min(GRID - 1, Math.max(0, Math.floor(y * GRID)));
    return cy * GRID + cx;
  }

  function nearest(sx, sy, radiusPx = 8) {
    const [mx, my] = toMap(sx, sy);
    const radius = radiusPx / (size() * state.zoom);
    const reach = Math.ceil(radius * GRID);
    const gx = Math.floor(mx * GRID), gy = Math.floor(my * GRID);
    let best = -1, bestDistance = radius * radius;
    for (let cy = gy - reach; cy <= gy + reach; cy++) {
      for (let cx = gx - reach; cx <= gx + reach; cx++) {
        if (cx < 0 || cy < 0 || cx >= GRID || cy >= GRID) continue;
        for (const row of grid[cy * GRID + cx]) {
          const d = (state.x[row] - mx) ** 2 + (state.y[row] - my) ** 2;
          if (d <= bestDistance) { bestDistance = d; best = row; }
        }
      }
    }
    return best;
  }

  function draw() {
    state.frame = 0;
    element.dataset.drawnVersion = String(state.version);
    const { width, height } = canvas;
    // One ImageData per canvas size: allocating 4 MB a frame made the garbage collector stall.
    if (!buffer || buffer.image.width !== width || buffer.image.height !== height) {
      const image = context.createImageData(width, height);
      buffer = { image, pixels: new Uint32Array(image.data.buffer) };
    }
    const { image, pixels } = buffer;
    pixels.fill(packed("#15161a"));
    const colours = PALETTE.map(packed), noise = packed(NOISE_COLOUR);
    // Bigger dots where there are few points (a new album), 2 px at 100k so clusters stay legible.
    const count = state.x.length;
    const dot = count < 500 ? 5 : count < 5000 || state.zoom > 4 ? 3 : 2;
    // The screen transform inlined: a returned [x, y] per point is 100k allocations a frame.
    const scale = size() * state.zoom;
    const half = dot >> 1;  // the dot is centred on the point, where hover and click find it
    const offsetX = canvas.width / 2 + state.panX - 0.5 * scale - half;
    const offsetY = canvas.height / 2 + state.panY - 0.5 * scale - half;
    const xs = state.x, ys = state.y, clusters = state.cluster;
    for (let row = 0; row < xs.length; row++) {
      const px = (xs[row] * scale + offsetX) | 0, py = (ys[row] * scale + offsetY) | 0;
      if (px < 0 || py < 0 || px >= width - dot || py >= height - dot) continue;
      const c = clusters[row];
      const colour = c < 0 ? noise : colours[c % colours.length];
      for (let dy = 0; dy < dot; dy++) pixels.fill(colour, (py + dy) * width + px, (py + dy) * width + px + dot);
    }
    context.putImageData(image, 0, 0);
    // Few marked points: drawn as vector shapes on top.
    context.fillStyle = "#fff";
    for (const id of state.highlighted) {
      const row = state.index.get(id);
      if (row === undefined) continue;
      const [sx, sy] = toScreenXY(state.x[row], state.y[row]);
      context.beginPath(); context.arc(sx, sy, 4, 0, 2 * Math.PI); context.fill();
    }
    for (const [row, colour, radius] of [[state.index.get(state.current), "#ffd400", 7], [state.hover, "#fff", 6]]) {
      if (row === undefined || row < 0) continue;
      const [sx, sy] = toScreenXY(state.x[row], state.y[row]);
      context.strokeStyle = colour; context.lineWidth = 2;
      context.beginPath(); context.arc(sx, sy, radius, 0, 2 * Math.PI); context.stroke();
    }
    if (state.lasso) {
      context.strokeStyle = "#fff"; context.setLineDash([4, 4]); context.beginPath();
      state.lasso.forEach(([sx, sy], i) => (i ? context.lineTo(sx, sy) : context.moveTo(sx, sy)));
      context.closePath(); context.stroke(); context.setLineDash([]);
    }
    placeLabels();
  }
  const redraw = () => { if (!state.frame) state.frame = requestAnimationFrame(draw); };

  function placeLabels() {
    for (const label of labels.children) {
      const [sx, sy] = toScreenXY(Number(label.dataset.x), Number(label.dataset.y));
      label.style.transform = `translate(${sx / devicePixelRatio}px, ${sy / devicePixelRatio}px) translate(-50%, -50%)`;
    }
  }

  function renderLabels() {
    labels.innerHTML = "";
    for (const info of state.clusters) {
      const label = document.createElement("button");
      label.className = "pm-map-label";
      label.textContent = `${info.label} (${info.size})`;
      label.dataset.cluster = info.cluster;
      [label.dataset.x, label.dataset.y] = info.centroid;
      label.style.borderColor = PALETTE[info.cluster % PALETTE.length];
      label.addEventListener("click", () => emit("photomapd:result-set",
        { ids: state.ids.filter((_, row) => state.cluster[row] === info.cluster), cluster: info.cluster, label: info.label }));
      labels.append(label);
    }
    element.dataset.clusters = String(state.clusters.length);
    placeLabels();
  }

  function emit(name, detail) {
    element.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  function resize() {
    const rect = element.getBoundingClientRect();
    canvas.width = Math.max(1, Math.round(rect.width * devicePixelRatio));
    canvas.height = Math.max(1, Math.round(rect.height * devicePixelRatio));
    canvas.style.width = rect.width + "px"; canvas.style.height = rect.height + "px";
    redraw();
  }

  async function load() {
    const response = await fetch(`${baseUrl}/api/albums/${encodeURIComponent(album)}/map`);
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      status.textContent = body.error?.message || `map unavailable (HTTP ${response.status})`;
      if (response.status === 503) setTimeout(load, 1000);  // the daemon is still loading it
      return;
    }
    const payload = await response.json();
    Object.assign(state, decodePayload(payload), { version: payload.version });
    status.textContent = payload.status === "fitting" ? "laying out the map…" : "";
    element.dataset.status = payload.status;  // "ready" once laid out (screenshots wait on it)
    element.dataset.version = String(payload.version);
    element.dataset.count = String(state.ids.length);
    rebuildIndex();
    const clusters = await fetch(`${baseUrl}/api/albums/${encodeURIComponent(album)}/map/clusters`);
    const clusterBody = clusters.ok ? await clusters.json() : { clusters: [] };
    state.clusters = clusterBody.clusters;
    if (typeof clusterBody.strength === "number" && !strengthWanted.pending) showStrength(clusterBody.strength);
    renderLabels();
    redraw();
    element.dataset.ready = "true";
  }

  // --- cluster strength: debounced, one request at a time, the latest value wins ------------
  const strengthWanted = { value: null, timer: 0, pending: false, sending: false };
  function showStrength(value) {
    state.strength = value;
    slider.value = String(value);
    sliderValue.textContent = value.toFixed(2);
    slider.setAttribute("aria-valuetext", `${value.toFixed(2)} (0 = many small clusters, 1 = a few large ones)`);
  }
  function requestStrength(value, delay = STRENGTH_DEBOUNCE_MS) {
    strengthWanted.value = value;
    strengthWanted.pending = true;
    sliderValue.textContent = value.toFixed(2);
    clearTimeout(strengthWanted.timer);
    strengthWanted.timer = setTimeout(sendStrength, delay);
  }
  async function sendStrength() {
    if (strengthWanted.sending) return;  // the running request sends the latest value after it
    strengthWanted.sending = true;
    try {
      while (strengthWanted.pending) {
        const value = strengthWanted.value;
        strengthWanted.pending = false;
        const response = await fetch(`${baseUrl}/api/albums/${encodeURIComponent(album)}/map/strength`, {
          method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ strength: value }),
        });
        const body = await response.json().catch(() => ({}));
        if (!response.ok) {
          status.textContent = body.error?.message || `could not change the clusters (HTTP ${response.status})`;
          if (!strengthWanted.pending && state.strength !== undefined) showStrength(state.strength);
          continue;
        }
        if (strengthWanted.pending) continue;  // moved again meanwhile: send that first
        showStrength(body.strength);
        state.clusters = body.clusters || [];
        renderLabels();
        await load();  // every point's cluster (colour) changed too
        element.dataset.strength = String(body.strength);
        emit("photomapd:strength", { strength: body.strength });
      }
    } finally {
      strengthWanted.sending = false;
    }
  }
  slider.addEventListener("input", () => requestStrength(Number(slider.value)));

  function applyUpdate(data) {
    if (data.album !== album) return;
    if (!data.added && !data.removed) { load(); return; }  // refit or recluster: reload all
    const removed = new Set(data.removed || []);
    if (removed.size) {
      const keep = state.ids.map((id) => !removed.has(id));
      for (const key of ["ids", "x", "y", "cluster"]) state[key] = state[key].filter((_, row) => keep[row]);
      state.index = new Map(state.ids.map((id, row) => [id, row]));
    }
    for (const point of data.added || []) {
      const row = state.index.get(point.id);
      if (row !== undefined) {
        state.x[row] = point.x; state.y[row] = point.y; state.cluster[row] = point.cluster;
      } else {
        state.ids.push(point.id); state.x.push(point.x); state.y.push(point.y); state.cluster.push(point.cluster);
      }
    }
    rebuildIndex();
    element.dataset.count = String(state.ids.length);
    redraw();
  }

  // --- interaction: drag pans, wheel zooms at the cursor, shift+drag lassos -----------------
  let drag = null;
  const local = (event) => {
    const rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * devicePixelRatio, (event.clientY - rect.top) * devicePixelRatio];
  };
  canvas.addEventListener("pointerdown", (event) => {
    const [sx, sy] = local(event);
    drag = { sx, sy, panX: state.panX, panY: state.panY, moved: false };
    if (event.shiftKey) state.lasso = [[sx, sy]];
    canvas.setPointerCapture?.(event.pointerId);
  });
  canvas.addEventListener("pointermove", (event) => {
    const [sx, sy] = local(event);
    if (drag) {
      drag.moved ||= Math.hypot(sx - drag.sx, sy - drag.sy) > 4;
      if (state.lasso) state.lasso.push([sx, sy]);
      else { state.panX = drag.panX + sx - drag.sx; state.panY = drag.panY + sy - drag.sy; }
      redraw();
      return;
    }
    const row = nearest(sx, sy);
    if (row !== state.hover) {
      state.hover = row;
      if (row >= 0) {
        tooltip.querySelector("img").src = `${baseUrl}/api/images/${state.ids[row]}/thumbnail`;
        tooltip.querySelector("span").textContent = `#${state.ids[row]}`;
        tooltip.dataset.id = String(state.ids[row]);
      }
      tooltip.hidden = row < 0;
      redraw();
    }
    if (row >= 0) {
      tooltip.style.left = `${sx / devicePixelRatio + 14}px`;
      tooltip.style.top = `${sy / devicePixelRatio + 14}px`;
    }
  });
  canvas.addEventListener("pointerup", (event) => {
    const [sx, sy] = local(event);
    if (state.lasso && drag?.moved) {
      const polygon = state.lasso.map(([px, py]) => toMap(px, py));
      const ids = state.ids.filter((_, row) => inside(polygon, state.x[row], state.y[row]));
      emit("photomapd:result-set", { ids, lasso: true });
    } else if (!drag?.moved) {
      const row = nearest(sx, sy);
      if (row >= 0) emit("photomapd:open-image", { id: state.ids[row] });
    }
    drag = null; state.lasso = null; redraw();
  });
  canvas.addEventListener("pointerleave", () => { state.hover = -1; tooltip.hidden = true; redraw(); });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [sx, sy] = local(event);
    const [mx, my] = toMap(sx, sy);
    state.zoom = Math.min(200, Math.max(0.5, state.zoom * Math.exp(-event.deltaY * 0.0015)));
    const [nx, ny] = toScreenXY(mx, my);
    state.panX += sx - nx; state.panY += sy - ny;
    redraw();
  }, { passive: false });

  // A host page can drive the map with events too, without holding the returned object.
  element.addEventListener("photomapd:highlight", (e) => { state.highlighted = new Set(e.detail.ids); redraw(); });
  element.addEventListener("photomapd:current-image", (e) => { state.current = e.detail.id; redraw(); });

  new ResizeObserver(resize).observe(element);
  resize();
  await load();
  const wanted = parseStrength(strength);
  if (wanted !== null && Math.abs(wanted - (state.strength ?? -1)) > 1e-9) {
    showStrength(wanted);
    requestStrength(wanted, 0);  // e.g. a bookmarked URL: show the clusters it was made with
  } else if (state.strength !== undefined) {
    element.dataset.strength = String(state.strength);
  }
  let events = null;
  if (live) {
    events = new EventSource(`${baseUrl}/api/events`);
    events.addEventListener("map_updated", (event) => applyUpdate(JSON.parse(event.data)));
    events.addEventListener("overflow", () => load());  // we missed updates: start over
  }

  return {
    element,
    reload: load,
    highlight(ids) { state.highlighted = new Set(ids); redraw(); },
    setCurrent(id) { state.current = id; redraw(); },
    screenPosition(id) {  // CSS pixels relative to the element, for tests and overlays
      const row = state.index.get(id);
      if (row === undefined) return null;
      const [sx, sy] = toScreenXY(state.x[row], state.y[row]);
      return { x: sx / devicePixelRatio, y: sy / devicePixelRatio };
    },
    get count() { return state.ids.length; },
    get strength() { return state.strength; },
    drawNow() {  // synchronous redraw; returns its cost in ms (bench/bench_map_view.py)
      const started = performance.now();
      draw();
      return performance.now() - started;
    },
    panBy(dx, dy) { state.panX += dx; state.panY += dy; redraw(); },
    zoomBy(factor) { state.zoom = Math.min(200, Math.max(0.5, state.zoom * factor)); redraw(); },
    close() { events?.close(); },
  };
}

// ButterFlyer page: pick or drop a photo, POST it to /v1/identify, show the answer honestly.
// Plain JS, no build step. Every string from the server goes in through textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { file: null, result: null, features: { chat: false, explain: true, max_upload_bytes: 10e6 },
                chatHistory: [], speciesId: null, chatSpecies: null, photo: null, busy: false };

const VERDICT_LABEL = {
  species: "Species", genus: "Genus only", family: "Family only",
  uncertain: "Not sure", unknown_species: "Species I don't know", not_a_butterfly: "Not a butterfly",
};

function pct(p) { return p < 0.005 ? "<1%" : `${Math.round(p * 100)}%`; }

function el(tag, props = {}, text) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  if (text !== undefined) node.textContent = text;
  return node;
}

function setStatus(text) { $("status").textContent = text || ""; }

function showError(text) {
  const box = $("error");
  box.textContent = text || "";
  box.hidden = !text;
}

async function loadFeatures() {
  try {
    const res = await fetch("/v1/features");
    if (res.ok) Object.assign(state.features, await res.json());
  } catch (_) { /* the page still works with the defaults */ }
  $("chat").hidden = !state.features.chat;
  if (!state.features.explain) $("heatmap").closest("label").hidden = true;
}

function pickFile(file) {
  showError("");
  if (!file) return;
  if (file.size > state.features.max_upload_bytes) {
    showError(`That file is ${(file.size / 1e6).toFixed(1)} MB; the limit is ` +
              `${Math.round(state.features.max_upload_bytes / 1e6)} MB. Try a smaller photo.`);
    return;
  }
  state.file = file;
  const preview = $("preview");
  if (preview.dataset.url) URL.revokeObjectURL(preview.dataset.url);
  preview.dataset.url = URL.createObjectURL(file);
  preview.src = preview.dataset.url;
  preview.alt = "Your photo";
  preview.hidden = false;
  $("drop-hint").hidden = true;
  identify();
}

async function identify() {
  if (!state.file || state.busy) return;
  state.busy = true;
  const explain = $("heatmap").checked;
  setStatus(explain ? "Looking closely (with heatmap)…" : "Looking…");
  showError("");
  const form = new FormData();
  form.append("image", state.file, state.file.name || "photo");
  try {
    const res = await fetch(`/v1/identify?explain=${explain}`, { method: "POST", body: form });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      showError(errorText(res.status, body));
      setStatus("");
      return;
    }
    state.result = body;
    state.saved = false;
    renderResult(body);
    if (window.matchMedia("(max-width: 859px)").matches) {
      $("result").scrollIntoView({ behavior: "smooth", block: "start" });  // phones: the answer is below the photo
    }
    setStatus(`Answered in ${Math.round(body.latency_ms)} ms.`);
  } catch (err) {
    showError("The server did not answer. Is ButterFlyer still running?");
    setStatus("");
  } finally {
    state.busy = false;
  }
}

function errorText(status, body) {
  const detail = body && body.detail ? ` (${body.detail})` : "";
  if (status === 413) return `That file is too large${detail}.`;
  if (status === 415) return "That file is not a photo we can read. Use a JPEG, PNG, WebP or GIF image.";
  if (status === 422) return `That image cannot be used${detail}.`;
  if (status === 503) return `No model is loaded yet${detail}.`;
  return `Something went wrong (${status})${detail}.`;
}

function showHeatmap(result) {
  const preview = $("preview");
  if ($("heatmap").checked && result && result.heatmap_png) {
    preview.src = result.heatmap_png;
    preview.alt = "Your photo with a heatmap: warm colours show what drove the answer";
  } else if (preview.dataset.url) {
    preview.src = preview.dataset.url;
    preview.alt = "Your photo";
  }
}

function renderResult(r) {
  $("result").hidden = false;
  const badge = $("verdict-badge");
  const unknown = r.known_species === false;
  const kind = unknown ? "unknown_species" : r.verdict;
  badge.textContent = VERDICT_LABEL[kind] || kind;
  badge.className = `badge ${kind}`;
  let name = "", sci = "", prob = null;
  if (unknown && r.taxon) {
    name = "Probably a species I don't know";
    sci = `${r.taxon.rank} ${r.taxon.name}` + (r.taxon.common_name ? ` (${r.taxon.common_name})` : "");
    prob = r.taxon.probability;
  } else if (unknown) {
    name = "Probably a species I don't know";
  } else if (r.verdict === "species" && r.species) {
    name = r.species.common_name; sci = r.species.scientific_name || ""; prob = r.species.probability;
  } else if ((r.verdict === "genus" || r.verdict === "family") && r.taxon) {
    name = r.taxon.common_name ? `Probably one of the ${r.taxon.common_name}` : `Probably genus ${r.taxon.name}`;
    sci = `${r.taxon.rank} ${r.taxon.name}`; prob = r.taxon.probability;
  } else if (r.verdict === "not_a_butterfly") {
    name = "This doesn't look like a butterfly or moth";
  } else {
    name = "I can't tell what this is";
  }
  $("answer-name").textContent = name;
  $("answer-sci").textContent = sci;
  $("answer-message").textContent = r.message || "";
  const conf = $("confidence");
  conf.hidden = prob === null;
  if (prob !== null) {
    const bar = conf.querySelector(".bar");
    bar.classList.toggle("low", prob < 0.8);
    bar.setAttribute("aria-valuenow", String(Math.round(prob * 100)));
    $("confidence-fill").style.width = `${prob * 100}%`;
    $("confidence-label").textContent = pct(prob);
  }
  renderAlternatives(r);
  renderRelatives(r);
  // the chat must not answer about the first-ranked species when the photo shows none of them
  state.photo = unknown ? { known_species: false, relatives: (r.relatives || []).map((g) => g.id),
                            group: r.taxon ? `${r.taxon.rank} ${r.taxon.name}` : null } : null;
  $("model-line").textContent = `Model ${r.model.name} v${r.model.version}` +
    (r.gate ? ` · butterfly score ${r.gate.score.toFixed(2)} (needs ${r.gate.threshold.toFixed(2)})` : "");
  showHeatmap(r);
  $("save-sighting").disabled = false;
  $("save-sighting").textContent = "Save sighting";
  $("save-status").textContent = "";
  const focusId = r.species ? r.species.id
    : (r.verdict === "not_a_butterfly" || unknown ? null : r.top_k[0] && r.top_k[0].id);
  if (!focusId) state.chatSpecies = null;
  if (focusId) loadSpecies(focusId); else $("species").hidden = true;
}

function renderAlternatives(r) {
  const list = $("alternatives");
  list.replaceChildren();
  const rejected = r.verdict === "not_a_butterfly";
  $("alts-title").textContent = rejected
    ? "What the species model would guess anyway" : `Top ${r.top_k.length} possibilities`;
  $("alts-box").open = !rejected;
  for (const g of r.top_k) {
    const item = el("li");
    const btn = el("button", { type: "button" });
    btn.dataset.id = g.id;
    btn.setAttribute("aria-label", `${g.common_name}, ${pct(g.probability)}. Show species card.`);
    btn.append(el("span", { className: "alt-name" }, g.common_name),
               el("span", { className: "alt-p" }, pct(g.probability)),
               el("span", { className: "alt-sci" }, g.scientific_name || g.id));
    const bar = el("span", { className: "alt-bar" });
    bar.style.width = `${Math.max(g.probability, 0.01) * 100}%`;
    btn.append(bar);
    btn.addEventListener("click", () => loadSpecies(g.id));
    item.append(btn);
    list.append(item);
  }
}

const DETAIL_NAMES = {
  identification: "How to recognise it", distribution: "Where", habitat: "Habitat",
  larval_host_plants: "Caterpillar food", adult_food: "Adult food", flight_period: "Flies",
  wingspan_mm: "Wingspan", conservation_status: "Conservation", similar_species: "Look-alikes",
};

function detailText(key, value) {
  if (key === "wingspan_mm" && value && typeof value === "object") return `${value.min}–${value.max} mm`;
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === "object" ? `${v.label}: ${v.how_to_tell}` : String(v))).join(" · ");
  }
  return String(value);
}

function renderRelatives(r) {
  const box = $("relatives-box");
  const list = $("relatives");
  list.replaceChildren();
  const relatives = r.known_species === false ? (r.relatives || []) : [];
  box.hidden = relatives.length === 0;
  for (const g of relatives) {
    const btn = el("button", { type: "button", className: "relative" }, g.common_name);
    btn.dataset.id = g.id;
    btn.setAttribute("aria-label", `${g.common_name}: a known relative. Show species card.`);
    btn.addEventListener("click", () => { state.photo = null; loadSpecies(g.id); });
    const item = el("li");
    item.append(btn);
    list.append(item);
  }
}

async function loadSpecies(id) {
  state.speciesId = id;
  for (const b of $("alternatives").querySelectorAll("button")) {
    b.setAttribute("aria-current", String(b.dataset.id === id));
  }
  try {
    const res = await fetch(`/v1/species/${encodeURIComponent(id)}`);
    if (!res.ok) { $("species").hidden = true; return; }
    const s = await res.json();
    state.chatSpecies = s.scientific_name ? s.id : null;  // only species the field guide covers
    $("species").hidden = false;
    $("species-name").textContent = s.common_name;
    $("species-sci").textContent = s.scientific_name || "";
    const tax = $("species-taxonomy");
    tax.replaceChildren();
    const fam = s.family ? s.family + (s.family_common_name ? ` (${s.family_common_name})` : "") : null;
    for (const [k, v] of [["Kind", s.kind], ["Family", fam], ["Subfamily", s.subfamily], ["Genus", s.genus],
                          ["Dataset label", s.id]]) {
      if (v) tax.append(el("dt", {}, k), el("dd", {}, v));
    }
    $("species-summary").textContent = s.summary || "No field-guide entry for this species yet.";
    const det = $("species-details");
    det.replaceChildren();
    for (const [key, label] of Object.entries(DETAIL_NAMES)) {
      if (key === "identification" || !s.details || !s.details[key]) continue;
      det.append(el("dt", {}, label), el("dd", {}, detailText(key, s.details[key])));
    }
  } catch (_) {
    $("species").hidden = true;
  }
}

async function ask(event) {
  event.preventDefault();
  const input = $("chat-input");
  const message = input.value.trim();
  if (!message) return;
  input.value = "";
  const log = $("chat-log");
  log.append(el("p", { className: "q" }, message));
  const answer = el("div", { className: "a" }, "…");
  log.append(answer);
  try {
    const body = { message, history: state.chatHistory.slice(-6) };
    if (state.chatSpecies) body.species_id = state.chatSpecies;
    else if (state.photo) body.photo = state.photo;
    const res = await fetch("/v1/chat", { method: "POST", headers: { "Content-Type": "application/json" },
                                          body: JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      answer.textContent = res.status === 404 ? "The field-guide chat is not available on this server."
        : `Sorry, I can't answer that right now${data.detail ? ` (${typeof data.detail === "string" ? data.detail : "error"})` : ""}.`;
      return;
    }
    answer.textContent = data.answer || "";
    for (const c of data.citations || []) {
      answer.append(el("p", { className: "cite" }, `Source: ${c.entry}${c.section ? ", " + c.section : ""}`));
    }
    state.chatHistory.push({ role: "user", content: message }, { role: "assistant", content: data.answer || "" });
  } catch (_) {
    answer.textContent = "The server did not answer.";
  }
  log.scrollTop = log.scrollHeight;
}

// ---- My sightings: save on request, list with thumbnails, correct, delete, map, exports ----

async function saveSighting() {
  if (!state.file || state.saved) return;
  const button = $("save-sighting");
  button.disabled = true;
  $("save-status").textContent = "Saving…";
  const form = new FormData();
  form.append("image", state.file, state.file.name || "photo");
  try {
    const res = await fetch(`/v1/sightings?keep_photo=${$("keep-photo").checked}`, { method: "POST", body: form });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      $("save-status").textContent = errorText(res.status, body);
      button.disabled = false;
      return;
    }
    state.saved = true;
    button.textContent = "Saved";
    $("save-status").textContent = body.latitude === null
      ? "Saved to My sightings (the photo has no position)." : "Saved to My sightings.";
    loadSightings();
  } catch (_) {
    $("save-status").textContent = "The server did not answer; nothing was saved.";
    button.disabled = false;
  }
}

async function speciesOptions() {
  if (!state.speciesList) {
    try {
      const res = await fetch("/v1/species");
      state.speciesList = res.ok ? (await res.json()).species : [];
    } catch (_) { state.speciesList = []; }
    state.speciesList.sort((a, b) => a.common_name.localeCompare(b.common_name));
  }
  return state.speciesList;
}

function sightingTitle(s) {
  if (s.shown) return s.shown.rank === "species" ? s.shown.name : `${s.shown.rank} ${s.shown.scientific_name}`;
  return VERDICT_LABEL[s.verdict] || s.verdict;
}

async function loadSightings() {
  let data;
  try {
    const res = await fetch("/v1/sightings?limit=500");
    if (!res.ok) return;
    data = await res.json();
  } catch (_) { return; }
  const species = await speciesOptions();
  const list = $("sightings-list");
  list.replaceChildren();
  $("sightings-empty").hidden = data.count > 0;
  $("sightings-count").textContent = data.count ? `(${data.count})` : "";
  for (const s of data.sightings) list.append(sightingItem(s, species));
  drawMap(data.sightings);
}

function sightingItem(s, species) {
  const item = el("li");
  item.dataset.id = s.id;
  const name = el("span", { className: "s-name" }, sightingTitle(s));
  const when = s.taken_at ? s.taken_at.replace("T", " ").slice(0, 16) : `saved ${s.created_at.slice(0, 10)}`;
  const corrected = s.species && s.species !== s.model_species ? " · corrected by you" : "";
  const meta = el("span", { className: "s-meta" }, `${when}${corrected}`);
  const model = el("span", { className: "s-meta" },
    `model: ${VERDICT_LABEL[s.verdict] || s.verdict}${s.probability !== null ? " " + pct(s.probability) : ""}`);
  const picker = el("select", { className: "s-correct" });
  picker.setAttribute("aria-label", `Species for sighting ${sightingTitle(s)}`);
  picker.append(el("option", { value: "" }, "Model's answer (not confirmed)"));
  for (const sp of species) {
    picker.append(el("option", { value: sp.id, selected: sp.id === s.species }, sp.common_name));
  }
  picker.addEventListener("change", async () => {
    const res = await fetch(`/v1/sightings/${encodeURIComponent(s.id)}`, {
      method: "PATCH", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ species: picker.value || null }) });
    if (res.ok) loadSightings();
  });
  const del = el("button", { type: "button", className: "button s-delete" }, "Delete");
  del.setAttribute("aria-label", `Delete sighting ${sightingTitle(s)}`);
  del.addEventListener("click", async () => {
    const res = await fetch(`/v1/sightings/${encodeURIComponent(s.id)}`, { method: "DELETE" });
    if (res.ok || res.status === 404) loadSightings();
  });
  item.append(el("img", { src: s.thumbnail_url, alt: `Thumbnail: ${sightingTitle(s)}`, loading: "lazy" }),
              name, meta, model, picker, del);
  return item;
}

function drawMap(sightings) {
  const svg = $("map-points");
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  for (const s of sightings) {
    if (s.latitude === null || s.longitude === null) continue;
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", String(s.longitude + 180));
    dot.setAttribute("cy", String(90 - s.latitude));
    dot.setAttribute("r", "2.2");
    dot.dataset.id = s.id;
    const title = document.createElementNS(ns, "title");
    title.textContent = sightingTitle(s);
    dot.append(title);
    svg.append(dot);
  }
}

function updateExportLinks() {
  const coords = $("export-coords").checked;
  $("export-blur").disabled = !coords;
  const extra = coords ? `&coordinates=true${$("export-blur").checked ? "&blur=0.1" : ""}` : "";
  $("export-csv").href = `/v1/sightings/export?format=csv${extra}`;
  $("export-dwc").href = `/v1/sightings/export?format=dwc${extra}`;
}

function keyboardButton(labelId, inputId) {
  $(labelId).addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $(inputId).click(); }
  });
}

function init() {
  for (const id of ["file", "camera"]) {
    $(id).addEventListener("change", (e) => { pickFile(e.target.files[0]); e.target.value = ""; });
  }
  keyboardButton("choose", "file");
  keyboardButton("take", "camera");
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("dragging"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("dragging");
    pickFile(e.dataTransfer.files[0]);
  });
  $("heatmap").addEventListener("change", () => {
    if ($("heatmap").checked && state.result && !state.result.heatmap_png) identify();
    else showHeatmap(state.result);
  });
  $("chat-form").addEventListener("submit", ask);
  $("save-sighting").addEventListener("click", saveSighting);
  $("export-coords").addEventListener("change", updateExportLinks);
  $("export-blur").addEventListener("change", updateExportLinks);
  updateExportLinks();
  loadFeatures();
  loadSightings();
}

document.addEventListener("DOMContentLoaded", init);

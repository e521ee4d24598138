// The customer's page (docs/WEB.md). Everything secret stays here: the code is handed to the
// MicroPython module (vwpage.py over the meter's own vwcore modules) and never to fetch().
import { loadMicroPython } from "/npm/micropython/micropython.mjs";
import { offsets } from "/static/tz.js";

const VWCORE = ["__init__", "consts", "params", "modexp", "kdf", "group", "sig", "aead", "wire", "reading"];
const $ = (id) => document.getElementById(id);
const sent = [];            // what this page sent: shown in the privacy panel
const state = { page: null, token: null, meter: null, cycles: [] };
window.veriwatt = { sent, timings: {}, state: "loading" };

function show(id, on) { $(id).hidden = !on; }
function status(text) { $("status").textContent = text; }
function fail(text) { $("error").textContent = text; show("error", true); status(""); window.veriwatt.state = "error"; }
function clearError() { show("error", false); $("error").textContent = ""; }

async function api(method, path, body, what) {
  const headers = { "X-Veriwatt-Access": state.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  sent.push({ method, path: path.split("?")[0], what });
  const r = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
  let j = null;
  try { j = await r.json(); } catch (e) { j = { error: "the service answered HTTP " + r.status }; }
  return { status: r.status, json: j };
}

async function boot() {
  const t0 = performance.now();
  const mp = await loadMicroPython({ heapsize: 64 * 1024 * 1024, linebuffer: true, stdout: () => {} });
  mp.FS.mkdirTree("/lib/vwcore");
  const files = VWCORE.map((n) => ["/lib/vwcore/" + n + ".py", "/py/vwcore/" + n + ".py"]);
  files.push(["/lib/vwpage.py", "/py/vwpage.py"]);
  await Promise.all(files.map(async ([dst, src]) => {
    const r = await fetch(src, { cache: "no-cache" });
    if (!r.ok) throw new Error("cannot load " + src + " (HTTP " + r.status + ")");
    mp.FS.writeFile(dst, new Uint8Array(await r.arrayBuffer()));
  }));
  state.page = mp.pyimport("vwpage");
  window.veriwatt.timings.boot_ms = performance.now() - t0;
  window.veriwatt.state = "ready";
  $("go").textContent = "Open my readings";
  $("go").disabled = false;
  const m = new URLSearchParams(location.search).get("meter");
  if (m) $("meter").value = m;
  status("Ready. Type your meter id and the code printed on your meter.");
}

async function unlock() {
  clearError();
  const meter = $("meter").value.trim().toLowerCase();
  if (!/^[0-9a-f]{16}$/.test(meter)) return fail("The meter id is 16 hex digits (0-9, a-f), as printed on the meter label.");
  const u = JSON.parse(state.page.unlock_json($("code").value, meter));
  if (!u.ok) return fail(u.error);
  state.token = u.token; state.meter = meter;
  $("code").value = "";     // the page keeps the key inside MicroPython only
  const r = await api("GET", "/api/meters/" + meter + "/cycles", undefined, "meter id; access token (header)");
  if (r.status === 403) return fail("This code does not open meter " + meter + ": check the code and the meter id on the label.");
  if (r.status !== 200) return fail(r.json.error || ("HTTP " + r.status));
  state.cycles = r.json.cycles;
  const sel = $("cycle");
  sel.replaceChildren();
  for (const c of state.cycles) {
    const o = document.createElement("option");
    o.value = c.start_slot + ":" + c.end_slot;
    o.textContent = c.cycle + " (" + c.records + "/" + c.slots + " readings" + (c.bill ? ", billed " + c.bill.amount : "") + ")";
    o.disabled = c.records !== c.slots;
    sel.append(o);
  }
  const first = state.cycles.find((c) => c.records === c.slots && !c.bill) || state.cycles.find((c) => c.records === c.slots);
  if (!first) return fail("No complete billing cycle of this meter has been uploaded yet.");
  sel.value = first.start_slot + ":" + first.end_slot;
  show("cycle", true); show("bill", true);
  window.veriwatt.state = "unlocked";
  status("Code accepted. Choose the billing cycle and compute the bill.");
}

function b64hex(s) {
  const bin = atob(s);
  let out = "";
  for (let i = 0; i < bin.length; i++) out += bin.charCodeAt(i).toString(16).padStart(2, "0");
  return out;
}

function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }

async function computeBill() {
  clearError();
  const [start, end] = $("cycle").value.split(":").map(Number);
  status("Downloading the encrypted readings…");
  const m = await api("GET", "/api/meters/" + state.meter + "/month?start=" + start + "&end=" + end, undefined,
                      "meter id, cycle; access token (header)");
  if (m.status !== 200) return fail(m.json.error || ("HTTP " + m.status));
  status("Decrypting and checking " + m.json.records.length + " readings, computing the bill…");
  await new Promise((r) => setTimeout(r, 30));
  const t0 = performance.now();  // from the service's answer to the bill: base64, decrypt, check, bill
  const recordsHex = m.json.records.map(b64hex).join("");
  const req = Object.assign({}, m.json, { records: undefined, offsets: offsets(m.json.timezone, start, end),
    seed: hex(crypto.getRandomValues(new Uint8Array(32))), now: Math.floor(Date.now() / 1000) });
  const res = JSON.parse(state.page.bill_json(JSON.stringify(req), recordsHex));
  window.veriwatt.timings.bill_ms = performance.now() - t0;
  window.veriwatt.timings.slots = end - start;
  if (!res.ok) return fail(res.error);
  render(res, m.json);
  status("Sending the bill (commitments, total and proof only) to the supplier…");
  const body = JSON.stringify(res.bill);
  const v = await api("POST", "/api/meters/" + state.meter + "/bills", body,
                      "the bill: " + res.bill.commitments.length + " signed commitments, total, proof R (" + body.length + " bytes)");
  verdict(v);
}

function verdict(v) {
  const el = $("verdict");
  if (v.json && v.json.recorded) {
    el.textContent = "Verified and recorded by the supplier: " + v.json.amount + ".";
    el.className = "ok";
  } else if (v.json && v.json.valid) {
    el.textContent = "Verified by the supplier, not recorded: " + v.json.reason;
    el.className = "ok";
  } else {
    el.textContent = "Refused by the supplier: " + ((v.json && (v.json.reason || v.json.error)) || ("HTTP " + v.status));
    el.className = "bad";
  }
  window.veriwatt.verdict = v.json;
  window.veriwatt.state = "done";
  status("");
  renderPrivacy();
}

function fact(k, v) {
  const dt = document.createElement("dt"); dt.textContent = k;
  const dd = document.createElement("dd"); dd.textContent = v;
  $("facts").append(dt, dd);
}

const BAND_COLOURS = ["#2b7bb9", "#d9822b", "#7a52c7", "#3a9b5c", "#c23b4e", "#8a8a8a"];

function render(res, month) {
  const b = res.bill;
  $("amount").textContent = b.amount;
  $("facts").replaceChildren();
  fact("meter", b.meter_id);
  fact("period", b.period.start + " – " + b.period.end + " (" + b.period.slots + " half-hours)");
  fact("tariff", b.tariff.name + " (" + b.tariff.supplier + "), " + b.tariff.digest.slice(0, 23) + "…");
  fact("energy", (res.readings.reduce((a, x) => a + x, 0) / 1000).toFixed(1) + " kWh");
  fact("checked in this browser", res.checked.records + " readings decrypted and matched to their signed commitments; "
       + res.checked.signatures_sampled + " meter signatures sampled; tariff signature verified");
  fact("computed in", (window.veriwatt.timings.bill_ms / 1000).toFixed(2) + " s");
  show("result", true);
  drawChart(res, month);
}

function drawChart(res, month) {
  if (typeof Chart === "undefined") return;
  const names = [...new Set(res.bands)];
  const colour = (n) => BAND_COLOURS[names.indexOf(n) % BAND_COLOURS.length];
  const f = new Intl.DateTimeFormat("en-GB", { timeZone: month.timezone, day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit" });
  const labels = res.readings.map((_, i) => f.format(new Date((month.start_slot + i) * 1800000)));
  if (window.veriwatt.chart) window.veriwatt.chart.destroy();
  window.veriwatt.chart = new Chart($("chart"), {
    data: { labels, datasets: [
      { type: "bar", label: "Wh per half-hour (bars coloured by tariff band)", data: res.readings,
        backgroundColor: res.bands.map(colour), yAxisID: "y", barPercentage: 1.0, categoryPercentage: 1.0 },
      { type: "line", label: "price (tariff units per Wh)", data: res.prices, borderColor: "#222", borderWidth: 1,
        pointRadius: 0, stepped: true, yAxisID: "p" }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { labels: { generateLabels: (c) => names.map((n) => ({ text: "band: " + n, fillStyle: colour(n), strokeStyle: colour(n) }))
        .concat([{ text: "price", fillStyle: "#222", strokeStyle: "#222" }]) } } },
      scales: { x: { ticks: { maxTicksLimit: 12 } }, y: { title: { display: true, text: "Wh" } },
                p: { position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "price" } } } },
  });
}

function renderPrivacy() {
  const tb = $("sent");
  tb.replaceChildren();
  for (const s of sent) {
    const tr = document.createElement("tr");
    for (const t of [s.method + " " + s.path, s.what]) { const td = document.createElement("td"); td.textContent = t; tr.append(td); }
    tb.append(tr);
  }
  $("notsent").textContent = "Never sent: your customer code, the keys derived from it, any reading, any opening "
    + "of a commitment. The access token (derived from the code by HKDF) only lets you download your own encrypted readings.";
  show("privacy", true);
}

$("go").addEventListener("click", () => unlock().catch((e) => fail("Unexpected error: " + e.message)));
$("bill").addEventListener("click", () => computeBill().catch((e) => fail("Unexpected error: " + e.message)));
boot().catch((e) => fail("Cannot start the page: " + e.message));

// Draws the server's plotly figures and keeps the page current while a launch runs (polling /api/version).
"use strict";

async function getJSON(url) {
  const response = await fetch(url, {credentials: "same-origin", cache: "no-store"});
  if (!response.ok) throw new Error(url + ": " + response.status);
  return response.json();
}

async function drawFigures() {
  const holder = document.getElementById("plots");
  if (!holder || !window.Plotly) return;
  const figures = await getJSON(holder.dataset.source);
  // Every plot's box first, then the drawing: a plot drawn before its neighbours exist would take the whole row.
  const divs = Object.keys(figures).map((key) => {
    let div = document.getElementById("fig-" + key);
    if (!div) {
      div = document.createElement("div");
      div.id = "fig-" + key;
      div.className = "plot";
      holder.appendChild(div);
    }
    return div;
  });
  const entries = Object.values(figures);
  for (let i = 0; i < entries.length; i++) {
    await Plotly.react(divs[i], entries[i].data, entries[i].layout, {displaylogo: false, responsive: true});
  }
  holder.dataset.drawn = String(Object.keys(figures).length);
}

async function poll() {
  const live = document.getElementById("live");
  const status = document.getElementById("updated");
  try {
    const {stamp} = await getJSON("/api/version");
    if (stamp !== live.dataset.stamp) {
      const response = await fetch("/live", {credentials: "same-origin", cache: "no-store"});
      if (response.ok) {
        // The fragment is rendered by the server with autoescaping: agent text in it is already inert.
        live.innerHTML = await response.text();
        const fresh = live.querySelector("[data-stamp]");
        live.dataset.stamp = fresh ? fresh.dataset.stamp : stamp;
        live.dataset.updates = String(Number(live.dataset.updates || "0") + 1);
        await drawFigures();
      }
    }
    if (status) status.textContent = "live: checked " + new Date().toLocaleTimeString();
  } catch (error) {
    if (status) status.textContent = "live: " + error.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  drawFigures().catch((error) => console.error(error));
  const live = document.getElementById("live");
  if (live && live.dataset.poll) setInterval(poll, Number(live.dataset.poll));
});

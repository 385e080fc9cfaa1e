// Small progressive enhancements; every page works without them. No inline scripts (CSP 'self').
"use strict";

document.addEventListener("submit", (event) => {
  // Ask before destructive actions: <button data-confirm="…">.
  const button = event.submitter;
  const message = button && button.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const source = document.getElementById(copy.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(() => {
        copy.textContent = "Copied";
      });
    }
    return;
  }
  // Table rows that lead somewhere: <tr data-href="…"> (links inside still work as links).
  const row = event.target.closest("tr[data-href]");
  if (row && !event.target.closest("a, button, input, select, label")) {
    window.location.assign(row.dataset.href);
  }
});

function pollExport(box) {
  const state = document.getElementById("export-state");
  const bar = document.getElementById("export-progress");
  const link = document.getElementById("export-download");
  const tick = () => {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((job) => {
        bar.value = job.progress;
        if (job.status === "done") {
          state.textContent = `Finished: ${job.done.toLocaleString()} calls.`;
          link.classList.remove("hidden");
        } else if (job.status === "failed") {
          state.textContent = `The export failed (${job.error}). Try again; the gateway log has details.`;
        } else {
          state.textContent = `Exporting… ${job.done.toLocaleString()} of ${job.total.toLocaleString()} calls.`;
          window.setTimeout(tick, 1000);
        }
      })
      .catch(() => window.setTimeout(tick, 3000));
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector(".export-job[data-status-url]");
  if (box) {
    pollExport(box);
  }
});

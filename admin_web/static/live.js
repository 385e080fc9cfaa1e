// Refreshes the dashboard's "Live · last 60 min" tiles from /dashboard/live every few seconds.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const card = document.querySelector(".live[data-live-url]");
  if (!card) {
    return;
  }
  const seconds = Math.max(2, Number(card.dataset.refresh) || 5);
  const fields = ["active_users", "requests", "input_tokens", "output_tokens"];
  const refresh = () => {
    if (document.hidden) {
      return; // a background tab does not need fresh numbers
    }
    fetch(card.dataset.liveUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((live) => {
        if (!live.available) {
          return;
        }
        for (const name of fields) {
          const tile = document.getElementById(`live-${name}`);
          if (tile && tile.textContent !== live[name]) {
            tile.textContent = live[name];
            tile.classList.remove("changed");
            void tile.offsetWidth; // restart the highlight animation
            tile.classList.add("changed");
          }
        }
        document.getElementById("live-points").setAttribute("points", live.points);
        document.getElementById("live-as-of").textContent = live.as_of;
        card.classList.remove("stale");
      })
      .catch(() => card.classList.add("stale"));
  };
  window.setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", refresh);
});

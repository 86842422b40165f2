// eventrouter dashboard: local times, live refresh, the pattern tester. Everything works
// without this script; it only saves clicks.
"use strict";

function localTimes(root) {
  // The server writes UTC (or the person's chosen zone, then body[data-tz] is set).
  const zone = document.body.dataset.tz || undefined;
  const format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: zone,
  });
  root.querySelectorAll("time[datetime]").forEach((el) => {
    const at = new Date(el.getAttribute("datetime"));
    if (!isNaN(at)) { el.title = el.getAttribute("datetime"); el.textContent = format.format(at); }
  });
  root.querySelectorAll("[data-browser-tz]").forEach((el) => {
    el.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  });
}

function liveRefresh() {
  // Elements with data-refresh="N" are fetched again every N seconds while the tab is
  // visible, and swapped in place (forms the person is typing in are left alone).
  document.querySelectorAll("[data-refresh]").forEach((el) => {
    const seconds = Math.max(1, Number(el.dataset.refresh) || 10);
    const timer = setInterval(async () => {
      if (document.hidden || !el.id) return;
      try {
        const answer = await fetch(location.href, { headers: { "X-Requested-With": "refresh" } });
        if (!answer.ok || answer.redirected) return;
        const doc = new DOMParser().parseFromString(await answer.text(), "text/html");
        const fresh = doc.getElementById(el.id);
        if (!fresh) return;
        el.innerHTML = fresh.innerHTML;
        localTimes(el);
        if (!fresh.hasAttribute("data-refresh")) { clearInterval(timer); el.removeAttribute("data-refresh"); }
      } catch (e) { /* offline for a moment: try again next tick */ }
    }, seconds * 1000);
  });
}

function patternTester() {
  const pattern = document.querySelector("[data-tester]");
  if (!pattern) return;
  const names = document.querySelector(pattern.dataset.names);
  const out = document.querySelector(pattern.dataset.tester);
  let pending = null;
  const run = () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const query = new URLSearchParams({ pattern: pattern.value, names: names.value });
      const answer = await fetch("/channels/pattern-test?" + query);
      if (answer.ok) out.innerHTML = await answer.text();
    }, 150);
  };
  pattern.addEventListener("input", run);
  names.addEventListener("input", run);
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  liveRefresh();
  patternTester();
});

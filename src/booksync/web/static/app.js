// booksync's small progressive layer: live progress on the processing page, modal dialogs, printing.
// Every page works without it (the processing page refreshes itself; dialogs are plain forms).
(function () {
  "use strict";

  function poll(box) {
    var url = box.getAttribute("data-url");
    var state = box.getAttribute("data-state");
    var question = box.getAttribute("data-question");
    if (state !== "running" && state !== "question") { return; }
    function update(s) {
      if (s.state !== state || String(s.question || "") !== question) { window.location.reload(); return; }
      if (state !== "running") { window.setTimeout(tick, 2000); return; }
      var phase = document.getElementById("phase");
      if (phase && phase.textContent !== s.phase) { phase.textContent = s.phase; }
      var bar = document.getElementById("progress");
      if (bar) {
        bar.max = s.total || 1;
        if (s.total) { bar.value = s.done; } else { bar.removeAttribute("value"); }
        bar.textContent = s.percent + "%";
      }
      var counter = document.getElementById("counter");
      if (counter) { counter.textContent = s.total > 1 ? s.done + " of " + s.total : ""; }
      var steps = document.getElementById("steps");
      if (steps && steps.children.length !== s.steps.length) {
        steps.textContent = "";
        s.steps.forEach(function (text) {
          var item = document.createElement("li");
          item.textContent = text;
          steps.appendChild(item);
        });
      }
      window.setTimeout(tick, 600);
    }
    function tick() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(update)
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    window.setTimeout(tick, 400);
  }

  function modal(dialog) {
    // Server-rendered open dialogs become modal: focus stays inside, the page behind is inert.
    if (typeof dialog.showModal !== "function") { return; }
    dialog.setAttribute("data-js", "");
    if (dialog.open) { dialog.close(); }
    dialog.showModal();
    // The questions must be answered with a button: Escape does not dismiss them.
    dialog.addEventListener("cancel", function (e) { e.preventDefault(); });
  }

  function printer(button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var frame = document.getElementById(button.getAttribute("data-print"));
      var target = frame && frame.contentWindow ? frame.contentWindow : window;
      target.focus();
      target.print();
      button.setAttribute("data-printed", "yes");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-sync-status]").forEach(poll);
    document.querySelectorAll("dialog[data-modal]").forEach(modal);
    document.querySelectorAll("[data-print]").forEach(printer);
  });
})();

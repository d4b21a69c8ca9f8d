// Status page: poll the session's JSON status and show the stage; reload when it ends.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  });
  var box = document.getElementById("status");
  var list = document.getElementById("stages");
  if (!box || !list) return;
  var order = ["queued", "decoding", "transcribing", "diarizing", "scoring", "done"];
  var label = document.getElementById("stage-label");

  function render(stage, text) {
    var now = order.indexOf(stage);
    list.querySelectorAll("li").forEach(function (li, i) {
      li.className = i < now ? "past" : (i === now ? "now" : "");
      li.querySelector(".dot").textContent = i < now ? "✓" : "";
    });
    label.textContent = "— " + text;
  }

  function poll() {
    fetch(box.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (s) {
        if (!s) { setTimeout(poll, 5000); return; }
        if (s.status === "done" || s.status === "failed") { window.location.reload(); return; }
        render(s.stage, s.stage_label);
        setTimeout(poll, 1500);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();

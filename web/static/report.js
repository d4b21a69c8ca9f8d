// Report page: clicking anything with data-start (a transcript line, an interruption
// marker, a timeline segment) plays the recording from there; the line being heard is marked.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  });
  var player = document.getElementById("player");
  var report = document.getElementById("report");
  if (!player || !report) return;
  var lines = Array.prototype.slice.call(report.querySelectorAll(".transcript p[data-start]"));
  var playing = null;

  function startOf(target) {
    var el = target.closest("[data-start]");
    if (el && report.contains(el)) return parseFloat(el.getAttribute("data-start"));
    var link = target.closest("a[href^='#t-']");
    if (link) {
      var line = document.getElementById(link.getAttribute("href").slice(1));
      if (line && line.hasAttribute("data-start")) return parseFloat(line.getAttribute("data-start"));
    }
    return NaN;
  }

  function seek(seconds) {
    player.currentTime = Math.max(0, seconds);
    var started = player.play();
    if (started && started.catch) started.catch(function () { /* autoplay refused */ });
  }

  report.addEventListener("click", function (e) {
    var seconds = startOf(e.target);
    if (isNaN(seconds)) return;
    seek(seconds);
  });

  player.addEventListener("timeupdate", function () {
    var t = player.currentTime;
    var current = null;
    for (var i = 0; i < lines.length; i++) {
      if (parseFloat(lines[i].getAttribute("data-start")) <= t + 0.05) current = lines[i];
      else break;
    }
    if (current !== playing) {
      if (playing) playing.classList.remove("playing");
      if (current) current.classList.add("playing");
      playing = current;
    }
  });
})();

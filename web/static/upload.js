// Upload page: drag and drop, size check, XHR upload with a progress bar.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var drop = document.getElementById("drop");
  var input = document.getElementById("recording");
  var chosen = document.getElementById("chosen");
  var message = document.getElementById("message");
  var progressBox = document.getElementById("progress-box");
  var bar = document.getElementById("progress-bar");
  var barText = document.getElementById("progress-text");
  var submit = document.getElementById("submit");
  var cancel = document.getElementById("cancel");
  var enrollmentField = document.getElementById("enrollment-field");
  var enrollment = document.getElementById("enrollment");
  var limit = Number(form.dataset.limit);
  var file = null;
  var xhr = null;

  function size(bytes) {
    var units = [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]];
    for (var i = 0; i < units.length; i++) {
      if (bytes >= units[i][1]) return (bytes / units[i][1]).toFixed(1) + " " + units[i][0];
    }
    return bytes + " bytes";
  }

  function show(kind, text, link) {
    message.className = "notice " + kind;
    message.textContent = text;
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = " Open that session.";
      message.appendChild(a);
    }
    message.hidden = false;
  }

  function choose(f) {
    message.hidden = true;
    file = f || null;
    chosen.textContent = file ? file.name + " (" + size(file.size) + ")" : "";
    if (file && file.size > limit) {
      show("error", "This file is " + size(file.size) + ", over the upload limit of " +
        form.dataset.limitText + ".");
    }
  }

  drop.addEventListener("click", function () { input.click(); });
  drop.addEventListener("keydown", function (e) {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  ["dragenter", "dragover"].forEach(function (type) {
    drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
  });
  input.addEventListener("change", function () { choose(input.files[0]); });
  form.querySelectorAll("input[name=hint]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      enrollmentField.hidden = form.elements.hint.value !== "enrollment";
    });
  });

  function done() {
    xhr = null;
    submit.disabled = false;
    cancel.hidden = true;
  }

  cancel.addEventListener("click", function () { if (xhr) xhr.abort(); });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!file) { show("error", "Choose a recording first."); return; }
    if (file.size > limit) { choose(file); return; }
    var hint = form.elements.hint.value;
    if (hint === "enrollment" && !enrollment.files.length) {
      show("error", "Add the counselor's voice sample, or choose another option.");
      return;
    }
    var data = new FormData();
    data.append("csrf_token", form.elements.csrf_token.value);
    data.append("trainee", form.elements.trainee.value);
    data.append("session_date", form.elements.session_date.value);
    data.append("hint", hint);
    data.append("channels", form.elements.channels.value);
    data.append("speakers", form.elements.speakers.value);
    if (hint === "enrollment") data.append("enrollment", enrollment.files[0]);
    data.append("recording", file);

    message.hidden = true;
    progressBox.hidden = false;
    submit.disabled = true;
    cancel.hidden = false;
    var request = new XMLHttpRequest();
    xhr = request;
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("X-CSRF-Token", form.elements.csrf_token.value);
    request.upload.addEventListener("progress", function (ev) {
      if (!ev.lengthComputable) return;
      var pct = Math.round((ev.loaded / ev.total) * 100);
      bar.style.width = pct + "%";
      bar.parentNode.setAttribute("aria-valuenow", String(pct));
      barText.textContent = pct + "% · " + size(ev.loaded) + " of " + size(ev.total);
    });
    request.upload.addEventListener("load", function () {
      barText.textContent = "Uploaded. Checking the file…";
    });
    request.addEventListener("load", function () {
      var body = {};
      try { body = JSON.parse(request.responseText); } catch (err) { body = {}; }
      if (request.status === 201) {
        barText.textContent = "Uploaded. Opening its status page…";
        window.location.href = body.url;
        return;
      }
      done();
      progressBox.hidden = true;
      if (request.status === 200 && body.duplicate) {
        show("info", body.message || "You uploaded this recording before.", body.url);
      } else {
        show("error", body.error || ("The upload failed (HTTP " + request.status + ")."));
      }
    });
    request.addEventListener("error", function () {
      done();
      show("error", "The upload was interrupted (network error or file too large).");
    });
    request.addEventListener("abort", function () {
      done();
      progressBox.hidden = true;
      show("info", "Upload cancelled.");
    });
    request.send(data);
  });
})();

/* The campaign composer: the first recipient's message and its segment count,
 * updated while the message is typed.
 *
 * Personalises as campaigns/personalise.py does, from the first row of the
 * audience the campaign will have once saved: a CSV chosen but not uploaded
 * yet, else pasted numbers, else the stored audience (given by the server in
 * the preview's data-row). Counts with providers/segments.js, as Send Test SMS.
 */
(function () {
  "use strict";
  var FIELD = /\$\$([A-Za-z_][A-Za-z0-9_]*)/g;
  // Enough of a file for its header and first rows, however large the file.
  var HEAD_BYTES = 64 * 1024;

  function personalise(template, row) {
    // One pass, so a value that itself contains $$name is never expanded.
    return template.replace(FIELD, function (whole, name) {
      if (name === "To") return row.to;
      return Object.prototype.hasOwnProperty.call(row.fields, name) ? String(row.fields[name]) : whole;
    });
  }

  // The records of CSV text, quotes and doubled quotes understood.
  function records(text, delimiter) {
    var rows = [], row = [], cell = "", quoted = false;
    for (var i = 0; i < text.length; i++) {
      var ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; }
        else if (ch === '"') quoted = false;
        else cell += ch;
      } else if (ch === '"' && cell === "") quoted = true;
      else if (ch === delimiter) { row.push(cell); cell = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") i++;
        row.push(cell); rows.push(row); row = []; cell = "";
      } else cell += ch;
    }
    if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
    return rows;
  }

  function delimiterOf(firstLine) {
    var best = ",", most = 0;
    [",", ";", "\t", "|"].forEach(function (candidate) {
      var count = firstLine.split(candidate).length - 1;
      if (count > most) { best = candidate; most = count; }
    });
    return best;
  }

  // {to, fields} of the first row with a number, or null.
  function firstRow(text, phoneColumns) {
    text = text.replace(/^\uFEFF/, "");
    var rows = records(text, delimiterOf(text.split(/\r?\n|\r/, 1)[0]));
    if (rows.length < 2) return null;
    var header = rows[0].map(function (name) { return name.trim(); });
    var lowered = header.map(function (name) { return name.toLowerCase(); });
    var phone = -1;
    phoneColumns.some(function (name) { phone = lowered.indexOf(name); return phone >= 0; });
    if (phone < 0) return null;
    for (var r = 1; r < rows.length; r++) {
      var cells = rows[r];
      if (!cells[phone] || !cells[phone].trim()) continue;
      var fields = {};
      header.forEach(function (name, i) { if (name) fields[name] = (cells[i] || "").trim(); });
      return { to: cells[phone].trim(), fields: fields };
    }
    return null;
  }

  function pastedRow(text) {
    var first = text.split(/[\n,;]/).map(function (piece) { return piece.trim(); }).find(Boolean);
    return first ? { to: first, fields: { phone: first } } : null;
  }

  function start() {
    var output = document.getElementById("campaign-preview");
    var message = document.getElementById("id_message");
    var counter = document.getElementById("campaign-segments");
    if (!output || !message || !counter || !window.smsSegments) return;
    var stored = output.dataset.row ? JSON.parse(output.dataset.row) : null;
    var phoneColumns = output.dataset.phoneColumns.split(",");
    var limit = Number(output.dataset.maxSegments);
    var file = document.getElementById("id_audience_file");
    var pasted = document.getElementById("id_audience_numbers");
    var chosen = null;

    function render() {
      var pastedFirst = pasted ? pastedRow(pasted.value) : null;
      var row = chosen || pastedFirst || stored;
      var text = row ? personalise(message.value, row) : message.value;
      output.textContent = row ? text : output.dataset.empty;
      output.classList.toggle("empty", !row);
      var info = window.smsSegments.analyse(text);
      var line = window.smsSegments.summary(info);
      var over = info.segments > limit;
      counter.textContent = over ? line + " — over the limit of " + limit + "; shorten it." : line;
      counter.classList.toggle("campaign-over-limit", over);
    }

    message.addEventListener("input", render);
    if (pasted) pasted.addEventListener("input", render);
    if (file) {
      file.addEventListener("change", function () {
        var picked = file.files && file.files[0];
        chosen = null;
        if (!picked) { render(); return; }
        picked.slice(0, HEAD_BYTES).text().then(function (text) {
          chosen = firstRow(text, phoneColumns);
          render();
        });
      });
    }
    render();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

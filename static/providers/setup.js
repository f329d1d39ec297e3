// Setup screens: key/value rows, the placeholder palette, copy buttons and the
// live request preview. No dependencies; the form works without it too.
(function () {
  "use strict";

  // A table copied from a guide: one row a line, the key and value separated by
  // a tab (as copied from an HTML table) or else by the first colon. The table's
  // own heading line ("Key", "Value"), if copied too, is not a row.
  function pastedRows(lines, nameLabel) {
    return lines.map(function (line) {
      const tab = line.indexOf("\t");
      const at = tab !== -1 ? tab : line.indexOf(":");
      return at === -1 ? [line.trim(), ""] : [line.slice(0, at).trim(), line.slice(at + 1).trim()];
    }).filter(function ([name, value]) {
      return !(name.toLowerCase() === nameLabel.toLowerCase() && value.toLowerCase() === "value");
    });
  }

  function isBlankRow(row) {
    return Boolean(row) && !row.querySelector(".kv-name").value && !row.querySelector(".kv-value").value;
  }

  // Fills the row pasted into, then the blank rows below it, then new rows.
  function pasteRows(container, row, pairs) {
    const template = container.querySelector("template");
    pairs.forEach(function ([name, value], index) {
      if (index && !isBlankRow(row.nextElementSibling)) {
        row.after(template.content.cloneNode(true));
      }
      row = index ? row.nextElementSibling : row;
      row.querySelector(".kv-name").value = name;
      row.querySelector(".kv-value").value = value;
    });
    row.querySelector(".kv-value").focus();
    container.dispatchEvent(new Event("input", { bubbles: true }));
    container.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function initRows(container) {
    const body = container.querySelector("tbody");
    const template = container.querySelector("template");
    container.querySelector(".kv-add").addEventListener("click", function () {
      body.appendChild(template.content.cloneNode(true));
      body.lastElementChild.querySelector("input").focus();
      container.dispatchEvent(new Event("input", { bubbles: true }));
    });
    container.addEventListener("paste", function (event) {
      if (!event.target.classList.contains("kv-name") || !event.clipboardData) return;
      const text = event.clipboardData.getData("text/plain");
      const lines = text.split(/\r?\n/).filter(function (line) { return line.trim(); });
      if (lines.length < 2) return;  // one line pastes as usual
      event.preventDefault();
      const label = container.querySelector("th").textContent.trim();
      pasteRows(container, event.target.closest("tr"), pastedRows(lines, label));
    });
    container.addEventListener("click", function (event) {
      if (event.target.classList.contains("kv-remove")) {
        event.target.closest("tr").remove();
        container.dispatchEvent(new Event("input", { bubbles: true }));
      }
    });
    if (!body.children.length) {
      body.appendChild(template.content.cloneNode(true));
    }
  }

  let lastField = null;

  function insertAtCursor(field, text) {
    const start = field.selectionStart ?? field.value.length;
    const end = field.selectionEnd ?? field.value.length;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.selectionStart = field.selectionEnd = start + text.length;
    field.focus();
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function initPalette(form) {
    const palette = document.getElementById("placeholder-palette");
    const payloadRow = document.querySelector(".form-row.field-payload");
    if (!palette) return;
    if (payloadRow) payloadRow.appendChild(palette);
    form.addEventListener("focusin", function (event) {
      // Placeholders belong in the request template, not in names or the nickname.
      if (event.target.matches("#id_payload, #id_endpoint, #id_basic_username, .kv-value")) {
        lastField = event.target;
      }
    });
    palette.addEventListener("click", function (event) {
      const item = event.target.closest("[data-insert]");
      if (!item) return;
      const field = lastField || document.getElementById("id_payload") || document.getElementById("id_endpoint");
      if (field) insertAtCursor(field, item.dataset.insert);
    });
    refreshVariables();
    form.addEventListener("input", refreshVariables);
  }

  function refreshVariables() {
    const slot = document.querySelector("[data-palette-variables]");
    if (!slot) return;
    slot.textContent = "";
    document.querySelectorAll("input[name=variables-name]").forEach(function (input) {
      const name = input.value.trim();
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button palette-item";
      button.dataset.insert = "{" + name + "}";
      button.textContent = "{" + name + "}";
      button.title = "Provider variable";
      slot.appendChild(button);
    });
  }

  function copyWithSelection(text) {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    return copied;
  }

  function initCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        const source = document.querySelector(button.dataset.copy);
        const text = source ? source.textContent.trim() : "";
        const report = function (copied) {
          button.textContent = copied ? "Copied" : "Copy failed — select the URL";
        };
        const fallback = function () { report(copyWithSelection(text)); };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { report(true); }, fallback);
        } else {
          fallback();
        }
      });
    });
  }

  // Beside the payload, so that the request shows next to the text that makes it.
  function placePreview(panel) {
    const payloadRow = document.querySelector(".form-row.field-payload");
    if (!payloadRow) return;
    const pair = document.createElement("div");
    pair.className = "payload-and-preview";
    payloadRow.parentNode.insertBefore(pair, payloadRow);
    pair.appendChild(payloadRow);
    pair.appendChild(panel);
  }

  function initPreview(form) {
    const panel = document.getElementById("request-preview");
    if (!panel) return;
    placePreview(panel);
    const output = panel.querySelector("[data-preview-request]");
    const errors = panel.querySelector("[data-preview-errors]");
    const waiting = output.textContent;
    // A form nobody has typed into yet is not wrong: it shows no problems.
    let quiet = panel.dataset.startQuiet === "1";
    let timer = null;
    let sequence = 0;

    function show(data) {
      errors.textContent = "";
      if (quiet) {
        errors.hidden = true;
        if (!data.ok) { output.textContent = waiting; return; }
      }
      Object.entries(quiet ? {} : data.errors || {}).forEach(function ([field, messages]) {
        messages.forEach(function (message) {
          const line = document.createElement("div");
          line.textContent = field + ": " + message;
          errors.appendChild(line);
        });
      });
      (quiet ? [] : data.fixes || []).forEach(function (fix) {
        errors.appendChild(fixButton(fix));
      });
      if (!quiet && data.guide_fix) {
        errors.appendChild(guideFixButton(data.guide_fix, data.fixes || []));
      }
      errors.hidden = !errors.childElementCount;
      if (!data.ok) {
        output.textContent = "Fix the problems above to see the request.";
        return;
      }
      const req = data.request;
      const lines = [req.method + " " + req.url];
      req.headers.forEach(function ([name, value]) { lines.push(name + ": " + value); });
      output.textContent = lines.join("\n") + (req.body ? "\n\n" + req.body : "");
    }

    function refresh() {
      const mine = ++sequence;
      fetch(panel.dataset.previewUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) { if (mine === sequence) show(data); })
        .catch(function () { /* the next edit tries again */ });
    }

    form.addEventListener("input", function () {
      quiet = false;
      clearTimeout(timer);
      timer = setTimeout(refresh, 350);
    });
    form.addEventListener("change", function () {
      quiet = false;
      clearTimeout(timer);
      timer = setTimeout(refresh, 50);
    });
    refresh();
  }

  // "Move it to a secret variable": a key typed in the clear goes into a new
  // provider variable marked Secret, and the header, parameter or payload field
  // refers to it. After a refused save the page no longer has the key (the server
  // holds it), so the new variable is left blank and takes the held value.
  function rowNamed(field, name) {
    const rows = document.querySelectorAll("[data-kv-rows=" + field + "] tr.kv-row");
    return Array.from(rows).find(function (row) {
      return row.querySelector(".kv-name").value.trim().toLowerCase() === name.toLowerCase();
    });
  }

  function takeFromRow(fix) {
    const row = rowNamed(fix.field, fix.name);
    if (!row) return "";
    const input = row.querySelector(".kv-value");
    const prefix = fix.template.slice(0, fix.template.indexOf("{"));
    let value = input.value.trim();
    if (prefix && value.toLowerCase().startsWith(prefix.toLowerCase())) {
      value = value.slice(prefix.length).trim();
    }
    input.value = fix.template;
    return value;
  }

  function escapeRegExp(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  function takeFromPayload(fix) {
    const area = document.getElementById("id_payload");
    if (!area) return "";
    const name = escapeRegExp(fix.name);
    const placeholder = "{" + fix.variable + "}";
    const json = new RegExp('("' + name + '"\\s*:\\s*)"((?:[^"\\\\]|\\\\.)*)"');
    const line = new RegExp("^(\\s*" + name + "\\s*=\\s*)(.*)$", "m");
    let found = area.value.match(json);
    let value = "";
    if (found) {
      value = JSON.parse('"' + found[2] + '"');
      area.value = area.value.replace(found[0], function () { return found[1] + '"' + placeholder + '"'; });
    } else if ((found = area.value.match(line))) {
      value = found[2].trim();
      area.value = area.value.replace(found[0], function () { return found[1] + placeholder; });
    }
    // After a refused save the page shows the variable, not the key.
    return value.indexOf("{") === -1 ? value : "";
  }

  // The variable row named `name`: the existing one, else a blank row, else a
  // new one, with the name filled in.
  function variableRow(name) {
    const container = document.querySelector("[data-kv-rows=variables]");
    if (!container) return null;
    let row = rowNamed("variables", name);
    if (!row) {
      const blank = Array.from(container.querySelectorAll("tr.kv-row")).find(function (r) {
        return !r.querySelector(".kv-name").value && !r.querySelector(".kv-value").value;
      });
      if (!blank) container.querySelector(".kv-add").click();
      row = blank || container.querySelector("tbody").lastElementChild;
    }
    row.querySelector(".kv-name").value = name;
    return row;
  }

  function addSecretVariable(name, value) {
    const row = variableRow(name);
    if (!row) return;
    const input = row.querySelector(".kv-value");
    input.value = value;
    if (!value) input.placeholder = "kept from your last attempt — leave blank to keep";
    row.querySelector(".kv-secret").value = "1";
  }

  function moveToSecret(fix) {
    if (fix.moved) return;
    fix.moved = true;
    const value = fix.field === "payload" ? takeFromPayload(fix) : takeFromRow(fix);
    addSecretVariable(fix.variable, value);
    const form = document.getElementById("provider_form");
    if (form) form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function fixButton(fix) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button move-to-secret";
    button.textContent = "Move it to a secret variable";
    button.title = "Adds a provider variable " + fix.variable + " marked Secret and uses " + fix.template;
    button.addEventListener("click", function () {
      moveToSecret(fix);
      button.disabled = true;
      button.textContent = "Moved to {" + fix.variable + "}";
    });
    return button;
  }

  function addToErrors(field, button) {
    const row = document.querySelector(".form-row.field-" + field);
    const list = row && row.querySelector(".errorlist");
    if (!list) return;
    const item = document.createElement("li");
    item.appendChild(button);
    list.appendChild(item);
  }

  function initCredentialFixes(fixes) {
    fixes.forEach(function (fix) { addToErrors(fix.field, fixButton(fix)); });
  }

  // "Use smsbridge's placeholders": the server has rewritten the pasted guide's
  // texts as its messages say (guide_text.fix_json and fix_value); the page puts
  // them in place and adds the provider variables they use, blank, to be filled.
  function useGuidePlaceholders(fix, credentialFixes) {
    const form = document.getElementById("provider_form");
    // First, so that a key typed in the payload reaches its secret variable.
    credentialFixes.forEach(moveToSecret);
    Object.entries(fix.fields).forEach(function ([name, value]) {
      const field = form.querySelector("[name=" + name + "]");
      if (field) field.value = value;
    });
    fix.rows.forEach(function (row) {
      const found = rowNamed(row.field, row.name);
      if (found) found.querySelector(".kv-value").value = row.value;
    });
    const toFill = fix.variables.filter(function (variable) {
      return !rowNamed("variables", variable.name);
    }).map(function (variable) {
      const row = variableRow(variable.name);
      if (variable.secret) row.querySelector(".kv-secret").value = "1";
      return row.querySelector(".kv-value");
    });
    form.dispatchEvent(new Event("input", { bubbles: true }));
    form.dispatchEvent(new Event("change", { bubbles: true }));
    const sender = document.getElementById("id_sender_id");
    if (sender && !sender.value && JSON.stringify(fix).indexOf("{sender_id}") !== -1) {
      toFill.push(sender);
    }
    if (toFill.length) toFill[0].focus();
  }

  function guideFixButton(fix, credentialFixes) {
    const names = fix.variables.map(function (variable) { return variable.name; }).join(", ");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button guide-fix";
    button.textContent = fix.label;
    button.title = "Rewrites the guide's placeholders and comments as the messages say" +
      (names ? " and adds the provider variables " + names : "");
    button.addEventListener("click", function () {
      useGuidePlaceholders(fix, credentialFixes);
      document.querySelectorAll("button.guide-fix").forEach(function (done) {
        done.disabled = true;
        done.textContent = names ? "Done — now fill in " + names : "Done";
      });
    });
    return button;
  }

  function initGuideFix(credentialFixes) {
    const data = document.getElementById("guide-fix");
    if (!data) return;
    const fix = JSON.parse(data.textContent);
    fix.where.forEach(function (field) {
      addToErrors(field, guideFixButton(fix, credentialFixes));
    });
  }

  function readJson(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // Show only the fields that apply to the current choices.
  function initDependentFields(form) {
    const rules = [
      [".field-basic_username, .field-basic_password", function () {
        const auth = form.querySelector("[name=authentication]");
        return auth && auth.value === "basic";
      }],
      [".field-oauth_token_url, .field-oauth_client_id, .field-oauth_client_secret, " +
       ".field-oauth_scope, .field-oauth_parameters, .field-oauth_credentials_in", function () {
        const auth = form.querySelector("[name=authentication]");
        return auth && auth.value === "oauth";
      }],
      [".field-batch_key, .field-batch_size", function () {
        const batch = form.querySelector("[name=batch_enabled]");
        return batch && batch.checked;
      }],
    ];
    function apply() {
      rules.forEach(function ([selector, visible]) {
        const show = visible();
        form.querySelectorAll(selector).forEach(function (row) { row.hidden = !show; });
      });
    }
    form.addEventListener("change", apply);
    apply();
  }

  // The keys of the payload's top-level arrays. Read over the text, since a
  // payload pasted from a guide is not JSON yet: strings, // comments and
  // brackets are enough to tell the levels apart.
  function topLevelArrayKeys(text) {
    const token = /"(?:[^"\\\n]|\\.)*"|\/\/[^\n]*|[{}[\]]/g;
    const opensArray = /\s*:\s*\[/y;
    const keys = [];
    let depth = 0;
    let found;
    while ((found = token.exec(text))) {
      const [part] = found;
      if (part === "{" || part === "[") depth += 1;
      else if (part === "}" || part === "]") depth -= 1;
      else if (part[0] === '"' && depth === 1) {
        opensArray.lastIndex = token.lastIndex;
        if (opensArray.test(text)) keys.push(part.slice(1, -1));
      }
    }
    return keys;
  }

  // Batch ticked with no key name: propose the payload's one top-level array.
  function initBatchKey(form) {
    const batch = form.querySelector("[name=batch_enabled]");
    const key = form.querySelector("[name=batch_key]");
    const payload = form.querySelector("[name=payload]");
    if (!batch || !key || !payload) return;
    function propose(event) {
      if (event.target !== batch && event.target !== payload) return;
      if (!batch.checked || key.value.trim()) return;
      const keys = topLevelArrayKeys(payload.value);
      if (keys.length === 1) key.value = keys[0];
    }
    form.addEventListener("change", propose);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("provider_form");
    document.querySelectorAll("[data-kv-rows]").forEach(initRows);
    initCopyButtons();
    if (!form) return;
    initBatchKey(form);
    initDependentFields(form);
    initPalette(form);
    initPreview(form);
    // Parsed once: both kinds of button move the same keys, once.
    const credentialFixes = readJson("credential-fixes") || [];
    initCredentialFixes(credentialFixes);
    initGuideFix(credentialFixes);
  });
})();

// "Map automatically": propose the fields of delivery reports, or of inbound
// replies, from a pasted sample.
(function () {
  "use strict";

  // A button after the sample that posts it (with `extra` fields as they stand in
  // the form) and fills in what comes back; `describe` words the note.
  function initMapButton(form, sample, endpoint, extra, describe) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = "Map automatically";
    const note = document.createElement("div");
    note.className = "help";
    note.dataset.mappingNote = "";
    sample.insertAdjacentElement("afterend", note);
    sample.insertAdjacentElement("afterend", button);
    button.addEventListener("click", function () {
      const body = new FormData();
      body.append("sample", sample.value);
      extra.forEach(function (name) {
        const field = form.querySelector("[name=" + name + "]");
        if (field) body.append(name, field.value);
      });
      body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      note.classList.remove("errornote");
      fetch(endpoint.dataset.url, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (!data.ok) { note.textContent = data.error; return; }
          if (!data.mapping) {
            note.textContent = describe(data);
            note.classList.toggle("errornote", (data.note || "").indexOf("Warning:") !== -1);
            return;
          }
          Object.entries(data.mapping).forEach(function ([name, value]) {
            const field = document.getElementById("id_" + name);
            if (field) field.value = value;
          });
          note.textContent = describe(data);
        });
    });
    return button;
  }

  function describeReports(data) {
    if (!data.mapping) {
      return "This is " + (data.format === "8x8" ? "8x8's" : "CleverTap's") +
        " own format: it is understood without a mapping. " + (data.note || "");
    }
    return "Proposed a mapping: check the fields below. The sample's status “" +
      data.sample_status + "” reads as " + (data.sample_state || "nothing yet — add it to the values") + ".";
  }

  function describeReplies(data) {
    if (!data.mapping) return data.note;
    const more = data.replies > 1 ? " (and " + (data.replies - 1) + " more in the sample)" : "";
    return "Proposed a mapping: check the fields below. The sample reads as a reply from " +
      data.sample.from + " saying “" + data.sample.text + "”" + more + ".";
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("provider_form");
    if (!form) return;
    const reports = document.getElementById("id_dlr_sample");
    const reportsUrl = document.getElementById("propose-mapping-url");
    if (reports && reportsUrl) {
      // As they stand in the form, not as last saved: the answer says whether
      // they capture the id the sample's format correlates on.
      const button = initMapButton(form, reports, reportsUrl, ["payload", "message_id_path"], describeReports);
      button.id = "map-automatically";
    }
    const replies = document.getElementById("id_inbound_sample");
    const repliesUrl = document.getElementById("propose-inbound-mapping-url");
    if (replies && repliesUrl) {
      const button = initMapButton(form, replies, repliesUrl, [], describeReplies);
      button.id = "map-inbound-automatically";
    }
  });
})();

/* Live SMS encoding and segment count under a message box.
 *
 * Mirrors providers/encoding.py for the browser; keep the two alphabets
 * identical (tests/providers/test_encoding.py compares them). Usage:
 *   <textarea id="id_body"></textarea>
 *   <div data-segment-counter-for="id_body"></div>
 */
(function () {
  "use strict";

  // 3GPP TS 23.038 default alphabet in code order, minus the 0x1B escape.
  var GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM_EXTENSION = "\f^{}\\[~]|€";
  // [single message, each part of a multipart message]
  var LIMITS = { "GSM-7": [160, 153], "UCS-2": [70, 67] };

  var BASIC = new Set(Array.from(GSM_BASIC));
  var EXTENSION = new Set(Array.from(GSM_EXTENSION));

  function encodingFor(text) {
    for (var ch of text) {
      if (!BASIC.has(ch) && !EXTENSION.has(ch)) return "UCS-2";
    }
    return "GSM-7";
  }

  // `ch` is one code point, so an emoji is a 2-unit string in UTF-16.
  function unitCost(ch, encoding) {
    if (encoding === "GSM-7") return EXTENSION.has(ch) ? 2 : 1;
    return ch.length;
  }

  function analyse(text) {
    var encoding = encodingFor(text);
    var single = LIMITS[encoding][0];
    var multipart = LIMITS[encoding][1];
    var units = 0;
    var segments = text ? 1 : 0;
    var used = 0;
    for (var ch of text) {
      var cost = unitCost(ch, encoding);
      units += cost;
      // A character never straddles two segments: it starts the next one.
      if (used + cost > multipart) {
        segments += 1;
        used = 0;
      }
      used += cost;
    }
    if (units <= single) segments = text ? 1 : 0;
    return {
      encoding: encoding,
      units: units,
      segments: segments,
      perSegment: segments > 1 ? multipart : single,
    };
  }

  function summary(info) {
    return (
      info.encoding + " · " +
      info.units + (info.units === 1 ? " character" : " characters") + " · " +
      info.segments + (info.segments === 1 ? " segment" : " segments")
    );
  }

  function refresh(counter) {
    var field = document.getElementById(counter.dataset.segmentCounterFor);
    if (field) counter.textContent = summary(analyse(field.value));
  }

  function counters(selector) {
    return document.querySelectorAll("[data-segment-counter-for" + selector + "]");
  }

  function start() {
    counters("").forEach(refresh);
    // Delegated, so message boxes added after load (inline forms) count too.
    document.addEventListener("input", function (event) {
      var id = event.target && event.target.id;
      if (id) counters('="' + CSS.escape(id) + '"').forEach(refresh);
    });
  }

  if (typeof module === "object" && module.exports) {
    module.exports = { analyse: analyse, summary: summary, GSM_BASIC: GSM_BASIC, GSM_EXTENSION: GSM_EXTENSION };
  }
  if (typeof window !== "undefined") {
    // For pages that count a text of their own making (the campaign preview).
    window.smsSegments = { analyse: analyse, summary: summary };
  }
  if (typeof document !== "undefined") {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  }
})();

/* fmlite site player: the explorers of the static site (`python -m fmlite site`), without a kernel.
 *
 * Each explorer on a page is a <div class="fmlite-explorer"> holding its manifest inline
 * (<script type="application/json" class="fmlite-manifest">: the picture folder, the controls' readouts and the
 * allowed settings as grid indices joined by "-"), native controls (<input type="range"> over grid indices,
 * <select>) and one <img>. Moving a control shows the picture the live explorer drew for that setting; where
 * controls constrain each other, the allowed setting with the new value nearest the current one in the other
 * controls is shown, and every control moves to it. The pictures one move away are loaded ahead of time.
 * No request leaves the site's folder: pictures are relative <img> sources, which also work from file://.
 */
(function () {
  "use strict";

  function setUp(root) {
    var m = JSON.parse(root.querySelector("script.fmlite-manifest").textContent);
    var img = root.querySelector("img.fmlite-picture");
    var inputs = Array.prototype.slice.call(root.querySelectorAll("[data-control]"));
    var allowed = {};
    m.settings.forEach(function (k) { allowed[k] = k.split("-").map(Number); });
    var current = m.initial.slice();
    var cache = {};

    function url(k) { return m.base + k + ".webp"; }

    function nearest(from, c, v) {  // the allowed setting with control c at index v, nearest `from` in the others
      var best = null, bestD = Infinity;
      for (var k in allowed) {
        var idx = allowed[k];
        if (idx[c] !== v) continue;
        var d = 0;
        for (var j = 0; j < idx.length; j++) if (j !== c) d += Math.abs(idx[j] - from[j]);
        if (d < bestD) { bestD = d; best = idx; }
      }
      return best;
    }

    function preload(idx) {
      var k = idx.join("-");
      if (cache[k]) return;
      var im = new Image();
      im.src = url(k);
      cache[k] = im;
      if (im.decode) im.decode().catch(function () {});
    }

    function describe() {
      return m.descriptions.map(function (d, c) { return d + " = " + m.labels[c][current[c]]; }).join(", ");
    }

    function show() {
      img.src = url(current.join("-"));
      img.alt = "the explorer's picture at " + describe();
      inputs.forEach(function (el) {
        var c = +el.getAttribute("data-control");
        el.value = String(current[c]);
        var text = m.labels[c][current[c]];
        if (el.type === "range") el.setAttribute("aria-valuetext", text);
        var out = root.querySelector("output[data-readout='" + c + "']");
        if (out) out.textContent = text;
      });
      for (var c = 0; c < m.labels.length; c++) {  // every picture one move of one control away
        for (var v = 0; v < m.labels[c].length; v++) {
          var idx = nearest(current, c, v);
          if (idx) preload(idx);
        }
      }
    }

    function moved(ev) {
      var el = ev.target, c = +el.getAttribute("data-control"), v = +el.value;
      if (v === current[c]) return;
      var idx = nearest(current, c, v);
      if (idx) current = idx.slice();
      show();
    }

    inputs.forEach(function (el) {
      el.addEventListener("input", moved);
      el.addEventListener("change", moved);
    });
    root.classList.add("fmlite-ready");
    show();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll(".fmlite-explorer"), setUp);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

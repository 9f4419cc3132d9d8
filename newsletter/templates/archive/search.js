// Client-side search over search-index.js (titles, summaries, themes, issues).
// A progressive enhancement: the form stays hidden, and the pages work, without JavaScript.
(function () {
  "use strict";
  var form = document.getElementById("search");
  var data = window.NEWSLETTER_SEARCH_INDEX;
  if (!form || !Array.isArray(data)) return;
  var input = form.querySelector("input[type=search]");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  var records = data.map(function (r) {
    return { r: r, text: fold([r.title, r.summary, r.theme, r.issue].join(" ")) };
  });
  function excerpt(text) {
    return text.length > 180 ? text.slice(0, 180).replace(/\s+\S*$/, "") + "\u2026" : text;
  }
  function show() {
    var words = fold(input.value).split(/\s+/).filter(Boolean);
    list.textContent = "";
    if (!words.length) { status.textContent = ""; return; }
    var hits = records.filter(function (x) {
      return words.every(function (w) { return x.text.indexOf(w) !== -1; });
    });
    var words = status.getAttribute("data-found" + Math.min(hits.length, 2)) || "{n}";
    status.textContent = words.replace("{n}", String(hits.length));
    hits.slice(0, 50).forEach(function (x) {
      var li = document.createElement("li");
      var link = document.createElement("a");
      link.href = x.r.url;
      link.textContent = x.r.title;
      var meta = document.createElement("p");
      meta.className = "meta";
      meta.textContent = x.r.theme + " \u00b7 " + x.r.issue + " \u00b7 " + x.r.date;
      var text = document.createElement("p");
      text.className = "excerpt";
      text.textContent = excerpt(x.r.summary);
      li.append(link, meta, text);
      list.append(li);
    });
  }
  form.addEventListener("submit", function (event) { event.preventDefault(); show(); });
  input.addEventListener("input", show);
  form.hidden = false;
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) { input.value = query; show(); }
})();

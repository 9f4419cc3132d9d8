// The preview page's only script: reload after each rebuild (the issue page) or after
// each new message (the outbox page), and fit the email's frame.
(function () {
  "use strict";
  var version = document.body.dataset.version;
  var outbox = document.body.dataset.outbox;

  function sleep(ms) { return new Promise(function (done) { setTimeout(done, ms); }); }

  // Long-poll: the server answers as soon as the build's version moves (or after ~20 s).
  async function watch() {
    for (;;) {
      try {
        var reply = await fetch("/api/version?since=" + encodeURIComponent(version), { cache: "no-store" });
        if (!reply.ok) { await sleep(1000); continue; }
        var state = await reply.json();
        if (state.version !== version) { location.reload(); return; }
      } catch (err) {
        await sleep(1000); // the server is restarting or gone: try again
      }
    }
  }

  // The outbox list: ask every two seconds whether a message came in, reload when one did.
  async function watchOutbox() {
    for (;;) {
      await sleep(2000);
      try {
        var reply = await fetch("/api/outbox", { cache: "no-store" });
        if (!reply.ok) { continue; }
        var state = await reply.json();
        if (state.stamp !== outbox) { location.reload(); return; }
      } catch (err) { /* the server is restarting or gone: ask again */ }
    }
  }

  function fit(frame) {
    try {
      var doc = frame.contentDocument;
      if (doc && doc.documentElement) { frame.height = Math.max(400, doc.documentElement.scrollHeight + 4); }
    } catch (err) { /* a sandboxed message without same-origin keeps its fixed height */ }
  }

  document.querySelectorAll("iframe.email").forEach(function (frame) {
    frame.addEventListener("load", function () { fit(frame); });
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") { fit(frame); }
  });
  // The language selector shows its choice at once (its button stays for use without script).
  document.querySelectorAll("form.language select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  if (version) { watch(); }
  if (outbox !== undefined) { watchOutbox(); }
})();

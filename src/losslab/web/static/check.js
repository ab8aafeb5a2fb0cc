// The check panel: send a sheet (file or pasted text) to POST /api/check, show the server's rendered report.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { count: 0, last: null, busy: false };
  window.losslabCheck = state;   // the tests read the last answer (the same claims as `losslab check --json`)

  function showError(message) {
    $("check-error").textContent = message;
    $("check-error").hidden = false;
  }

  async function send(form, fileName) {
    if (state.busy) return;
    state.busy = true;
    $("check-error").hidden = true;
    $("check-status").textContent = "checking…";
    let resp, payload = null;
    try {
      resp = await fetch("/api/check", { method: "POST", body: form });
      try { payload = await resp.json(); } catch (err) { payload = null; }
    } catch (err) {
      showError(`The server did not answer (${err}). Is 'losslab serve' still running?`);
    }
    state.busy = false;
    $("check-status").textContent = "";
    if (resp && !resp.ok) {
      let message = payload && payload.detail ? String(payload.detail) : `The check failed with status ${resp.status}.`;
      if (fileName && !message.includes(fileName)) message = `${fileName}: ${message}`;
      showError(message);
      $("check-result").innerHTML = "";
      state.last = { status: resp.status, detail: payload && payload.detail };
    } else if (payload) {
      const c = payload.counts;
      $("check-status").textContent = `${payload.filename}: ${payload.claims.length} claims, ${c.correct} correct, ` +
        `${c.incorrect} incorrect, ${c["not checked"]} not checked`;
      $("check-result").innerHTML = payload.html;   // MathML and escaped text built by the server
      state.last = { status: resp.status, ...payload };
    }
    state.count += 1;
  }

  fetch("/api/info").then((r) => r.json()).then((info) => { $("book-link").hidden = !info.book; }).catch(() => {});

  $("check-file").addEventListener("change", () => {
    const file = $("check-file").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file, file.name);
    send(form, file.name).then(() => { $("check-file").value = ""; });
  });
  $("check-run").addEventListener("click", () => {
    const text = $("check-text").value;
    if (!text.trim()) { showError("Paste a sheet into the box first, or choose a file."); return; }
    const form = new FormData();
    form.append("text", text);
    form.append("format", $("check-format").value);
    send(form);
  });
})();

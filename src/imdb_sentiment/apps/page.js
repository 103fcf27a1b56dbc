// The page's script, served as /page.js so that the page runs under a script-src 'self' policy.
const esc = s => s.replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
function words(attribution) {
  const top = Math.max(1e-6, ...attribution.map(([, w]) => Math.abs(w)));
  return attribution.map(([text, w]) => {
    const alpha = (Math.abs(w) / top * 0.6).toFixed(2);
    const colour = w >= 0 ? `rgba(26,127,55,${alpha})` : `rgba(198,40,40,${alpha})`;
    return `<span style="background:${colour}" title="${w.toFixed(4)}">${esc(text)}</span>`;
  }).join(" ");
}
async function run() {
  const text = document.getElementById("review").value;
  const status = document.getElementById("status");
  status.textContent = "working...";
  const headers = {"Content-Type": "application/json"};
  const key = document.getElementById("api-key").value;
  if (key) headers["X-API-Key"] = key;
  let response, body;
  try {
    response = await fetch("predict", {method: "POST", headers, body: JSON.stringify({texts: [text], explain: true})});
    body = await response.json();
  } catch (err) {  // no reply, or one that is not JSON (a proxy's error page, say)
    body = {detail: response ? `the server answered ${response.status} ${response.statusText}, not JSON`
                             : `no answer from the server (${err.message})`};
    response = response || {ok: false, status: 0};
  }
  if (response.status === 401) document.getElementById("key-field").hidden = false;
  if (!response.ok) {
    status.textContent = "";
    document.getElementById("results").innerHTML =
      `<p class="error" id="request-error">${esc(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail))}</p>`;
    return;
  }
  const rows = body.results[0].models.map(m => m.error
    ? `<tr class="model-result" data-run="${esc(m.run)}"><td>${esc(m.run)}</td><td>${m.kind}</td>
         <td class="error label" colspan="3">${esc(m.error)}</td></tr>`
    : `<tr class="model-result" data-run="${esc(m.run)}"><td>${esc(m.run)}</td><td>${m.kind}</td>
         <td class="label ${m.label}">${m.label}</td><td class="probability">${m.p_positive.toFixed(3)}</td>
         <td>${m.latency_ms.toFixed(1)} ms${m.truncated ? " <span class='note'>(review truncated)</span>" : ""}</td></tr>
       <tr><td colspan="5" class="words">${words(m.attribution)}${m.attribution_words < text.trim().split(/\s+/).length
         ? ` <span class="note">(the first ${m.attribution_words} words explained)</span>` : ""}</td></tr>`).join("");
  document.getElementById("results").innerHTML =
    `<table><tr><th>run</th><th>kind</th><th>label</th><th>P(positive)</th><th>latency</th></tr>${rows}</table>`;
  status.textContent = "";
}
document.getElementById("submit").addEventListener("click", run);

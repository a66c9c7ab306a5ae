// The REST API as both dashboards call it: JSON in and out; an error answer becomes an Error whose message names
// the request, the status, the API's error and each detail (what is wrong and what is allowed).
"use strict";

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  let resp;
  try { resp = await fetch(path, init); } catch (e) { throw new Error(`cannot reach the API (${e.message})`); }
  let payload = null;
  try { payload = await resp.json(); } catch (e) { /* not JSON */ }
  if (!resp.ok) {
    const details = payload && payload.details ? payload.details.map(d => typeof d === "string" ? d
      : [d.field, d.problem, d.allowed ? `allowed: ${d.allowed}` : null].filter(Boolean).join(": ")) : [];
    const msg = `${method} ${path} → ${resp.status}: ${payload && payload.error ? payload.error : resp.statusText}`;
    throw new Error(details.length ? `${msg} (${details.join("; ")})` : msg);
  }
  return payload;
}

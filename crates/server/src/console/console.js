// Baton console: a few helpers for the server-rendered pages. No build step.
"use strict";

async function baton(action, body) {
  const res = await fetch("/", {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "AWSStepFunctions." + action },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const kind = (data.__type || "Error").split("#").pop();
    throw new Error(kind + ": " + (data.message || res.statusText));
  }
  return data;
}

// The JSON input editor: checked as you type, sent only when it parses.
function startForm(form) {
  const input = form.querySelector("textarea[name=input]");
  const status = form.querySelector(".status");
  const check = () => {
    try {
      JSON.parse(input.value);
      status.textContent = "Valid JSON";
      status.className = "status ok";
      return true;
    } catch (e) {
      status.textContent = "Invalid JSON: " + e.message;
      status.className = "status error";
      return false;
    }
  };
  input.addEventListener("input", check);
  check();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!check()) return;
    const body = { stateMachineArn: form.dataset.machine, input: input.value };
    const name = form.querySelector("input[name=name]").value.trim();
    if (name) body.name = name;
    try {
      const out = await baton("StartExecution", body);
      location.href = "/execution?arn=" + encodeURIComponent(out.executionArn);
    } catch (e) {
      status.textContent = e.message;
      status.className = "status error";
    }
  });
}

function actionButton(button, action) {
  button.addEventListener("click", async () => {
    const out = document.getElementById("action-status");
    try {
      await baton(action, { executionArn: button.dataset.arn });
      location.reload();
    } catch (e) {
      out.textContent = e.message;
      out.className = "error";
    }
  });
}

// Live updates: while an execution runs, fetch the page again and swap its live parts.
function live(root) {
  if (!root || root.dataset.status !== "RUNNING") return;
  setTimeout(async () => {
    try {
      const res = await fetch(location.href, { headers: { "x-baton-live": "1" } });
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const fresh = doc.getElementById("live");
      if (fresh) {
        root.replaceWith(fresh);
        document.querySelectorAll("#live button[data-action]").forEach((b) => actionButton(b, b.dataset.action));
        live(fresh);
        return;
      }
    } catch (e) { /* try again */ }
    live(root);
  }, 1500);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form.start").forEach(startForm);
  document.querySelectorAll("button[data-action]").forEach((b) => actionButton(b, b.dataset.action));
  live(document.getElementById("live"));
});

// FirstPoint console: GOV.UK Frontend components and the live conversation.
// Loaded as an ES module from the console's own origin (the CSP allows no inline script).
import { initAll } from "./vendor/govuk-frontend.min.js";

document.body.classList.add("js-enabled");
if ("noModule" in HTMLScriptElement.prototype) {
  document.body.classList.add("govuk-frontend-supported");
}
initAll();

function speakerName(line) {
  if (line.speaker === "caller") { return "Caller"; }
  if (line.speaker === "officer") { return line.author || "Officer"; }
  return "Console";
}

function addLine(list, line) {
  if (list.querySelector('[data-id="' + line.id + '"]')) { return false; }
  const item = document.createElement("li");
  item.dataset.id = String(line.id);
  item.className = "fp-line fp-line--" + line.speaker;
  const who = document.createElement("strong");
  who.textContent = speakerName(line) + ":";
  const text = document.createElement("span");
  text.className = "fp-pre";
  text.textContent = " " + line.text;
  item.append(who, text);
  if (["emergency", "handoff", "check"].includes(line.risk_level)) {
    const tag = document.createElement("strong");
    tag.className = "govuk-tag govuk-tag--red";
    tag.textContent = "Risk: " + line.risk_level;
    item.append(" ", tag);
  }
  list.append(item);
  return true;
}

function live() {
  const list = document.getElementById("lines");
  if (!list || !list.dataset.stream) { return; }
  const announce = document.getElementById("announce");
  const state = document.getElementById("takeover-state");
  if (state && state.dataset.state !== "active") { return; }
  const source = new EventSource(list.dataset.stream + "?after=" + list.dataset.after);
  source.addEventListener("line", (event) => {
    const line = JSON.parse(event.data);
    if (addLine(list, line) && line.speaker !== "officer" && announce) {
      announce.textContent = speakerName(line) + ": " + line.text;
    }
  });
  source.addEventListener("ended", () => {
    source.close();
    if (announce) { announce.textContent = "The conversation is back with the bot."; }
    window.setTimeout(() => window.location.reload(), 1500);
  });

  const form = document.getElementById("send-form");
  const box = document.getElementById("message");
  if (!form || !box) { return; }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!box.value.trim()) { box.focus(); return; }
    const button = document.getElementById("send");
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const result = await response.json();
      if (response.ok) {
        box.value = "";
      } else if (announce) {
        announce.textContent = "Not sent: " + (result.error || response.status);
      }
    } catch (error) {
      if (announce) { announce.textContent = "Not sent: the console cannot be reached."; }
    } finally {
      button.disabled = false;
      box.focus();
    }
  });
}

live();

// Slipway dashboard: the live log of a deployment page and copy buttons. Everything else is plain HTML forms.
"use strict";

document.querySelectorAll("button[data-copy]").forEach(button => {
  button.addEventListener("click", async () => {
    const text = document.getElementById(button.dataset.copy)?.textContent ?? "";
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  });
});

const log = document.getElementById("log");
if (log?.dataset.stream) {
  const search = document.getElementById("log-search");
  const follow = document.getElementById("log-follow");
  const end = document.getElementById("log-end");
  const status = document.getElementById("deployment-status");
  let following = true;
  let lastStatus = status?.dataset.status ?? "";

  const matches = line => !search.value || line.textContent.toLowerCase().includes(search.value.toLowerCase());
  search.addEventListener("input", () => log.querySelectorAll("span.line").forEach(l => l.classList.toggle("hidden", !matches(l))));
  follow.addEventListener("click", () => {
    following = !following;
    follow.setAttribute("aria-pressed", String(following));
    follow.textContent = following ? "Following (click to stop)" : "Follow";
  });
  const showStatus = value => {
    lastStatus = value;
    if (status) {
      status.dataset.status = value;
      status.innerHTML = "";
      const badge = document.createElement("span");
      const kind = value === "ready" ? "good" : value === "failed" ? "bad" : value === "canceled" ? "muted" : "busy";
      badge.className = "badge badge-" + kind;
      badge.textContent = value;
      status.append(badge);
    }
  };

  const source = new EventSource(log.dataset.stream);
  source.addEventListener("log", event => {
    const line = JSON.parse(event.data);
    const span = document.createElement("span");
    span.className = "line" + (line.stream === "stderr" ? " stderr" : "");
    span.textContent = line.message + "\n";
    if (!matches(span)) span.classList.add("hidden");
    log.append(span);
    if (following) log.scrollTop = log.scrollHeight;
  });
  source.addEventListener("status", event => showStatus(JSON.parse(event.data).status));
  source.addEventListener("end", event => {
    source.close();
    const data = JSON.parse(event.data);
    if (data.status) showStatus(data.status);
    end.textContent = "The deployment ended: " + lastStatus + ".";
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) end.textContent = "The log stream closed; reload the page to try again.";
  };
}

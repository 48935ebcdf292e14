// The memkit memory explorer. It talks to memkit's own HTTP routes only, and builds every node
// with textContent: stored messages are hostile input, so no data ever becomes HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const RECENT_KEY = "memkit.explorer.recent";
  const CREDENTIAL_KEY = "memkit.explorer.credential";
  const THREADS_PER_PAGE = 20;
  const MESSAGES_PER_PAGE = 50;
  const RECENT_MAX = 8;
  const ROLES = new Set(["user", "assistant", "system", "signal"]);
  const state = { resource: null, agent: "", threadPage: 0, thread: null, messagePage: 0 };

  // ------------------------------------------------------------ DOM helpers

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (typeof value === "function") node.addEventListener(name, value);
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const stamp = (iso) =>
    typeof iso === "string"
      ? el("time", { datetime: iso, title: iso }, iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC"))
      : el("time", {}, "no date");

  function json(value) {
    if (value === undefined) return el("pre", { class: "code muted" }, "(none)");
    return el("pre", { class: "code" }, typeof value === "string" ? value : JSON.stringify(value, null, 2));
  }

  const label = (text, ...rest) => el("div", { class: "part-label" }, text, ...rest);

  // Only links a click cannot turn into script: http(s) opens in a new tab, data: downloads.
  function safeHref(raw, mime) {
    if (typeof raw !== "string" || !raw) return null;
    if (/^data:/i.test(raw)) return raw;
    try {
      const url = new URL(raw);
      if (url.protocol === "http:" || url.protocol === "https:") return url.href;
    } catch {
      if (/^[A-Za-z0-9+/=\s]+$/.test(raw)) return `data:${mime};base64,${raw.replace(/\s/g, "")}`;
    }
    return null;
  }

  function link(href, text, filename) {
    if (!href) return el("span", { class: "muted" }, `${text} (no usable link)`);
    const isData = href.startsWith("data:");
    return el("a", { href, download: isData ? filename || "file" : null, target: isData ? null : "_blank", rel: "noopener noreferrer" }, text);
  }

  // ------------------------------------------------------------ errors and status

  class ApiError extends Error {
    constructor(call, status, message) {
      super(message);
      this.call = call;
      this.status = status;
    }
  }

  function showError(error) {
    const box = $("error");
    const where = error instanceof ApiError ? `${error.call} failed${error.status ? ` (${error.status})` : ""}: ` : "Error: ";
    const hint = error.status === 401 ? el("span", { class: "hint" }, " Enter the API key (api-key mode) or a bearer token (jwt mode) above.") : null;
    box.replaceChildren(el("strong", {}, where), String(error.message || error), hint, el("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", click: clearError }, "×"));
    box.hidden = false;
    if (error.status === 401) $("credential").focus();
  }

  function clearError() {
    $("error").hidden = true;
    $("error").replaceChildren();
  }

  const say = (text) => ($("status").textContent = text);

  // Every user action clears the last error and reports its own failure: nothing fails silently.
  const action = (run) => async (event) => {
    if (event && event.preventDefault) event.preventDefault();
    clearError();
    try {
      await run(event);
    } catch (error) {
      showError(error);
    }
  };
  window.addEventListener("unhandledrejection", (event) => showError(event.reason));
  window.addEventListener("error", (event) => showError(event.error || event.message));

  // ------------------------------------------------------------ the API

  async function api(method, path, params, body) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== undefined && value !== null && value !== "") query.set(name, value);
    }
    if (state.agent) query.set("agentId", state.agent);
    const call = `${method} /api/${path.split("?")[0]}`;
    const headers = {};
    const credential = sessionStorage.getItem(CREDENTIAL_KEY);
    if (credential) headers.authorization = `Bearer ${credential}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      // Relative to the page, so a stage prefix in front of /explorer is kept.
      response = await fetch(`api/${path}${query.size ? `?${query}` : ""}`, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(call, 0, `no answer from the server (${error.message})`);
    }
    const text = await response.text();
    let payload = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const reason = payload && typeof payload.error === "string" ? payload.error : text.slice(0, 300) || response.statusText;
      throw new ApiError(call, response.status, reason);
    }
    if (payload === null) throw new ApiError(call, response.status, "the answer is not JSON");
    return payload;
  }

  const enc = encodeURIComponent;
  const threadPath = (id, rest = "") => `memory/threads/${enc(id)}${rest}`;

  // ------------------------------------------------------------ recent resources and the URL

  function recent() {
    try {
      const list = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
      return Array.isArray(list) ? list.filter((item) => typeof item === "string") : [];
    } catch {
      return [];
    }
  }

  function setRecent(list) {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, RECENT_MAX)));
    renderRecent();
  }

  function renderRecent() {
    const items = recent();
    $("recent").replaceChildren(
      ...(items.length ? [el("span", { class: "muted" }, "Recent:")] : []),
      ...items.map((id) => el("button", { type: "button", class: "chip", click: action(() => openResource(id)) }, id)),
    );
  }

  function saveLocation() {
    const params = new URLSearchParams();
    if (state.resource) params.set("resource", state.resource);
    if (state.agent) params.set("agent", state.agent);
    if (state.thread) params.set("thread", state.thread);
    history.replaceState(null, "", `#${params}`);
  }

  // ------------------------------------------------------------ resource and threads

  async function openResource(resource, thread = null) {
    state.resource = resource;
    state.agent = $("agent").value.trim();
    state.threadPage = 0;
    $("resource").value = resource;
    closeThread();
    // Shown once the listing succeeds, so a refused call never leaves another resource's data on screen.
    $("main").hidden = true;
    say("");
    $("search-results").replaceChildren();
    await Promise.all([loadThreads(), loadSearchAvailability()]);
    $("main").hidden = false;
    $("intro").hidden = true;
    setRecent([resource, ...recent().filter((id) => id !== resource)]);
    if (thread) await openThread(thread);
    saveLocation();
  }

  async function loadThreads() {
    const page = await api("GET", "memory/threads", {
      resourceId: state.resource, page: state.threadPage, perPage: THREADS_PER_PAGE,
      "orderBy[field]": "updatedAt", "orderBy[direction]": "DESC",
    });
    const pages = Math.max(1, Math.ceil(page.total / THREADS_PER_PAGE));
    $("thread-count").textContent = `${page.total}`;
    $("threads-page").textContent = `page ${state.threadPage + 1} of ${pages}`;
    $("threads-newer").disabled = state.threadPage === 0;
    $("threads-older").disabled = !page.hasMore;
    $("threads").replaceChildren(
      ...(page.threads.length ? page.threads.map(threadItem) : [el("li", { class: "muted empty" }, "No threads for this resource.")]),
    );
    if (!state.thread && page.threads.length && state.threadPage === 0) await loadWorkingMemory(page.threads[0].id);
    else if (!page.threads.length) showWorkingMemory(null);
  }

  function threadItem(thread) {
    return el("li", {},
      el("button", {
        type: "button", class: `thread-link${thread.id === state.thread ? " current" : ""}`, "data-thread-id": thread.id,
        click: action(() => openThread(thread.id)),
      },
        el("span", { class: "title" }, thread.title || "(untitled)"),
        el("span", { class: "muted small" }, thread.id, " · ", stamp(thread.updatedAt))));
  }

  async function pageThreads(step) {
    state.threadPage = Math.max(0, state.threadPage + step);
    await loadThreads();
  }

  async function eraseResource() {
    const resource = state.resource;
    const confirmed = await confirmDanger({
      title: `Erase resource ${resource}?`,
      text: "This deletes its working memory, every thread, every message and their vectors. It cannot be undone.",
      expected: resource, ok: "Erase resource",
    });
    if (!confirmed) return say("Erase cancelled.");
    const result = await api("DELETE", `memkit/resources/${enc(resource)}`);
    const count = Array.isArray(result.deletedThreadIds) ? result.deletedThreadIds.length : 0;
    setRecent(recent().filter((id) => id !== resource));
    closeThread();
    state.threadPage = 0;
    await loadThreads();
    say(`Erased resource ${resource}: ${count} thread${count === 1 ? "" : "s"} deleted.`);
  }

  // ------------------------------------------------------------ one thread

  function closeThread() {
    state.thread = null;
    state.messagePage = 0;
    $("thread-title").textContent = "No thread open";
    $("thread-meta").textContent = "";
    $("thread-actions").hidden = true;
    $("messages-pager").hidden = true;
    $("messages").replaceChildren();
    for (const node of document.querySelectorAll(".thread-link.current")) node.classList.remove("current");
    saveLocation();
  }

  async function openThread(id, messagePage = 0) {
    const resourceId = state.resource;
    const [thread, page] = await Promise.all([
      api("GET", threadPath(id), { resourceId }),
      // Newest first, shown oldest first: a thread opens on its latest messages.
      api("GET", threadPath(id, "/messages"), {
        resourceId, page: messagePage, perPage: MESSAGES_PER_PAGE, orderBy: JSON.stringify({ field: "createdAt", direction: "DESC" }),
      }),
    ]);
    state.thread = id;
    state.messagePage = messagePage;
    $("thread-title").textContent = thread.title || "(untitled)";
    $("thread-meta").replaceChildren(thread.id, " · created ", stamp(thread.createdAt), " · updated ", stamp(thread.updatedAt), ` · ${page.total} messages`);
    $("rename-input").value = thread.title || "";
    $("thread-actions").hidden = false;
    const pages = Math.max(1, Math.ceil(page.total / MESSAGES_PER_PAGE));
    $("messages-pager").hidden = pages === 1;
    $("messages-page").textContent = `page ${pages - messagePage} of ${pages}`;
    $("messages-older").disabled = !page.hasMore;
    $("messages-newer").disabled = messagePage === 0;
    $("messages").replaceChildren(...page.messages.slice().reverse().map(messageItem));
    if (!page.messages.length) $("messages").append(el("li", { class: "muted empty" }, "No messages in this thread."));
    for (const node of document.querySelectorAll(".thread-link")) node.classList.toggle("current", node.dataset.threadId === id);
    saveLocation();
    await loadWorkingMemory(id);
  }

  async function renameThread() {
    const title = $("rename-input").value.trim();
    const thread = await api("PATCH", threadPath(state.thread), {}, { title, resourceId: state.resource });
    say(`Renamed thread ${thread.id} to “${thread.title}”.`);
    await Promise.all([openThread(state.thread, state.messagePage), loadThreads()]);
  }

  async function deleteThread() {
    const id = state.thread;
    const confirmed = await confirmDanger({
      title: `Delete thread ${id}?`, text: "Its messages and their vectors are deleted too.", ok: "Delete thread",
    });
    if (!confirmed) return say("Delete cancelled.");
    await api("DELETE", threadPath(id), { resourceId: state.resource });
    closeThread();
    await loadThreads();
    say(`Deleted thread ${id}.`);
  }

  // ------------------------------------------------------------ messages and their parts

  function messageItem(message) {
    const role = ROLES.has(message.role) ? message.role : "other";
    return el("li", { class: `message role-${role}`, "data-message-id": message.id },
      el("header", {}, el("span", { class: "role" }, String(message.role)), stamp(message.createdAt), el("span", { class: "muted small" }, message.id)),
      renderContent(message.content));
  }

  function renderContent(content) {
    if (typeof content === "string") return el("div", { class: "part text" }, content);
    const parts = content && Array.isArray(content.parts) ? content.parts : [];
    if (!parts.length && content && typeof content.content === "string") return el("div", { class: "part text" }, content.content);
    return parts.map(renderPart);
  }

  function renderPart(part) {
    const type = part && typeof part.type === "string" ? part.type : "unknown";
    if (type === "text") return el("div", { class: "part text" }, String(part.text ?? ""));
    if (type === "reasoning") return el("div", { class: "part reasoning" }, label("Reasoning"), el("div", {}, reasoningText(part)));
    if (type === "tool-invocation") return toolPart(part.toolInvocation || {});
    if (type.startsWith("tool-")) return toolPart({ ...part, toolName: type.slice(5), args: part.input, result: part.output ?? part.errorText });
    if (type === "file") return filePart(part);
    if (type === "source" || type === "source-url") {
      const source = part.source || part;
      return el("div", { class: "part source" }, label("Source "), link(safeHref(source.url), String(source.title || source.url || "source")));
    }
    if (type === "step-start") return el("div", { class: "part step" }, "step");
    return el("div", { class: "part data" }, label(type), json(type.startsWith("data-") ? part.data : part));
  }

  function reasoningText(part) {
    if (Array.isArray(part.details) && part.details.length) {
      return part.details.map((detail) => (detail && detail.type === "redacted" ? "[redacted]" : String(detail?.text ?? ""))).join("\n");
    }
    return String(part.reasoning ?? part.text ?? "");
  }

  function toolPart(call) {
    const hasResult = call.result !== undefined;
    return el("div", { class: "part tool" },
      label("Tool call ", el("code", {}, String(call.toolName ?? "?")), el("span", { class: "muted small" }, ` ${call.state ?? ""} · ${call.toolCallId ?? ""}`)),
      el("div", { class: "kv" }, el("span", { class: "key" }, "arguments"), json(call.args)),
      hasResult ? el("div", { class: "kv" }, el("span", { class: "key" }, "result"), json(call.result)) : null);
  }

  function filePart(part) {
    const declared = String(part.mimeType ?? part.mediaType ?? "");
    const mime = /^[\w.+-]+\/[\w.+-]+$/.test(declared) ? declared : "application/octet-stream";
    const name = String(part.filename ?? part.name ?? `${mime} file`);
    return el("div", { class: "part file" }, label("File "), link(safeHref(part.url ?? part.data, mime), name, name), el("span", { class: "muted small" }, ` ${mime}`));
  }

  // ------------------------------------------------------------ working memory and search

  async function loadWorkingMemory(threadId) {
    showWorkingMemory(await api("GET", threadPath(threadId, "/working-memory"), { resourceId: state.resource }));
  }

  function showWorkingMemory(view) {
    const box = $("working-memory");
    $("wm-source").textContent = view ? `scope: ${view.source}` : "";
    if (!view) {
      box.textContent = "No threads: working memory is read through a thread.";
    } else if (typeof view.workingMemory === "string" && view.workingMemory) {
      box.textContent = view.workingMemory;
    } else {
      box.textContent = view.workingMemoryTemplate ? "Empty (the agent's template is not filled yet)." : "This agent has no working memory.";
    }
    box.classList.toggle("muted", !(view && view.workingMemory));
  }

  async function loadSearchAvailability() {
    const { config } = await api("GET", "memory/config");
    const enabled = Boolean(config && config.semanticRecall);
    $("search-input").disabled = !enabled;
    $("search-form").querySelector("button").disabled = !enabled;
    $("search-note").textContent = enabled ? "" : `Agent ${state.agent || "default"} has no semantic recall, so its memory cannot be searched.`;
  }

  async function search() {
    const searchQuery = $("search-input").value.trim();
    $("search-results").replaceChildren();
    $("search-note").textContent = "Searching…";
    let answer;
    try {
      answer = await api("GET", "memory/search", { searchQuery, resourceId: state.resource, threadId: state.thread });
    } catch (error) {
      $("search-note").textContent = `Search failed: ${error.message}`;
      throw error;
    }
    $("search-note").textContent = `${answer.count} result${answer.count === 1 ? "" : "s"} (scope: ${answer.searchScope})`;
    $("search-results").replaceChildren(...answer.results.map(hitItem));
  }

  function hitItem(hit) {
    const context = (items) => (Array.isArray(items) ? items : []).map((item) => el("p", { class: "context" }, `${item.role}: ${textOf(item.content)}`));
    return el("li", { class: "hit" },
      el("header", {},
        el("button", { type: "button", class: "linkish", click: action(() => openThread(hit.threadId)) }, String(hit.threadTitle || hit.threadId)),
        " ", stamp(hit.createdAt)),
      context(hit.context && hit.context.before),
      el("p", { class: "hit-text" }, el("span", { class: "role" }, String(hit.role)), " ", textOf(hit.content)),
      context(hit.context && hit.context.after));
  }

  const textOf = (content) => (typeof content === "string" ? content : JSON.stringify(content));

  // ------------------------------------------------------------ confirmation

  function confirmDanger({ title, text, expected = null, ok }) {
    const dialog = $("confirm");
    const typed = $("confirm-typed");
    const button = $("confirm-ok");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-expected").textContent = expected || "";
    $("confirm-typed-label").hidden = expected === null;
    typed.value = "";
    button.textContent = ok;
    button.disabled = expected !== null;
    typed.oninput = () => (button.disabled = typed.value !== expected);
    dialog.returnValue = "";
    dialog.showModal();
    (expected === null ? button : typed).focus();
    return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
  }

  // ------------------------------------------------------------ wiring

  $("open-form").addEventListener("submit", action(() => {
    const credential = $("credential").value;
    if (credential) sessionStorage.setItem(CREDENTIAL_KEY, credential);
    else sessionStorage.removeItem(CREDENTIAL_KEY);
    return openResource($("resource").value.trim());
  }));
  $("threads-newer").addEventListener("click", action(() => pageThreads(-1)));
  $("threads-older").addEventListener("click", action(() => pageThreads(1)));
  $("messages-older").addEventListener("click", action(() => openThread(state.thread, state.messagePage + 1)));
  $("messages-newer").addEventListener("click", action(() => openThread(state.thread, state.messagePage - 1)));
  $("rename-form").addEventListener("submit", action(renameThread));
  $("delete-thread").addEventListener("click", action(deleteThread));
  $("erase").addEventListener("click", action(eraseResource));
  $("search-form").addEventListener("submit", action(search));

  $("credential").value = sessionStorage.getItem(CREDENTIAL_KEY) || "";
  renderRecent();
  const start = new URLSearchParams(location.hash.slice(1));
  $("agent").value = start.get("agent") || "";
  if (start.get("resource")) action(() => openResource(start.get("resource"), start.get("thread")))();
})();

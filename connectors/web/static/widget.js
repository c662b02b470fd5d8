/*
 * FirstPoint web widget. Embed with one tag:
 *
 *   <script src="https://YOUR-FIRSTPOINT/webhooks/socketio/widget.js" defer
 *           data-council="Example Borough Council" data-phone="01632 960000"
 *           data-privacy-url="/privacy"></script>
 *
 * Plain ES2017, no build step, nothing from a CDN: it loads widget.css and the
 * socket.io client vendored by scripts/install.sh from the same place.
 * Optional data-* attributes: data-title, data-council, data-phone,
 * data-privacy-url, data-server (socket.io server, default: this script's
 * origin), data-socket-path (default /socket.io), data-transports (default
 * "polling"; "polling websocket" where the server accepts websockets).
 *
 * The session id lives in a first-party session cookie (shared by the
 * site's tabs, gone when the browser closes); the history comes from the
 * server. Channel and audience are decided by the server, never sent.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.FirstPointWidget) { return; }

  var COOKIE = "fpw_session";
  var OPEN_KEY = "fpw_open";
  var REPLY_TIMEOUT_MS = 45000;
  var data = script.dataset || {};
  var base = new URL(".", script.src).href;
  var cfg = {
    title: data.title || "FirstPoint",
    council: data.council || "the council",
    phone: data.phone || "",
    privacyUrl: data.privacyUrl || "",
    server: data.server || new URL(script.src).origin,
    path: data.socketPath || "/socket.io",
    // long-polling unless data-transports says otherwise (the server side of
    // Rasa 3.6 on Python 3.11 cannot accept websockets)
    transports: (data.transports || "polling").split(/[\s,]+/).filter(Boolean)
  };

  var state = {
    socket: null, sessionId: readCookie(), ready: false, pending: [], lastSent: null,
    replyTimer: null, unread: 0, opened: false, connecting: false
  };
  var ui = {};

  /* ---------- small DOM helpers ---------- */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "className") { node.className = attrs[key]; }
      else if (attrs[key] !== null && attrs[key] !== undefined) { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }
  function hiddenText(text) { return el("span", { className: "fpw-visually-hidden", text: text }); }

  /* ---------- session cookie ---------- */
  function readCookie() {
    var match = document.cookie.match(/(?:^|;\s*)fpw_session=([0-9a-f]{32})(?:;|$)/);
    return match ? match[1] : null;
  }
  function writeCookie(id) {
    document.cookie = COOKIE + "=" + id + "; path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function clearCookie() { document.cookie = COOKIE + "=; path=/; max-age=0; SameSite=Lax"; }
  function rememberOpen(open) {
    try { if (open) { sessionStorage.setItem(OPEN_KEY, "1"); } else { sessionStorage.removeItem(OPEN_KEY); } }
    catch (e) { /* storage may be blocked: the widget still works */ }
  }
  function wasOpen() {
    try { return sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) { return false; }
  }

  /* ---------- rich text: links, e-mail addresses, phone numbers ---------- */
  var RICH = new RegExp(
    "\\[([^\\]\\n]{1,200})\\]\\((https?:\\/\\/[^\\s)]+)\\)" +          // [text](url)
    "|(https?:\\/\\/[^\\s<>\"]*[^\\s<>\".,;:!?)\\]])" +                   // bare URL
    "|([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,})" + // e-mail
    "|(\\b0\\d{2,4}(?: ?\\d{3,4}){2}\\b|\\b116 ?123\\b)", "g");           // UK phone
  function appendRich(parent, text) {
    var last = 0, match;
    RICH.lastIndex = 0;
    while ((match = RICH.exec(text)) !== null) {
      if (match.index > last) { parent.appendChild(document.createTextNode(text.slice(last, match.index))); }
      if (match[1]) { parent.appendChild(externalLink(match[2], match[1])); }
      else if (match[3]) { parent.appendChild(externalLink(match[3], match[3])); }
      else if (match[4]) { parent.appendChild(el("a", { className: "fpw-link", href: "mailto:" + match[4], text: match[4] })); }
      else if (match[5]) { parent.appendChild(el("a", { className: "fpw-link", href: "tel:" + match[5].replace(/\s/g, ""), text: match[5] })); }
      last = RICH.lastIndex;
    }
    if (last < text.length) { parent.appendChild(document.createTextNode(text.slice(last))); }
  }
  function externalLink(href, label) {
    return el("a", { className: "fpw-link", href: href, target: "_blank", rel: "noopener noreferrer" },
      [document.createTextNode(label + " (opens in new tab)")]);
  }

  /* ---------- building the widget ---------- */
  function build() {
    ui.root = el("div", { className: "fpw", "data-fpw": "" });
    ui.launcherText = el("span", { className: "fpw-launcher__text", text: "Ask " + cfg.title });
    ui.unread = el("span", { className: "fpw-launcher__unread", hidden: "" });
    ui.launcher = el("button", {
      type: "button", className: "fpw-launcher", "aria-expanded": "false", "aria-controls": "fpw-panel"
    }, [el("span", { className: "fpw-launcher__icon", "aria-hidden": "true", text: "?" }),
        ui.launcherText, hiddenText(", " + cfg.council + "'s automated assistant"), ui.unread]);

    ui.title = el("h2", { id: "fpw-title", className: "fpw-title", text: cfg.title });
    ui.subtitle = el("p", { className: "fpw-subtitle", text: cfg.council + " \u2013 automated assistant" });
    ui.restart = el("button", { type: "button", className: "fpw-button fpw-button--secondary fpw-button--small" },
      [document.createTextNode("Start again")]);
    ui.close = el("button", { type: "button", className: "fpw-button fpw-button--secondary fpw-button--small" },
      [document.createTextNode("Close"), hiddenText(" the assistant")]);
    var header = el("div", { className: "fpw-header" }, [
      el("div", { className: "fpw-header__titles" }, [ui.title, ui.subtitle]),
      el("div", { className: "fpw-header__actions" }, [ui.restart, ui.close])
    ]);

    var privacy = el("div", { id: "fpw-privacy", className: "fpw-notice" }, [
      el("h3", { className: "fpw-notice__title", text: "Before you start" }),
      el("p", { className: "fpw-notice__text", text: "This is an automated assistant, not a person. " +
        "We keep a record of this conversation to answer you and to improve our services. " +
        "Do not share bank details or passwords. If anyone is in danger now, call 999." })
    ]);
    if (cfg.privacyUrl) {
      privacy.appendChild(el("p", { className: "fpw-notice__text" }, [
        el("a", { className: "fpw-link", href: cfg.privacyUrl, target: "_blank", rel: "noopener noreferrer",
          text: "How we use your information (opens in new tab)" })]));
    }
    ui.log = el("ol", { className: "fpw-log", "aria-label": "Conversation" });
    ui.typing = el("p", { className: "fpw-typing", hidden: "" }, [
      document.createTextNode(cfg.title + " is typing"),
      el("span", { className: "fpw-typing__dots", "aria-hidden": "true" },
        [el("span", { text: "." }), el("span", { text: "." }), el("span", { text: "." })])
    ]);
    ui.body = el("div", { className: "fpw-body", role: "region", "aria-label": "Conversation with " + cfg.title,
      tabindex: "0" }, [privacy, ui.log, ui.typing]);

    ui.errorText = el("p", { className: "fpw-error__text" });
    ui.retry = el("button", { type: "button", className: "fpw-button fpw-button--secondary fpw-button--small",
      text: "Try again" });
    ui.error = el("div", { className: "fpw-error", role: "alert", hidden: "" }, [
      el("p", { className: "fpw-error__title", text: "There is a problem" }), ui.errorText, ui.retry]);

    ui.input = el("textarea", {
      id: "fpw-input", className: "fpw-input", rows: "2", maxlength: "5000", autocomplete: "off",
      "aria-describedby": "fpw-hint"
    });
    ui.inputError = el("p", { id: "fpw-input-error", className: "fpw-input-error", hidden: "" }, [
      hiddenText("Error: "), document.createTextNode("Enter a message")]);
    ui.send = el("button", { type: "submit", className: "fpw-button fpw-send", text: "Send" });
    ui.form = el("form", { className: "fpw-form", novalidate: "" }, [
      el("label", { className: "fpw-label", for: "fpw-input", text: "Your message" }),
      el("p", { id: "fpw-hint", className: "fpw-hint", text: "Press Enter to send. Shift and Enter starts a new line." }),
      ui.inputError,
      el("div", { className: "fpw-form__row" }, [ui.input, ui.send])
    ]);
    ui.live = el("div", { className: "fpw-visually-hidden", "aria-live": "polite", "data-fpw-live": "" });
    ui.panel = el("div", {
      id: "fpw-panel", className: "fpw-panel", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "fpw-title", hidden: ""
    }, [header, ui.body, ui.error, ui.form]);
    ui.root.appendChild(ui.panel);
    ui.root.appendChild(ui.launcher);
    ui.root.appendChild(ui.live);
    document.body.appendChild(ui.root);

    ui.launcher.addEventListener("click", function () { if (state.opened) { close(); } else { open(true); } });
    ui.close.addEventListener("click", close);
    ui.restart.addEventListener("click", restart);
    ui.retry.addEventListener("click", retry);
    ui.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Esc") { event.preventDefault(); close(); }
    });
    ui.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
    });
    ui.form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
    ui.input.addEventListener("input", function () { if (ui.input.value.trim()) { clearInputError(); } });
  }

  /* ---------- opening and closing ---------- */
  function open(moveFocus) {
    state.opened = true;
    ui.panel.hidden = false;
    ui.root.classList.add("fpw--open");
    ui.launcher.setAttribute("aria-expanded", "true");
    state.unread = 0;
    showUnread();
    rememberOpen(true);
    connect();
    scrollDown();
    if (moveFocus) { ui.input.focus(); }
  }
  function close() {
    state.opened = false;
    ui.panel.hidden = true;
    ui.root.classList.remove("fpw--open");
    ui.launcher.setAttribute("aria-expanded", "false");
    rememberOpen(false);
    ui.launcher.focus();
  }
  function showUnread() {
    ui.unread.hidden = state.unread === 0;
    ui.unread.textContent = state.unread === 1 ? " (1 new message)" : " (" + state.unread + " new messages)";
  }

  /* ---------- messages ---------- */
  function announce(text) {
    var line = el("p", { text: text });
    ui.live.appendChild(line);
    while (ui.live.childNodes.length > 4) { ui.live.removeChild(ui.live.firstChild); }
  }
  function scrollDown() {
    ui.body.scrollTop = ui.body.scrollHeight;
    if (ui.panel.scrollHeight > ui.panel.clientHeight) { ui.panel.scrollTop = ui.panel.scrollHeight; }
  }
  function clearReplies() {
    var focusWasInside = ui.log.contains(document.activeElement);
    Array.prototype.forEach.call(ui.log.querySelectorAll(".fpw-replies"), function (group) {
      group.parentNode.removeChild(group);
    });
    if (focusWasInside) { ui.input.focus(); }
  }
  function addUser(text, extraClass) {
    clearReplies();
    var item = el("li", { className: "fpw-msg fpw-msg--user" + (extraClass ? " " + extraClass : "") }, [
      el("p", { className: "fpw-msg__who", text: "You" }),
      el("p", { className: "fpw-msg__text", text: text })
    ]);
    ui.log.appendChild(item);
    scrollDown();
    return item;
  }
  function addBot(message, restoring) {
    var text = typeof message.text === "string" ? message.text : "";
    var replies = Array.isArray(message.quick_replies) ? message.quick_replies :
      (Array.isArray(message.buttons) ? message.buttons : []);
    if (!text && !replies.length && !message.handoff_reference) {
      text = message.attachment ? "(This message can't be shown here.)" : "";
      if (!text) { return; }
    }
    var body = el("div", { className: "fpw-msg__text" });
    appendRich(body, text);
    var item = el("li", { className: "fpw-msg fpw-msg--bot" }, [
      el("p", { className: "fpw-msg__who", text: cfg.title }), body]);
    if (message.handoff_reference) { item.appendChild(referenceBox(message.handoff_reference)); }
    if (replies.length) { item.appendChild(replyGroup(replies)); }
    ui.log.appendChild(item);
    if (!restoring) {
      var spoken = cfg.title + ": " + text;
      if (replies.length) {
        spoken += " Reply options: " + replies.map(function (r) { return r.title; }).join(", ") + ".";
      }
      announce(spoken);
      if (!state.opened) { state.unread += 1; showUnread(); }
    }
    scrollDown();
  }
  function replyGroup(replies) {
    var group = el("div", { className: "fpw-replies", role: "group", "aria-label": "Reply options" });
    replies.forEach(function (reply) {
      if (!reply || typeof reply.title !== "string") { return; }
      var button = el("button", { type: "button", className: "fpw-button fpw-button--secondary fpw-reply",
        text: reply.title });
      button.addEventListener("click", function () {
        send(String(reply.payload || reply.title), reply.title);
        ui.input.focus();
      });
      group.appendChild(button);
    });
    return group;
  }
  function referenceBox(reference) {
    var status = el("span", { className: "fpw-reference__status", "aria-live": "polite" });
    var value = el("strong", { className: "fpw-reference__value", text: reference });
    var copy = el("button", { type: "button", className: "fpw-button fpw-button--secondary fpw-button--small" },
      [document.createTextNode("Copy reference"), hiddenText(" " + reference)]);
    copy.addEventListener("click", function () {
      copyText(reference, value).then(function (ok) {
        status.textContent = ok ? "Copied" : "Select the reference and copy it";
      });
    });
    return el("div", { className: "fpw-reference" }, [
      el("p", { className: "fpw-reference__label", text: "Your reference" }), value, copy, status]);
  }
  function copyText(text, node) {
    function fallback() {
      var range = document.createRange();
      range.selectNodeContents(node);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      return Promise.resolve(ok);
    }
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, fallback);
    }
    return fallback();
  }
  function typing(on) {
    ui.typing.hidden = !on;
    clearTimeout(state.replyTimer);
    if (on) {
      state.replyTimer = setTimeout(function () {
        ui.typing.hidden = true;
        showError("slow");
      }, REPLY_TIMEOUT_MS);
      scrollDown();
    }
  }

  /* ---------- errors ---------- */
  var ERRORS = {
    connection: "We can't connect to the assistant at the moment. Check your internet connection and try again.",
    unsent: "Your message has not been sent yet. It will be sent when the connection is back.",
    server: "Sorry, something went wrong and the assistant could not answer. Try again.",
    slow: "The assistant is taking longer than usual to reply. Try again."
  };
  function showError(kind) {
    var text = ERRORS[kind] || ERRORS.server;
    if (cfg.phone) { text += " If you need help now, call " + cfg.council + " on " + cfg.phone + "."; }
    ui.error.hidden = false;
    ui.error.setAttribute("data-kind", kind);
    ui.errorText.textContent = "";
    appendRich(ui.errorText, text);
  }
  function clearError() { ui.error.hidden = true; ui.error.removeAttribute("data-kind"); }
  function retry() {
    var kind = ui.error.getAttribute("data-kind");
    clearError();
    if (!state.ready) { connect(true); }
    else if ((kind === "server" || kind === "slow") && state.lastSent) {
      emitMessage(state.lastSent);
    }
    ui.input.focus();
  }

  /* ---------- sending ---------- */
  function submit() {
    var text = ui.input.value;
    if (!text.trim()) {
      ui.inputError.hidden = false;
      ui.input.setAttribute("aria-invalid", "true");
      ui.input.setAttribute("aria-describedby", "fpw-hint fpw-input-error");
      ui.input.focus();
      return;
    }
    clearInputError();
    ui.input.value = "";
    send(text.trim(), null);
    ui.input.focus();
  }
  function clearInputError() {
    ui.inputError.hidden = true;
    ui.input.removeAttribute("aria-invalid");
    ui.input.setAttribute("aria-describedby", "fpw-hint");
  }
  function send(text, display) {
    var item = addUser(display || text);
    var message = { message: text, display: display || text, item: item };
    if (!state.ready) {
      item.classList.add("fpw-msg--unsent");
      item.appendChild(el("p", { className: "fpw-msg__status", text: "Not sent yet" }));
      state.pending.push(message);
      showError(state.socket && state.socket.connected ? "unsent" : "connection");
      connect(true);
      return;
    }
    emitMessage(message);
  }
  function emitMessage(message) {
    state.lastSent = message;
    state.socket.emit("user_uttered", { message: message.message, display: message.display });
    typing(true);
  }
  function flushPending() {
    var pending = state.pending;
    state.pending = [];
    pending.forEach(function (message) {
      message.item.classList.remove("fpw-msg--unsent");
      var status = message.item.querySelector(".fpw-msg__status");
      if (status) { status.parentNode.removeChild(status); }
      emitMessage(message);
    });
  }

  /* ---------- the socket ---------- */
  function restart() {
    clearCookie();
    state.sessionId = null;
    state.pending = [];
    state.lastSent = null;
    typing(false);
    clearError();
    ui.log.textContent = "";
    if (state.ready) { state.ready = false; state.socket.emit("session_request", { session_id: null }); }
    else { connect(true); }
    announce("Started a new conversation.");
    ui.input.focus();
  }
  function connect(now) {
    if (!state.socket) {
      if (typeof state.io !== "function") { loadClient(); return; }
      state.socket = state.io(cfg.server, {
        path: cfg.path, transports: cfg.transports, autoConnect: false,
        reconnectionDelayMax: 10000, timeout: 10000
      });
      wire(state.socket);
    }
    if (!state.socket.connected && (now || !state.connecting)) {
      state.connecting = true;
      state.socket.connect();
    }
  }
  function wire(socket) {
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("connect_error", function () {
      state.ready = false;
      showError(state.pending.length ? "unsent" : "connection");
    });
    socket.on("disconnect", function (reason) {
      state.ready = false;
      if (reason !== "io client disconnect") { showError("connection"); }
    });
    socket.on("session_confirm", function (id) {
      var fresh = id !== state.sessionId;
      state.sessionId = id;
      state.ready = true;
      writeCookie(id);
      if (fresh) { ui.log.textContent = ""; }
      if (!ui.error.hidden && ui.error.getAttribute("data-kind") !== "server") { clearError(); }
    });
    socket.on("history", function (payload) {
      var messages = (payload && payload.messages) || [];
      var unsent = state.pending.map(function (m) { return m.item; });
      ui.log.textContent = "";
      messages.forEach(function (message, index) {
        if (message.sender === "user") { addUser(message.text); }
        else {
          var last = index === messages.length - 1;
          addBot(last ? message : withoutReplies(message), true);
        }
      });
      unsent.forEach(function (item) { ui.log.appendChild(item); });
      if (messages.length) { announce("Your conversation so far has been restored."); }
      flushPending();
    });
    socket.on("bot_uttered", function (message) { if (message) { addBot(message, false); } });
    socket.on("bot_done", function () { typing(false); });
    socket.on("user_echo", function (message) {
      if (message && typeof message.text === "string") { addUser(message.text); typing(true); }
    });
    socket.on("bot_error", function (info) {
      typing(false);
      if (info && info.reason === "no_session") {
        state.ready = false;
        socket.emit("session_request", { session_id: state.sessionId });
      }
      showError("server");
    });
  }
  function withoutReplies(message) {
    var copy = {};
    Object.keys(message).forEach(function (key) {
      if (key !== "quick_replies" && key !== "buttons") { copy[key] = message[key]; }
    });
    return copy;
  }
  function loadClient() {
    if (state.loading) { return; }
    state.loading = true;
    var previous = window.io;
    var tag = document.createElement("script");
    tag.src = base + "vendor/socket.io.min.js";
    tag.async = true;
    tag.onload = function () {
      state.io = window.io;
      if (previous === undefined) { try { delete window.io; } catch (e) { window.io = undefined; } }
      else { window.io = previous; }
      state.loading = false;
      connect(true);
    };
    tag.onerror = function () { state.loading = false; showError("connection"); };
    document.head.appendChild(tag);
  }

  /* ---------- start ---------- */
  function start() {
    if (!document.body) { document.addEventListener("DOMContentLoaded", start); return; }
    build();
    window.FirstPointWidget = { open: function () { open(true); }, close: close };
    if (wasOpen()) { open(false); }
    else if (state.sessionId) { connect(); }
  }
  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = base + "widget.css";
  var started = false;
  function startOnce() { if (!started) { started = true; start(); } }
  css.onload = startOnce;
  css.onerror = startOnce;
  document.head.appendChild(css);
  setTimeout(startOnce, 3000);
}());

/*!
 * Clinic chat widget for a Rasa assistant (Socket.IO channel). Plain JS, no build step.
 *
 * Embed with one tag:
 *   <script src="/static/widget/clinic-chat.js" defer
 *           data-server-url="https://rasa.example.org"   Rasa server (default: this site)
 *           data-clinic-name="Shasta Meadows Wellness Center"
 *           data-primary-color="#0f5c63"                 #rgb or #rrggbb
 *           data-init-payload="/greeting"                 sent once when a conversation starts
 *           data-socket-path="/socket.io/"></script>
 *
 * It loads clinic-chat.css and vendor/socket.io-4.7.5.min.js from its own folder
 * and contacts nothing else. Messages are always rendered as text, never HTML.
 * The conversation lives in sessionStorage: it survives reloads in the same tab
 * and is gone in a new browser session.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[src*="clinic-chat.js"][data-server-url]') ||
    document.querySelector('script[src*="clinic-chat.js"]');
  if (!script || window.ClinicChat) return;

  var SOCKET_IO_FILE = "vendor/socket.io-4.7.5.min.js";
  var MAX_HISTORY = 200;
  var MAX_MESSAGE_CHARS = 1000;
  var REPLY_TIMEOUT_MS = 20000;
  var SESSION_ID = /^[A-Za-z0-9_-]{8,64}$/;
  var PHONE_LAYOUT = "(max-width: 480px)";

  var base = script.src.replace(/[?#].*$/, "").replace(/[^/]*$/, "");
  var data = script.dataset || {};
  var clinicName = (data.clinicName || "").trim() || "the clinic";
  var serverUrl = (data.serverUrl || window.location.origin).trim().replace(/\/+$/, "");
  var config = {
    serverUrl: serverUrl,
    socketPath: data.socketPath || "/socket.io/",
    clinicName: clinicName,
    title: data.title || clinicName,
    launcherLabel: data.launcherLabel || "Chat with us",
    initPayload: (data.initPayload || "").trim(),
    colors: colorsFor(data.primaryColor || "#0f5c63"),
    storageKey: "clinic-chat:" + serverUrl
  };

  // ---- colours: white or black text on the primary colour, whichever passes AA -----
  function parseHex(value) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(value).trim());
    if (!m) return null;
    var h = m[1].length === 3 ? m[1].replace(/(.)/g, "$1$1") : m[1];
    return [0, 2, 4].map(function (i) { return parseInt(h.substr(i, 2), 16); });
  }
  function luminance(rgb) {
    var c = rgb.map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  function colorsFor(value) {
    var rgb = parseHex(value) || parseHex("#0f5c63");
    var hex = "#" + rgb.map(function (v) { return ("0" + v.toString(16)).slice(-2); }).join("");
    var white = [255, 255, 255], black = [0, 0, 0];
    return {
      primary: hex,
      onPrimary: contrast(rgb, white) >= contrast(rgb, black) ? "#ffffff" : "#000000",
      // the primary colour as text on white only where it is dark enough
      primaryText: contrast(rgb, white) >= 4.5 ? hex : "#1b1b1b"
    };
  }

  // ---- storage: sessionStorage only (a new browser session starts empty) ----------
  var memoryStore = {};
  function load() {
    var raw = null;
    try { raw = window.sessionStorage.getItem(config.storageKey); } catch (e) { raw = memoryStore.v; }
    try { raw = raw ? JSON.parse(raw) : null; } catch (e) { raw = null; }
    var s = raw && typeof raw === "object" ? raw : {};
    return {
      sessionId: typeof s.sessionId === "string" && SESSION_ID.test(s.sessionId) ? s.sessionId : null,
      messages: Array.isArray(s.messages) ? s.messages.filter(validMessage).slice(-MAX_HISTORY).map(function (m) {
        return { who: m.who, text: m.text, replies: m.who === "bot" ? cleanReplies(m.replies) : [] };
      }) : [],
      open: s.open === true,
      started: s.started === true
    };
  }
  function save() {
    var raw = JSON.stringify({
      sessionId: state.sessionId,
      messages: state.messages.slice(-MAX_HISTORY).map(function (m) {
        return m.who === "bot" ? { who: m.who, text: m.text, replies: m.replies || [] } : { who: m.who, text: m.text };
      }),
      open: state.open, started: state.started
    });
    try { window.sessionStorage.setItem(config.storageKey, raw); } catch (e) { memoryStore.v = raw; }
  }
  function validMessage(m) {
    return m && (m.who === "bot" || m.who === "user") && typeof m.text === "string";
  }
  function cleanReplies(list) {
    if (!Array.isArray(list)) return [];
    return list.filter(function (r) {
      return r && typeof r.title === "string" && r.title.trim() && typeof r.payload === "string" && r.payload.trim();
    }).slice(0, 10).map(function (r) { return { title: r.title.trim(), payload: r.payload.trim() }; });
  }

  var state = load();

  // ---- DOM helpers: text only, never innerHTML -------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "className") node.className = attrs[k];
        else if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  var SVG_NS = "http://www.w3.org/2000/svg";
  function icon(pathData) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(SVG_NS, "path");
    p.setAttribute("d", pathData);
    p.setAttribute("fill", "currentColor");
    svg.appendChild(p);
    return svg;
  }
  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  var ICON_CLOSE = "M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7 2.9 18.3 9.2 12 2.9 5.7 4.3 4.3l6.3 6.3 6.3-6.3z";
  var ICON_SEND = "M3 20.5 21 12 3 3.5l.01 6.6L15 12 3.01 13.9z";

  var uid = "clinic-chat-" + Math.random().toString(36).slice(2, 8);
  var ids = { panel: uid + "-panel", title: uid + "-title", input: uid + "-input", note: uid + "-note" };

  // ---- build the widget -------------------------------------------------------------
  var launcherBadge = el("span", { className: "cc-sr-only" });
  var launcher = el("button", {
    type: "button", className: "cc-launcher", "aria-expanded": "false", "aria-controls": ids.panel
  }, [icon(ICON_CHAT), el("span", { className: "cc-launcher-text", text: config.launcherLabel }), launcherBadge]);

  var closeButton = el("button", { type: "button", className: "cc-icon-button cc-close", "aria-label": "Close chat" },
    [icon(ICON_CLOSE)]);
  var header = el("div", { className: "cc-header" }, [
    el("div", { className: "cc-heading" }, [
      el("h2", { id: ids.title, className: "cc-title", text: config.title }),
      el("p", { className: "cc-subtitle", text: "Automated assistant · not medical advice" })
    ]),
    closeButton
  ]);
  var emergency = el("p", { className: "cc-emergency" }, [
    "Not for emergencies — call or text ",
    el("a", { href: "tel:988", text: "988" }),
    ", or call ",
    el("a", { href: "tel:911", text: "911" })
  ]);
  var status = el("div", { className: "cc-status", role: "status" });
  var log = el("ol", { className: "cc-log", "aria-label": "Conversation", tabindex: "0" });
  var typing = el("div", { className: "cc-typing", hidden: "" }, [
    el("span", { className: "cc-dot", "aria-hidden": "true" }),
    el("span", { className: "cc-dot", "aria-hidden": "true" }),
    el("span", { className: "cc-dot", "aria-hidden": "true" }),
    el("span", { className: "cc-sr-only", text: "The assistant is typing" })
  ]);
  var humanButton = el("button", { type: "button", className: "cc-human", text: "Talk to a person" });
  var input = el("input", {
    id: ids.input, className: "cc-input", type: "text", autocomplete: "off", maxlength: String(MAX_MESSAGE_CHARS),
    placeholder: "Type your question…", "aria-describedby": ids.note, enterkeyhint: "send"
  });
  var sendButton = el("button", { type: "submit", className: "cc-send", "aria-label": "Send message" }, [icon(ICON_SEND)]);
  var form = el("form", { className: "cc-form", novalidate: "" }, [
    el("label", { "for": ids.input, className: "cc-sr-only", text: "Your message" }),
    input, sendButton
  ]);
  var note = el("p", { id: ids.note, className: "cc-note", text: "Please don't share personal health details here." });
  var panel = el("div", {
    id: ids.panel, className: "cc-panel", role: "dialog", "aria-labelledby": ids.title, hidden: ""
  }, [header, emergency, status, log, typing, el("div", { className: "cc-footer" }, [humanButton, form, note])]);
  // Announces each new bot message (outside the panel so it is always in the tree).
  var live = el("div", { className: "cc-sr-only", "aria-live": "polite", "aria-atomic": "false" });
  var root = el("div", { className: "cc-root", "data-clinic-chat": "" }, [panel, launcher, live]);
  root.style.setProperty("--cc-primary", config.colors.primary);
  root.style.setProperty("--cc-on-primary", config.colors.onPrimary);
  root.style.setProperty("--cc-primary-text", config.colors.primaryText);

  // ---- rendering ----------------------------------------------------------------------
  function messageNode(m) {
    var item = el("li", { className: "cc-msg cc-msg-" + m.who }, [
      el("span", { className: "cc-sr-only", text: m.who === "bot" ? "Assistant: " : "You: " }),
      el("span", { className: "cc-bubble", text: m.text })
    ]);
    if (m.pending) {
      item.classList.add("cc-pending");
      item.appendChild(el("span", { className: "cc-pending-note", text: "Waiting to send…" }));
    }
    if (m.who === "bot" && m.replies && m.replies.length) item.appendChild(repliesNode(m.replies));
    m.node = item;
    return item;
  }
  function repliesNode(replies) {
    var group = el("div", { className: "cc-replies", role: "group", "aria-label": "Suggested replies" });
    replies.forEach(function (r) {
      var b = el("button", { type: "button", className: "cc-reply", text: r.title });
      b.addEventListener("click", function () {
        sendMessage(r.payload, r.title);
        input.focus();
      });
      group.appendChild(b);
    });
    return group;
  }
  function dropReplies() {
    state.messages.forEach(function (m) {
      if (m.replies && m.replies.length) {
        m.replies = [];
        var g = m.node && m.node.querySelector(".cc-replies");
        if (g) g.parentNode.removeChild(g);
      }
    });
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function addMessage(m) {
    if (m.who === "user" || (m.replies && m.replies.length)) dropReplies();
    state.messages.push(m);
    while (state.messages.length > MAX_HISTORY) {
      var old = state.messages.shift();
      if (old.node && old.node.parentNode) old.node.parentNode.removeChild(old.node);
    }
    log.appendChild(messageNode(m));
    save();
    scrollDown();
  }
  function announce(text) {
    live.appendChild(el("p", { text: text }));
    while (live.childNodes.length > 3) live.removeChild(live.firstChild);
  }

  var STATUS_TEXT = {
    connecting: "Connecting…",
    offline: "We can't reach the chat service right now. Trying to reconnect automatically…",
    slow: "No reply yet. Please try again in a moment.",
    failed: "Your message could not be delivered. Please send it again.",
    unavailable: "The chat could not be loaded. Please try again later."
  };
  var statusKind = null;
  function setStatus(kind) {
    if (kind === statusKind) return;
    statusKind = kind;
    status.textContent = kind ? STATUS_TEXT[kind] : "";
    status.className = "cc-status" + (kind ? " cc-status-" + kind : "");
  }

  var replyTimer = null;
  function showTyping() {
    typing.hidden = false;
    scrollDown();
    clearTimeout(replyTimer);
    replyTimer = setTimeout(function () {
      typing.hidden = true;
      if (connected) setStatus("slow");
    }, REPLY_TIMEOUT_MS);
  }
  function hideTyping() {
    typing.hidden = true;
    clearTimeout(replyTimer);
  }

  // ---- connection ------------------------------------------------------------------------
  var socket = null;
  var connected = false;     // socket connected and session confirmed
  var queue = [];            // payloads typed while offline, sent once connected
  var loadingClient = false;
  var ioClient = null;       // our pinned Socket.IO client (the page's own `io`, if any, is left alone)
  var connectingTimer = null;

  function loadClient(done) {
    if (ioClient) return done();
    if (loadingClient) return;
    loadingClient = true;
    var previous = window.io;
    var s = document.createElement("script");
    s.src = base + SOCKET_IO_FILE;
    s.async = true;
    s.onload = function () {
      loadingClient = false;
      ioClient = window.io;
      if (previous !== undefined) window.io = previous;
      if (typeof ioClient !== "function") { ioClient = null; setStatus("unavailable"); return; }
      done();
    };
    s.onerror = function () { loadingClient = false; setStatus("unavailable"); };
    document.head.appendChild(s);
  }

  function connect() {
    if (socket) return;
    clearTimeout(connectingTimer);
    connectingTimer = setTimeout(function () { if (!connected && !statusKind) setStatus("connecting"); }, 1500);
    loadClient(function () {
      if (socket) return;
      socket = ioClient(config.serverUrl, {
        path: config.socketPath,
        transports: ["websocket"],
        reconnection: true,
        reconnectionDelay: 1000,
        reconnectionDelayMax: 8000,
        timeout: 10000
      });
      socket.on("connect", function () {
        // also after every automatic reconnection: join the session's room again
        socket.emit("session_request", { session_id: state.sessionId });
      });
      socket.on("session_confirm", onSessionConfirm);
      socket.on("bot_uttered", onBotUttered);
      socket.on("connect_error", function () { offline(); });
      socket.on("disconnect", function () { offline(); });
      socket.on("error", function () {
        hideTyping();
        setStatus("failed");
      });
    });
  }

  function offline() {
    var wasWaiting = !typing.hidden;
    connected = false;
    hideTyping();
    setStatus("offline");
    if (wasWaiting) announce(STATUS_TEXT.offline);
  }

  function onSessionConfirm(id) {
    if (id && typeof id === "object") id = id.session_id;
    if (typeof id !== "string" || !SESSION_ID.test(id)) return;
    state.sessionId = id;
    connected = true;
    if (statusKind === "offline" || statusKind === "connecting" || statusKind === "unavailable") setStatus(null);
    save();
    if (!state.started && state.messages.length === 0 && config.initPayload) emit(config.initPayload);
    state.started = true;
    save();
    var pending = queue;
    queue = [];
    pending.forEach(function (item) {
      if (item.message) {
        item.message.pending = false;
        var n = item.message.node && item.message.node.querySelector(".cc-pending-note");
        if (n) n.parentNode.removeChild(n);
        if (item.message.node) item.message.node.classList.remove("cc-pending");
      }
      emit(item.payload);
    });
  }

  function onBotUttered(msg) {
    if (!msg || typeof msg !== "object") return;
    var text = typeof msg.text === "string" ? msg.text : "";
    var replies = cleanReplies(msg.quick_replies || msg.buttons);
    if (!text.trim() && !replies.length) return; // images, carousels...: not shown (no other hosts)
    hideTyping();
    if (statusKind === "slow" || statusKind === "failed") setStatus(null);
    addMessage({ who: "bot", text: text, replies: replies });
    announce("Assistant: " + text);
    if (panel.hidden) {
      launcher.classList.add("cc-unread");
      launcherBadge.textContent = " (new message)";
    }
  }

  function emit(payload) {
    if (!connected || !socket) return false;
    socket.emit("user_uttered", { message: payload, session_id: state.sessionId });
    showTyping();
    return true;
  }

  function sendMessage(payload, shownText) {
    payload = String(payload || "").trim().slice(0, MAX_MESSAGE_CHARS);
    if (!payload) return;
    state.started = true;
    var m = { who: "user", text: shownText || payload };
    if (statusKind === "slow" || statusKind === "failed") setStatus(null);
    if (emit(payload)) {
      addMessage(m);
    } else {
      m.pending = true;
      addMessage(m);
      queue.push({ payload: payload, message: m });
      connect();
    }
  }

  // ---- open, close, keyboard ---------------------------------------------------------------
  function openPanel(focusInput) {
    panel.hidden = false;
    root.classList.add("cc-is-open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.classList.remove("cc-unread");
    launcherBadge.textContent = "";
    state.open = true;
    save();
    connect();
    scrollDown();
    if (focusInput) input.focus();
  }
  function closePanel() {
    panel.hidden = true;
    root.classList.remove("cc-is-open");
    launcher.setAttribute("aria-expanded", "false");
    state.open = false;
    save();
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) openPanel(true); else closePanel();
  });
  closeButton.addEventListener("click", closePanel);
  humanButton.addEventListener("click", function () {
    sendMessage("/request_human", "Talk to a person");
    input.focus();
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.trim()) { input.focus(); return; }
    input.value = "";
    sendMessage(text);
    input.focus();
  });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape" || e.key === "Esc") {
      e.preventDefault();
      closePanel();
      return;
    }
    // Full-screen on phones: keep Tab inside the panel (the page behind is covered).
    if (e.key === "Tab" && window.matchMedia && window.matchMedia(PHONE_LAYOUT).matches) {
      var focusable = Array.prototype.filter.call(
        panel.querySelectorAll("button, a[href], input, [tabindex='0']"),
        function (n) { return !n.disabled && n.offsetParent !== null; });
      if (!focusable.length) return;
      var first = focusable[0], last = focusable[focusable.length - 1];
      if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
    }
  });

  // ---- start ---------------------------------------------------------------------------------
  function mount() {
    state.messages.forEach(function (m) { log.appendChild(messageNode(m)); });
    document.body.appendChild(root);
    if (state.open) openPanel(false); // same tab, after a reload or navigation: keep it open
  }
  function start() {
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = base + "clinic-chat.css";
    var mounted = false;
    var once = function () { if (!mounted) { mounted = true; mount(); } };
    css.onload = once;
    css.onerror = once;
    document.head.appendChild(css);
    setTimeout(once, 3000);
  }

  window.ClinicChat = {
    open: function () { openPanel(true); },
    close: closePanel,
    send: function (text) { sendMessage(text); },
    version: "1.0.0"
  };
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();

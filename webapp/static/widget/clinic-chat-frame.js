/*!
 * Clinic chat: the conversation, inside an iframe served from the assistant's own origin
 * (/widget/frame). The clinic's page only gets the launcher (clinic-chat.js): its scripts
 * (analytics, session replay) can read neither these messages nor this frame's storage.
 *
 * Plain JS, no build step. Messages are always rendered as text, never HTML. The
 * conversation lives in this origin's sessionStorage: it survives reloads in the same tab,
 * is gone in a new browser session, and "End chat" removes it at once.
 */
(function () {
  "use strict";

  var root = document.getElementById("clinic-chat-app");
  if (!root || window.ClinicChatFrame) return;

  var SOCKET_IO_FILE = "/static/widget/vendor/socket.io-4.7.5.min.js";
  var MAX_HISTORY = 200;
  var REPLY_TIMEOUT_MS = 20000;
  // Issued by the server; may be signed ("<id>.<signature>").
  var SESSION_ID = /^[A-Za-z0-9_.:-]{8,128}$/;
  var PHONE_LAYOUT = "(max-width: 480px)";
  // Shown as notices in the conversation (approved texts about the live chat itself).
  var NOTICE_IDS = { live_chat_joined: 1, live_chat_ended: 1, live_chat_closed: 1, live_chat_timeout: 1,
    live_chat_unanswered: 1 };
  var LIVE_END_IDS = { live_chat_ended: 1, live_chat_closed: 1, live_chat_timeout: 1 };
  // Approved replies that get tappable crisis-line links under them.
  var SAFETY_LINKS = {
    crisis: [["Call 988", "tel:988"], ["Text 988", "sms:988"], ["Call 911", "tel:911"]],
    distress: [["Call 988", "tel:988"], ["Text 988", "sms:988"]]
  };

  var data = root.dataset || {};
  var options = readOptions();
  var clinicName = (options.name || data.clinicName || "").trim() || "the clinic";
  var config = {
    serverUrl: (data.serverUrl || window.location.origin).trim().replace(/\/+$/, ""),
    socketPath: data.socketPath || "/socket.io/",
    clinicName: clinicName,
    title: options.title || clinicName,
    initPayload: (options.init !== undefined ? options.init : (data.initPayload || "")).trim(),
    maxChars: Math.max(1, parseInt(data.maxChars, 10) || 2000),
    colors: colorsFor(options.color || data.primaryColor || "#0f5c63"),
    parentOrigin: allowedParent(options.parent)
  };
  config.storageKey = "clinic-chat:" + config.serverUrl;

  // Options from the embedding page, in the URL fragment (never sent to a server).
  function readOptions() {
    var out = {};
    var hash = window.location.hash.replace(/^#/, "");
    hash.split("&").forEach(function (pair) {
      var i = pair.indexOf("=");
      if (i < 1) return;
      try { out[decodeURIComponent(pair.slice(0, i))] = decodeURIComponent(pair.slice(i + 1)).slice(0, 200); }
      catch (e) { /* ignore a malformed pair */ }
    });
    if (out.init !== undefined && !/^\/[a-z_]+$/.test(out.init)) delete out.init;
    return out;
  }
  // The page we may talk to: only an origin the server allows to embed this frame.
  function allowedParent(origin) {
    var allowed = (data.embedOrigins || "").split(/\s+/).filter(Boolean);
    allowed.push(window.location.origin);
    return origin && allowed.indexOf(origin) >= 0 ? origin : null;
  }

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
      primaryText: contrast(rgb, white) >= 4.5 ? hex : "#1b1b1b"
    };
  }

  // ---- storage: this origin's sessionStorage only -----------------------------------
  var memoryStore = {};
  var KINDS = { bot: 1, user: 1, staff: 1, notice: 1 };
  function load() {
    var raw = null;
    try { raw = window.sessionStorage.getItem(config.storageKey); } catch (e) { raw = memoryStore.v; }
    try { raw = raw ? JSON.parse(raw) : null; } catch (e) { raw = null; }
    var s = raw && typeof raw === "object" ? raw : {};
    return {
      sessionId: typeof s.sessionId === "string" && SESSION_ID.test(s.sessionId) ? s.sessionId : null,
      messages: Array.isArray(s.messages) ? s.messages.filter(validMessage).slice(-MAX_HISTORY).map(function (m) {
        return {
          who: m.who, text: m.text, replies: m.who === "bot" ? cleanReplies(m.replies) : [],
          contentId: typeof m.contentId === "string" ? m.contentId : "",
          name: typeof m.name === "string" ? m.name.slice(0, 40) : ""
        };
      }) : [],
      open: s.open === true,
      started: s.started === true,
      live: s.live && typeof s.live.name === "string" ? { name: s.live.name.slice(0, 40) } : null
    };
  }
  function save() {
    if (ended) return;
    var raw = JSON.stringify({
      sessionId: state.sessionId,
      messages: state.messages.slice(-MAX_HISTORY).map(function (m) {
        var out = { who: m.who, text: m.text };
        if (m.who === "bot") out.replies = m.replies || [];
        if (m.contentId) out.contentId = m.contentId;
        if (m.name) out.name = m.name;
        return out;
      }),
      open: state.open, started: state.started, live: state.live
    });
    try { window.sessionStorage.setItem(config.storageKey, raw); } catch (e) { memoryStore.v = raw; }
  }
  function forget() {
    try { window.sessionStorage.removeItem(config.storageKey); } catch (e) { /* nothing kept */ }
    memoryStore = {};
  }
  function validMessage(m) {
    return m && KINDS[m.who] === 1 && typeof m.text === "string";
  }
  function cleanReplies(list) {
    if (!Array.isArray(list)) return [];
    return list.filter(function (r) {
      return r && typeof r.title === "string" && r.title.trim() && typeof r.payload === "string" && r.payload.trim();
    }).slice(0, 10).map(function (r) { return { title: r.title.trim(), payload: r.payload.trim() }; });
  }

  var state = load();
  var ended = false;

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
  var ICON_CLOSE = "M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7 2.9 18.3 9.2 12 2.9 5.7 4.3 4.3l6.3 6.3 6.3-6.3z";
  var ICON_SEND = "M3 20.5 21 12 3 3.5l.01 6.6L15 12 3.01 13.9z";

  var ids = { panel: "cc-panel", title: "cc-title", subtitle: "cc-subtitle", input: "cc-input", note: "cc-note" };

  // ---- build the panel ----------------------------------------------------------------
  var closeButton = el("button", { type: "button", className: "cc-icon-button cc-close", "aria-label": "Close chat" },
    [icon(ICON_CLOSE)]);
  var endButton = el("button", { type: "button", className: "cc-end", "aria-label": "End chat and clear it from this browser",
    text: "End chat" });
  var subtitle = el("p", { id: ids.subtitle, className: "cc-subtitle" });
  var header = el("div", { className: "cc-header" }, [
    el("div", { className: "cc-heading" }, [
      el("h2", { id: ids.title, className: "cc-title", text: config.title }),
      subtitle
    ]),
    endButton,
    closeButton
  ]);
  var confirmEnd = el("div", { className: "cc-confirm", role: "group", "aria-label": "End chat", hidden: "" }, [
    el("p", { text: "End this chat and clear it from this browser? The clinic keeps its own record." }),
    el("div", { className: "cc-confirm-actions" }, [
      el("button", { type: "button", className: "cc-confirm-yes", text: "End and clear" }),
      el("button", { type: "button", className: "cc-confirm-no", text: "Keep chatting" })
    ])
  ]);
  var emergency = el("p", { className: "cc-emergency" }, [
    "Not for emergencies — call or text ",
    el("a", { href: "tel:988", text: "988" }),
    ", or call ",
    el("a", { href: "tel:911", text: "911" })
  ]);
  var status = el("div", { className: "cc-status", role: "status" });
  var log = el("ol", { className: "cc-log", "aria-label": "Conversation", tabindex: "0" });
  var typingText = el("span", { className: "cc-sr-only", text: "The assistant is typing" });
  var typing = el("div", { className: "cc-typing", hidden: "" }, [
    el("span", { className: "cc-dot", "aria-hidden": "true" }),
    el("span", { className: "cc-dot", "aria-hidden": "true" }),
    el("span", { className: "cc-dot", "aria-hidden": "true" }),
    typingText
  ]);
  var humanButton = el("button", { type: "button", className: "cc-human", text: "Talk to a person" });
  var input = el("input", {
    id: ids.input, className: "cc-input", type: "text", autocomplete: "off", maxlength: String(config.maxChars),
    placeholder: "Type your question…", "aria-describedby": ids.note, enterkeyhint: "send"
  });
  var sendButton = el("button", { type: "submit", className: "cc-send", "aria-label": "Send message" }, [icon(ICON_SEND)]);
  var form = el("form", { className: "cc-form", novalidate: "" }, [
    el("label", { "for": ids.input, className: "cc-sr-only", text: "Your message" }),
    input, sendButton
  ]);
  var note = el("p", { id: ids.note, className: "cc-note", text: "Please don't share personal health details here." });
  var endedNote = el("div", { className: "cc-ended", hidden: "" }, [
    el("p", { text: "This chat has ended and nothing of it is kept in this browser." }),
    el("button", { type: "button", className: "cc-restart", text: "Start a new chat" })
  ]);
  var footer = el("div", { className: "cc-footer" }, [humanButton, form, note]);
  var panel = el("div", {
    id: ids.panel, className: "cc-panel", role: "dialog", "aria-labelledby": ids.title, "aria-describedby": ids.subtitle
  }, [header, confirmEnd, emergency, status, log, endedNote, typing, footer]);
  // Announces each new message (outside the panel so it is always in the tree).
  var live = el("div", { className: "cc-sr-only", "aria-live": "polite", "aria-atomic": "false" });
  var app = el("div", { className: "cc-root", "data-clinic-chat": "" }, [panel, live]);
  app.style.setProperty("--cc-primary", config.colors.primary);
  app.style.setProperty("--cc-on-primary", config.colors.onPrimary);
  app.style.setProperty("--cc-primary-text", config.colors.primaryText);

  function showLiveState() {
    subtitle.textContent = state.live
      ? "Chatting with " + state.live.name + " from the clinic"
      : "Automated assistant · not medical advice";
    typingText.textContent = "The assistant is typing";
    app.classList.toggle("cc-is-live", !!state.live);
  }

  // ---- rendering ----------------------------------------------------------------------
  function messageNode(m) {
    var item;
    if (m.who === "notice") {
      item = el("li", { className: "cc-notice" }, [el("span", { className: "cc-notice-text", text: m.text })]);
    } else if (m.who === "staff") {
      var name = m.name || "Staff";
      item = el("li", { className: "cc-msg cc-msg-staff" }, [
        el("span", { className: "cc-sender", "aria-hidden": "true" }, [
          el("span", { className: "cc-avatar", text: name.charAt(0).toUpperCase() }),
          name + " · " + config.clinicName
        ]),
        el("span", { className: "cc-sr-only", text: name + " from the clinic: " }),
        el("span", { className: "cc-bubble", text: m.text })
      ]);
    } else {
      item = el("li", { className: "cc-msg cc-msg-" + m.who }, [
        el("span", { className: "cc-sr-only", text: m.who === "bot" ? "Assistant: " : "You: " }),
        el("span", { className: "cc-bubble", text: m.text })
      ]);
      var links = m.who === "bot" && SAFETY_LINKS[m.contentId];
      if (links) {
        item.classList.add("cc-msg-safety", "cc-msg-" + m.contentId);
        item.appendChild(el("div", { className: "cc-safety-links", role: "group", "aria-label": "Crisis lines" },
          links.map(function (l) { return el("a", { className: "cc-safety-link", href: l[1], text: l[0] }); })));
      }
    }
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
  // A new answer taller than the view opens at its start, not scrolled past it.
  function reveal(node) {
    var top = node.offsetTop - log.offsetTop - 8;
    if (node.offsetHeight > log.clientHeight - 16) log.scrollTop = Math.max(0, top);
    else scrollDown();
  }

  function addMessage(m) {
    if (m.who === "user" || (m.replies && m.replies.length)) dropReplies();
    state.messages.push(m);
    while (state.messages.length > MAX_HISTORY) {
      var old = state.messages.shift();
      if (old.node && old.node.parentNode) old.node.parentNode.removeChild(old.node);
    }
    var node = messageNode(m);
    log.appendChild(node);
    save();
    if (m.who === "user") scrollDown(); else reveal(node);
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
    if (state.live) return; // a person is answering: no assistant typing, no "no reply yet"
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

  // ---- the embedding page ----------------------------------------------------------------
  function tellParent(type, extra) {
    if (!config.parentOrigin || window.parent === window) return;
    var msg = { source: "clinic-chat", type: type };
    Object.keys(extra || {}).forEach(function (k) { msg[k] = extra[k]; });
    window.parent.postMessage(msg, config.parentOrigin);
  }
  window.addEventListener("message", function (e) {
    if (e.source !== window.parent || e.origin !== config.parentOrigin) return;
    var msg = e.data;
    if (!msg || msg.source !== "clinic-chat-host" || typeof msg.type !== "string") return;
    if (msg.type === "open") openPanel(msg.focus !== false);
    else if (msg.type === "close") closePanel(false);
    else if (msg.type === "send" && typeof msg.text === "string") { openPanel(false); sendMessage(msg.text); }
  });

  // ---- connection ------------------------------------------------------------------------
  var socket = null;
  var connected = false;     // socket connected and session confirmed
  var queue = [];            // payloads typed while offline, sent once connected
  var loadingClient = false;
  var ioClient = null;
  var connectingTimer = null;

  function loadClient(done) {
    if (ioClient) return done();
    if (loadingClient) return;
    loadingClient = true;
    var s = document.createElement("script");
    s.src = SOCKET_IO_FILE;
    s.async = true;
    s.onload = function () {
      loadingClient = false;
      ioClient = window.io;
      if (typeof ioClient !== "function") { ioClient = null; setStatus("unavailable"); return; }
      done();
    };
    s.onerror = function () { loadingClient = false; setStatus("unavailable"); };
    document.head.appendChild(s);
  }

  function connect() {
    if (socket || ended) return;
    clearTimeout(connectingTimer);
    connectingTimer = setTimeout(function () { if (!connected && !statusKind) setStatus("connecting"); }, 1500);
    loadClient(function () {
      if (socket || ended) return;
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
    if (ended) return;
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
    if (!msg || typeof msg !== "object" || ended) return;
    var text = typeof msg.text === "string" ? msg.text : "";
    var replies = cleanReplies(msg.quick_replies || msg.buttons);
    if (!text.trim() && !replies.length) return; // images, carousels...: not shown (no other hosts)
    var contentId = typeof msg.content_id === "string" ? msg.content_id : "";
    var m;
    if (contentId === "staff_message") {
      var name = typeof msg.staff_name === "string" && msg.staff_name.trim() ? msg.staff_name.trim().slice(0, 40)
        : (state.live && state.live.name) || "Staff";
      m = { who: "staff", text: text, name: name, contentId: contentId };
    } else if (NOTICE_IDS[contentId] && !replies.length) {
      m = { who: "notice", text: text, contentId: contentId };
    } else {
      m = { who: "bot", text: text, replies: replies, contentId: contentId };
    }
    if (contentId === "live_chat_joined") {
      state.live = { name: typeof msg.staff_name === "string" && msg.staff_name.trim()
        ? msg.staff_name.trim().slice(0, 40) : staffNameIn(text) };
    } else if (contentId === "staff_message" && !state.live) {
      state.live = { name: m.name };
    } else if (LIVE_END_IDS[contentId] || contentId === "live_chat_unanswered") {
      state.live = null;
    }
    showLiveState();
    hideTyping();
    if (statusKind === "slow" || statusKind === "failed") setStatus(null);
    addMessage(m);
    announce((m.who === "staff" ? m.name + " from the clinic: " : m.who === "notice" ? "" : "Assistant: ") + text);
    if (!state.open) tellParent("unread");
  }
  // "<name> from the clinic has joined...": the name is the words before " from ".
  function staffNameIn(text) {
    var i = text.indexOf(" from ");
    var name = i > 0 ? text.slice(0, i) : "";
    return name.length && name.length <= 40 ? name : "Staff";
  }

  function emit(payload) {
    if (!connected || !socket) return false;
    socket.emit("user_uttered", { message: payload, session_id: state.sessionId });
    showTyping();
    return true;
  }

  function sendMessage(payload, shownText) {
    if (ended) restart();
    payload = String(payload || "").trim().slice(0, config.maxChars);
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

  // ---- end and clear ------------------------------------------------------------------------
  function endChat() {
    ended = true;
    if (socket) { socket.off(); socket.disconnect(); socket = null; }
    connected = false;
    queue = [];
    hideTyping();
    setStatus(null);
    forget();
    state.messages.forEach(function (m) { m.node = null; });
    state = { sessionId: null, messages: [], open: true, started: false, live: null };
    while (log.firstChild) log.removeChild(log.firstChild);
    while (live.firstChild) live.removeChild(live.firstChild);
    showLiveState();
    confirmEnd.hidden = true;
    footer.hidden = true;
    endedNote.hidden = false;
    announce("The chat has ended and was cleared from this browser.");
    endedNote.querySelector(".cc-restart").focus();
    tellParent("ended");
  }
  function restart() {
    ended = false;
    endedNote.hidden = true;
    footer.hidden = false;
    state = { sessionId: null, messages: [], open: true, started: false, live: null };
    save();
    connect();
    input.focus();
  }
  endButton.addEventListener("click", function () {
    confirmEnd.hidden = false;
    confirmEnd.querySelector(".cc-confirm-no").focus();
  });
  confirmEnd.querySelector(".cc-confirm-yes").addEventListener("click", endChat);
  confirmEnd.querySelector(".cc-confirm-no").addEventListener("click", function () {
    confirmEnd.hidden = true;
    endButton.focus();
  });
  endedNote.querySelector(".cc-restart").addEventListener("click", restart);

  // ---- open, close, keyboard ---------------------------------------------------------------
  function openPanel(focusInput) {
    panel.hidden = false;
    state.open = true;
    save();
    if (!ended) connect();
    scrollDown();
    if (focusInput) (ended ? endedNote.querySelector(".cc-restart") : input).focus();
  }
  function closePanel(notify) {
    panel.hidden = true;
    state.open = false;
    save();
    if (notify) tellParent("close");
  }

  closeButton.addEventListener("click", function () { closePanel(true); });
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
      if (!confirmEnd.hidden) { confirmEnd.hidden = true; endButton.focus(); return; }
      closePanel(true);
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
  state.messages.forEach(function (m) { log.appendChild(messageNode(m)); });
  showLiveState();
  panel.hidden = !state.open;
  document.body.appendChild(app);
  if (state.open) { connect(); scrollDown(); }
  tellParent("ready", { open: state.open });

  window.ClinicChatFrame = { version: "2.0.0" };
})();

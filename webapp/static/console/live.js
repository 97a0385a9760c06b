/* Staff console, live: conversations, crisis, hand-offs and callback requests appear without a
   reload (Server-Sent Events from /staff/live/stream), the numbers in the navigation follow,
   alerts can sound and show a browser notification, and a conversation can be taken over.
   Everything is rendered with textContent, never as HTML. */
(function () {
  "use strict";

  var body = document.body;
  var streamUrl = body.getAttribute("data-live");
  if (!streamUrl || !window.EventSource || !window.fetch) return;
  var csrf = body.getAttribute("data-csrf") || "";
  var me = body.getAttribute("data-me") || "";
  var isAdmin = body.getAttribute("data-role") === "admin";  // the server checks it again

  var transcript = document.getElementById("transcript");
  var sender = transcript ? transcript.getAttribute("data-sender") : null;
  var list = document.getElementById("conversation-list");
  var statusEl = document.getElementById("live-status");
  var alertsEl = document.getElementById("live-alerts");
  var crisisBanner = document.getElementById("live-crisis");
  var card = document.getElementById("takeover");
  var soundBox = document.getElementById("live-sound");
  var notifyButton = document.getElementById("live-notify");

  var seen = {};
  var lastEvent = 0;
  var liveStates = {};
  var handBackSeconds = card ? parseFloat(card.getAttribute("data-hand-back-seconds")) || 300 : 300;
  var everConnected = false; // eslint-disable-line no-unused-vars
  var source = null;

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }
  function setStatus(text, kind) {
    if (!statusEl) return;
    statusEl.textContent = "Live updates: " + text;
    statusEl.className = "live-status" + (kind ? " " + kind : "");
  }

  // ---- alerts: sound and browser notifications (optional) -------------------------
  var SOUND_KEY = "clinic-console:sound";
  if (soundBox) {
    try { soundBox.checked = window.localStorage.getItem(SOUND_KEY) === "1"; } catch (e) { /* private mode */ }
    soundBox.addEventListener("change", function () {
      try { window.localStorage.setItem(SOUND_KEY, soundBox.checked ? "1" : "0"); } catch (e) { /* ignore */ }
      if (soundBox.checked) beep(1);
    });
  }
  if (notifyButton) {
    if (!("Notification" in window)) notifyButton.hidden = true;
    else {
      var label = function () {
        notifyButton.textContent = Notification.permission === "granted" ? "Notifications on"
          : Notification.permission === "denied" ? "Notifications blocked" : "Browser notifications";
      };
      label();
      notifyButton.addEventListener("click", function () {
        if (Notification.permission === "default") Notification.requestPermission().then(label);
      });
    }
  }
  var audio = null;
  function beep(times) {
    if (!soundBox || !soundBox.checked) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      for (var i = 0; i < times; i++) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 880;
        osc.connect(gain);
        gain.connect(audio.destination);
        var t = audio.currentTime + i * 0.35;
        gain.gain.setValueAtTime(0.15, t);
        gain.gain.exponentialRampToValueAtTime(0.001, t + 0.3);
        osc.start(t);
        osc.stop(t + 0.3);
      }
    } catch (e) { /* no audio */ }
  }
  var ALERT_TEXT = {
    crisis: "Crisis language in a conversation",
    handoff: "A visitor was handed to staff",
    waiting: "A visitor is waiting to chat with a person",
    callback: "New callback request"
  };
  function notify(text, url) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      // No visitor text: a notification can show on a locked screen.
      var n = new Notification("Shasta Meadows console", { body: text, tag: url });
      n.onclick = function () { window.focus(); window.location.href = url; };
    } catch (e) { /* not allowed here */ }
  }
  function addAlert(ev) {
    var text = ALERT_TEXT[ev.kind] || "Update";
    if (ev.kind === "callback" && ev.crisis) text = "New crisis callback request";
    var url = "/staff/conversation?id=" + encodeURIComponent(ev.sender);
    if (alertsEl) {
      var li = el("li", "live-alert " + ev.kind);
      li.setAttribute("data-kind", ev.kind);
      li.setAttribute("data-sender", ev.sender);
      li.appendChild(el("span", "when", new Date((ev.at || Date.now() / 1000) * 1000).toLocaleTimeString()));
      li.appendChild(document.createTextNode(" " + text + " · "));
      var a = el("a", null, "open");
      a.href = url;
      li.appendChild(a);
      var dismiss = el("button", "link-dark", "dismiss");
      dismiss.type = "button";
      dismiss.addEventListener("click", function () { li.parentNode && li.parentNode.removeChild(li); });
      li.appendChild(document.createTextNode(" "));
      li.appendChild(dismiss);
      alertsEl.insertBefore(li, alertsEl.firstChild);
      while (alertsEl.children.length > 8) alertsEl.removeChild(alertsEl.lastChild);
    }
    if (ev.kind === "crisis" || ev.kind === "callback" || ev.kind === "waiting") {
      beep(ev.kind === "crisis" ? 3 : 1);
      notify(text, url);
    }
  }

  function setCounts(counts) {
    Object.keys(counts || {}).forEach(function (k) {
      var nodes = document.querySelectorAll('[data-live-count="' + k + '"]');
      for (var i = 0; i < nodes.length; i++) {
        nodes[i].textContent = String(counts[k]);
        nodes[i].hidden = !counts[k];
      }
    });
  }

  // ---- the conversation list ----------------------------------------------------------
  var FLAG_ORDER = [["crisis", "badge crisis", "CRISIS"], ["medical", "badge prio1", "medical"],
    ["handoff", "badge handoff", "hand-off"], ["callback", "badge callback", "callback"],
    ["declined_medical", "badge review", "declined callback: review"], ["fallback", "badge fallback", "fallback"]];
  function flagsNode(cell, flags, chat) {
    while (cell.firstChild) cell.removeChild(cell.firstChild);
    var add = function (flag, cls, text) {
      var b = el("span", cls, text);
      b.setAttribute("data-flag", flag);
      cell.appendChild(b);
      cell.appendChild(document.createTextNode(" "));
    };
    if (flags.crisis) add("crisis", "badge crisis", "CRISIS");
    if (chat && chat.state === "waiting") add("waiting", "badge waiting", "waiting for a person");
    else if (chat && chat.state === "active") add("live", "badge live", "with " + (chat.staff_name || "staff"));
    FLAG_ORDER.slice(1).forEach(function (f) { if (flags[f[0]]) add(f[0], f[1], f[2]); });
  }
  function cellOf(row, name) { return row.querySelector('[data-cell="' + name + '"]'); }
  function newRow(ev) {
    var row = document.createElement("tr");
    row.setAttribute("data-sender", ev.sender);
    var href = "/staff/conversation?id=" + encodeURIComponent(ev.sender);
    var td = function (cls) { var c = el("td", cls); row.appendChild(c); return c; };
    var last = el("a", null, ev.last);
    last.href = href;
    last.setAttribute("data-cell", "last");
    td("nowrap").appendChild(last);
    td("flags").setAttribute("data-cell", "flags");
    var preview = el("a", null, ev.preview || "(no visitor message)");
    preview.href = href;
    preview.setAttribute("data-cell", "preview");
    var third = td();
    third.appendChild(preview);
    third.appendChild(el("div", "sub", ev.sender));
    td().setAttribute("data-cell", "callback");
    var count = td("num");
    count.setAttribute("data-cell", "count");
    td().appendChild(el("span", "status new", "new"));
    td();
    return row;
  }
  function upsertRow(ev) {
    if (!list) return;
    var tbody = list.tBodies[0];
    var rows = tbody.querySelectorAll("tr[data-sender]");
    var row = null;
    for (var i = 0; i < rows.length; i++) if (rows[i].getAttribute("data-sender") === ev.sender) row = rows[i];
    var liveList = list.getAttribute("data-live-list") === "1";
    if (!row) {
      if (!liveList) return; // a filtered or later page: its rows are not live
      row = newRow(ev);
      var empty = tbody.querySelector(".empty-row");
      if (empty) tbody.removeChild(empty);
    }
    if (liveList && tbody.firstChild !== row) tbody.insertBefore(row, tbody.firstChild);
    row.classList.toggle("crisis", !!ev.flags.crisis);
    row.classList.add("live-updated");
    cellOf(row, "last").textContent = ev.last;
    var preview = cellOf(row, "preview");
    if (ev.preview && preview.textContent !== ev.preview) preview.textContent = ev.preview;
    cellOf(row, "callback").textContent = ev.callback_name || cellOf(row, "callback").textContent;
    cellOf(row, "count").textContent = String(ev.user_messages);
    flagsNode(cellOf(row, "flags"), ev.flags, liveStates[ev.sender]);
    row.setAttribute("data-flags", Object.keys(ev.flags).filter(function (k) { return ev.flags[k]; }).join(" "));
  }
  function updateRowLive(chat) {
    if (!list) return;
    var rows = list.querySelectorAll("tr[data-sender]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-sender") !== chat.sender_id) continue;
      var cell = cellOf(rows[i], "flags");
      var old = cell.querySelector('[data-flag="waiting"], [data-flag="live"]');
      if (old) cell.removeChild(old);
      var b = null;
      if (chat.state === "waiting") { b = el("span", "badge waiting", "waiting for a person"); b.setAttribute("data-flag", "waiting"); }
      else if (chat.state === "active") { b = el("span", "badge live", "with " + (chat.staff_name || "staff")); b.setAttribute("data-flag", "live"); }
      if (b) {
        var after = cell.querySelector('[data-flag="crisis"]');
        cell.insertBefore(b, after ? after.nextSibling : cell.firstChild);
        cell.insertBefore(document.createTextNode(" "), b.nextSibling);
      }
    }
  }

  // ---- the transcript -----------------------------------------------------------------
  if (transcript) {
    var items = transcript.querySelectorAll("[data-event-id]");
    for (var i = 0; i < items.length; i++) {
      var id = parseInt(items[i].getAttribute("data-event-id"), 10) || 0;
      seen[id] = true;
      lastEvent = Math.max(lastEvent, id);
    }
    if (transcript.querySelector(".msg.user.crisis") && crisisBanner) crisisBanner.hidden = false;
  }
  function clock(ts) {
    return ts ? new Date(ts * 1000).toLocaleString() : "";
  }
  function appendMessage(m) {
    if (!transcript || m.sender !== sender || seen[m.event_id]) return;
    seen[m.event_id] = true;
    lastEvent = Math.max(lastEvent, m.event_id);
    var kind = m.kind === "staff" ? "staff" : m.kind;
    var box = el("div", "msg " + kind + " live-new");
    box.setAttribute("data-event-id", String(m.event_id));
    var meta = el("div", "meta");
    if (m.kind === "user") {
      meta.appendChild(el("b", null, "Visitor"));
      meta.appendChild(document.createTextNode(" · " + clock(m.ts) + " · intent "));
      meta.appendChild(el("code", null, m.intent || "?"));
      if (m.confidence !== null && m.confidence !== undefined) meta.appendChild(document.createTextNode(" (" + m.confidence.toFixed(2) + ")"));
      if (m.payload) { meta.appendChild(document.createTextNode(" · clicked a button (")); meta.appendChild(el("code", null, m.payload)); meta.appendChild(document.createTextNode(")")); }
      if (m.intent === "crisis") box.classList.add("crisis");
    } else if (m.kind === "staff") {
      meta.appendChild(el("b", null, (m.staff_name || "Staff") + " (staff)"));
      meta.appendChild(document.createTextNode(" · " + clock(m.ts) + " · "));
      meta.appendChild(el("code", null, "staff_message"));
    } else {
      meta.appendChild(el("b", null, "Assistant"));
      meta.appendChild(document.createTextNode(" · " + clock(m.ts) + " · content "));
      meta.appendChild(el("code", null, m.content_id || "none"));
      if (m.content_version) meta.appendChild(document.createTextNode(" v" + m.content_version));
    }
    box.appendChild(meta);
    box.appendChild(el("div", "text", m.text));
    if (m.buttons && m.buttons.length) {
      var bs = el("div", "buttons");
      m.buttons.forEach(function (t) { bs.appendChild(el("span", "chip", t)); });
      box.appendChild(bs);
    }
    transcript.appendChild(box);
    var nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 300;
    if (nearBottom) box.scrollIntoView({ block: "nearest" });
    if ((m.kind === "user" && m.intent === "crisis") || (m.kind === "bot" && m.content_id === "crisis")) {
      if (crisisBanner) crisisBanner.hidden = false;
      var chat = liveStates[sender];
      if (chat && chat.state === "active" && chat.staff_user === me) {
        beep(3);
        notify("Crisis language in the conversation you have", window.location.href);
      }
    }
  }
  function catchUp() {
    if (!transcript) return;
    fetch("/staff/live/messages?id=" + encodeURIComponent(sender) + "&after=" + lastEvent,
      { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        (data.messages || []).forEach(appendMessage);
        if (data.chat) setChat(data.chat);
      })
      .catch(function () { /* next reconnect tries again */ });
  }

  // ---- taking over ---------------------------------------------------------------------
  var ui = card ? {
    state: document.getElementById("takeover-state"),
    error: document.getElementById("takeover-error"),
    start: document.getElementById("takeover-start"),
    handBack: document.getElementById("takeover-hand-back"),
    close: document.getElementById("takeover-close"),
    form: document.getElementById("takeover-form"),
    text: document.getElementById("takeover-text"),
    chars: document.getElementById("takeover-chars"),
    send: document.getElementById("takeover-send"),
    deadline: document.getElementById("takeover-deadline")
  } : null;
  var deadlineTimer = null;
  function setChat(chat) {
    if (!chat) return;
    liveStates[chat.sender_id] = chat;
    updateRowLive(chat);
    if (!card || chat.sender_id !== sender) return;
    card.setAttribute("data-state", chat.state);
    card.setAttribute("data-staff", chat.staff_user || "");
    var mine = chat.state === "active" && chat.staff_user === me;
    var text;
    if (chat.state === "waiting") text = "The visitor is waiting for a person. Take the conversation over to chat with them.";
    else if (mine) text = "You have this conversation: the assistant is paused and the visitor sees your messages as " + (chat.staff_name || me) + ".";
    else if (chat.state === "active") text = (chat.staff_name || "Someone") + " (" + chat.staff_user + ") has this conversation; the assistant is paused.";
    else if (chat.state === "ending") text = "Handing back to the assistant…";
    else text = "The assistant is answering." + (chat.ended_reason === "timeout" ? " (The last takeover was handed back after a time without messages.)" : "");
    ui.state.textContent = text;
    ui.start.hidden = chat.state === "active" || chat.state === "ending";
    // An admin may hand back a colleague's takeover (someone signed out without ending it).
    ui.handBack.hidden = !(mine || (isAdmin && chat.state === "active"));
    ui.handBack.textContent = mine || chat.state !== "active" ? "Hand back to the assistant"
      : "Hand " + (chat.staff_name || chat.staff_user) + "'s chat back to the assistant";
    ui.close.hidden = !mine;
    ui.form.hidden = !mine;
    clearInterval(deadlineTimer);
    if (mine) {
      var tick = function () {
        var last = chat.last_staff_at ? Date.parse(chat.last_staff_at) : Date.now();
        var left = Math.max(0, Math.round((last + handBackSeconds * 1000 - Date.now()) / 1000));
        ui.deadline.textContent = "If you send nothing, the chat goes back to the assistant in " +
          (left >= 60 ? Math.floor(left / 60) + " min " : "") + (left % 60) + " s.";
      };
      tick();
      deadlineTimer = setInterval(tick, 1000);
    }
  }
  function showError(text) {
    if (!ui) return;
    ui.error.textContent = text || "";
    ui.error.hidden = !text;
  }
  function post(path, fields) {
    var data = new URLSearchParams();
    Object.keys(fields).forEach(function (k) { data.append(k, fields[k]); });
    data.append("csrf_token", csrf);
    return fetch(path, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" }
    }).then(function (r) {
      return r.json().catch(function () { return { error: "Unexpected answer (" + r.status + ")." }; })
        .then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
    });
  }
  if (ui) {
    setChat({ sender_id: sender, state: card.getAttribute("data-state") === "none" ? "ended" : card.getAttribute("data-state"),
              staff_user: card.getAttribute("data-staff"), staff_name: card.getAttribute("data-staff-name"),
              last_staff_at: card.getAttribute("data-last-staff") || null });
    var act = function (path, fields, button) {
      button.disabled = true;
      showError("");
      post(path, fields).then(function (res) {
        button.disabled = false;
        if (res.body && res.body.chat) setChat(res.body.chat);
        if (!res.ok) showError(res.body.error || "Not done.");
        else if (path === "/staff/takeover/start") ui.text.focus();
      }).catch(function () { button.disabled = false; showError("The console could not be reached. Try again."); });
    };
    ui.start.addEventListener("click", function () { act("/staff/takeover/start", { id: sender }, ui.start); });
    ui.handBack.addEventListener("click", function () { act("/staff/takeover/end", { id: sender, how: "hand_back" }, ui.handBack); });
    ui.close.addEventListener("click", function () { act("/staff/takeover/end", { id: sender, how: "close" }, ui.close); });
    var sendNow = function () {
      var text = ui.text.value;
      if (!text.trim()) { ui.text.focus(); return; }
      ui.send.disabled = true;
      showError("");
      post("/staff/takeover/send", { id: sender, text: text }).then(function (res) {
        ui.send.disabled = false;
        if (res.body && res.body.chat) setChat(res.body.chat);
        if (res.ok) { ui.text.value = ""; ui.chars.textContent = "0"; }
        else showError(res.body.error || "Not sent.");
        ui.text.focus();
      }).catch(function () { ui.send.disabled = false; showError("Not sent: the console could not be reached."); });
    };
    ui.form.addEventListener("submit", function (e) { e.preventDefault(); sendNow(); });
    ui.text.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); sendNow(); }
    });
    ui.text.addEventListener("input", function () { ui.chars.textContent = String(ui.text.value.length); });
  }

  // ---- the stream -----------------------------------------------------------------------
  function handle(ev) {
    switch (ev.type) {
      case "hello":
        setCounts(ev.counts);
        if (ev.hand_back_seconds) handBackSeconds = ev.hand_back_seconds;
        (ev.chats || []).forEach(setChat);
        // What happened between this page's rendering (or the last connection) and now.
        if (transcript) catchUp();
        everConnected = true;
        break;
      case "message": appendMessage(ev); break;
      case "conversation": upsertRow(ev); break;
      case "alert": addAlert(ev); break;
      case "live": setChat(ev.chat); break;
      case "counts": setCounts(ev.counts); break;
      case "signed_out":
        setStatus("your session ended: sign in again to get updates", "off");
        if (source) source.close();
        break;
      case "resync": window.location.reload(); break;
    }
  }
  function connect() {
    var url = streamUrl + (sender ? "?conversation=" + encodeURIComponent(sender) : "");
    source = new EventSource(url);
    source.onopen = function () { setStatus("connected", "on"); };
    source.onmessage = function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      if (ev && typeof ev.type === "string") handle(ev);
    };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        setStatus("disconnected, retrying…", "off");
        setTimeout(connect, 5000);
      } else {
        setStatus("reconnecting…", "off");
      }
    };
  }
  connect();
})();

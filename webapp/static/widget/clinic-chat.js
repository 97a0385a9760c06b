/*!
 * Clinic chat widget: the launcher for the clinic's page. Plain JS, no build step.
 *
 * Embed with one tag (the src names the assistant's own origin):
 *   <script src="https://chat.clinic.example.org/static/widget/clinic-chat.js" defer
 *           data-clinic-name="Shasta Meadows Wellness Center"
 *           data-primary-color="#0f5c63"                 #rgb or #rrggbb
 *           data-init-payload="/greeting"></script>      sent once when a conversation starts
 *
 * This page gets only the launcher button. The conversation runs in an iframe served from
 * the script's own origin (/widget/frame), so scripts on this page (analytics, session
 * replay) can read neither the messages nor where they are kept. Nothing of the
 * conversation crosses into this page: the frame only says "ready", "close", "unread"
 * and "ended".
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[src*="clinic-chat.js"][data-clinic-name]') ||
    document.querySelector('script[src*="clinic-chat.js"]');
  if (!script || window.ClinicChat) return;

  var base = script.src.replace(/[?#].*$/, "").replace(/[^/]*$/, "");
  var frameUrl = new URL("/widget/frame", script.src);
  var frameOrigin = frameUrl.origin;
  var data = script.dataset || {};
  var clinicName = (data.clinicName || "").trim() || "the clinic";
  var launcherLabel = data.launcherLabel || "Chat with us";
  var primary = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.test(data.primaryColor || "") ? data.primaryColor : "#0f5c63";

  function fragment() {
    var parts = { parent: window.location.origin, name: clinicName, color: primary };
    if (data.title) parts.title = data.title;
    if (data.initPayload !== undefined) parts.init = data.initPayload;
    return Object.keys(parts).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(String(parts[k]).slice(0, 200));
    }).join("&");
  }

  // ---- colours of the launcher: white or black text, whichever passes WCAG AA -------
  function rgbOf(value) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(value).trim());
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
  var rgb = rgbOf(primary);
  var L = luminance(rgb);
  var hex = "#" + rgb.map(function (v) { return ("0" + v.toString(16)).slice(-2); }).join("");
  var onPrimary = (1.05 / (L + 0.05)) >= ((L + 0.05) / 0.05) ? "#ffffff" : "#000000";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }
  var SVG_NS = "http://www.w3.org/2000/svg";
  function chatIcon() {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(SVG_NS, "path");
    p.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    p.setAttribute("fill", "currentColor");
    svg.appendChild(p);
    return svg;
  }

  var frameId = "clinic-chat-frame-" + Math.random().toString(36).slice(2, 8);
  var badge = el("span", { className: "cc-sr-only" });
  var launcher = el("button", { type: "button", className: "cc-launcher", "aria-expanded": "false",
    "aria-controls": frameId }, [chatIcon(), el("span", { className: "cc-launcher-text", text: launcherLabel }), badge]);
  var frame = el("iframe", { id: frameId, className: "cc-frame", title: "Chat with " + clinicName,
    src: frameUrl.href + "#" + fragment(), referrerpolicy: "no-referrer", hidden: "" });
  var root = el("div", { className: "cc-root", "data-clinic-chat": "" }, [frame, launcher]);
  root.style.setProperty("--cc-primary", hex);
  root.style.setProperty("--cc-on-primary", onPrimary);

  var ready = false;
  var pending = [];
  var isOpen = false;

  function post(type, extra) {
    var msg = { source: "clinic-chat-host", type: type };
    Object.keys(extra || {}).forEach(function (k) { msg[k] = extra[k]; });
    if (!ready) { pending.push(msg); return; }
    frame.contentWindow.postMessage(msg, frameOrigin);
  }
  function show(focus) {
    isOpen = true;
    frame.hidden = false;
    root.classList.add("cc-is-open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.classList.remove("cc-unread");
    badge.textContent = "";
    if (focus) frame.focus();
  }
  function open(focus) {
    show(focus);
    post("open", { focus: !!focus });
  }
  function hide(focusLauncher) {
    isOpen = false;
    frame.hidden = true;
    root.classList.remove("cc-is-open");
    launcher.setAttribute("aria-expanded", "false");
    if (focusLauncher) launcher.focus();
  }
  function close() {
    hide(true);
    post("close");
  }

  window.addEventListener("message", function (e) {
    if (e.source !== frame.contentWindow || e.origin !== frameOrigin) return;
    var msg = e.data;
    if (!msg || msg.source !== "clinic-chat" || typeof msg.type !== "string") return;
    if (msg.type === "ready") {
      ready = true;
      if (msg.open === true && !isOpen) show(false); // same tab, after a reload: still open
      var queued = pending;
      pending = [];
      queued.forEach(function (m) { frame.contentWindow.postMessage(m, frameOrigin); });
    } else if (msg.type === "close") {
      hide(true);
    } else if (msg.type === "unread" && !isOpen) {
      launcher.classList.add("cc-unread");
      badge.textContent = " (new message)";
    }
  });

  launcher.addEventListener("click", function () {
    if (isOpen) close(); else open(true);
  });

  function start() {
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = base + "clinic-chat.css";
    document.head.appendChild(css);
    document.body.appendChild(root);
  }

  window.ClinicChat = {
    open: function () { open(true); },
    close: close,
    // Sends a message for the visitor; the page never sees the reply.
    send: function (text) { if (typeof text === "string") { show(false); post("send", { text: text.slice(0, 2000) }); } },
    version: "2.0.0"
  };
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();

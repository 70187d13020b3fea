/* The coordinators' board: open incidents by urgency, live, and the actions on one incident.
 *
 * Data comes from the console's JSON API; changes arrive on /dashboard/events
 * (server-sent events: the browser's EventSource reconnects with Last-Event-ID
 * after each short response), and each batch of changes reloads the board.
 * Every text from the server is put in the page with textContent, never as
 * HTML, so a report's words are shown as typed, markup and all.
 * State changes carry the session's CSRF token from <meta name="csrf-token">.
 */
(function () {
  "use strict";

  var root = document.getElementById("board");
  if (!root) return;
  var T = JSON.parse(document.getElementById("console-strings").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var api = root.getAttribute("data-api");
  var clock = new Intl.DateTimeFormat(document.documentElement.lang, {
    hour: "numeric", minute: "2-digit", timeZone: root.getAttribute("data-timezone") || undefined, timeZoneName: "short",
  });  // the network's time zone (HOTLINE_TIMEZONE), whatever the phone's is
  var state = { incidents: [], open: null, roster: [] };

  function t(key, values) {
    var text = T[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(values[k])); });
    return text;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  /* A refusal from the API: `error` is already in the console's language; `code` is what scripts go by. */
  function refusal(data) {
    var err = new Error(data.error || t("failed"));
    err.code = data.code || "";
    return err;
  }

  function request(method, url, body) {
    var options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = csrf;
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      if (response.status === 401) { window.location.reload(); throw new Error(t("login_needed")); }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw refusal(data);
        return data;
      });
    });
  }

  function age(iso) {
    if (!iso) return "";
    var s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 90) return t("age_s", { n: Math.round(s) });
    if (s < 5400) return t("age_min", { n: Math.round(s / 60) });
    return t("age_h", { n: Math.round(s / 3600) });
  }

  function place(i) {
    var label = (i.details && i.details.label) || i.label;
    if (label) return String(label);
    if (i.lat === null || i.lat === undefined) return t("unplaced");
    return i.lat.toFixed(4) + ", " + i.lon.toFixed(4);
  }

  /* Urgency: needs action first (escalated, nobody accepted, one observer alone, unplaced), then active, then the rest. */
  function group(i) {
    if (i.needs_action) return "urgent";
    if (i.accepted || i.status === "verified") return "active";
    return "rest";
  }

  function badge(i) {
    var reasons = (i.reasons || []).map(function (r) { return el("span", { class: "reason", text: t("reason_" + r.replace(/ /g, "_")) }); });
    // dispatch waiting on the later lane (a crowded area, the contact's later report): gone once someone is texted
    var queued = (i.queued || []).map(function (q) { return el("span", { class: "queued", "data-queued": q, text: t("queued_" + q) }); });
    return [el("span", { class: "badge status-" + i.status, text: t("status_" + i.status) })].concat(reasons, queued);
  }

  function card(i) {
    var li = el("li", { class: "incident " + group(i), "data-ref": i.ref, id: "incident-" + i.ref });
    var head = el("button", { type: "button", class: "open", "aria-label": t("open_incident", { ref: i.ref }) }, [
      el("span", { class: "ref", text: i.ref }),
      i.code ? el("span", { class: "code", text: "#" + i.code }) : null,
    ].concat(badge(i)));
    head.addEventListener("click", function () { openIncident(i.ref); });
    li.appendChild(head);
    li.appendChild(el("p", { class: "what" }, [
      el("strong", { text: t("kind_" + i.kind) }), " · ", el("span", { class: "place", text: place(i) }),
      " · ", el("time", { datetime: i.created_at || "", text: age(i.created_at) }),
    ]));
    var people = [t("reporters", { n: i.reporters }), t("texted", { n: i.texted })];
    li.appendChild(el("p", { class: "counts", text: people.join(" · ") }));
    if ((i.accepted_by || []).length) li.appendChild(el("p", { class: "going", text: t("accepted_by", { names: i.accepted_by.join(", ") }) }));
    if ((i.arrived_by || []).length) li.appendChild(el("p", { class: "going", text: t("arrived_by", { names: i.arrived_by.join(", ") }) }));
    return li;
  }

  function renderBoard() {
    var lists = { urgent: [], active: [], rest: [] };
    state.incidents.forEach(function (i) { lists[group(i)].push(i); });
    Object.keys(lists).forEach(function (name) {
      var ol = document.getElementById(name);
      ol.replaceChildren.apply(ol, lists[name].map(card));
      ol.parentNode.hidden = !lists[name].length && name !== "urgent";
    });
    document.getElementById("empty").hidden = state.incidents.length > 0;
    document.getElementById("count").textContent = t("open_count", { n: state.incidents.length });
    document.dispatchEvent(new CustomEvent("console:incidents", { detail: state.incidents }));
  }

  var loading = null, again = false;
  function loadBoard() {
    if (loading) { again = true; return loading; }
    loading = request("GET", api + "/incidents").then(function (rows) {
      state.incidents = rows;
      renderBoard();
      if (state.open) refreshOpen();
      setLive(true);
    }).catch(function () { setLive(false); }).then(function () {
      loading = null;
      if (again) { again = false; loadBoard(); }
    });
    return loading;
  }

  function setLive(ok) {
    var live = document.getElementById("live");
    live.textContent = ok ? t("live", { time: clock.format(new Date()) }) : t("offline");
    live.className = ok ? "live ok" : "live down";
  }

  /* ---- live updates ---------------------------------------------------- */
  var source = null, timer = null;
  function connect() {
    if (source) return;
    source = new EventSource(root.getAttribute("data-events"));
    var nudge = function () { clearTimeout(timer); timer = setTimeout(loadBoard, 100); };  // one reload per burst
    source.addEventListener("incident", nudge);
    source.addEventListener("reload", nudge);
    source.addEventListener("ready", function () { setLive(true); });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) { source = null; setLive(false); setTimeout(connect, 5000); }
    };
  }
  document.addEventListener("visibilitychange", function () {
    // A console in a pocket costs the server nothing; it catches up from its cursor when looked at.
    if (document.hidden && source) { source.close(); source = null; }
    else if (!document.hidden) { connect(); loadBoard(); }
  });

  /* ---- one incident ---------------------------------------------------- */
  var dialog = document.getElementById("detail");
  dialog.querySelector(".close-dialog").addEventListener("click", function () { dialog.close(); });
  dialog.addEventListener("close", function () { state.open = null; });

  function openIncident(ref) {
    state.open = ref;
    dialog.querySelector(".body").replaceChildren();  // a fresh start, not the last visit's half-done step
    refreshOpen().then(function () { if (!dialog.open) dialog.showModal(); });
  }

  function refreshOpen() {
    return request("GET", api + "/incidents/" + encodeURIComponent(state.open))
      .then(function (i) { return renderDetail(i, true); }).catch(showError);
  }

  function showError(err) {
    var box = dialog.querySelector(".error");
    box.textContent = err.message;
    box.setAttribute("data-code", err.code || "");
    box.hidden = false;
  }

  function coded(answers) {  // {agency: ["ice"], masks: "yes", detained_count: 3} -> "agency: ice · masks: yes · …"
    return Object.keys(answers).map(function (k) {
      var v = answers[k];
      return k.replace(/_/g, " ") + ": " + (Array.isArray(v) ? v.join(", ") : String(v));
    }).join(" · ");
  }

  function facts(i) {
    var dl = el("dl", { class: "facts" });
    function row(name, value) { if (value !== "" && value !== null && value !== undefined) { dl.appendChild(el("dt", { text: name })); dl.appendChild(el("dd", { text: String(value) })); } }
    row(t("f_status"), t("status_" + i.status));
    row(t("f_kind"), t("kind_" + i.kind));
    row(t("f_place"), place(i) + (i.precision_m ? " (±" + i.precision_m + " m)" : ""));
    row(t("f_age"), age(i.created_at));
    row(t("f_reporters"), i.reporters);
    row(t("f_accepted"), (i.accepted_by || []).join(", ") || "—");
    if (i.merged_into) row(t("f_merged_into"), i.merged_into);
    Object.keys(i.details || {}).forEach(function (k) {
      if (k === "label" || k === "precision" || k === "activity") return;  // shown above
      var v = i.details[k];
      if (k === "started_at" && isFinite(v)) v = clock.format(new Date(v * 1000));
      if (v && typeof v === "object" && !Array.isArray(v)) v = coded(v);  // the observers' debrief: coded answers
      row(t("d_" + k), Array.isArray(v) ? (k === "media" ? t("attached", { n: v.length }) : v.join(", ")) : v);
    });
    if ((i.photos || []).length) {  // kept photos (HOTLINE_KEEP_PHOTOS): each opening is in the audit log
      dl.appendChild(el("dt", { text: t("d_media") }));
      dl.appendChild(el("dd", { class: "photos" }, i.photos.map(function (p, n) {
        return el("a", { href: p.url, target: "_blank", rel: "noopener", class: "photo", text: t("d_media") + " " + (n + 1) + " (" + Math.round(p.bytes / 1024) + " KB) " });
      })));
    }
    return dl;
  }

  // Shown elsewhere (facts, the card) or only noise on a phone: the report's answers, coordinates, channel.
  var TIMELINE_HIDDEN = ["kind", "at", "time", "by", "name", "details", "lat", "lon", "precision_m", "language", "channel",
    "new_reporter", "observer", "observer_id", "distance_m", "from_ref"];

  function timeline(events) {
    return el("ol", { class: "timeline" }, (events || []).map(function (e) {
      var extra = Object.keys(e).filter(function (k) { return TIMELINE_HIDDEN.indexOf(k) < 0 && e[k] !== ""; });
      return el("li", {}, [
        el("time", { datetime: e.at, text: e.time || "" }), " ",
        el("strong", { text: t("ev_" + e.kind) === "ev_" + e.kind ? e.kind : t("ev_" + e.kind) }),
        e.by && e.by !== "hotline" ? el("span", { class: "by", text: " · " + e.by }) : null,
        e.name && e.name !== e.by ? el("span", { class: "by", text: " · " + e.name }) : null,
        extra.length ? el("span", { class: "fields", text: " — " + extra.map(function (k) { return k + ": " + e[k]; }).join("; ") }) : null,
      ]);
    }));
  }

  /* A live update redraws the facts and the timeline, but keeps the actions (a typed note, a half-picked
     dispatch, a verify preview) unless the incident's status changed under them. */
  function renderDetail(i, live) {
    dialog.querySelector("h2").textContent = t("incident", { ref: i.ref }) + (i.code ? " · #" + i.code : "");
    var body = dialog.querySelector(".body");
    var kept = body.querySelector(".actions");
    if (!(live && kept && kept.getAttribute("data-for") === actionsKey(i))) {
      var typed = live && kept ? kept.querySelector("#note-text").value : "";
      kept = actionsFor(i);
      kept.querySelector("#note-text").value = typed;  // redrawn under the coordinator: their note stays
      dialog.querySelector(".error").hidden = true;
    }
    body.replaceChildren(el("p", {}, badge(i)), facts(i), kept, el("h3", { text: t("timeline") }), timeline(i.timeline));
    return i;
  }

  /* The actions offered depend on the status and on a flood cap's hold: when either changes, they are redrawn. */
  function actionsKey(i) { return i.ref + ":" + i.status + (i.held ? ":held" : ""); }

  function act(i, payload) {
    payload.action = payload.action || "note";
    return request("POST", api + "/incidents/" + encodeURIComponent(i.ref) + "/actions", payload).then(function (updated) {
      renderDetail(updated);
      loadBoard();
      return updated;
    }).catch(function (err) {
      // Refused (someone else released or closed it meanwhile): show what it is now, then say why.
      loadBoard();
      return refreshOpen().then(function () { showError(err); });
    });
  }

  function button(label, name, handler) {
    var b = el("button", { type: "button", class: "act act-" + name, "data-action": name, text: label });
    b.addEventListener("click", handler);
    return b;
  }

  function actionsFor(i) {
    var box = el("div", { class: "actions", "data-for": actionsKey(i) });
    var note = el("textarea", { id: "note-text", rows: "2", maxlength: "500", placeholder: t("note_placeholder") });
    var noted = function () { return { note: note.value.trim() }; };
    var open = ["reported", "corroborated", "verified"].indexOf(i.status) >= 0;
    var buttons = [];
    if (i.status !== "verified" && i.status !== "closed") buttons.push(button(t("a_verify"), "verify", function () { previewVerify(i, noted(), box); }));
    if (open) buttons.push(button(t("a_unfounded"), "unfounded", function () { act(i, Object.assign({ action: "unfounded" }, noted())); }));
    if (i.status !== "closed") buttons.push(button(t("a_close"), "close", function () { act(i, Object.assign({ action: "close" }, noted())); }));
    if (!open) buttons.push(button(t("a_reopen"), "reopen", function () { act(i, Object.assign({ action: "reopen" }, noted())); }));
    buttons.push(button(t("a_note"), "note", function () {
      if (!note.value.trim()) { note.focus(); return; }
      act(i, { action: "note", text: note.value.trim() });
    }));
    if (open) {
      buttons.push(button(t("a_dispatch"), "dispatch", function () { pickObservers(i, box); }));
      buttons.push(button(t("a_next_wave"), "next_wave", function () { act(i, { action: "next_wave" }); }));
      buttons.push(button(t("a_stop"), "stop", function () { act(i, { action: "stop" }); }));
      buttons.push(button(t("a_merge"), "merge", function () { pickMerge(i, box); }));
      if (i.held) buttons.push(button(t("a_release"), "release", function () { act(i, Object.assign({ action: "release" }, noted())); }));
    }
    box.appendChild(el("label", { for: "note-text", class: "visually-hidden", text: t("note_placeholder") }));
    box.appendChild(note);
    box.appendChild(el("div", { class: "buttons" }, buttons));
    box.appendChild(el("div", { class: "step" }));
    return box;
  }

  function step(box, children) {
    var s = box.querySelector(".step");
    s.replaceChildren.apply(s, children);
    return s;
  }

  function previewVerify(i, noted, box) {
    request("POST", api + "/incidents/" + encodeURIComponent(i.ref) + "/actions", { action: "verify", preview: true }).then(function (res) {
      var p = res.result && res.result.preview ? res.result.preview : res.preview || {};
      step(box, [
        el("p", { class: "preview-count", text: p.already_sent ? t("alert_sent_before") : t("alert_will_go", { n: p.subscribers || 0, area: p.area || "" }) }),
        el("blockquote", { class: "preview-text", text: p.text || "" }),
        button(t("a_verify_send"), "verify-confirm", function () { act(i, Object.assign({ action: "verify" }, noted)); }),
      ]);
    }).catch(showError);
  }

  function pickObservers(i, box) {
    request("GET", api + "/observers?near=" + encodeURIComponent(i.ref)).then(function (rows) {
      var asked = {};
      (i.dispatches || []).forEach(function (d) { asked[d.name] = d.state; });
      var list = el("ul", { class: "roster-pick" }, rows.map(function (o) {
        var id = "pick-" + o.id;
        var facts = [o.km !== undefined ? t("km", { n: o.km }) : t("km_unknown"), (o.languages || []).join("/"),
          o.on_duty ? t("on_duty") : t("off_duty")];
        if (o.open_dispatches) facts.push(t("open_dispatches", { n: o.open_dispatches }));
        if (o.unreachable) facts.push(t("unreachable"));
        if (asked[o.name]) facts.push(t("asked", { state: asked[o.name] }));
        return el("li", { class: o.on_duty ? "on" : "off" }, [
          el("input", { type: "checkbox", id: id, value: o.name }),
          el("label", { for: id }, [el("strong", { text: o.name }), " " + facts.join(" · ")]),
        ]);
      }));
      step(box, [el("h3", { text: t("pick_observers") }), list, button(t("a_dispatch_send"), "dispatch-confirm", function () {
        var names = Array.prototype.map.call(list.querySelectorAll("input:checked"), function (c) { return c.value; });
        if (names.length) act(i, { action: "dispatch", observers: names });
      })]);
    }).catch(showError);
  }

  function pickMerge(i, box) {
    var others = state.incidents.filter(function (o) { return o.ref !== i.ref; });
    var select = el("select", { id: "merge-into" }, others.map(function (o) {
      return el("option", { value: o.ref, text: o.ref + " · " + t("kind_" + o.kind) + " · " + place(o) });
    }));
    step(box, [el("label", { for: "merge-into", text: t("merge_into") }), select,
      button(t("a_merge_confirm"), "merge-confirm", function () { if (select.value) act(i, { action: "merge", into: select.value }); })]);
  }

  /* ---- phone tabs: list or map ----------------------------------------- */
  Array.prototype.forEach.call(document.querySelectorAll("[data-show]"), function (tab) {
    tab.addEventListener("click", function () {
      root.setAttribute("data-view", tab.getAttribute("data-show"));
      Array.prototype.forEach.call(document.querySelectorAll("[data-show]"), function (o) { o.setAttribute("aria-pressed", String(o === tab)); });
      document.dispatchEvent(new CustomEvent("console:shown"));
    });
  });

  setInterval(function () { if (!document.hidden) renderBoard(); }, 30000);  // ages move on
  window.hotlineConsole = { t: t, el: el, request: request, place: place, openIncident: openIncident };
  loadBoard();
  connect();
})();

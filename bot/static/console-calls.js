/* The board's calls panel: live and missed calls; the dispatcher who took one sees the number and
 * can create the incident (place, activity). Server text goes in with textContent only; the POST
 * carries the CSRF token. Refreshed every few seconds (a short GET, like the board's events). */
(function () {
  "use strict";

  var root = document.getElementById("calls");
  if (!root) return;
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var api = root.getAttribute("data-api");
  var list = root.querySelector("ol");
  var errorBox = root.querySelector(".error");
  var KINDS = ["raid", "arrest", "checkpoint", "agents", "other"];
  var T = JSON.parse(document.getElementById("console-strings").textContent);
  var REFRESH_MS = 3000;
  var numbers = {}; // unsealed on request, kept in this page only (never stored by the browser)

  function t(key, values) {
    var text = root.getAttribute("data-t-" + key) || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(values[k])); });
    return text;
  }

  function line(text, cls) {
    var p = document.createElement("p");
    if (cls) p.className = cls;
    p.textContent = text;
    return p;
  }

  function form(call) {
    var f = document.createElement("form");
    f.className = "call-incident";
    var place = document.createElement("input");
    place.name = "place";
    place.required = true;
    place.setAttribute("aria-label", t("place"));
    place.placeholder = t("place");
    var kind = document.createElement("select");
    kind.name = "activity";
    kind.setAttribute("aria-label", t("activity"));
    KINDS.forEach(function (k) {
      var o = document.createElement("option");
      o.value = k;
      o.textContent = T["kind_" + k] || k;
      kind.appendChild(o);
    });
    var go = document.createElement("button");
    go.type = "submit";
    go.textContent = t("create");
    f.appendChild(place);
    f.appendChild(kind);
    f.appendChild(go);
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      fetch(api + "/" + encodeURIComponent(call.sid) + "/incident", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ place: place.value, activity: kind.value })
      }).then(function (r) {
        return r.json().then(function (data) {
          if (!r.ok) { var err = new Error(data.error || r.status); err.code = data.code || ""; throw err; }
          errorBox.hidden = true;
          refresh();
        });
      }).catch(function (err) {
        errorBox.textContent = String(err.message || err);
        errorBox.setAttribute("data-code", err.code || "");
        errorBox.hidden = false;
      });
    });
    return f;
  }

  function numberButton(call) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "act call-show-number";
    b.textContent = t("show_number");
    b.addEventListener("click", function () {
      fetch(api + "/" + encodeURIComponent(call.sid) + "/number", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf }
      }).then(function (r) { return r.json(); }).then(function (data) {
        if (!data.number) return;
        numbers[call.sid] = data.number;
        b.replaceWith(line(t("number", { number: data.number }), "call-number"));
      });
    });
    return b;
  }

  function card(call) {
    var li = document.createElement("li");
    li.className = "card call call-" + call.state;
    li.setAttribute("data-sid", call.sid);
    var values = { language: call.language_name, name: call.taken_by, n: call.dialed };
    li.appendChild(line(t(call.state, values), "call-title"));
    if (call.texted) li.appendChild(line(t("texted")));
    if (call.ended_at && call.state === "taken") li.appendChild(line(t("ended")));
    if (numbers[call.sid]) li.appendChild(line(t("number", { number: numbers[call.sid] }), "call-number"));
    else if (call.mine) li.appendChild(numberButton(call));
    if (call.incident_ref) li.appendChild(line(t("created", { ref: call.incident_ref })));
    else if (call.mine) li.appendChild(form(call));
    return li;
  }

  function render(items) {
    var typing = root.contains(document.activeElement) && document.activeElement.tagName !== "BUTTON";
    if (typing) return; // never redraw under a dispatcher's fingers
    list.textContent = "";
    items.forEach(function (c) { list.appendChild(card(c)); });
    root.hidden = items.length === 0;
  }

  function refresh() {
    fetch(api, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(render)
      .catch(function () { /* the next refresh tries again */ });
  }

  refresh();
  window.setInterval(refresh, REFRESH_MS);
})();

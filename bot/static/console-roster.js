/* The roster page: who is on duty now, ON/OFF, unreachable marks and clearing them, removing a volunteer.
 * Text from the server goes in with textContent only; actions carry the CSRF token. */
(function () {
  "use strict";

  var root = document.getElementById("roster");
  if (!root) return;
  var T = JSON.parse(document.getElementById("console-strings").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var api = root.getAttribute("data-api");
  var mayEdit = root.getAttribute("data-may") === "roster";
  var errorBox = root.querySelector(".error");

  function t(key, values) {
    var text = T[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(values[k])); });
    return text;
  }

  function cell(label, children) {
    var td = document.createElement("td");
    if (label) td.setAttribute("data-label", label);
    children.forEach(function (c) { td.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return td;
  }

  function button(text, name, handler) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "act act-" + name;
    b.setAttribute("data-action", name);
    b.textContent = text;
    b.addEventListener("click", handler);
    return b;
  }

  function act(o, action) {
    if (action === "remove" && !window.confirm(t("confirm_remove", { name: o.name }))) return;
    fetch(api + "/" + encodeURIComponent(o.id) + "/actions", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ action: action }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { var err = new Error(data.error || t("failed")); err.code = data.code || ""; throw err; }
        errorBox.hidden = true;
        load();
      });
    }).catch(function (err) {  // the message is in the console's language; the code is for scripts and tests
      errorBox.textContent = err.message;
      errorBox.setAttribute("data-code", err.code || "");
      errorBox.hidden = false;
    });
  }

  function row(o) {
    var tr = document.createElement("tr");
    tr.className = o.on_duty ? "on" : "off";
    tr.setAttribute("data-name", o.name);
    var name = document.createElement("strong");
    name.textContent = o.name;
    var marks = [];
    if (o.unreachable) {
      var mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = t("unreachable") + " (" + o.unreachable + ")";
      marks.push(mark);
    }
    var actions = [];
    if (mayEdit) {
      actions.push(o.on_duty ? button(t("a_off"), "off", function () { act(o, "off"); }) : button(t("a_on"), "on", function () { act(o, "on"); }));
      if (o.unreachable) actions.push(button(t("a_clear"), "clear_unreachable", function () { act(o, "clear_unreachable"); }));
      actions.push(button(t("a_remove"), "remove", function () { act(o, "remove"); }));
    }
    [cell("", [name, o.place ? " · " + o.place : ""]), cell(t("languages"), [(o.languages || []).join(", ")]),
      cell(t("duty"), [o.on_duty ? t("on_duty") : t("off_duty")]), cell(t("open"), [String(o.open_dispatches || 0)]),
      cell(marks.length ? t("marks") : "", marks), cell("", actions)].forEach(function (td, i) {
      if (i === 5) td.className = "do";
      tr.appendChild(td);
    });
    return tr;
  }

  function load() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) { window.location.reload(); return []; }
      return r.json();
    }).then(function (rows) {
      var body = document.getElementById("observers");
      body.replaceChildren.apply(body, rows.map(row));
      document.getElementById("empty").hidden = rows.length > 0;
      var on = rows.filter(function (o) { return o.on_duty; }).length;
      var line = document.getElementById("on-duty");
      line.textContent = t("on_duty_now", { n: on, total: rows.length });
      line.className = "live ok";
    });
  }

  load();
  setInterval(function () { if (!document.hidden) load(); }, 30000);
})();

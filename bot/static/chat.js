// Web chat client: posts each message as JSON to /chat/messages and shows the replies.
// No third-party code, no analytics, no storage: the chat id is an HttpOnly cookie the server
// issues and replaces with every answer. When it refuses a cookie (403 with "restart"), its
// answer carries a new chat: the page takes the new token and says so, no reload needed.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  var log = document.getElementById("log");
  var form = document.getElementById("compose");
  var text = document.getElementById("text");
  var locate = document.getElementById("locate");
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var lang = document.documentElement.lang; // the page's language, for answers outside the flows
  var RETRIES = 3; // a flaky phone connection: the same id is resent, the hotline answers once
  var queue = Promise.resolve(); // one post at a time, so replies arrive in the order sent

  function messageId() {
    // crypto.getRandomValues works on plain-http pages too (randomUUID needs a secure context).
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function show(kind, body) {
    var item = document.createElement("li");
    item.className = kind;
    item.textContent = body; // never innerHTML: replies may echo what was typed
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function post(payload, attempt) {
    return fetch("/chat/messages", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token, "Content-Language": lang },
      body: JSON.stringify(payload)
    }).then(function (response) {
      if (response.status === 403 || response.status === 429) { return refused(response); }
      if (!response.ok) {
        if (response.status >= 500 && attempt < RETRIES) { return post(payload, attempt + 1); }
        throw { final: root.dataset.error };
      }
      return response.json();
    }, function () {
      if (attempt < RETRIES) {
        return new Promise(function (resolve) { setTimeout(resolve, 500 * attempt); })
          .then(function () { return post(payload, attempt + 1); });
      }
      throw { final: root.dataset.error };
    });
  }

  function refused(response) {
    // A fresh start (403 + restart) or a rate limit (429): the server's own words, never a retry.
    return response.json().then(function (data) {
      if (data && data.restart && data.csrf) { token = data.csrf; }
      var words = data && data.replies && data.replies[0];
      throw { final: words || root.dataset.reload };
    }, function () {
      throw { final: root.dataset.reload };
    });
  }

  function send(payload, label) {
    payload.id = messageId();
    var mine = show("me pending", label);
    queue = queue.then(function () {
      return post(payload, 1).then(function (data) {
        mine.classList.remove("pending");
        (data.replies || []).forEach(function (body) { show("bot", body); });
      }, function (err) {
        mine.classList.remove("pending");
        mine.classList.add("unsent"); // not delivered: the person sends it again
        show("error", (err && err.final) || root.dataset.error);
      });
    });
    return queue;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = text.value.trim();
    if (!body) { return; }
    text.value = "";
    send({ text: body }, body);
    text.focus();
  });

  text.addEventListener("keydown", function (event) {
    // Enter sends on a keyboard; Shift+Enter keeps a new line.
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });

  if (!("geolocation" in navigator)) {
    locate.hidden = true;
  }
  locate.addEventListener("click", function () {
    locate.disabled = true;
    var status = show("bot pending", root.dataset.locating);
    navigator.geolocation.getCurrentPosition(function (pos) {
      status.remove();
      locate.disabled = false;
      // Five decimals is about a metre: as exact as a phone knows, no false precision.
      var lat = Math.round(pos.coords.latitude * 1e5) / 1e5;
      var lon = Math.round(pos.coords.longitude * 1e5) / 1e5;
      send({ text: "", lat: lat, lon: lon }, "\uD83D\uDCCD " + root.dataset.located);
    }, function () {
      status.remove();
      locate.disabled = false;
      show("error", root.dataset.nolocation);
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
})();

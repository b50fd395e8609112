/**
 * The status page's script, served from the gateway (`/status/assets/status.js`). Plain
 * browser JavaScript, no build step. It keeps the token in `sessionStorage` (this tab only)
 * and sends it as an `Authorization` header — never in a URL — loads the dashboard
 * fragment, then follows `/status/stream` (Server-Sent Events read through `fetch`, because
 * `EventSource` cannot send headers) and swaps in each section whose HTML changed.
 */
export const STATUS_JS = `
(function () {
  'use strict';
  var KEY = 'heat-gateway.status.token';
  var app = document.getElementById('app');
  var token = null;
  var controller = null;
  var retryMs = 1000;
  var deferred = {};

  function auth(extra) {
    var h = { Authorization: 'Bearer ' + token };
    for (var k in extra || {}) h[k] = extra[k];
    return h;
  }

  function notice(text, tone) {
    var el = document.getElementById('notice');
    if (!el) return;
    el.textContent = text;
    el.className = tone || '';
  }

  function setLive(state, text) {
    var el = document.getElementById('live');
    if (!el) return;
    el.hidden = false;
    el.className = 'live ' + state;
    el.textContent = text;
  }

  function signInError(text) {
    var el = document.getElementById('sign-in-error');
    if (el) el.textContent = text;
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    if (controller) controller.abort();
    if (message) sessionStorage.setItem(KEY + '.message', message);
    location.reload();
  }

  async function signIn(candidate) {
    var res = await fetch('/status/view', { headers: { Authorization: 'Bearer ' + candidate }, cache: 'no-store' });
    if (res.status === 401) throw new Error('That token was not accepted. Use an admin or client token from the gateway config.');
    if (!res.ok) throw new Error('The gateway answered ' + res.status + '; try again in a moment.');
    token = candidate;
    sessionStorage.setItem(KEY, candidate);
    app.innerHTML = await res.text();
    app.dataset.view = 'dashboard';
    var heading = document.getElementById('dashboard-h');
    if (heading) heading.focus();
    connect();
  }

  function replace(el, html) {
    var open = {};
    el.querySelectorAll('details[data-key]').forEach(function (d) { open[d.dataset.key] = d.open; });
    // A choice the user made and has not submitted survives the update.
    var chosen = {};
    el.querySelectorAll('select[id]').forEach(function (c) {
      var option = c.selectedOptions[0];
      if (option && !option.defaultSelected) chosen[c.id] = c.value;
    });
    var tmp = document.createElement('div');
    tmp.innerHTML = html;
    var next = tmp.firstElementChild;
    if (!next) return;
    next.querySelectorAll('details[data-key]').forEach(function (d) {
      if (d.dataset.key in open) d.open = open[d.dataset.key];
    });
    next.querySelectorAll('select[id]').forEach(function (c) {
      var value = chosen[c.id];
      if (value !== undefined && Array.prototype.some.call(c.options, function (option) { return option.value === value; })) c.value = value;
    });
    el.replaceWith(next);
  }

  function apply(update) {
    var focused = document.activeElement;
    Object.keys(update.sections).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      // Never pull a control out from under the keyboard or an open select: apply on focus-out.
      if (focused && focused !== document.body && el.contains(focused)) {
        deferred[id] = update.sections[id];
        return;
      }
      delete deferred[id];
      replace(el, update.sections[id]);
    });
    var at = new Date(update.generatedAt);
    setLive('on', 'Live · updated ' + at.toLocaleTimeString([], { hour12: false }));
  }

  document.addEventListener('focusout', function () {
    setTimeout(function () {
      Object.keys(deferred).forEach(function (id) {
        var el = document.getElementById(id);
        if (el && !el.contains(document.activeElement)) {
          replace(el, deferred[id]);
          delete deferred[id];
        }
      });
    }, 0);
  });

  function handle(block) {
    var event = 'message';
    var data = '';
    block.split('\\n').forEach(function (line) {
      if (line.indexOf('event:') === 0) event = line.slice(6).trim();
      else if (line.indexOf('data:') === 0) data += line.slice(5).trim();
    });
    if (event === 'sections' && data) apply(JSON.parse(data));
  }

  async function connect() {
    controller = new AbortController();
    setLive('', 'Connecting…');
    try {
      var res = await fetch('/status/stream', { headers: auth({ Accept: 'text/event-stream' }), signal: controller.signal, cache: 'no-store' });
      if (res.status === 401) return signOut('Your token is no longer accepted; sign in again.');
      if (!res.ok || !res.body) throw new Error('stream answered ' + res.status);
      retryMs = 1000;
      setLive('on', 'Live');
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buffer = '';
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        var end;
        while ((end = buffer.indexOf('\\n\\n')) >= 0) {
          handle(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (err) {
      if (controller.signal.aborted) return;
    }
    setLive('off', 'Reconnecting…');
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 15000);
  }

  var ACTIONS = {
    'switch-strategy': function (form) {
      var body = { name: form.elements.name.value };
      if (form.elements.backendId && form.elements.backendId.value) body.backendId = form.elements.backendId.value;
      return ['PUT', '/admin/strategy', body, 'Switched to ' + body.name + '.'];
    },
    redeliver: function (form) {
      return ['POST', '/v1/webhooks/' + encodeURIComponent(form.dataset.webhook) + '/deliveries/' + encodeURIComponent(form.dataset.delivery) + '/redeliver', undefined, 'Redelivery queued.'];
    },
    'enable-webhook': function (form) {
      return ['PATCH', '/v1/webhooks/' + encodeURIComponent(form.dataset.webhook), { enabled: true }, 'Endpoint re-enabled.'];
    },
  };

  document.addEventListener('submit', async function (e) {
    var form = e.target;
    if (form.id === 'sign-in') {
      e.preventDefault();
      var input = document.getElementById('token');
      var candidate = input.value.trim();
      input.value = '';
      if (!candidate) return signInError('Enter a token.');
      signInError('');
      try { await signIn(candidate); } catch (err) { signInError(err.message); input.focus(); }
      return;
    }
    var make = ACTIONS[form.dataset.action];
    if (!make) return;
    e.preventDefault();
    // One request at a time per form. The button is marked busy, not disabled: a focused
    // button that gets disabled drops the focus, or keeps it, depending on whether the answer
    // came before the next frame.
    if (form.getAttribute('aria-busy') === 'true') return;
    var spec = make(form);
    var button = form.querySelector('button');
    form.setAttribute('aria-busy', 'true');
    if (button) button.setAttribute('aria-disabled', 'true');
    notice('Working…', '');
    try {
      var res = await fetch(spec[1], {
        method: spec[0],
        headers: auth(spec[2] === undefined ? {} : { 'Content-Type': 'application/json' }),
        body: spec[2] === undefined ? undefined : JSON.stringify(spec[2]),
      });
      if (res.status === 401) return signOut('Your token is no longer accepted; sign in again.');
      if (!res.ok) {
        var problem = await res.json().catch(function () { return {}; });
        notice(problem.detail || ('The gateway answered ' + res.status + '.'), 'error');
      } else {
        notice(spec[3], 'ok');
      }
    } catch (err) {
      notice('The gateway could not be reached: ' + err.message, 'error');
    } finally {
      form.removeAttribute('aria-busy');
      if (button) button.removeAttribute('aria-disabled');
      // The outcome takes the focus: it is read out, and the section the button was in (held
      // while focus was inside it) shows what the action changed from the next update on.
      var said = document.getElementById('notice');
      if (said && form.contains(document.activeElement)) said.focus();
    }
  });

  document.addEventListener('click', function (e) {
    if (e.target && e.target.id === 'sign-out') signOut();
  });

  var message = sessionStorage.getItem(KEY + '.message');
  if (message) {
    sessionStorage.removeItem(KEY + '.message');
    signInError(message);
  }
  if (app && app.dataset.view === 'sign-in') {
    var stored = sessionStorage.getItem(KEY);
    if (stored) {
      signIn(stored).catch(function (err) {
        sessionStorage.removeItem(KEY);
        signInError(err.message);
      });
    } else {
      var input = document.getElementById('token');
      if (input) input.focus();
    }
  }
})();
`;

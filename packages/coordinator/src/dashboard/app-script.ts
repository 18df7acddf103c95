// The dashboard's browser script (served at /dashboard/app.js): plain ES2017, no build step.
// It logs in by connecting to the operator socket.io namespace with the token, renders the
// snapshot and applies pushed updates; promote and roll back call the admin HTTP API.

export const DASHBOARD_JS = String.raw`(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var state = { token: '', versions: {}, rounds: [], serving: null, audit: [], progress: null };
  var socket = null;
  var charts = {};

  function text(el, v) { el.textContent = v === undefined || v === null ? '-' : String(v); }
  function fix(x) { return typeof x === 'number' ? x.toFixed(4) : '-'; }
  function el(tag, content, cls) { var e = document.createElement(tag); if (content !== undefined) e.textContent = content; if (cls) e.className = cls; return e; }

  function login(token) {
    if (socket) socket.close();
    state.token = token;
    $('login-error').textContent = '';
    socket = io('/operator', { auth: { token: token }, transports: ['websocket'], reconnectionDelayMax: 5000 });
    socket.on('connect', function () { $('conn').textContent = 'live'; $('conn').className = 'pill live'; });
    socket.on('disconnect', function () { $('conn').textContent = 'offline'; $('conn').className = 'pill'; });
    socket.on('connect_error', function (e) {
      var msg = (e && e.data && e.data.message) || (e && e.message) || 'connection failed';
      if (e && e.data && e.data.code === 'UNAUTHORIZED') { socket.close(); sessionStorage.removeItem('flock-operator-token'); showLogin(); }
      $('login-error').textContent = msg;
    });
    socket.on('snapshot', function (s) {
      sessionStorage.setItem('flock-operator-token', token);
      $('login-view').hidden = true;
      $('main-view').hidden = false;
      text($('federation'), s.status.federationId);
      state.versions = {};
      s.versions.forEach(function (v) { state.versions[v.version] = v; });
      state.rounds = s.rounds;
      state.serving = s.serving;
      state.audit = s.audit;
      renderProgress(s.progress);
      renderRounds();
      renderVersions();
      renderAudit();
    });
    socket.on('progress', renderProgress);
    socket.on('round', function (r) { state.rounds.push(r); if (state.rounds.length > 100) state.rounds.shift(); renderRounds(); });
    socket.on('version', function (v) { state.versions[v.version] = v; renderVersions(); });
    socket.on('serving', function (s) { state.serving = s; renderVersions(); });
    socket.on('audit', function (e) { state.audit.unshift(e); if (state.audit.length > 50) state.audit.pop(); renderAudit(); });
  }

  function showLogin() { $('main-view').hidden = true; $('login-view').hidden = false; }

  function renderProgress(p) {
    state.progress = p;
    var a = p.activeRound;
    var last = state.rounds[state.rounds.length - 1];
    if (a) {
      text($('round-number'), a.round);
      text($('round-kind'), a.kind);
      text($('round-stage'), a.stage || 'collecting');
      text($('round-selected'), a.selected);
      text($('round-reported'), a.reported);
      text($('round-dropped'), a.dropped || 0);
      $('round-bar').style.width = (a.selected ? Math.round(100 * a.reported / a.selected) : 0) + '%';
    } else if (last) {
      text($('round-number'), last.round);
      text($('round-kind'), last.kind);
      text($('round-stage'), last.status);
      text($('round-selected'), last.selected.length);
      text($('round-reported'), last.reporters.length);
      text($('round-dropped'), last.selected.length - last.reporters.length);
      $('round-bar').style.width = (last.selected.length ? Math.round(100 * last.reporters.length / last.selected.length) : 0) + '%';
    }
    text($('clients-online'), p.clients);
    text($('rounds-committed'), p.trainRoundsCommitted);
    var pr = p.privacy;
    text($('privacy'), pr ? 'epsilon spent ' + fix(pr.epsilon) + (pr.delta ? ' at delta ' + pr.delta : '') + (pr.maxClientEpsilon !== undefined ? '; max per client ' + fix(pr.maxClientEpsilon) : '') : 'no differential privacy');
  }

  function renderRounds() {
    var body = $('rounds');
    body.textContent = '';
    state.rounds.slice(-20).reverse().forEach(function (r) {
      var tr = el('tr');
      [r.round, r.kind, r.status, r.selected.length + ' / ' + r.reporters.length + ' / ' + (r.selected.length - r.reporters.length), r.seconds.toFixed(1)].forEach(function (v) { tr.appendChild(el('td', String(v))); });
      body.appendChild(tr);
    });
    if (state.progress) renderProgress(state.progress);
  }

  var SERIES = [
    ['acc-chart', [['train_accuracy', '#2a6df4'], ['eval_accuracy', '#1a7f37'], ['server_accuracy', '#d97706']]],
    ['loss-chart', [['train_loss', '#2a6df4'], ['eval_loss', '#1a7f37'], ['server_loss', '#d97706']]],
  ];

  function renderCharts(list) {
    var xs = list.map(function (v) { return v.version; });
    SERIES.forEach(function (spec) {
      var id = spec[0];
      var data = [xs].concat(spec[1].map(function (s) { return list.map(function (v) { var m = v.metrics[s[0]]; return typeof m === 'number' ? m : null; }); }));
      var width = Math.max(300, $(id).clientWidth || 600);
      if (!charts[id]) {
        charts[id] = new uPlot({
          width: width, height: 220,
          scales: { x: { time: false } },
          axes: [{ label: 'model version', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, {}],
          series: [{ label: 'version' }].concat(spec[1].map(function (s) { return { label: s[0], stroke: s[1], width: 2, spanGaps: true, points: { show: true } }; })),
        }, data, $(id));
      } else charts[id].setData(data);
    });
  }

  function renderVersions() {
    var s = state.serving;
    if (s) { text($('serving-version'), s.serving); text($('latest-version'), s.latest); text($('serving-policy'), s.policy); $('rollback').disabled = s.rollbackStack.length === 0; }
    var list = Object.keys(state.versions).map(function (k) { return state.versions[k]; }).sort(function (a, b) { return a.version - b.version; });
    var body = $('versions');
    body.textContent = '';
    list.slice().reverse().forEach(function (v) {
      var tr = el('tr', undefined, s && s.serving === v.version ? 'serving' : '');
      tr.setAttribute('data-version', String(v.version));
      var m = v.metrics;
      var shown = ['server_accuracy', 'eval_accuracy', 'train_accuracy', 'train_loss', 'epsilon'].filter(function (k) { return typeof m[k] === 'number'; }).map(function (k) { return k + ' ' + fix(m[k]); }).join(', ');
      [v.version, v.round, shown || '-', new Date(v.createdAt).toLocaleTimeString()].forEach(function (x) { tr.appendChild(el('td', String(x))); });
      var td = el('td');
      if (!s || s.serving !== v.version) {
        var b = el('button', 'Promote', 'secondary');
        b.type = 'button';
        b.addEventListener('click', function () { admin('/v1/admin/serving/promote', { version: v.version }); });
        td.appendChild(b);
      } else td.textContent = 'serving';
      tr.appendChild(td);
      body.appendChild(tr);
    });
    renderCharts(list);
  }

  function renderAudit() {
    var ul = $('audit');
    ul.textContent = '';
    state.audit.forEach(function (e) {
      ul.appendChild(el('li', (e.time || '').slice(11, 19) + ' ' + e.action + ' ' + e.actor + ' ' + e.outcome + (e.version !== undefined ? ' v' + e.version : '')));
    });
  }

  function admin(path, body) {
    $('action-error').textContent = '';
    return fetch(path, { method: 'POST', headers: { authorization: 'Bearer ' + state.token, 'content-type': 'application/json' }, body: JSON.stringify(body || {}) })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (r) {
        if (!r.ok) $('action-error').textContent = r.j.error.code + ': ' + r.j.error.message;
        else { state.serving = r.j.serving; renderVersions(); }
      })
      .catch(function (e) { $('action-error').textContent = String(e); });
  }

  $('login-form').addEventListener('submit', function (ev) { ev.preventDefault(); login($('token').value.trim()); });
  $('rollback').addEventListener('click', function () { admin('/v1/admin/serving/rollback', { reason: 'rolled back from the dashboard' }); });
  var saved = sessionStorage.getItem('flock-operator-token');
  if (saved) login(saved);
})();
`;

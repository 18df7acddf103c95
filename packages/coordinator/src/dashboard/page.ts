// The dashboard page (served at /dashboard). Scripts and styles are separate files under
// /dashboard/ so the Content-Security-Policy can forbid inline scripts.

export const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flock dashboard</title>
<link rel="stylesheet" href="/dashboard/uplot.css">
<link rel="stylesheet" href="/dashboard/dashboard.css">
</head>
<body>
<header><h1>Flock</h1><span id="federation"></span><span id="conn" class="pill">offline</span></header>
<section id="login-view" class="card narrow">
  <h2>Operator login</h2>
  <p>Paste the operator token (<code>flock-data/operator-token</code>).</p>
  <form id="login-form"><input id="token" type="password" autocomplete="off" placeholder="operator token" aria-label="operator token"><button id="login" type="submit">Log in</button></form>
  <p id="login-error" class="error" role="alert"></p>
</section>
<main id="main-view" hidden>
  <section class="card" id="progress-card">
    <h2>Round <span id="round-number">-</span> <span id="round-kind" class="muted"></span></h2>
    <div class="bar"><div id="round-bar"></div></div>
    <p><span id="round-stage">idle</span> &middot; selected <b id="round-selected">0</b> &middot; reported <b id="round-reported">0</b> &middot; dropped <b id="round-dropped">0</b></p>
    <p>clients online <b id="clients-online">0</b> &middot; training rounds committed <b id="rounds-committed">0</b></p>
  </section>
  <section class="card" id="privacy-card">
    <h2>Privacy budget</h2>
    <p id="privacy">no differential privacy</p>
  </section>
  <section class="card wide">
    <h2>Accuracy per version</h2><div id="acc-chart"></div>
  </section>
  <section class="card wide">
    <h2>Loss per version</h2><div id="loss-chart"></div>
  </section>
  <section class="card wide">
    <h2>Model versions</h2>
    <p>serving <b id="serving-version">-</b> &middot; latest <b id="latest-version">-</b> &middot; policy <b id="serving-policy">-</b> <button id="rollback" type="button">Roll back</button></p>
    <p id="action-error" class="error" role="alert"></p>
    <table><thead><tr><th>version</th><th>round</th><th>metrics</th><th>created</th><th></th></tr></thead><tbody id="versions"></tbody></table>
  </section>
  <section class="card wide">
    <h2>Recent rounds</h2>
    <table><thead><tr><th>round</th><th>kind</th><th>status</th><th>selected / reported / dropped</th><th>seconds</th></tr></thead><tbody id="rounds"></tbody></table>
  </section>
  <section class="card wide">
    <h2>Audit events</h2><ul id="audit"></ul>
  </section>
</main>
<script src="/dashboard/socket.io.js"></script>
<script src="/dashboard/uplot.js"></script>
<script src="/dashboard/app.js"></script>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #667; --accent: #2a6df4; --ok: #1a7f37; --bad: #c62828; --card: #fff; --bg: #f3f5f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 12px; align-items: center; padding: 10px 20px; background: #14213d; color: #fff; }
header h1 { margin: 0; font-size: 20px; }
.pill { margin-left: auto; padding: 2px 10px; border-radius: 10px; background: #555; font-size: 12px; }
.pill.live { background: var(--ok); }
main { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; padding: 14px 20px; }
.card { background: var(--card); border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
.card.wide { grid-column: 1 / -1; }
.card.narrow { max-width: 420px; margin: 40px auto; }
h2 { margin: 0 0 8px; font-size: 15px; }
.muted { color: var(--muted); font-weight: normal; }
.bar { height: 14px; background: #e3e7ee; border-radius: 7px; overflow: hidden; }
#round-bar { height: 100%; width: 0; background: var(--accent); transition: width .3s; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eceff3; font-variant-numeric: tabular-nums; }
tr.serving { background: #e8f0fe; font-weight: 600; }
button { padding: 4px 10px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
input { padding: 6px; width: 70%; }
.error { color: var(--bad); min-height: 1em; }
#audit { list-style: none; padding: 0; margin: 0; max-height: 240px; overflow: auto; font-family: ui-monospace, monospace; font-size: 12px; }
#audit li { padding: 2px 0; border-bottom: 1px solid #f0f0f0; }
`;

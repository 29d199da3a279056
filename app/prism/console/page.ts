// The console's page and its style sheet. They live here, as strings, so
// that they are part of the app wherever it runs (from source or compiled);
// the scripts are the plain JS modules in ./assets. No inline script or
// style: the Content-Security-Policy allows the prism's own files only.

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OOSE console</title>
<link rel="stylesheet" href="/console/console.css">
<script type="module" src="/console/main.mjs"></script>
</head>
<body>
<header>
  <h1>OOSE console</h1>
  <nav id="tabs" hidden>
    <button type="button" data-view="content">Content</button>
    <button type="button" data-view="cluster" id="cluster-tab" hidden>Cluster</button>
  </nav>
  <span id="who"></span>
  <button type="button" id="logout" hidden>Log out</button>
</header>
<main>
  <form id="login">
    <h2>Log in</h2>
    <label>User <input name="username" autocomplete="username" required></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
    <button type="submit">Log in</button>
    <p class="error" id="login-error"></p>
  </form>

  <section id="content" hidden>
    <h2>Your files</h2>
    <div class="upload">
      <input type="file" id="file">
      <button type="button" id="upload">Upload</button>
      <progress id="progress" max="100" value="0" hidden></progress>
      <span id="upload-status"></span>
    </div>
    <table id="files">
      <thead><tr><th>File</th><th>Size</th><th>Type</th><th>Uploaded</th><th>Copies</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="files-more"></p>
    <div id="purchase" hidden>
      <h3>Delivery URL</h3>
      <input id="purchase-url" readonly>
      <button type="button" id="copy-url">Copy</button>
      <span id="purchase-note"></span>
    </div>
  </section>

  <section id="cluster" hidden>
    <h2>Cluster <small id="cluster-at"></small></h2>
    <div id="cluster-body"></div>
  </section>
  <p class="error" id="error"></p>
</main>
</body>
</html>
`;

export const CONSOLE_CSS = `
[hidden] { display: none !important; }
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f5f6f8; }
body { margin: 0; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0 1rem 0 0; }
header button { background: #38405a; color: #fff; border: 0; padding: .35rem .8rem; border-radius: 3px; cursor: pointer; }
header button.active { background: #5b8def; }
#who { margin-left: auto; opacity: .8; }
main { padding: 1rem; max-width: 72rem; }
form#login { display: grid; gap: .6rem; max-width: 20rem; }
label { display: grid; gap: .2rem; }
input, button { font: inherit; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; background: #fff; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e2e5ea; font-size: .9rem; }
th { background: #eceef2; }
td.hash { font-family: ui-monospace, monospace; font-size: .8rem; }
.up { color: #11803c; font-weight: 600; }
.down { color: #c0262d; font-weight: 600; }
.warn { color: #a96500; }
.error { color: #c0262d; min-height: 1.2em; }
.upload { display: flex; gap: .6rem; align-items: center; margin: .5rem 0; }
progress { width: 14rem; }
#purchase { background: #fff; padding: .6rem; border: 1px solid #e2e5ea; }
#purchase-url { width: 40rem; max-width: 100%; font-family: ui-monospace, monospace; }
progress.disk { width: 6rem; }
h3 { margin: 1.2rem 0 .3rem; font-size: 1rem; }
`;

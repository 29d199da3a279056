import { ApiError, isAdmin, post, upload } from "./api.mjs";
import { byId, bytes, h, when } from "./dom.mjs";

// The content view: the user's files (POST /content/list), upload with
// progress, copy counts, purchases with their delivery URL, and delete.

const PAGE = 100;
/** Files uploaded from this tab, by hash: shown (with their name) even before the list has them. */
const recent = new Map();
let shown = PAGE;
let more = false;

/** The user's files, page after page until `shown`; null when this prism has no list route. */
async function listed() {
  const files = [];
  let cursor;
  try {
    do {
      const page = await post("/content/list", { limit: PAGE, ...(cursor ? { cursor } : {}) });
      files.push(...page.files);
      cursor = page.next;
    } while (cursor && files.length < shown);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === "NOT_FOUND") return null;
    throw err;
  }
  more = Boolean(cursor);
  return files;
}

const copyCount = (c) => (Array.isArray(c) ? c.length : c);

/** Live copy counts of files the list did not give, in one lookup. */
async function counts(hashes) {
  if (hashes.length === 0) return new Map();
  const reply = await post("/content/detail", { hash: hashes });
  return new Map(hashes.map((hash) => [hash, reply[hash]?.count ?? 0]));
}

async function purchase(f) {
  const note = byId("purchase-note");
  try {
    const p = await post("/content/purchase", { hash: f.hash, ext: f.ext });
    const name = f.name ?? `${f.hash}.${f.ext}`;
    byId("purchase-url").value = `${location.origin}/${p.token}/${encodeURIComponent(name)}`;
    note.textContent = `valid until ${when(new Date(Number(p.expirationDate)).toISOString())}`;
    byId("purchase").hidden = false;
  } catch (err) {
    note.textContent = err.message;
  }
}

function deleteButton(f, refresh) {
  const b = h("button", { type: "button", class: "delete" }, "Delete");
  b.onclick = async () => {
    // A second click confirms: no dialog to block the page. An admin's delete takes the content down everywhere.
    if (b.dataset.armed !== "yes") {
      b.dataset.armed = "yes";
      b.textContent = isAdmin() ? "Take down every copy?" : "Really delete?";
      return;
    }
    b.disabled = true;
    try {
      const r = await post("/content/delete", { hash: f.hash });
      byId("upload-status").textContent = r.deleted
        ? `Deleted ${f.hash}: ${r.removed.length} copies removed.`
        : `No longer yours: ${r.owners} other owner(s) keep ${f.hash}.`;
      recent.delete(f.hash);
      await refresh();
    } catch (err) {
      byId("error").textContent = err.message;
      b.disabled = false;
    }
  };
  return b;
}

function row(f, refresh) {
  const buy = h("button", { type: "button", class: "buy" }, "Delivery URL");
  buy.onclick = () => purchase(f);
  const copies = copyCount(f.copies);
  return h(
    "tr",
    { "data-hash": f.hash },
    h("td", {}, f.name ?? "", h("div", { class: "hash" }, `${f.hash}.${f.ext}`)),
    h("td", {}, bytes(f.size)),
    h("td", {}, f.mimeType ?? "-"),
    h("td", {}, when(f.uploadedAt)),
    h("td", { class: "copies", "data-copies": String(copies) }, String(copies)),
    h("td", {}, buy, " ", deleteButton(f, refresh)),
  );
}

/** Reads the files again and redraws the table. */
export async function refreshContent() {
  const list = await listed();
  const byHash = new Map((list ?? []).map((f) => [f.hash, f]));
  const missing = [...recent.keys()].filter((hash) => !byHash.has(hash));
  const live = await counts(missing);
  const files = [
    ...[...recent.values()].filter((f) => !byHash.has(f.hash)).map((f) => ({ ...f, copies: live.get(f.hash) })),
    ...(list ?? []).map((f) => ({ ...f, name: recent.get(f.hash)?.name })),
  ];
  byId("files").tBodies[0].replaceChildren(...files.map((f) => row(f, refreshContent)));
  const foot = byId("files-more");
  foot.replaceChildren();
  if (list === null) foot.append("Only the files uploaded from this page are listed: this prism lists no files.");
  else if (more) {
    const b = h("button", { type: "button" }, "Show more");
    b.onclick = () => {
      shown += PAGE;
      refreshContent().catch((err) => (byId("error").textContent = err.message));
    };
    foot.append(b);
  }
}

async function send() {
  const file = byId("file").files[0];
  const status = byId("upload-status");
  if (!file) {
    status.textContent = "Choose a file first.";
    return;
  }
  const bar = byId("progress");
  bar.hidden = false;
  bar.value = 0;
  status.textContent = `Uploading ${file.name}…`;
  try {
    const reply = await upload(file, (f) => (bar.value = Math.round(f * 100)));
    bar.value = 100;
    for (const f of Object.values(reply.files)) {
      recent.set(f.hash, {
        ...{ hash: f.hash, ext: f.ext, size: f.size, mimeType: f.mimetype, name: f.name ?? file.name },
        ...{ uploadedAt: new Date().toISOString(), copies: f.copies },
      });
      status.textContent = `Uploaded ${f.name ?? file.name}: ${f.copies.length} copies.`;
    }
    await refreshContent();
  } catch (err) {
    status.textContent = `Upload failed: ${err.message}`;
  }
}

export function setupContent() {
  byId("upload").onclick = () => void send();
  byId("copy-url").onclick = async () => {
    const input = byId("purchase-url");
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      byId("purchase-note").textContent = "Copied.";
    } catch {
      byId("purchase-note").textContent = "Selected: copy it with Ctrl+C.";
    }
  };
}

import { ApiError, get, isAdmin, login, logout, session } from "./api.mjs";
import { renderCluster } from "./cluster.mjs";
import { refreshContent, setupContent } from "./content.mjs";
import { byId } from "./dom.mjs";

// The console's start: log in, pick a view, and keep the view fresh by
// polling its JSON (no reload).

const POLL_MS = { content: 4000, cluster: 2000 };
let view = "content";
let timer;

async function refreshCluster() {
  const s = await get("/console/api/cluster");
  byId("cluster-at").textContent = `as ${s.seenBy} sees it at ${new Date(s.at).toLocaleTimeString()}`;
  byId("cluster-body").replaceChildren(...renderCluster(s));
}

async function poll() {
  clearTimeout(timer);
  try {
    await (view === "cluster" ? refreshCluster() : refreshContent());
    byId("error").textContent = "";
  } catch (err) {
    byId("error").textContent = err.message;
    if (err instanceof ApiError && err.status === 401) return void show();
  }
  timer = setTimeout(poll, POLL_MS[view]);
}

function choose(next) {
  view = next;
  for (const b of byId("tabs").querySelectorAll("button")) b.classList.toggle("active", b.dataset.view === view);
  byId("content").hidden = view !== "content";
  byId("cluster").hidden = view !== "cluster";
  void poll();
}

/** The login form, or the views for the session held. */
function show() {
  const s = session();
  byId("login").hidden = Boolean(s);
  byId("tabs").hidden = !s;
  byId("logout").hidden = !s;
  byId("who").textContent = s ? s.name : "";
  if (!s) {
    clearTimeout(timer);
    byId("content").hidden = true;
    byId("cluster").hidden = true;
    return;
  }
  byId("cluster-tab").hidden = !isAdmin();
  choose(isAdmin() ? "cluster" : "content");
}

byId("login").onsubmit = async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  byId("login-error").textContent = "";
  try {
    await login(String(form.get("username")), String(form.get("password")));
    e.target.reset();
    show();
  } catch (err) {
    byId("login-error").textContent = err.message;
  }
};
byId("logout").onclick = async () => {
  await logout().catch(() => undefined);
  show();
};
for (const b of byId("tabs").querySelectorAll("button")) b.onclick = () => choose(b.dataset.view);
setupContent();
show();

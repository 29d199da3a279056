// The prism's JSON API as the console calls it, with the session token in
// X-OOSE-Token like any other client.
//
// The token is kept in sessionStorage, not a cookie: the API reads the token
// from a header, so a cookie would need every route to accept it and then
// guard against cross-site requests that a header needs no guard against.
// sessionStorage is this tab's alone and gone when it closes; the page's CSP
// runs no script but the prism's own, which is what could read it.

const KEY = "oose-console-session";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? "";
  }
}

/** The stored session: {token, name, roles}, or null. */
export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? "null");
  } catch {
    return null;
  }
}

/** As the prism judges it (ADMIN_ROLES in app/core/purchase.ts): the cluster view answers admins only. */
export const isAdmin = () => session()?.roles.some((r) => r === "admin" || r === "_admin") ?? false;

function forget() {
  sessionStorage.removeItem(KEY);
}

async function json(res) {
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    if (res.status === 401) forget();
    throw new ApiError(res.status, body);
  }
  return body;
}

function headers() {
  const s = session();
  return { "content-type": "application/json", ...(s ? { "x-oose-token": s.token } : {}) };
}

/** POST `path` with a JSON body. */
export async function post(path, body = {}) {
  return json(await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body) }));
}

export async function get(path) {
  return json(await fetch(path, { headers: headers() }));
}

export async function login(username, password) {
  const reply = await post("/user/login", { username, password });
  const ctx = reply.session.data.userCtx;
  const s = { token: reply.session.token, name: ctx.name, roles: ctx.roles };
  sessionStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

export async function logout() {
  try {
    await post("/user/logout");
  } finally {
    forget();
  }
}

/** Uploads one file (multipart), telling `onProgress` the fraction sent; resolves with the upload reply. */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/content/upload");
    const s = session();
    if (s) xhr.setRequestHeader("x-oose-token", s.token);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status === 200) resolve(xhr.response);
      else {
        if (xhr.status === 401) forget();
        reject(new ApiError(xhr.status, xhr.response));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, { error: "Upload failed: the prism did not answer" }));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

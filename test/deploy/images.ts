import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { nodeLts } from "../../scripts/node-lts.mjs";
import { exists, podman } from "./podman.js";

// The images a replayed deployment runs, built on this machine: a Debian base
// from debootstrap (nothing can be pulled), a Node base from the registry's
// Node LTS, the app by the project's own Dockerfile, Redis and nginx from Debian's
// packages, and the CouchDB stand-in. Each is tagged by a hash of its inputs,
// so it is rebuilt only when they change; older tags of the same kind go.

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HERE = path.join(ROOT, "test/deploy/images");
const STANDIN = path.join(ROOT, "infra/couchdb-standin");
export const BASE = "localhost/debian:bookworm";
const BUILD_TIMEOUT_MS = 15 * 60_000;

export type ImageKind = "app" | "redis" | "nginx" | "couchdb";
export type ImageSet = Record<ImageKind, string>;

const hashOf = (parts: (string | Buffer)[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex").slice(0, 16);
};

/** Every file under `dir`, sorted, as path and content. */
function tree(dir: string, rel = ""): (string | Buffer)[] {
  const st = statSync(path.join(dir, rel));
  if (!st.isDirectory()) return [rel, readFileSync(path.join(dir, rel))];
  return readdirSync(path.join(dir, rel))
    .sort()
    .flatMap((n) => tree(dir, path.join(rel, n)));
}

/** What the app image's build sees: the paths `.dockerignore` lets through. */
function appInputs(): (string | Buffer)[] {
  const allowed = readFileSync(path.join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .filter((l) => l.startsWith("!"))
    .map((l) => l.slice(1).trim());
  return [readFileSync(path.join(ROOT, "Dockerfile")), ...allowed.sort().flatMap((p) => tree(ROOT, p))];
}

async function imageId(ref: string): Promise<string> {
  return (await podman(["image", "inspect", "--format", "{{.Id}}", ref])).stdout.trim();
}

type Say = (line: string) => void;

async function build(
  kind: string,
  o: { dockerfile: string; context: string; args: Record<string, string>; inputs: (string | Buffer)[]; say: Say },
): Promise<string> {
  const tag = `localhost/oose-${kind}:${hashOf([readFileSync(o.dockerfile), JSON.stringify(o.args), ...o.inputs])}`;
  if (await exists("image", tag)) {
    o.say(`image ${kind}: cached ${tag}`);
    return tag;
  }
  o.say(`image ${kind}: building ${tag}`);
  const started = Date.now();
  const buildArgs = Object.entries(o.args).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);
  const logFile = path.join(os.tmpdir(), `oose-image-${kind}.log`);
  // docker format keeps HEALTHCHECK and STOPSIGNAL, as a Docker engine would.
  const r = await podman(["build", "--format", "docker", "-f", o.dockerfile, ...buildArgs, "-t", tag, o.context], {
    timeoutMs: BUILD_TIMEOUT_MS,
    reject: false,
  });
  writeFileSync(logFile, `${r.stdout}\n${r.stderr}`);
  if (r.exitCode !== 0) throw new Error(`image ${kind}: build failed (log: ${logFile})\n${r.stderr.slice(-3000)}`);
  o.say(`image ${kind}: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const old = (await podman(["images", "--format", "{{.Repository}}:{{.Tag}}", `localhost/oose-${kind}`])).stdout
    .split("\n")
    .filter((t) => t && t !== tag);
  if (old.length) await podman(["rmi", "--force", ...old], { reject: false });
  return tag;
}

async function ensureBase(say: Say): Promise<void> {
  if (await exists("image", BASE)) return;
  say(`image ${BASE}: debootstrap (about 30 s)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-rootfs-"));
  try {
    await execa("debootstrap", ["--variant=minbase", "bookworm", path.join(dir, "rootfs")], {
      timeout: BUILD_TIMEOUT_MS,
    });
    const tar = execa("tar", ["-C", path.join(dir, "rootfs"), "-c", "."], { buffer: false });
    await Promise.all([execa("podman", ["import", "-", BASE], { stdin: tar.stdout!, timeout: BUILD_TIMEOUT_MS }), tar]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The Node LTS (from the npm registry) and this machine's npm on the Debian base, with the CA bundle builds need. */
async function nodeBase(say: Say): Promise<string> {
  const node = nodeLts();
  const npm = path.join(path.dirname(path.dirname(process.execPath)), "lib/node_modules/npm");
  const ca = "/etc/ssl/certs/ca-certificates.crt";
  const context = mkdtempSync(path.join(os.tmpdir(), "oose-node-"));
  try {
    const inputs = [
      await imageId(BASE),
      readFileSync(node),
      readFileSync(path.join(npm, "package.json")),
      readFileSync(ca),
    ];
    cpSync(node, path.join(context, "node"));
    cpSync(npm, path.join(context, "npm"), { recursive: true });
    cpSync(ca, path.join(context, "ca-certificates.crt"));
    return await build("node", {
      dockerfile: path.join(HERE, "node.Dockerfile"),
      context,
      args: { BASE },
      inputs,
      say,
    });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

export async function buildImages(say: Say = (l) => process.stdout.write(`${l}\n`)): Promise<ImageSet> {
  await ensureBase(say);
  const base = await imageId(BASE);
  const nodeImage = await nodeBase(say);
  const fromDebian = (kind: "redis" | "nginx") =>
    build(kind, {
      dockerfile: path.join(HERE, `${kind}.Dockerfile`),
      context: HERE,
      args: { BASE },
      inputs: [base, ...(kind === "redis" ? [readFileSync(path.join(HERE, "redis-entrypoint.sh"))] : [])],
      say,
    });
  const redis = await fromDebian("redis");
  const nginx = await fromDebian("nginx");
  const couchdb = await build("couchdb", {
    dockerfile: path.join(STANDIN, "Dockerfile"),
    context: STANDIN,
    args: { NODE_IMAGE: nodeImage },
    inputs: tree(STANDIN),
    say,
  });
  const app = await build("app", {
    dockerfile: path.join(ROOT, "Dockerfile"),
    context: ROOT,
    args: { NODE_IMAGE: nodeImage },
    inputs: appInputs(),
    say,
  });
  return { app, redis, nginx, couchdb };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const set = await buildImages();
  process.stdout.write(`${JSON.stringify(set, null, 2)}\n`);
}

import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import test from "ava";
import { execa } from "execa";
import { request } from "undici";
import { ensureClientBuilt } from "../../scripts/build.mjs";
import { useCluster } from "../helpers/cluster.js";

// The built package, as an application gets it: built first when a source is
// newer (under the build's lock: other test files build it too), loaded
// through its package.json `exports`, and used against a cluster whose
// sessions last 3 s, trusting the cluster CA through its own option. Its
// output must load nothing but Node's modules and its declared dependencies.

type Client = typeof import("../../packages/client/src/index.js");

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const PKG_DIR = path.join(ROOT, "packages/client");
const LIFE_MS = 3000;

const cluster = useCluster(test, {
  extraEnv: (node): Record<string, string> => (node.role === "prism" ? { OOSE_SESSION__LIFE: String(LIFE_MS) } : {}),
});

let pkg: { dependencies: Record<string, string>; exports: { ".": { import: string; types: string } } };
let built: Client;

test.serial.before(async () => {
  ensureClientBuilt();
  pkg = JSON.parse(readFileSync(path.join(PKG_DIR, "package.json"), "utf8"));
  built = await import(pathToFileURL(path.join(PKG_DIR, pkg.exports["."].import)).href);
});

const specifiers = (code: string) =>
  [
    ...code.matchAll(/(?:^|\s)(?:import|export)\b[^"';]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm),
  ].map((m) => m[1] ?? m[2]!);

test("the JavaScript and the declarations import only Node's modules and the declared dependencies", (t) => {
  const declared = new Set(Object.keys(pkg.dependencies));
  for (const file of [pkg.exports["."].import, pkg.exports["."].types]) {
    const found = specifiers(readFileSync(path.join(PKG_DIR, file), "utf8"));
    t.true(found.length > 0, `${file} was read`);
    t.deepEqual(
      found.filter((s) => !s.startsWith("node:") && !declared.has(s)),
      [],
      file,
    );
  }
  const types = readFileSync(path.join(PKG_DIR, pkg.exports["."].types), "utf8");
  t.regex(types, /interface TObject/, "the contracts' schema types are inlined");
  t.regex(types, /declare class PrismClient/);
});

test("the declarations type an application's code on their own, and refuse misuse", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-client-app-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const entry = path.join(PKG_DIR, pkg.exports["."].import);
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(
    path.join(dir, "app.ts"),
    `import { PrismClient, type UploadReply } from ${JSON.stringify(entry)};
const prism = new PrismClient({ baseUrl: "https://prism.example" });
const name: string = (await prism.login("a", "b")).data.userCtx.name;
const reply: UploadReply = await prism.upload([{ path: "/etc/hosts" }], { onProgress: (p) => p.sent });
const size: number = reply.files.file!.size;
const exists: boolean = (await prism.detail(["h"])).h!.exists;
const expires: string = (await prism.purchase({ hash: "h", ext: "txt", life: 60_000 })).expirationDate;
// @ts-expect-error life is a number of ms
await prism.purchase({ hash: "h", ext: "txt", life: "1h" });
// @ts-expect-error a purchase record's values are strings
const wrong: number = (await prism.purchaseFind("t")).life;
export { name, size, exists, expires, wrong };
`,
  );
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ["node"],
      typeRoots: [path.join(ROOT, "node_modules/@types")],
    },
    files: ["app.ts"],
  };
  writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
  const run = await execa(path.join(ROOT, "node_modules/.bin/tsc"), ["-p", dir], { reject: false });
  t.is(run.exitCode, 0, run.stdout);
});

const options = () => {
  const { prisms, ca } = cluster().info;
  return { baseUrl: prisms[0]!.url, ca: ca ? readFileSync(ca, "utf8") : undefined };
};

test.serial("a session renewed in the background outlives its life; one left alone expires", async (t) => {
  const { admin } = cluster().info;
  const kept = new built.PrismClient({
    ...options(),
    session: { lifeMs: LIFE_MS, renewBeforeMs: 1500, autoRenew: true },
  });
  const left = new built.PrismClient({ ...options(), session: { lifeMs: LIFE_MS } });
  const asked = new built.PrismClient({ ...options(), session: { lifeMs: LIFE_MS } });
  t.teardown(() => Promise.all([kept.close(), left.close(), asked.close()]));
  await Promise.all([kept, left, asked].map((c) => c.login(admin.username, admin.password)));
  const firstExpiry = kept.expiresAt!;
  await sleep(LIFE_MS / 2 + 500);
  await asked.renew();
  await sleep(LIFE_MS / 2 + 1000);
  t.like(await kept.validate(), { success: "Session valid" });
  t.true(kept.expiresAt! > firstExpiry, "renewed");
  t.like(await asked.validate(), { success: "Session valid" }, "renewed when asked");
  const expired = await t.throwsAsync(left.validate());
  t.true(expired instanceof built.UnauthorizedError);
  t.like(expired, { status: 401, code: "UNAUTHORIZED" });
});

test.serial("upload with progress, purchase, delivery URL and a streamed download", async (t) => {
  const { admin, stores } = cluster().info;
  const client = new built.PrismClient(options());
  t.teardown(() => client.close());
  await client.login(admin.username, admin.password);
  const data = randomBytes(256 * 1024);
  let last: { sent: number; total?: number } | undefined;
  const reply = await client.upload([{ name: "app.bin", data }], { onProgress: (p) => (last = p) });
  const hash = reply.files.file!.hash;
  t.is(hash, createHash("sha1").update(data).digest("hex"));
  t.is(last?.sent, last?.total);

  const { token } = await client.purchase({ hash, ext: "bin", referrer: [] });
  const location = await client.locate(client.deliveryUrl(token, "app.bin"));
  t.true(
    stores.some((s) => location.startsWith(`${s.public}/`)),
    location,
  );
  t.is((await request(location)).statusCode, 200);

  const chunks: Buffer[] = [];
  for await (const chunk of await client.download(hash)) chunks.push(chunk as Buffer);
  t.true(Buffer.concat(chunks).equals(data));
});

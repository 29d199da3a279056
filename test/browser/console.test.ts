import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import test from "ava";
import nano from "nano";
import { type Browser, chromium, type Page } from "playwright-core";
import { request } from "undici";
import { useCluster } from "../helpers/cluster.js";
import { ensureStoreUp, FAST_HEARTBEAT, killStore, sha1, storeOfUrl } from "../helpers/fault.js";

// The web console in a real browser (Debian's chromium, driven by
// playwright-core) against a whole local cluster: log in through the page,
// see every store live, upload with the page and see the file's copies, buy a
// delivery URL and follow it to the bytes, then kill a store and see the page
// mark it down. Screenshots go under the cluster's log directory.
// Plain HTTP: this browser has no way to trust the test cluster's CA short of
// changing the machine's trust store, and verification is never switched off.

const CHROMIUM = "/usr/bin/chromium";
/** FAST_HEARTBEAT marks a dead store down in about a second; the page polls every 2 s. */
const DOWN_WITHIN_MS = 15_000;
const STEP_MS = 20_000;
const ADMIN = { username: "console-admin", password: randomBytes(12).toString("base64url") };

const cluster = useCluster(test, { http: true, extraEnv: () => ({ ...FAST_HEARTBEAT }) });

let browser: Browser;
let page: Page;
let shots: string;

test.before(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
  const c = cluster();
  shots = path.join(c.logDir, "console-screenshots");
  mkdirSync(shots, { recursive: true });
  // An API user with the admin role, as `oose user add --roles admin` makes one.
  await nano(c.info.couchdb)
    .use("_users")
    .insert({
      _id: `org.couchdb.user:${ADMIN.username}`,
      name: ADMIN.username,
      type: "user",
      roles: ["admin"],
      password: ADMIN.password,
    } as never);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container: no user namespaces for chromium's sandbox, and a small /dev/shm.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
    timeout: STEP_MS,
  });
  page = await browser.newPage();
  page.setDefaultTimeout(STEP_MS);
});

test.after.always(async () => {
  await browser?.close();
});

const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
const storeRow = (name: string) => page.locator(`#cluster tr[data-store="${name}"]`);

test.serial("log in through the page and see every store of the cluster live", async (t) => {
  const c = cluster();
  await page.goto(`${c.info.prisms[0]!.url}/console/`);
  await page.fill('#login input[name="username"]', ADMIN.username);
  await page.fill('#login input[name="password"]', ADMIN.password);
  await page.click('#login button[type="submit"]');
  await page.locator("#cluster").waitFor({ state: "visible" });
  t.false(await page.locator("#login").isVisible());
  for (const s of c.info.stores) await storeRow(s.name).and(page.locator('[data-live="true"]')).waitFor();
  t.is(await page.locator("#cluster tr[data-store]").count(), c.info.stores.length);
  // The token stays out of the URL and out of cookies.
  t.notRegex(page.url(), /token/i);
  t.deepEqual(await page.context().cookies(), []);
  await shot("1-cluster-live");
});

const FILE = { name: "hello.txt", body: Buffer.from(`hello from the console ${randomBytes(8).toString("hex")}\n`) };

test.serial("upload a file through the page and see it with 2 copies", async (t) => {
  await page.click('#tabs button[data-view="content"]');
  await page.setInputFiles("#file", { name: FILE.name, mimeType: "text/plain", buffer: FILE.body });
  await page.click("#upload");
  const row = page.locator(`#files tr[data-hash="${sha1(FILE.body)}"]`);
  await row.locator('td.copies[data-copies="2"]').waitFor();
  t.is(await page.locator("#progress").getAttribute("value"), "100");
  t.regex((await page.textContent("#upload-status")) ?? "", /Uploaded hello\.txt: 2 copies/);
  await shot("2-uploaded");
});

test.serial("create a purchase on the page and fetch its delivery URL: a 302 to a store, then the bytes", async (t) => {
  const c = cluster();
  await page.locator(`#files tr[data-hash="${sha1(FILE.body)}"] button.buy`).click();
  await page.locator("#purchase").waitFor({ state: "visible" });
  const url = await page.inputValue("#purchase-url");
  t.regex(url, new RegExp(`^${c.info.prisms[0]!.url}/[A-Za-z0-9_-]+/hello\\.txt$`));
  await shot("3-purchase");
  const redirect = await request(url, { signal: AbortSignal.timeout(STEP_MS) });
  await redirect.body.dump();
  t.is(redirect.statusCode, 302);
  const location = String(redirect.headers.location);
  t.truthy(storeOfUrl(c, location), location);
  const bytes = await request(location, { signal: AbortSignal.timeout(STEP_MS) });
  t.is(bytes.statusCode, 200);
  t.deepEqual(Buffer.from(await bytes.body.arrayBuffer()), FILE.body);
});

test.serial(
  "delete the file on the page: an admin's delete takes it down, and the list no longer has it",
  async (t) => {
    const row = page.locator(`#files tr[data-hash="${sha1(FILE.body)}"]`);
    await row.locator("button.delete").click();
    t.is(await row.locator("button.delete").textContent(), "Take down every copy?");
    await row.locator("button.delete").click();
    await row.waitFor({ state: "detached" });
    t.regex((await page.textContent("#upload-status")) ?? "", /Deleted [0-9a-f]{40}: 2 copies removed/);
    await shot("4-deleted");
  },
);

test.serial("kill a store: the page marks it down within the heartbeat's time", async (t) => {
  const c = cluster();
  const victim = c.info.stores.at(-1)!.name;
  t.teardown(() => ensureStoreUp(c, victim));
  await page.click('#tabs button[data-view="cluster"]');
  await storeRow(victim).and(page.locator('[data-live="true"]')).waitFor();
  const killed = performance.now();
  await killStore(c, victim);
  await storeRow(victim).and(page.locator('[data-live="false"]')).waitFor({ timeout: DOWN_WITHIN_MS });
  t.log(`${victim} shown down ${Math.round(performance.now() - killed)} ms after the kill`);
  t.regex((await storeRow(victim).locator("td.state").textContent()) ?? "", /down/);
  // The others stay up.
  for (const s of c.info.stores.filter((s) => s.name !== victim))
    t.is(await storeRow(s.name).getAttribute("data-live"), "true", s.name);
  await shot("5-store-down");
});

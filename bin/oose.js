#!/usr/bin/env node
// The `oose` command: the compiled app/cli, in this process (a signal sent to this pid reaches the command
// itself). In a checkout, dist/ is rebuilt first if a source changed; the image ships dist/ alone.
import { existsSync } from "node:fs";

const build = new URL("../scripts/build.mjs", import.meta.url);
if (existsSync(build)) (await import(build.href)).ensureBuilt();
await import(new URL("../dist/app/cli.js", import.meta.url).href);

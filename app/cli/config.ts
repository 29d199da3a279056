import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import vm from "node:vm";
import type { Command } from "commander";
import { envName } from "../config-env.js";
import { defineCommand } from "./common.js";
import { ImportError, type ImportResult, importOoseConfig, isObj, type Obj, type Role } from "./config-import.js";

// `oose config import <config.local.js|json>`: reads an OOSE 2.x config file,
// maps it (config-import.ts) and writes ours, a JSON file for OOSE_CONFIG or
// OOSE_* lines, with a report of what was mapped, dropped and still to set.

/** Reads config.local.js (CommonJS, run in its own context with its own require) or a JSON file. */
export function loadOoseConfigFile(file: string): Obj {
  const abs = path.resolve(file);
  const text = readFileSync(abs, "utf8");
  if (abs.endsWith(".json")) return JSON.parse(text) as Obj;
  const module = { exports: {} as unknown };
  const sandbox = {
    module,
    exports: module.exports,
    require: createRequire(abs),
    __filename: abs,
    __dirname: path.dirname(abs),
    process: { env: { ...process.env }, cwd: () => path.dirname(abs), platform: process.platform },
  };
  vm.runInNewContext(text, sandbox, { filename: abs, timeout: 5000 });
  const exported = isObj(module.exports) ? module.exports : sandbox.exports;
  // A plain-data copy: the context's objects (and any functions) do not leak out.
  const plain = JSON.parse(JSON.stringify(exported ?? {}));
  if (!isObj(plain)) throw new ImportError(`${file} does not export an object`);
  return plain;
}

/** OOSE_* lines for a shell or an env file. */
export function toEnvLines(config: Obj): string[] {
  const walk = (o: Obj, prefix: string): string[] =>
    Object.entries(o).flatMap(([k, v]) => {
      const key = prefix ? `${prefix}.${k}` : k;
      if (isObj(v)) return walk(v, key);
      const value = typeof v === "string" ? v : JSON.stringify(v);
      return [`${envName(key.split("."))}='${value.replaceAll("'", "'\\''")}'`];
    });
  return walk(config, "");
}

export function report(r: ImportResult, file: string): string {
  const lines = [`${file}: imported as ${r.role} ${String(r.config.name)}`, "", "Mapped:"];
  for (const m of r.mapped) lines.push(`  ${m.from} → ${m.to}${m.note ? ` (${m.note})` : ""}`);
  lines.push("", `Dropped (${r.dropped.length}):`);
  for (const d of r.dropped) lines.push(`  ${d.key}: ${d.reason}`);
  if (r.dropped.length === 0) lines.push("  nothing");
  if (r.todo.length) lines.push("", "Still to set:", ...r.todo.map((t) => `  ${t}`));
  return `${lines.join("\n")}\n`;
}

defineCommand((program: Command) => {
  const config = program.command("config").description("Configuration tools");
  config
    .command("import <file>")
    .description(
      "Turn an OOSE 2.x config.local.js (or JSON) into this project's config; lists what was dropped and why",
    )
    .option("--role <role>", "prism or store, when the file enables both")
    .option("--out <file>", "write the JSON (for OOSE_CONFIG) here instead of stdout")
    .option("--env", "print OOSE_* variables instead of JSON")
    .option("--signing-key <key>", "the cluster's delivery-URL signing key (new here, the same on every node)")
    .option("--advertise-url <url>", "the URL peers reach this node at")
    .action(
      (file: string, o: { role?: string; out?: string; env?: boolean; signingKey?: string; advertiseUrl?: string }) => {
        if (o.role !== undefined && o.role !== "prism" && o.role !== "store") {
          process.stderr.write(`--role must be prism or store, not ${o.role}\n`);
          process.exitCode = 2;
          return;
        }
        let result: ImportResult;
        try {
          result = importOoseConfig(loadOoseConfigFile(file), {
            role: o.role as Role | undefined,
            signingKey: o.signingKey,
            advertiseUrl: o.advertiseUrl,
          });
        } catch (err) {
          process.stderr.write(`oose config import: ${(err as Error).message}\n`);
          process.exitCode = 2;
          return;
        }
        const body = o.env
          ? `${toEnvLines(result.config).join("\n")}\n`
          : `${JSON.stringify(result.config, null, 2)}\n`;
        if (o.out) writeFileSync(o.out, body, { mode: 0o600 });
        else process.stdout.write(body);
        process.stderr.write(report(result, file));
        if (o.out)
          process.stderr.write(`\nWritten to ${o.out}${o.env ? "" : `; start the node with OOSE_CONFIG=${o.out}`}\n`);
      },
    );
});

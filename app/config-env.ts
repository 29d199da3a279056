// The OOSE_* environment as config: `OOSE_A__B_C=1` is `{ a: { bC: 1 } }`.
// Names only; which keys exist is the schema's business (app/config.ts).

const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

// Only structured values are parsed here; Value.Convert turns "5000" into a number
// where the schema wants one, so a password like "1e3" stays a string.
export function parseValue(raw: string): unknown {
  if (!/^\s*[[{]/.test(raw)) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** OOSE_A__B_C=1 → { a: { bC: 1 } }. JSON values (numbers, arrays, objects) are parsed. */
export function envToObject(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith("OOSE_") || key === "OOSE_CONFIG" || raw === undefined) continue;
    const path = key.slice(5).split("__").map(camel);
    let node = out;
    for (const part of path.slice(0, -1)) {
      node[part] = typeof node[part] === "object" && node[part] !== null ? node[part] : {};
      node = node[part] as Record<string, unknown>;
    }
    node[path.at(-1)!] = parseValue(raw);
  }
  return out;
}

/** ["auth", "prism", "password"] → OOSE_AUTH__PRISM__PASSWORD: the name envToObject reads back. */
export function envName(path: readonly string[]): string {
  return `OOSE_${path.map((p) => p.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()).join("__")}`;
}

import { existsSync, readFileSync } from "node:fs";

// The package's own package.json: one folder up from app/ in a checkout, two from dist/app/ when compiled.
const file = [new URL("../package.json", import.meta.url), new URL("../../package.json", import.meta.url)].find((f) =>
  existsSync(f),
);

export const VERSION: string = file ? JSON.parse(readFileSync(file, "utf8")).version : "unknown";

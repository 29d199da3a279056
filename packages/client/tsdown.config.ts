import { defineConfig } from "tsdown";

// One ESM file and one declaration file. The wire types come from app/contracts
// by type-only imports, so the declarations carry them inlined (typebox's
// Static<> with them) and the JavaScript holds nothing from outside this package
// but its dependencies, which stay imports.
export default defineConfig({
  entry: ["src/index.ts"],
  format: "esm",
  platform: "node",
  target: "node20",
  fixedExtension: false,
  dts: true,
  deps: { onlyBundle: ["@sinclair/typebox"] },
  clean: true,
});

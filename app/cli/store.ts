import { stat } from "node:fs/promises";
import path from "node:path";
import { Value } from "@sinclair/typebox/value";
import { ConfigSchema, rawConfig } from "../config.js";
import { DiskNotRecognised, readIdentity, type StoreIdentity, writeIdentity } from "../store/identity.js";
import { defineCommand } from "./common.js";
import { action, EXIT, UsageError } from "./ops.js";

// `oose store adopt`: accept the disk under a store's data root as that
// store's, after a disk was replaced on purpose. A store refuses a disk whose
// marker names another store, or an empty one without a marker while the
// inventory records copies on it. Run it where the disk is, before the store.

interface AdoptFlags {
  store?: string;
  prism?: string;
  dataRoot?: string;
  json?: boolean;
}

const isLabel = (v: unknown): v is string => Value.Check(ConfigSchema.properties.name, v);

async function adopt(flags: AdoptFlags): Promise<number> {
  const raw = rawConfig();
  const own = raw.role === "store" && (flags.store === undefined || flags.store === raw.name);
  const name = flags.store ?? (own ? raw.name : undefined);
  const prism = flags.prism ?? (own ? raw.prism : undefined);
  const dataRoot = flags.dataRoot ?? (own ? (raw.dataRoot as string | undefined) : undefined);
  if (!isLabel(name)) throw new UsageError("--store: which store adopts the disk? (or run with its config)");
  if (!isLabel(prism)) throw new UsageError(`--prism: ${name}'s parent prism (or run with its config)`);
  if (!dataRoot) throw new UsageError(`--data-root: where is ${name}'s disk? (or run with its config)`);

  const root = path.resolve(dataRoot);
  // The disk is mounted there already: a mistyped path must not become an empty store.
  const isDir = await stat(root).then(
    (st) => st.isDirectory(),
    () => false,
  );
  if (!isDir) throw new UsageError(`--data-root: ${root} is not a folder; mount the disk first`);
  let before: StoreIdentity | "unreadable" | undefined;
  try {
    before = await readIdentity(root);
  } catch (err) {
    if (!(err instanceof DiskNotRecognised)) throw err;
    before = "unreadable";
  }
  const after = await writeIdentity(root, name, prism);
  if (flags.json) {
    console.log(JSON.stringify({ dataRoot: root, before: before ?? null, after }));
    return EXIT.ok;
  }
  const was =
    before === undefined
      ? "no marker"
      : before === "unreadable"
        ? "an unreadable marker"
        : `the marker of ${before.name} (prism ${before.prism}, disk ${before.id})`;
  console.log(`${root}: had ${was}; now ${name}'s (prism ${prism}, disk ${after.id})`);
  console.log(
    `The inventory may still record copies the old disk held: run \`oose inventory scan --store ${name} --force\` ` +
      "to forget those this disk lacks and record what it holds.",
  );
  return EXIT.ok;
}

defineCommand((program) => {
  program
    .command("store")
    .description("a store's disk")
    .command("adopt")
    .description("accept the disk under the data root as this store's (after replacing a disk on purpose)")
    .option("--store <name>", "the store (default: name of its config)")
    .option("--prism <name>", "its parent prism (default: its config)")
    .option("--data-root <dir>", "its data root (default: dataRoot of its config)")
    .option("--json", "print the old and new marker as JSON")
    .action(action(adopt));
});

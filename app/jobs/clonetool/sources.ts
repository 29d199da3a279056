import { createReadStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { isValidHash } from "../../core/hash.js";
import { parseCopyId } from "../../core/inventory.js";
import { fromRelativePath } from "../../core/layout.js";
import type { Inventory } from "../../core/ports/inventory.js";
import { walkTree } from "../scan-walk.js";

// Where clonetool's hashes come from, as a stream of batches: one hash, a list
// (file or stdin), a store's or a prism's copies, every copy, or a folder of
// content. Nothing is cached between runs (OOSE kept a sorted id list in /tmp
// and reused it until someone deleted it); the inventory is paged each time.

export type Source =
  | { kind: "hash"; hash: string }
  | { kind: "input"; file: string }
  | { kind: "store"; name: string }
  | { kind: "prism"; name: string }
  | { kind: "all" }
  | { kind: "folder"; dir: string };

export interface SourceOptions {
  inventory: Pick<Inventory, "copyIdPages" | "idPages">;
  pageSize: number;
  stdin?: Readable;
  note?: (message: string) => void;
  /** Called for each line or file that names no valid hash. */
  invalid?: (what: string) => void;
}

/** Hashes already passed on, bounded: adjacent repeats (one hash, several copies) are dropped. */
class Recent {
  private readonly seen = new Set<string>();
  constructor(private readonly max = 100_000) {}
  fresh(hash: string): boolean {
    if (this.seen.has(hash)) return false;
    if (this.seen.size >= this.max) this.seen.delete(this.seen.values().next().value!);
    this.seen.add(hash);
    return true;
  }
}

/** A hash from a content path: the layout path, or a `<hash>.<ext>` file name. */
export function hashOfPath(rel: string): string | undefined {
  const layout = fromRelativePath(rel);
  if (layout) return layout.hash;
  const base = path.basename(rel).toLowerCase();
  const hash = base.slice(0, base.includes(".") ? base.indexOf(".") : undefined);
  return isValidHash(hash) ? hash : undefined;
}

async function* raw(source: Source, o: SourceOptions): AsyncGenerator<string[]> {
  switch (source.kind) {
    case "hash":
      yield [source.hash];
      return;
    case "input": {
      const stream = source.file === "-" ? (o.stdin ?? process.stdin) : createReadStream(source.file);
      let batch: string[] = [];
      for await (const line of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
        const trimmed = line.trim();
        if (trimmed === "" || trimmed.startsWith("#")) continue;
        batch.push(trimmed);
        if (batch.length >= o.pageSize) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
      return;
    }
    case "store":
    case "prism":
      // Ids only: the hash is in the doc id, no doc bodies are read.
      for await (const ids of o.inventory.copyIdPages(source.kind, source.name, { pageSize: o.pageSize, note: o.note }))
        yield ids.map((c) => c.hash);
      return;
    case "all":
      for await (const ids of o.inventory.idPages({ pageSize: o.pageSize, note: o.note }))
        yield ids.flatMap((id) => {
          const parts = parseCopyId(id);
          return parts ? [parts.hash] : [];
        });
      return;
    case "folder":
      for await (const entries of walkTree(path.resolve(source.dir), { batchSize: o.pageSize })) {
        const hashes: string[] = [];
        for (const e of entries) {
          if (e.kind !== "file") continue;
          const hash = hashOfPath(e.rel);
          if (hash) hashes.push(hash);
          else o.invalid?.(e.rel);
        }
        yield hashes;
      }
      return;
  }
}

/** The source's hashes, lower-cased, validated and de-duplicated, in batches. */
export async function* hashBatches(source: Source, o: SourceOptions): AsyncGenerator<string[]> {
  const recent = new Recent();
  for await (const batch of raw(source, o)) {
    const out: string[] = [];
    for (const item of batch) {
      const hash = item.toLowerCase();
      if (!isValidHash(hash)) {
        o.invalid?.(item);
        continue;
      }
      if (recent.fresh(hash)) out.push(hash);
    }
    if (out.length > 0) yield out;
  }
}

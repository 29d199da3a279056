import { type InventoryDoc, inventoryKey, parseCopyId } from "../../core/inventory.js";
import type {
  CopyId,
  CopyWrite,
  Inventory,
  Owner,
  PageOptions,
  StoredCopy,
  WriteOutcome,
} from "../../core/ports/inventory.js";

// The inventory in one process's memory, with CouchDB's behaviour where
// callers depend on it: ids in raw order, revisions and conflicts, missing and
// deleted docs absent, and pages that start after the last id seen.

const owner = (by: Owner, id: string, name: string) => {
  const parts = parseCopyId(id);
  return parts !== undefined && (by === "store" ? parts.store : parts.prism) === name;
};

export class MemoryInventory implements Inventory {
  private readonly docs = new Map<string, StoredCopy>();
  private seq = 0;

  private rev(prev?: string): string {
    const n = prev ? Number.parseInt(prev, 10) + 1 : 1;
    return `${n}-${(++this.seq).toString(16).padStart(8, "0")}`;
  }

  private copy(id: string): StoredCopy | undefined {
    const doc = this.docs.get(id);
    return doc ? structuredClone(doc) : undefined;
  }

  /** The ids after `after` (all without it) that pass `keep`, in raw order, at most `limit`. */
  private ids(after: string | undefined, limit: number, keep: (id: string) => boolean = () => true): string[] {
    return [...this.docs.keys()]
      .filter((id) => (after === undefined || id > after) && keep(id))
      .sort()
      .slice(0, limit);
  }

  private async *pages(o: PageOptions, keep?: (id: string) => boolean, from?: string): AsyncGenerator<string[]> {
    let after = from;
    for (;;) {
      const ids = this.ids(after, o.pageSize, keep);
      if (ids.length === 0) return;
      after = ids.at(-1);
      yield ids;
      if (ids.length < o.pageSize) return;
    }
  }

  async copiesOf(hash: string): Promise<InventoryDoc[]> {
    return this.ids(undefined, Number.POSITIVE_INFINITY, (id) => id.startsWith(`${hash}:`)).map((id) => this.copy(id)!);
  }

  async copiesOnStores(hashes: string[], stores: Array<{ prism: string; name: string }>) {
    const out = new Map<string, InventoryDoc[]>(hashes.map((h) => [h, []]));
    for (const h of hashes)
      for (const s of stores) {
        const doc = this.copy(inventoryKey(h, s.prism, s.name));
        if (doc) out.get(h)!.push(doc);
      }
    return out;
  }

  async getCopy(hash: string, prism: string, store: string): Promise<StoredCopy | undefined> {
    return this.copy(inventoryKey(hash, prism, store));
  }

  async fetch(ids: string[]): Promise<Map<string, StoredCopy>> {
    return new Map(ids.flatMap((id) => (this.docs.has(id) ? [[id, this.copy(id)!] as const] : [])));
  }

  async revisions(ids: string[]): Promise<Map<string, string>> {
    return new Map(ids.flatMap((id) => (this.docs.has(id) ? [[id, this.docs.get(id)!._rev] as const] : [])));
  }

  async bulkWrite(docs: CopyWrite[]): Promise<WriteOutcome[]> {
    return docs.map((d) => {
      const cur = this.docs.get(d._id);
      if (cur?._rev !== d._rev) return "conflict";
      if ("_deleted" in d) this.docs.delete(d._id);
      else this.docs.set(d._id, { ...structuredClone(d), _rev: this.rev(cur?._rev) } as StoredCopy);
      return "ok";
    });
  }

  async *copyPages(by: Owner, name: string, o: PageOptions): AsyncGenerator<StoredCopy[]> {
    for await (const ids of this.pages(o, (id) => owner(by, id, name)))
      yield ids.flatMap((id) => (this.docs.has(id) ? [this.copy(id)!] : []));
  }

  async *copyIdPages(by: Owner, name: string, o: PageOptions): AsyncGenerator<CopyId[]> {
    for await (const ids of this.pages(o, (id) => owner(by, id, name)))
      yield ids.map((id) => ({ id, ...parseCopyId(id)! }));
  }

  idPages(o: PageOptions): AsyncGenerator<string[]> {
    return this.pages(o);
  }

  idsAfter(after: string | undefined, pageSize: number): AsyncGenerator<string[]> {
    return this.pages({ pageSize }, undefined, after === undefined ? undefined : `${after}:\ufff0`);
  }

  async record(doc: InventoryDoc): Promise<void> {
    const id = inventoryKey(doc.hash, doc.prism, doc.store);
    const cur = this.docs.get(id);
    const createdAt = cur?.createdAt ?? doc.createdAt;
    this.docs.set(id, { ...structuredClone(doc), createdAt, _id: id, _rev: this.rev(cur?._rev) });
  }

  async remove(hash: string, prism: string, store: string): Promise<void> {
    this.docs.delete(inventoryKey(hash, prism, store));
  }
}

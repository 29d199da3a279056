import type { DocumentScope } from "nano";
import { type BatchOptions, Batcher } from "../../core/batch.js";
import { type InventoryDoc, inventoryKey } from "../../core/inventory.js";
import { InventoryConflict, InventoryRejected } from "../../errors.js";
import { inventoryBatchDocs, inventoryBatchDuration } from "../../metrics/index.js";
import { type Couch, couch } from "./index.js";

// The one writer of a node's inventory changes. Changes share `_bulk_docs`
// requests (group commit): a store's uploads, verifies, removals and scans
// cost a request per batch, not per doc. New copies are written blind (no
// read first); a doc that exists answers "conflict" and is written again
// with its current revision, keeping its createdAt. Removals read the
// revisions of the whole batch in one `_all_docs` request.

interface Change {
  id: string;
  /** Undefined: remove the doc. */
  doc?: InventoryDoc;
  /** Read the current revision first (removals, and writes that met a conflict). */
  read: boolean;
}

type Outcome = "ok" | "conflict";

type Current = { _id: string; _rev: string; createdAt?: string };

export class InventoryWriter {
  private readonly batcher: Batcher<Change, Outcome>;
  private readonly inv: DocumentScope<InventoryDoc>;
  private observer?: (docs: number) => void;

  constructor(
    couchDb: Couch,
    opts: BatchOptions,
    /** Writes of one doc before a conflict is the caller's. */
    private readonly attempts = 5,
  ) {
    this.inv = couchDb.db<InventoryDoc>("inventory");
    this.batcher = new Batcher((changes) => this.write(changes), opts, (c) => c.id);
  }

  /** Records a copy; resolves once CouchDB holds it. */
  async put(doc: InventoryDoc): Promise<void> {
    await this.until(inventoryKey(doc.hash, doc.prism, doc.store), doc);
  }

  /** Forgets a copy (idempotent); resolves once CouchDB no longer lists it. */
  async remove(hash: string, prism: string, store: string): Promise<void> {
    await this.until(inventoryKey(hash, prism, store), undefined);
  }

  /** Called with the doc count of every `_bulk_docs` request sent (for the node's counters). */
  observe(fn: (docs: number) => void): void {
    this.observer = fn;
  }

  private async until(id: string, doc: InventoryDoc | undefined): Promise<void> {
    for (let i = 0; i < this.attempts; i++) {
      if ((await this.batcher.submit({ id, doc, read: doc === undefined || i > 0 })) === "ok") return;
    }
    throw new InventoryConflict(`Inventory record ${id} kept changing; not written`);
  }

  private async current(changes: Change[]): Promise<Map<string, Current>> {
    const ids = changes.filter((c) => c.read).map((c) => c.id);
    const out = new Map<string, Current>();
    if (ids.length === 0) return out;
    const res = await couch(`read ${ids.length} copies`, () => this.inv.fetch({ keys: ids }));
    for (const row of res.rows) {
      const doc = (row as { doc?: Current | null }).doc;
      if (doc) out.set(doc._id, doc);
    }
    return out;
  }

  /** A request refused whole (CouchDB checks ids before any doc) is split, so only the bad doc fails. */
  private async write(changes: Change[]): Promise<Array<Outcome | Error>> {
    try {
      return await this.writeAll(changes);
    } catch (err) {
      if (!(err instanceof InventoryRejected)) throw err;
      if (changes.length === 1) return [err];
      return (await Promise.all(changes.map((c) => this.write([c])))).flat();
    }
  }

  private async bulk(docs: InventoryDoc[]) {
    const end = inventoryBatchDuration.startTimer();
    try {
      return await couch(`write ${docs.length} copies`, () =>
        this.inv.bulk({ docs }).catch((err) => {
          if ((err as { statusCode?: number }).statusCode !== 400) throw err;
          throw new InventoryRejected(`Inventory refused the request: ${(err as Error).message}`);
        }),
      );
    } finally {
      end();
    }
  }

  private async writeAll(changes: Change[]): Promise<Array<Outcome | Error>> {
    const current = await this.current(changes);
    const docs = changes.map((c) => {
      const cur = current.get(c.id);
      if (!c.doc) return cur ? { _id: c.id, _rev: cur._rev, _deleted: true } : undefined;
      if (!cur) return { ...c.doc, _id: c.id };
      return { ...c.doc, _id: c.id, _rev: cur._rev, createdAt: cur.createdAt ?? c.doc.createdAt };
    });
    const sent = docs.filter((d) => d !== undefined);
    if (sent.length > 0) {
      this.observer?.(sent.length);
      inventoryBatchDocs.observe(sent.length);
    }
    const answers = sent.length === 0 ? [] : await this.bulk(sent as InventoryDoc[]);
    const byId = new Map(answers.map((a) => [a.id, a]));
    return changes.map((c, i) => {
      if (docs[i] === undefined) return "ok";
      const a = byId.get(c.id);
      if (!a) return new InventoryRejected(`No answer for inventory record ${c.id}`);
      if (!a.error) return "ok";
      if (a.error === "conflict") return "conflict";
      return new InventoryRejected(`Inventory record ${c.id} refused: ${a.error}${a.reason ? ` (${a.reason})` : ""}`);
    });
  }
}

import type { DocumentScope } from "nano";
import { type BatchOptions, Batcher } from "../../core/batch.js";
import { decodeCursor, encodeCursor, type HashOwners, type OwnedFile, type OwnedPage } from "../../core/owners.js";
import type { Owners } from "../../core/ports/owners.js";
import { InventoryConflict, InventoryRejected } from "../../errors.js";
import { bulkWrite } from "./bulk.js";
import { type Couch, couch, upsert } from "./index.js";

// The Owners port on CouchDB (`<database>-owner`, made by 0005-owners). Every
// doc of a hash sits under `<hash>:`: `<hash>:owner:<name>` per owner,
// `<hash>:origin` and `<hash>:takedown`, so one `_all_docs` range reads all a
// hash has. The `owners/byOwner` view pages an owner's files newest first.
// Uploads' records share `_bulk_docs` requests (group commit), written blind:
// a conflict means the record exists, and its first upload time stays.

type OwnerDoc = OwnedFile & { type: "owner" };
type MarkDoc = { type: "origin" | "takedown"; hash: string; at: number };
type Doc = OwnerDoc | MarkDoc;

export const ownerId = (hash: string, owner: string) => `${hash}:owner:${owner}`;
export const markId = (hash: string, kind: MarkDoc["type"]) => `${hash}:${kind}`;
const range = (hash: string) => ({ startkey: `${hash}:`, endkey: `${hash}:\ufff0` });

type Row = { key: [string, number, string]; value: [string, number, string] };

export class CouchOwners implements Owners {
  private readonly batcher: Batcher<Array<Doc & { _id: string }>, "ok">;

  constructor(
    private readonly couchDb: Couch,
    opts: BatchOptions = { maxBatch: 200, maxQueue: 5000, windowMs: 0 },
  ) {
    this.batcher = new Batcher((items) => this.write(items), opts);
  }

  private get db(): DocumentScope<Doc> {
    return this.couchDb.db<Doc>("owner");
  }

  async record(file: OwnedFile, origin: boolean): Promise<void> {
    const docs: Array<Doc & { _id: string }> = [{ ...file, type: "owner", _id: ownerId(file.hash, file.owner) }];
    if (origin) docs.push({ type: "origin", hash: file.hash, at: file.uploadedAt, _id: markId(file.hash, "origin") });
    await this.batcher.submit(docs);
  }

  /** One `_bulk_docs` for every waiting upload; "conflict" is a record that exists already. */
  private async write(items: Array<Array<Doc & { _id: string }>>): Promise<Array<"ok" | Error>> {
    const docs = items.flat();
    const answers = await couch(`write ${docs.length} owner records`, () => this.db.bulk({ docs }));
    const byId = new Map(answers.map((a) => [a.id, a]));
    return items.map((item) => {
      for (const d of item) {
        const a = byId.get(d._id);
        if (!a) return new InventoryRejected(`No answer for owner record ${d._id}`);
        if (a.error && a.error !== "conflict")
          return new InventoryRejected(`Owner record ${d._id} refused: ${a.error}`);
      }
      return "ok";
    });
  }

  async list(owner: string, limit: number, cursor?: string): Promise<OwnedPage> {
    const from = cursor === undefined ? undefined : decodeCursor(cursor);
    const res = await couch(`owner list ${owner}`, () =>
      this.db.view<Row["value"]>("owners", "byOwner", {
        descending: true,
        startkey: from ? [owner, from.uploadedAt, from.hash] : [owner, {}],
        endkey: [owner],
        // One more to learn whether a page follows, and one for the cursor's own row, if it is still there.
        limit: limit + 2,
      }),
    );
    const rows = (res.rows as unknown as Row[]).filter(
      (r) => !from || r.key[1] !== from.uploadedAt || r.key[2] !== from.hash,
    );
    const files = rows.slice(0, limit).map(({ key: [, uploadedAt, hash], value: [ext, size, mimeType] }) => ({
      ...{ owner, hash, ext, size, mimeType, uploadedAt },
    }));
    const last = files.at(-1);
    return rows.length > limit && last ? { files, next: encodeCursor(last) } : { files };
  }

  private async docsOf(hash: string): Promise<Array<Doc & { _id: string; _rev: string }>> {
    const res = await couch(`owners of ${hash}`, () => this.db.list({ ...range(hash), include_docs: true }));
    return res.rows.flatMap((r) => (r.doc ? [r.doc as Doc & { _id: string; _rev: string }] : []));
  }

  async of(hash: string): Promise<HashOwners> {
    const docs = await this.docsOf(hash);
    const owners = docs.flatMap((d) =>
      d.type === "owner" && d._id === ownerId(hash, d.owner)
        ? [{ owner: d.owner, hash, ext: d.ext, size: d.size, mimeType: d.mimeType, uploadedAt: d.uploadedAt }]
        : [],
    );
    const mark = (kind: MarkDoc["type"]) => docs.find((d) => d._id === markId(hash, kind)) as MarkDoc | undefined;
    const takedown = mark("takedown");
    return { owners, origin: mark("origin") !== undefined, ...(takedown ? { takedownAt: takedown.at } : {}) };
  }

  async release(hash: string, owners: string[], all = false): Promise<void> {
    const drop = new Set(owners.map((o) => ownerId(hash, o)));
    if (all) drop.add(markId(hash, "origin"));
    for (let attempt = 0; attempt < 5; attempt++) {
      const docs = (await this.docsOf(hash)).filter((d) => drop.has(d._id) || (all && d.type === "owner"));
      const outcomes = await bulkWrite(
        this.db,
        docs.map((d) => ({ _id: d._id, _rev: d._rev, _deleted: true })),
        couch,
        "owner records",
      );
      if (outcomes.every((o) => o === "ok")) return;
      const failed = outcomes.find((o) => typeof o === "object");
      if (failed) throw new InventoryRejected(`Owner records of ${hash} refused: ${failed.error}`);
    }
    throw new InventoryConflict(`Owner records of ${hash} kept changing`);
  }

  async markTakedown(hash: string, at: number): Promise<void> {
    await upsert<Doc>(this.db, markId(hash, "takedown"), () => ({ type: "takedown", hash, at }));
  }
}

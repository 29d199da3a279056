import type { ListReply } from "../contracts/prism.js";
import { INVENTORY_CHANNEL, mimeOf } from "../core/inventory.js";
import type { Notices } from "../core/ports/notices.js";
import type { Owners } from "../core/ports/owners.js";
import type { Actor } from "../core/purchase.js";
import { BadRequest, ContentNotFound, TakedownBusy, TakedownIncomplete } from "../errors.js";
import type { Existence } from "./existence.js";
import type { Placed } from "./place.js";

// Content and its owners as the prism serves them: uploads record their
// session's user, a user lists and deletes their own files, admins any. A
// user's delete drops their ownership; the bytes go (a takedown) when no owner
// is left of content an owned upload brought in, or at once for an admin.

/** Removes every copy of a hash (jobs/removal.ts Takedown); undefined when its lock stayed taken. */
export interface TakedownRunner {
  run(hash: string): Promise<{ removed: string[]; pending: string[] } | undefined>;
}

export interface DeleteOutcome {
  hash: string;
  deleted: boolean;
  removed: string[];
  owners: number;
}

export class Ownership {
  constructor(
    private readonly d: {
      owners: Owners;
      takedown: TakedownRunner;
      existence: Existence;
      notices: Notices;
      prefix: string;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.d.now ?? Date.now)();
  }

  /** Records `owner`'s uploads in one go (they share a write); none for the prism's basic auth. */
  async uploaded(owner: string | undefined, placed: Placed[]): Promise<void> {
    if (!owner) return;
    const uploadedAt = this.now();
    await Promise.all(
      placed.map((p) =>
        this.d.owners.record(
          { owner, hash: p.hash, ext: p.ext, size: p.size, mimeType: mimeOf(p.ext), uploadedAt },
          // Every copy is this upload's: the bytes were not in the cluster before.
          p.added > 0 && p.added === p.copies.length,
        ),
      ),
    );
  }

  async list(actor: Actor, body: { limit?: number; cursor?: string; owner?: string }): Promise<ListReply> {
    const owner = actor.admin ? (body.owner ?? actor.name) : actor.name;
    if (!owner) throw new BadRequest("owner is required with the prism's basic auth");
    const page = await this.d.owners.list(owner, body.limit ?? 100, body.cursor);
    const records = await this.d.existence.records(page.files.map((f) => f.hash));
    const files = page.files.map(({ hash, ext, size, mimeType, uploadedAt }, i) => ({
      ...{ hash, ext, size, mimeType, uploadedAt, copies: records[i]!.count },
    }));
    return page.next ? { files, next: page.next } : { files };
  }

  async delete(actor: Actor, hash: string): Promise<DeleteOutcome> {
    const held = await this.d.owners.of(hash);
    const mine = held.owners.some((o) => o.owner === actor.name);
    // Another user's content is as absent to them as content that does not exist.
    if (!actor.admin && !mine) throw new ContentNotFound();
    const others = held.owners.filter((o) => o.owner !== actor.name).length;
    if (!actor.admin && (others > 0 || !held.origin)) {
      await this.d.owners.release(hash, [actor.name!]);
      return { hash, deleted: false, removed: [], owners: others };
    }
    if (held.owners.length === 0 && (await this.d.existence.copies(hash)).length === 0) throw new ContentNotFound();
    return this.takeDown(hash);
  }

  /** Marked first, so no job copies it back; owner records go last, so a delete cut short can be asked again. */
  private async takeDown(hash: string): Promise<DeleteOutcome> {
    await this.d.owners.markTakedown(hash, this.now());
    const result = await this.d.takedown.run(hash);
    if (!result) throw new TakedownBusy();
    // Stores announce each removal without waiting; this notice is waited for, so every prism hears it.
    this.d.existence.invalidate(hash);
    await this.d.notices.publish(INVENTORY_CHANNEL(this.d.prefix), hash);
    if (result.pending.length > 0) throw new TakedownIncomplete(undefined, { ...result });
    await this.d.owners.release(hash, [], true);
    return { hash, deleted: true, removed: result.removed, owners: 0 };
  }
}

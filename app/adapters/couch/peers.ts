import { asPeer, type Peer, type PeerDoc, peerKey, selfDoc, withAvailability } from "../../core/peer.js";
import type { PeerDirectory, SelfConfig } from "../../core/ports/peers.js";
import { type Couch, couch, getOrUndefined, upsert } from "./index.js";

// The PeerDirectory port on CouchDB (`oose-peer`). Docs that fail the schema are skipped.

export class CouchPeers implements PeerDirectory {
  constructor(private readonly db: Couch) {}

  private get peers() {
    return this.db.db<PeerDoc>("peer");
  }

  async registerSelf(self: SelfConfig): Promise<string> {
    const key = peerKey(self.role, self.name, self.prism);
    await upsert<PeerDoc>(this.peers, key, (cur) => selfDoc(self, cur, new Date().toISOString()));
    return key;
  }

  async setAvailable(key: string, available: boolean): Promise<void> {
    await upsert<PeerDoc>(this.peers, key, (cur) => withAvailability(cur, available, new Date().toISOString()));
  }

  async setCapacity(key: string, capacity: NonNullable<PeerDoc["capacity"]>): Promise<void> {
    await upsert<PeerDoc>(this.peers, key, (cur) => (cur ? { ...cur, capacity } : undefined));
  }

  async get(key: string): Promise<Peer | undefined> {
    return asPeer(key, await getOrUndefined(this.peers, key));
  }

  async list(): Promise<Peer[]> {
    const res = await couch("list peers", () => this.peers.list({ include_docs: true }));
    return res.rows.flatMap((row) => {
      if (row.id.startsWith("_design/")) return [];
      const peer = asPeer(row.id, row.doc ?? undefined);
      return peer ? [peer] : [];
    });
  }
}

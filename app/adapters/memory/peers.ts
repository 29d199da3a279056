import { asPeer, type Peer, type PeerDoc, peerKey, selfDoc, withAvailability } from "../../core/peer.js";
import type { PeerDirectory, SelfConfig } from "../../core/ports/peers.js";

// The peer directory in one process's memory, for tests and in-process roles;
// like the CouchDB one, it lists only docs that pass the schema.

export class MemoryPeers implements PeerDirectory {
  private readonly docs = new Map<string, PeerDoc>();

  /** Puts a doc as an operator or another node would. */
  put(key: string, doc: PeerDoc): void {
    this.docs.set(key, structuredClone(doc));
  }

  async registerSelf(self: SelfConfig): Promise<string> {
    const key = peerKey(self.role, self.name, self.prism);
    this.docs.set(key, selfDoc(self, this.docs.get(key), new Date().toISOString()));
    return key;
  }

  async setAvailable(key: string, available: boolean): Promise<void> {
    const next = withAvailability(this.docs.get(key), available, new Date().toISOString());
    if (next) this.docs.set(key, next);
  }

  async setCapacity(key: string, capacity: NonNullable<PeerDoc["capacity"]>): Promise<void> {
    const cur = this.docs.get(key);
    if (cur) this.docs.set(key, { ...cur, capacity: { ...capacity } });
  }

  async get(key: string): Promise<Peer | undefined> {
    return asPeer(key, structuredClone(this.docs.get(key)));
  }

  async list(): Promise<Peer[]> {
    return [...this.docs.keys()].sort().flatMap((key) => {
      const peer = asPeer(key, structuredClone(this.docs.get(key)));
      return peer ? [peer] : [];
    });
  }
}

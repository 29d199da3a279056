import test from "ava";
import type { Channels } from "../../app/adapters/redis/channels.js";
import type { Inventory } from "../../app/core/ports/inventory.js";
import { BackendUnavailable } from "../../app/errors.js";
import { Existence } from "../../app/prism/existence.js";

// A prism worker listens before its peer table has loaded. Until then it
// cannot tell where copies are, so a lookup is a 503, never "not found"; nor
// with a table that holds no store.

const channels = { on: () => undefined } as unknown as Channels;
const unreachable = {} as Inventory;

test("before the peer table's first load, existence is a 503, not an absent file", async (t) => {
  const peers = { ready: false, stores: () => [], store: () => undefined };
  const existence = new Existence(unreachable, peers, channels, "oose", 1000);
  const hash = "a".repeat(40);
  await t.throwsAsync(existence.record(hash), { instanceOf: BackendUnavailable });
  await t.throwsAsync(existence.liveCopies(hash), { instanceOf: BackendUnavailable });
});

test("with no store in the peer table, existence is a 503 too: nothing can be called absent", async (t) => {
  const peers = { ready: true, stores: () => [], store: () => undefined };
  // Asked for copies on no store, an inventory finds none.
  const inventory = { copiesOnStores: async () => new Map() } as unknown as Inventory;
  const existence = new Existence(inventory, peers, channels, "oose", 1000);
  const hash = "b".repeat(40);
  await t.throwsAsync(existence.record(hash), { instanceOf: BackendUnavailable, message: /No store known/ });
  await t.throwsAsync(existence.liveCopies(hash), { instanceOf: BackendUnavailable });
});

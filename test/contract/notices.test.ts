import { randomUUID } from "node:crypto";
import test from "ava";
import { MemoryNotices } from "../../app/adapters/memory/notices.js";
import { Channels } from "../../app/adapters/redis/channels.js";
import type { Notices } from "../../app/core/ports/notices.js";
import { logger } from "../../app/log.js";
import { contract, eventually, useRedis } from "../helpers/contract.js";

// The Notices port (cache invalidations between nodes): Redis pub/sub, and memory.

const redis = useRedis(test);
const log = logger("prism", "contract");

/** Two nodes' ends of the notices: `listen` subscribes what was registered on `b`. */
interface Subject {
  a: Notices;
  b: Notices;
  listen(): Promise<void>;
  channel: (name: string) => string;
}

contract<Subject>(
  test,
  [
    {
      name: "memory",
      make: async () => {
        const bus = new MemoryNotices();
        return { port: { a: bus, b: bus, listen: async () => {}, channel: (n) => n } };
      },
    },
    {
      name: "redis",
      make: async () => {
        const [a, b] = [new Channels(await redis(), log), new Channels(await redis(), log)];
        const prefix = `c${randomUUID()}`;
        return {
          port: { a, b, listen: () => b.start(), channel: (n) => `${prefix}:${n}` },
          close: async () => {
            a.stop();
            b.stop();
          },
        };
      },
    },
  ],
  {
    "a notice reaches every handler of its channel, and no other channel's": async (t, { a, b, listen, channel }) => {
      const heard: string[] = [];
      b.on(channel("inventory"), (m) => heard.push(`1:${m}`));
      b.on(channel("inventory"), (m) => heard.push(`2:${m}`));
      b.on(channel("purchase"), (m) => heard.push(`p:${m}`));
      await listen();
      await a.publish(channel("inventory"), "hash-1");
      await a.publish(channel("inventory"), "hash-2");
      t.true(await eventually(() => heard.length >= 4));
      await new Promise((r) => setTimeout(r, 50));
      t.deepEqual(heard.sort(), ["1:hash-1", "1:hash-2", "2:hash-1", "2:hash-2"]);
    },
  },
);

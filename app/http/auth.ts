import basicAuth from "@fastify/basic-auth";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { createHash, timingSafeEqual } from "node:crypto";
import type { Credentials } from "../config.js";
import { Unauthorized } from "../errors.js";

// Digests are compared, not the strings: equal lengths whatever was sent, so
// the time taken tells nothing of the expected credential, its length included.
const digest = (s: string) => createHash("sha256").update(s).digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

export function credentialsMatch(expected: Credentials, username: string, password: string): boolean {
  // Both compared every time: a right name must not answer faster or slower than a wrong one.
  const name = same(username, expected.username);
  const secret = same(password, expected.password);
  return name && secret;
}

/** Registers basic auth and returns the preHandler that enforces it on private routes. */
export async function useBasicAuth(
  app: FastifyInstance,
  expected: Credentials,
): Promise<(req: FastifyRequest, reply: FastifyReply) => Promise<void>> {
  await app.register(basicAuth, {
    authenticate: { realm: "oose" },
    validate: async (username, password) => {
      if (!credentialsMatch(expected, username, password)) throw new Unauthorized("Invalid credentials");
    },
  });
  return async (req, reply) => {
    if (!req.headers.authorization) {
      reply.header("WWW-Authenticate", 'Basic realm="oose"');
      throw new Unauthorized("Authentication required");
    }
    await new Promise<void>((resolve, reject) =>
      app.basicAuth(req, reply, (err?: Error) => (err ? reject(err instanceof Unauthorized ? err : new Unauthorized()) : resolve())),
    );
  };
}

import basicAuth from "@fastify/basic-auth";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { timingSafeEqual } from "node:crypto";
import type { Credentials } from "../topology/env.js";
import { Unauthorized } from "../errors.js";

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export function credentialsMatch(expected: Credentials, username: string, password: string): boolean {
  return same(username, expected.username) && same(password, expected.password);
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

import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";
import type { FastifySerializerCompiler } from "fastify";

// How replies are written. A schema with a union anywhere (one record or a
// map of them, a value or null) is written with JSON.stringify:
// fast-json-stringify picks a union's branch by validating the data against
// each one, which on a bulk existence reply cost more than the whole rest of
// the request. Every other reply goes through fast-json-stringify, which
// writes only the fields its schema lists.

const fastSerializer = SerializerSelector()({}, {});

function hasUnion(schema: unknown): boolean {
  if (typeof schema !== "object" || schema === null) return false;
  if ("anyOf" in schema || "oneOf" in schema) return true;
  return Object.values(schema).some(hasUnion);
}

const plain = (data: unknown) => JSON.stringify(data);

export const replySerializer: FastifySerializerCompiler<object> = (route) =>
  hasUnion(route.schema) ? plain : fastSerializer(route as Parameters<typeof fastSerializer>[0]);

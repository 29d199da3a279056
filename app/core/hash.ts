import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { InvalidHash } from "../errors.js";

/** Supported hash types and their hex lengths, longest first (the order OOSE identifies them in). */
export const HASH_TYPES = { sha512: 128, sha384: 96, sha256: 64, sha224: 56, sha1: 40, md5: 32 } as const;
export type HashType = keyof typeof HASH_TYPES;
export const HASH_TYPE_NAMES = Object.keys(HASH_TYPES) as HashType[];

const HEX = /^[0-9a-f]+$/;

export function isHashType(value: unknown): value is HashType {
  return typeof value === "string" && Object.hasOwn(HASH_TYPES, value);
}

/** The type a hash's length implies, or undefined when no type has that length. */
export function identify(hash: string): HashType | undefined {
  return HASH_TYPE_NAMES.find((type) => HASH_TYPES[type] === hash.length);
}

export function isValidHash(hash: unknown): hash is string {
  return typeof hash === "string" && identify(hash) !== undefined && HEX.test(hash);
}

/** Lower-cases and validates a client-supplied hash; throws InvalidHash. */
export function normalizeHash(hash: unknown): string {
  const lowered = typeof hash === "string" ? hash.toLowerCase() : hash;
  if (!isValidHash(lowered)) throw new InvalidHash(`Invalid hash: ${String(hash).slice(0, 140)}`);
  return lowered;
}

/** A pass-through stream that hashes and counts what flows through it. */
export class HashingStream extends Transform {
  readonly type: HashType;
  bytes = 0;
  private readonly hasher: Hash;
  private result?: string;

  constructor(type: HashType) {
    super();
    this.type = type;
    this.hasher = createHash(type);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hasher.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  /** The hex digest; only valid once the stream has ended. */
  digest(): string {
    this.result ??= this.hasher.digest("hex");
    return this.result;
  }
}

import path from "node:path";
import { InvalidFileName } from "../errors.js";
import { type HashType, identify, normalizeHash } from "./hash.js";

// The on-disk layout of OOSE: the hash in 2-character segments, the last one is
// the file name with `.<ext>` appended. Every hash/name → path conversion goes
// through `locate`, the one guard against traversal and malformed input.

const EXT = /^[a-z0-9]{1,16}$/;

export interface ContentId {
  hash: string;
  ext: string;
  type: HashType;
}

export function normalizeExt(ext: unknown): string {
  const lowered = typeof ext === "string" ? ext.toLowerCase() : "";
  if (!EXT.test(lowered)) throw new InvalidFileName(`Invalid extension: ${String(ext).slice(0, 40)}`);
  return lowered;
}

/** Parses `<hash>.<ext>` (a store file name); rejects slashes, dots in the ext, NUL and missing parts. */
export function parseFileName(name: unknown): ContentId {
  if (typeof name !== "string" || name.length > 200) throw new InvalidFileName();
  const dot = name.indexOf(".");
  if (dot <= 0) throw new InvalidFileName(`File name needs <hash>.<ext>: ${name.slice(0, 140)}`);
  const hash = normalizeHash(name.slice(0, dot));
  const ext = normalizeExt(name.slice(dot + 1));
  return { hash, ext, type: identify(hash)! };
}

/** `a0/3f/…/4f` without the extension: the hash split into 2-character segments. */
export function segments(hash: string): string[] {
  const valid = normalizeHash(hash);
  return valid.match(/../g)!;
}

export function relativePath(hash: string, ext: string): string {
  return `${segments(hash).join("/")}.${normalizeExt(ext)}`;
}

/** Inverse of relativePath: the hash is every hex character before the extension. */
export function fromRelativePath(rel: string): { hash: string; ext: string } | undefined {
  const match = /^((?:[0-9a-f]{2}\/)+[0-9a-f]{2})\.([a-z0-9]{1,16})$/.exec(rel.split(path.sep).join("/"));
  if (!match) return undefined;
  const hash = match[1]!.replaceAll("/", "");
  return identify(hash) ? { hash, ext: match[2]! } : undefined;
}

export interface Location {
  /** The folder holding the file: every segment but the last. */
  dir: string;
  /** The last segment, the file's base name without extension. */
  base: string;
  /** Absolute path of the file when ext is known. */
  file?: string;
  relativePath?: string;
}

/** The single guard: resolves a hash (and optional ext) under `<root>/content` and proves it stays there. */
export function locate(contentRoot: string, hash: string, ext?: string): Location {
  const parts = segments(hash);
  const base = parts.pop()!;
  const root = path.resolve(contentRoot);
  const dir = path.join(root, ...parts);
  if (!dir.startsWith(root + path.sep)) throw new InvalidFileName("Path escapes the content root");
  if (ext === undefined) return { dir, base };
  const rel = relativePath(hash, ext);
  return { dir, base, file: path.join(dir, `${base}.${normalizeExt(ext)}`), relativePath: rel };
}

import { StoreClient } from "../client/store.js";
import type { Config } from "../config.js";
import { parseFileName } from "../core/layout.js";
import { isLive, type PeerDoc, peerKey } from "../core/peer.js";
import type { PeerDirectory } from "../core/ports/peers.js";
import {
  AppError,
  BadRequest,
  ContentNotFound,
  NotFound,
  PeerUnavailable,
  SendFailed,
  VerifyFailed,
} from "../errors.js";
import type { StoreContent } from "./content.js";
import type { SendReply } from "../contracts/store.js";

// POST /content/send: copy a local file to another store's PUT. The local copy
// is verified first, so a corrupt file is never spread; the target verifies
// the bytes again on arrival.

export interface SendDeps {
  config: Config;
  directory: Pick<PeerDirectory, "get">;
  content: StoreContent;
}

async function targetPeer(deps: SendDeps, target: string): Promise<PeerDoc> {
  const [prism, name, ...rest] = target.split(":");
  if (!prism || !name || rest.length > 0) throw new BadRequest("store must be <prism>:<store>");
  if (prism === deps.config.prism && name === deps.config.name) throw new BadRequest("A store cannot send to itself");
  const found = await deps.directory.get(peerKey("store", name, prism));
  if (!found) throw new NotFound(`Store ${target} not found`);
  const { key: _, ...peer } = found;
  if (!isLive(peer)) throw new PeerUnavailable(`Store ${target} is not available`);
  return peer;
}

export async function sendCopy(deps: SendDeps, file: string, target: string): Promise<SendReply> {
  const { config, content } = deps;
  const { hash } = parseFileName(file);
  const peer = await targetPeer(deps, target);
  const blob = await content.find(hash);
  const verifyDetail = await content.verify(hash, false);
  const fileDetail = content.describe(blob, verifyDetail.verifiedAt);
  if (verifyDetail.status !== "ok") throw new VerifyFailed("File verify failed", { fileDetail, verifyDetail });

  const opened = await content.blobs.open(blob);
  if (!opened) throw new ContentNotFound();
  const client = new StoreClient({
    baseUrl: peer.url,
    auth: config.auth.store,
    timeoutMs: config.limits.requestTimeoutMs,
    name: target,
  });
  const name = `${hash}.${blob.ext}`;
  const started = performance.now();
  try {
    await client.put(name, opened.stream, opened.size);
  } catch (err) {
    if (err instanceof PeerUnavailable || !(err instanceof AppError)) throw err;
    throw new SendFailed(`Failed to send clone to ${target}: ${err.message}`, {
      target: { code: err.code, status: err.status },
    });
  } finally {
    opened.stream.destroy();
  }
  const durationMs = Math.max(1, Math.round(performance.now() - started));
  return {
    success: "Clone sent",
    file: name,
    store: peer,
    details: { bytes: opened.size, durationMs, bytesPerSecond: Math.round((opened.size * 1000) / durationMs) },
    fileDetail,
    verifyDetail,
  };
}

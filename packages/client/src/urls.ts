import type { Static } from "@sinclair/typebox";
import type { DeliverQuery } from "../../../app/contracts/prism.js";

// The two URL shapes OOSE clients build by hand and hand to browsers: a
// purchase's `<base>/<token>/<filename>` and `<base>/static/<hash>/<filename>`.
// The base is a prism or the front nginx; the prism answers both with a 302 to
// a store. The file name is free (the purchase fixes the file); its extension
// matters to players and to the static type rules.

/** The query keys the store's nginx reads: `attach` (download as this name), `start` (mp4 seek, s), `rate` (bytes/s), `html5`. */
export type DeliveryQuery = Static<typeof DeliverQuery>;

const part = encodeURIComponent;

export function deliveryUrl(base: string, token: string, filename: string, query: DeliveryQuery = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const search = params.toString() ? `?${params}` : "";
  return `${base.replace(/\/+$/, "")}/${part(token)}/${part(filename)}${search}`;
}

export function staticUrl(base: string, hash: string, filename: string): string {
  return `${base.replace(/\/+$/, "")}/static/${part(hash)}/${part(filename)}`;
}

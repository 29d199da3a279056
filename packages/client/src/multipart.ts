import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import FormData from "form-data";
import { OoseError, SOURCE_FAILED } from "./errors.js";

// The multipart body of an upload, streamed: form-data frames the parts, and
// each part's bytes are read as the request sends them, never held whole. The
// prism reads fields before files, so fields go first.

export type UploadData =
  | Buffer
  | Uint8Array
  | Blob
  | Readable
  | WebReadableStream<Uint8Array>
  | ReadableStream<Uint8Array>;

interface Part {
  /** The form field; "file" by default. The reply lists files under it. */
  field?: string;
  /** The part's Content-Type (default application/octet-stream); the prism takes the extension from the name first. */
  type?: string;
}

/** Bytes from memory or a stream; `size` (a stream's length, when known) lets progress report a total. */
export interface DataFile extends Part {
  name: string;
  data: UploadData;
  size?: number;
}

/** A file on disk, streamed from it; named after it unless `name` is given. */
export interface PathFile extends Part {
  path: string;
  name?: string;
}

export type UploadFile = DataFile | PathFile;

async function source(file: UploadFile): Promise<{ value: Buffer | Readable; size?: number; name: string }> {
  if ("path" in file) {
    const size = await stat(file.path).then(
      (s) => s.size,
      (err: Error) => {
        throw new OoseError(SOURCE_FAILED, 0, `cannot read ${file.path}: ${err.message}`, {}, err);
      },
    );
    return { value: createReadStream(file.path), size, name: file.name ?? basename(file.path) };
  }
  const { data, name } = file;
  if (Buffer.isBuffer(data)) return { value: data, name };
  if (data instanceof Uint8Array) return { value: Buffer.from(data.buffer, data.byteOffset, data.byteLength), name };
  if (data instanceof Blob)
    return { value: Readable.fromWeb(data.stream() as WebReadableStream), size: data.size, name };
  if (data instanceof Readable) return { value: data, size: file.size, name };
  return { value: Readable.fromWeb(data as WebReadableStream<Uint8Array>), size: file.size, name };
}

/** The form, its length when every part's size is known, and the parts' streams (for destroy() on a failure). */
export async function multipart(
  files: UploadFile[],
  fields: Record<string, string>,
): Promise<{ form: FormData; length?: number; streams: Readable[] }> {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  const streams: Readable[] = [];
  let known = true;
  try {
    for (const file of files) {
      const { value, size, name } = await source(file);
      if (!Buffer.isBuffer(value)) {
        streams.push(value);
        if (size === undefined) known = false;
      }
      form.append(file.field ?? "file", value, {
        filename: name,
        contentType: file.type ?? "application/octet-stream",
        ...(size === undefined ? {} : { knownLength: size }),
      });
    }
  } catch (err) {
    for (const s of streams) s.destroy();
    throw err;
  }
  return { form, length: known ? form.getLengthSync() : undefined, streams };
}

// One `Range: bytes=…` against a file of `size` bytes (RFC 9110 §14). Multiple
// ranges and malformed headers are ignored (the whole file is sent), which the
// RFC allows; a range that starts past the end is unsatisfiable (416).

export type ByteRange = { start: number; end: number };

export function parseRange(header: string | undefined, size: number): ByteRange | "unsatisfiable" | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (start >= size) return "unsatisfiable";
  const last = m[2] === "" ? size - 1 : Number(m[2]);
  if (last < start) return undefined;
  return { start, end: Math.min(last, size - 1) };
}

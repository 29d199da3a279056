import mime from "mime-types";

// `denyStaticTypes` holds extensions ("mkv") and MIME classes ("video/*").
// Both enforcers (the prism's /static route and the store nginx's /static/
// location) see a file only by its extension, so the list is expanded to
// extensions once, the same way for both.

const EXTENSION = /^[a-z0-9]{1,16}$/;
const MIME_CLASS = /^([a-z]+)\/\*$/;

/** An entry the list may hold: an extension or a MIME class such as `audio/*`. */
export const STATIC_TYPE_PATTERN = "^(?:[A-Za-z0-9]{1,16}|[a-z]+/\\*)$";

/** Every extension the list denies, lower-cased, in the list's order; throws on an entry of neither kind. */
export function deniedExtensions(list: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of list) {
    const entry = raw.toLowerCase();
    const cls = MIME_CLASS.exec(entry);
    if (cls) {
      for (const [ext, type] of Object.entries(mime.types)) {
        if (type.startsWith(`${cls[1]}/`) && EXTENSION.test(ext)) out.add(ext);
      }
    } else if (EXTENSION.test(entry)) {
      out.add(entry);
    } else {
      throw new Error(`denyStaticTypes: ${raw.slice(0, 40)} is neither an extension nor a MIME class such as video/*`);
    }
  }
  return [...out];
}

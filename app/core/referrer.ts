// Referrer rules for purchases. Each rule is a host (`example.com`) or a
// wildcard (`*.example.com`), matched against the Referer's host only. OOSE
// matched each entry as an unanchored regex anywhere in the header, so
// `localhost` also let `http://evil/?localhost` through. An empty list accepts
// any referrer, even none.

function hostOf(value: string): string | undefined {
  try {
    return new URL(value.includes("://") ? value : `http://${value}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Normalises a rule as given by a client: a bare host, `*.host`, or a URL whose host is taken. */
export function normalizeRule(rule: string): string | undefined {
  const trimmed = rule.trim().toLowerCase();
  if (trimmed.startsWith("*.")) {
    const host = hostOf(trimmed.slice(2));
    return host ? `*.${host}` : undefined;
  }
  return hostOf(trimmed);
}

export function referrerAllowed(rules: string[], referer: string | undefined): boolean {
  if (rules.length === 0) return true;
  if (!referer) return false;
  let host: string;
  try {
    host = new URL(referer).hostname.toLowerCase();
  } catch {
    // OOSE clients sent bare hosts such as "localhost" as the Referer.
    const bare = hostOf(referer);
    if (!bare) return false;
    host = bare;
  }
  return rules.some((raw) => {
    const rule = normalizeRule(raw);
    if (!rule) return false;
    if (rule.startsWith("*.")) return host.endsWith(rule.slice(1)) && host.length > rule.length - 1;
    return host === rule;
  });
}

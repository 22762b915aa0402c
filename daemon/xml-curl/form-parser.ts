// application/x-www-form-urlencoded as mod_xml_curl writes it (switch_url_encode:
// space as %20, `+` as %2B), decoded strictly: a malformed %-escape or invalid
// UTF-8 is a 400, never a silently mangled value.
export class FormDecodeError extends Error {
  override name = 'FormDecodeError';
  readonly statusCode = 400;
}

function decode(s: string): string {
  // Most names and many values need no decoding: skip the costly call for them.
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new FormDecodeError('malformed percent-encoding in form body');
  }
}

/** Repeated keys become arrays (the fetch parser decides whether that is acceptable). */
export function parseForm(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  if (body === '') return out;
  for (const pair of body.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    const prev = out[key];
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

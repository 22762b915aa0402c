// application/x-www-form-urlencoded as mod_xml_curl writes it (switch_url_encode:
// space as %20, `+` as %2B), decoded strictly: a malformed %-escape or invalid
// UTF-8 anywhere in the body is a 400, never a silently mangled value.
// A dialplan fetch carries ~40 event headers (6.5 KB) of which a handful are
// read: the body is checked once as a whole, split into raw fields, and a value
// is decoded only when asked for.
export class FormDecodeError extends Error {
  override name = 'FormDecodeError';
  readonly statusCode = 400;
}

const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
/** An escape of a byte >= 0x80: only then can the decoded bytes be invalid UTF-8. */
const HIGH_ESCAPE = /%[89A-Fa-f][0-9A-Fa-f]/;

const malformed = () => new FormDecodeError('malformed percent-encoding in form body');

// Splitting on `&`/`=` before or after decoding gives the same fields (both are
// escaped inside values), and a UTF-8 sequence cut by a literal `&` or `=` is
// invalid in the whole body as it is in the field: one check covers every field.
function checkEncoding(body: string): void {
  if (BAD_ESCAPE.test(body)) throw malformed();
  if (HIGH_ESCAPE.test(body)) {
    try { decodeURIComponent(body); } catch { throw malformed(); }
  }
}

function decode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw malformed();
  }
}

/** The fields of one form body; values are decoded on first read. Repeated keys read as arrays. */
export class FormFields {
  private readonly raw = new Map<string, string | string[]>();

  constructor(body: string) {
    checkEncoding(body);
    if (body === '') return;
    for (const pair of body.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const key = decode(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? '' : pair.slice(eq + 1);
      const prev = this.raw.get(key);
      this.raw.set(key, prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]);
    }
  }

  get(name: string): string | string[] | undefined {
    const v = this.raw.get(name);
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.map(decode) : decode(v);
  }
}

export function parseForm(body: string): FormFields {
  return new FormFields(body);
}

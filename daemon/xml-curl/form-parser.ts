// application/x-www-form-urlencoded as mod_xml_curl writes it (switch_url_encode:
// space as %20, `+` as %2B), decoded strictly: a malformed %-escape or invalid
// UTF-8 anywhere in the body is a 400, never a silently mangled value.
// A dialplan fetch carries ~150 fields (6.5 KB) of which a handful are read:
// the body is checked once as a whole, split into raw pairs in one pass, and
// only the values read are decoded.
export class FormDecodeError extends Error {
  override name = 'FormDecodeError';
  readonly statusCode = 400;
}

const malformed = () => new FormDecodeError('malformed percent-encoding in form body');

const hexDigit = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1);

/** Inside a key (not a value): no `=` between the pair's start and `at`. */
function inKey(body: string, at: number): boolean {
  const eq = body.indexOf('=', body.lastIndexOf('&', at) + 1);
  return eq < 0 || eq > at;
}

/**
 * One pass over the escapes: each must be %XX, and a run of escapes that holds
 * a byte >= 0x80 must decode as UTF-8 (a multi-byte character is a run of
 * escapes with no literal character in between, so checking each run covers
 * every key and value, read or not). Returns whether some key holds an escape
 * or a `+`, i.e. keys must be decoded before they can be matched.
 */
function checkEncoding(body: string): boolean {
  let encodedKey = false;
  for (let i = body.indexOf('%'); i >= 0;) {
    const high = hexDigit(body.charCodeAt(i + 1));
    if (high < 0 || hexDigit(body.charCodeAt(i + 2)) < 0) throw malformed();
    if (!encodedKey && inKey(body, i)) encodedKey = true;
    let end = i + 3;
    if (high >= 8) {
      while (body.charCodeAt(end) === 0x25 /* % */) end += 3;
      try { decodeURIComponent(body.slice(i, end)); } catch { throw malformed(); }
    }
    i = body.indexOf('%', end);
  }
  for (let i = body.indexOf('+'); i >= 0 && !encodedKey; i = body.indexOf('+', i + 1)) encodedKey = inKey(body, i);
  return encodedKey;
}

function decode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw malformed();
  }
}

/** The fields of one form body; values are decoded when read. Repeated keys read as arrays. */
export class FormFields {
  /** Raw (still encoded) values by key, from one pass over the pairs. */
  private readonly raw = new Map<string, string | string[]>();

  constructor(body: string) {
    const decodeKeys = checkEncoding(body);
    for (let start = 0; start < body.length;) {
      let amp = body.indexOf('&', start);
      if (amp < 0) amp = body.length;
      if (amp > start) {
        const eq = body.indexOf('=', start);
        const hasValue = eq >= 0 && eq < amp;
        const rawKey = body.slice(start, hasValue ? eq : amp);
        const key = decodeKeys ? decode(rawKey) : rawKey;
        const value = hasValue ? body.slice(eq + 1, amp) : '';
        const prev = this.raw.get(key);
        this.raw.set(key, prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]);
      }
      start = amp + 1;
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

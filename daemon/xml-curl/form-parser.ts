// application/x-www-form-urlencoded as mod_xml_curl writes it (switch_url_encode:
// space as %20, `+` as %2B), decoded strictly: a malformed %-escape or invalid
// UTF-8 anywhere in the body is a 400, never a silently mangled value.
// A dialplan fetch carries ~40 event headers (6.5 KB) of which a handful are
// read: the body is checked once as a whole, a field is looked up in the body
// when asked for, and only its value is decoded.
export class FormDecodeError extends Error {
  override name = 'FormDecodeError';
  readonly statusCode = 400;
}

const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
/** A run of escapes with a byte >= 0x80: only there can the decoded bytes be invalid UTF-8. */
const HIGH_RUN = /(?:%[0-9A-Fa-f]{2})*%[89A-Fa-f][0-9A-Fa-f](?:%[0-9A-Fa-f]{2})*/g;

const malformed = () => new FormDecodeError('malformed percent-encoding in form body');

// A multi-byte UTF-8 character is a run of escapes with no literal character in
// between (a literal `&` or `=` ends the run as it ends the field), so checking
// each such run covers every key and value, read or not.
function checkEncoding(body: string): void {
  if (BAD_ESCAPE.test(body)) throw malformed();
  for (const run of body.matchAll(HIGH_RUN)) {
    try { decodeURIComponent(run[0]); } catch { throw malformed(); }
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

/** A key with an escape or `+` somewhere in the body: keys must then be decoded before they can be matched. */
const ENCODED_KEY = /(?:^|&)[^&=]*[%+]/;

/** The fields of one form body; values are decoded when read. Repeated keys read as arrays. */
export class FormFields {
  /** Only when some key needs decoding; otherwise fields are found in the body itself. */
  private readonly raw: Map<string, string | string[]> | undefined;

  constructor(private readonly body: string) {
    checkEncoding(body);
    if (!ENCODED_KEY.test(body)) return;
    this.raw = new Map();
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
    const v = this.raw ? this.raw.get(name) : this.find(name);
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.map(decode) : decode(v);
  }

  /** Raw value(s) of `name`: each occurrence that starts a pair and is followed by `=`, `&` or the end. */
  private find(name: string): string | string[] | undefined {
    const { body } = this;
    if (name === '') return undefined;
    let found: string | string[] | undefined;
    for (let at = body.indexOf(name); at >= 0; at = body.indexOf(name, at + 1)) {
      if (at > 0 && body.charCodeAt(at - 1) !== 0x26 /* & */) continue;
      const after = at + name.length;
      const next = body.charCodeAt(after); // NaN at the end
      let value: string;
      if (next === 0x3d /* = */) {
        const amp = body.indexOf('&', after + 1);
        value = body.slice(after + 1, amp < 0 ? body.length : amp);
      } else if (next === 0x26 || after === body.length) {
        value = '';
      } else continue;
      found = found === undefined ? value : Array.isArray(found) ? [...found, value] : [found, value];
    }
    return found;
  }
}

export function parseForm(body: string): FormFields {
  return new FormFields(body);
}

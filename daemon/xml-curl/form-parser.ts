// application/x-www-form-urlencoded as mod_xml_curl writes it (switch_url_encode:
// space as %20, `+` as %2B), decoded strictly: a malformed %-escape or invalid
// UTF-8 anywhere in the body is a 400, never a silently mangled value.
// A dialplan fetch carries ~150 fields (6.5 KB) of which a handful are read:
// the body is checked once as a whole, each field read is found in place, and
// only the values read are decoded.
export class FormDecodeError extends Error {
  override name = 'FormDecodeError';
  readonly statusCode = 400;
}

const malformed = () => new FormDecodeError('malformed percent-encoding in form body');

const hexDigit = (c: number): number =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;

const AMP = 0x26;
const EQ = 0x3d;

/** Inside a key (not a value): walking back from `at`, the pair's start comes before any `=`. */
function inKey(body: string, at: number): boolean {
  for (let i = at - 1; i >= 0; i--) {
    const c = body.charCodeAt(i);
    if (c === EQ) return false;
    if (c === AMP) return true;
  }
  return true;
}

/**
 * One pass over the escapes: each must be %XX, and a run of escapes that holds
 * a byte >= 0x80 must decode as UTF-8 (a multi-byte character is a run of
 * escapes with no literal character in between, so checking each run covers
 * every key and value, read or not). Returns whether some key holds an escape
 * or a `+`, i.e. keys must be decoded before they can be matched.
 */
function checkEncoding(body: string): boolean {
  // Key or value: a walk back to the pair's '=' or '&', once per value (later marks in it sit before
  // valueEnd), so a hostile value full of escapes or '+' costs linear time, not quadratic.
  let valueEnd = -1;
  const inAKey = (at: number): boolean => {
    if (at < valueEnd) return false;
    if (inKey(body, at)) return true;
    if ((valueEnd = body.indexOf('&', at)) < 0) valueEnd = body.length;
    return false;
  };
  let encodedKey = false;
  for (let i = body.indexOf('%'); i >= 0; ) {
    const high = hexDigit(body.charCodeAt(i + 1));
    if (high < 0 || hexDigit(body.charCodeAt(i + 2)) < 0) throw malformed();
    if (!encodedKey) encodedKey = inAKey(i);
    let end = i + 3;
    if (high >= 8) {
      while (body.charCodeAt(end) === 0x25 /* % */) end += 3;
      try {
        decodeURIComponent(body.slice(i, end));
      } catch {
        throw malformed();
      }
    }
    i = body.indexOf('%', end);
  }
  valueEnd = -1; // the '+' scan starts over from the body's start
  for (let i = body.indexOf('+'); i >= 0 && !encodedKey; i = body.indexOf('+', i + 1)) encodedKey = inAKey(i);
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

/** Every pair, keys decoded; repeated keys as arrays of raw values. */
function splitPairs(body: string): Map<string, string | string[]> {
  const pairs = new Map<string, string | string[]>();
  for (let start = 0; start < body.length; ) {
    let amp = body.indexOf('&', start);
    if (amp < 0) amp = body.length;
    if (amp > start) {
      const eq = body.indexOf('=', start);
      const hasValue = eq >= 0 && eq < amp;
      const key = decode(body.slice(start, hasValue ? eq : amp));
      const value = hasValue ? body.slice(eq + 1, amp) : '';
      const prev = pairs.get(key);
      pairs.set(key, prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]);
    }
    start = amp + 1;
  }
  return pairs;
}

/** The fields of one form body; values are decoded when read. Repeated keys read as arrays. */
export class FormFields {
  /**
   * Split only when some key holds an escape (keys must then be decoded before
   * they can be matched; mod_xml_curl never does this) or a name no raw key can
   * spell is asked for. Otherwise a field is found in place: splitting all ~150
   * pairs of a dialplan fetch costs more than finding the dozen that are read.
   */
  private pairs: Map<string, string | string[]> | undefined;

  constructor(private readonly body: string) {
    if (checkEncoding(body)) this.pairs = splitPairs(body);
  }

  get(name: string): string | string[] | undefined {
    if (this.pairs || name === '' || name.includes('=') || name.includes('&')) {
      const v = (this.pairs ??= splitPairs(this.body)).get(name);
      if (v === undefined) return undefined;
      return Array.isArray(v) ? v.map(decode) : decode(v);
    }
    const body = this.body;
    let found: string | string[] | undefined;
    for (let at = body.indexOf(name); at >= 0; at = body.indexOf(name, at + 1)) {
      if (at > 0 && body.charCodeAt(at - 1) !== AMP) continue; // inside another key or a value
      const end = at + name.length;
      const next = end < body.length ? body.charCodeAt(end) : AMP;
      if (next !== EQ && next !== AMP) continue; // a longer key
      let stop = next === EQ ? body.indexOf('&', end) : end;
      if (stop < 0) stop = body.length;
      const value = next === EQ ? decode(body.slice(end + 1, stop)) : '';
      found = found === undefined ? value : Array.isArray(found) ? [...found, value] : [found, value];
      at = stop;
    }
    return found;
  }
}

export function parseForm(body: string): FormFields {
  return new FormFields(body);
}

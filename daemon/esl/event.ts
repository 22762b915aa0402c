// ESL event bodies (text/event-plain and text/event-json) turned into one typed
// shape. Events are ~8 KiB with ~150 headers of which consumers read a handful,
// so headers are extracted from the raw bytes on demand (header()) and the full
// map is only built when someone asks for all of them (headers).
//
// Exactness of the lazy path: FreeSWITCH writes event-json with cJSON's compact
// printer (no whitespace, flat object, values are strings or arrays of strings).
// Inside a JSON string every '"' is escaped, so `,"Key":` or `{"Key":` can only
// be a real key; the last occurrence wins, as in JSON.parse. Anything that does
// not look like that (pretty-printed, a value that is neither string nor array,
// a name that would need JSON escaping) falls back to the full parse.
// Plain events: header values are percent-encoded, so a line is found by
// "\nKey: " inside the header block. Parsing never throws on bad
// percent-encoding: FreeSWITCH's switch_url_encode leaves a "%" that is
// followed by two hex digits alone, so a plain event can hold sequences no
// strict decoder accepts.

/** One FreeSWITCH event. Header names are case-sensitive, as FreeSWITCH sends them. */
export interface EslEvent {
  /** Event-Name, e.g. CHANNEL_CREATE; CUSTOM events also carry Event-Subclass. */
  readonly name: string;
  /** One header's value (array variables as `ARRAY::a|:b`); cheap, use it on hot paths. */
  header(name: string): string | undefined;
  /** Every header; parses the whole event on first use. */
  readonly headers: Readonly<Record<string, string>>;
  /** The event's own body (BACKGROUND_JOB result, ...), when it has one. */
  readonly body: string | undefined;
}

export class EventParseError extends Error {
  override name = 'EventParseError';
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/** Decodes %XX escapes; malformed escapes stay literal and invalid UTF-8 becomes U+FFFD. Never throws. */
export function percentDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    const bytes: number[] = [];
    for (let i = 0; i < value.length; i++) {
      const hex = value.slice(i + 1, i + 3);
      if (value[i] === '%' && HEX.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else {
        for (const b of Buffer.from(value[i]!, 'utf8')) bytes.push(b);
      }
    }
    return Buffer.from(bytes).toString('utf8');
  }
}

function headerBlock(text: string, decode: boolean): Record<string, string> {
  // Null prototype: a header named "__proto__" or "constructor" is just a header.
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(': ');
    if (colon <= 0) throw new EventParseError(`header line without "name: value": ${JSON.stringify(line.slice(0, 80))}`);
    const value = line.slice(colon + 2);
    headers[line.slice(0, colon)] = decode ? percentDecode(value) : value;
  }
  return headers;
}

/** Outer frame headers (never percent-encoded). */
export function parseFrameHeaders(text: string): Record<string, string> {
  return headerBlock(text, false);
}

/** Own headers only: "constructor" or "toString" are not headers unless FreeSWITCH sent them. */
const own = (headers: Readonly<Record<string, string>>, name: string): string | undefined =>
  (Object.hasOwn(headers, name) ? headers[name] : undefined);

interface Parsed { headers: Record<string, string>; body: string | undefined }

/** The whole plain event, eagerly (the reference the lazy lookups must equal). */
function fullPlain(raw: Buffer): Parsed {
  const end = raw.indexOf('\n\n');
  const headers = headerBlock(raw.toString('latin1', 0, end < 0 ? raw.length : end), true);
  let body: string | undefined;
  const len = headers['Content-Length'];
  if (len !== undefined && end >= 0) {
    if (!/^\d+$/.test(len)) throw new EventParseError(`inner Content-Length is not a number: ${JSON.stringify(len)}`);
    body = raw.toString('utf8', end + 2, Math.min(raw.length, end + 2 + Number(len)));
  }
  return { headers, body };
}

/** Array variables in the form plain events use (ARRAY::a|:b), so consumers see one representation. */
function jsonValue(v: unknown): string {
  if (typeof v === 'string') return v;
  return Array.isArray(v) ? `ARRAY::${v.map(String).join('|:')}` : JSON.stringify(v);
}

/** The whole json event, eagerly. */
function fullJson(raw: Buffer): Parsed {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new EventParseError(`event body is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new EventParseError('event body is not a JSON object');
  // Used in place (JSON.parse makes "__proto__" an own property, so no key reaches the prototype).
  const headers = parsed as Record<string, unknown>;
  for (const k in headers) if (typeof headers[k] !== 'string') headers[k] = jsonValue(headers[k]);
  let body: string | undefined;
  if ('_body' in headers) {
    body = headers._body as string;
    delete headers._body;
  }
  return { headers: headers as Record<string, string>, body };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Looked-up names are a small fixed set in the daemon; the bound only guards against callers asking for everything. */
const jsonNeedles = new Map<string, string | null>();
const plainNeedles = new Map<string, string | null>();

function needle(name: string, make: (name: string) => string | null): string | null {
  const needles = make === jsonNeedle ? jsonNeedles : plainNeedles;
  let n = needles.get(name);
  if (n === undefined) {
    n = make(name);
    if (needles.size < 4096) needles.set(name, n);
  }
  return n;
}

/** `"Name":` for names that cJSON and JSON.stringify spell the same (plain ASCII, nothing to escape). */
const jsonNeedle = (name: string): string | null => (/^[\x20-\x7e]+$/.test(name) && !/["\\]/.test(name) ? `"${name}":` : null);
const plainNeedle = (name: string): string | null => (/^[\x21-\x7e][\x20-\x7e]*$/.test(name) && !name.includes(': ') ? `\n${name}: ` : null);

/** Marker: the lazy path cannot answer exactly; use the full parse. */
const FULL = Symbol('full');

/**
 * Where the last match of `n` accepted by `ok` starts, or -1. Forward search
 * (V8's string search is fast forwards, slow backwards); a later duplicate
 * header wins, as in JSON.parse and the plain parser.
 */
function lastMatch(text: string, n: string, limit: number, ok: (at: number) => boolean): number {
  let found = -1;
  for (let at = text.indexOf(n); at >= 0 && at + n.length <= limit; at = text.indexOf(n, at + 1)) if (ok(at)) found = at;
  return found;
}

/** Index just past the JSON string starting at `open` (a '"'), whether it holds escapes or non-ASCII; undefined when malformed. */
function stringEnd(raw: Buffer, open: number): { end: number; escaped: boolean; ascii: boolean } | undefined {
  let escaped = false;
  let ascii = true;
  for (let i = open + 1; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === QUOTE) return { end: i + 1, escaped, ascii };
    if (b === BACKSLASH) { escaped = true; i++; } else if (b < 0x20) return undefined;
    else if (b >= 0x80) ascii = false;
  }
  return undefined;
}

/**
 * Headers the daemon reads on every channel event (ledger, call records, the
 * client, the call-center filter). One regex pass finds all of them (~11 us on
 * an 8 KiB event), where a separate scan per name costs ~3 us each.
 */
const HOT = ['Event-Name', 'Event-Subclass', 'Job-UUID', 'Unique-ID', 'Call-Direction', 'Other-Leg-Unique-ID',
  'variable_originator', 'variable_cc_member_session_uuid', 'variable_cc_queue',
  'variable_fs_tenant_id', 'variable_fs_tenant_slug', 'variable_fs_call_direction',
  'Event-Date-Timestamp', 'Caller-Channel-Created-Time', 'Caller-Channel-Answered-Time', 'Caller-Channel-Hangup-Time',
  'variable_start_epoch', 'variable_end_epoch', 'variable_duration', 'variable_billsec',
  'Caller-Caller-ID-Number', 'Caller-Destination-Number', 'Hangup-Cause', 'variable_hangup_cause'];
const HOT_SET = new Set(HOT);
// Only a key starts right after '{' or ','; `"Name":` anywhere else is text inside a longer key.
const HOT_KEYS = new RegExp(`[{,]"(${HOT.map((h) => h.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join('|')})":`, 'g');

/** Where each HOT header's value starts (its last occurrence, as in JSON.parse). */
function hotIndex(text: string): Map<string, number> {
  const index = new Map<string, number>();
  HOT_KEYS.lastIndex = 0;
  for (let m = HOT_KEYS.exec(text); m; m = HOT_KEYS.exec(text)) index.set(m[1]!, HOT_KEYS.lastIndex);
  return index;
}

/** Where the value of the last top-level `"name":` starts, -1 when absent, FULL when the name cannot be searched. */
function jsonValueStart(text: string, name: string): number | typeof FULL {
  const n = needle(name, jsonNeedle);
  if (!n) return FULL;
  const at = lastMatch(text, n, text.length, (i) => i > 0 && (text.charCodeAt(i - 1) === 0x2c || text.charCodeAt(i - 1) === 0x7b));
  return at < 0 ? -1 : at + n.length;
}

/** The json value starting at `open` (string, or array of strings as ARRAY::a|:b); FULL when it is anything else. */
function jsonValueAt(raw: Buffer, text: string, open: number): string | typeof FULL {
  const first = raw[open];
  if (first === QUOTE) {
    const s = stringEnd(raw, open);
    if (!s) return FULL;
    if (!s.escaped) return s.ascii ? text.slice(open + 1, s.end - 1) : raw.toString('utf8', open + 1, s.end - 1);
    try { return JSON.parse(raw.toString('utf8', open, s.end)) as string; } catch { return FULL; }
  }
  if (first === 0x5b) {
    // An array variable: strings separated by ','.
    let i = open + 1;
    if (raw[i] !== 0x5d) {
      for (;;) {
        if (raw[i] !== QUOTE) return FULL;
        const s = stringEnd(raw, i);
        if (!s) return FULL;
        i = s.end;
        if (raw[i] === 0x5d) break;
        if (raw[i] !== 0x2c) return FULL;
        i++;
      }
    }
    try { return jsonValue(JSON.parse(raw.toString('utf8', open, i + 1))); } catch { return FULL; }
  }
  return FULL;
}

/** The value of the last `name: ` line of a plain event's header block [0, end), percent-decoded; undefined when absent. */
function plainLookup(text: string, end: number, name: string): string | undefined | typeof FULL {
  const n = needle(name, plainNeedle);
  if (!n) return FULL;
  let start: number;
  const at = lastMatch(text, n, end, () => true);
  if (at >= 0) start = at + n.length;
  else if (text.startsWith(n.slice(1)) && n.length - 1 <= end) start = n.length - 1; // the first line has no "\n" before it
  else return undefined;
  let stop = text.indexOf('\n', start);
  if (stop < 0 || stop > end) stop = end;
  return percentDecode(text.slice(start, stop));
}

class LazyEvent implements EslEvent {
  readonly name: string;
  /** The body as latin1: one char per byte, so string offsets are byte offsets. */
  private readonly text: string;
  private cache: Map<string, string | undefined> | undefined;
  private full: Parsed | undefined;

  /** `headerEnd`: where the header block ends (plain: the "\n\n" or the length; json: the length). */
  constructor(private readonly raw: Buffer, private readonly format: 'json' | 'plain', private readonly headerEnd: number) {
    this.text = raw.toString('latin1');
    const name = this.header('Event-Name');
    if (!name) throw new EventParseError('event without Event-Name');
    this.name = name;
  }

  header(name: string): string | undefined {
    if (this.full) return own(this.full.headers, name);
    if (this.format === 'json' && name === '_body') return undefined; // the body, not a header
    let v = this.cache?.get(name);
    if (v !== undefined || this.cache?.has(name)) return v;
    const found = this.format === 'json' ? this.jsonLookup(name) : plainLookup(this.text, this.headerEnd, name);
    if (found === FULL) return own(this.parsed().headers, name);
    v = found;
    (this.cache ??= new Map()).set(name, v);
    return v;
  }

  get headers(): Readonly<Record<string, string>> {
    return this.parsed().headers;
  }

  get body(): string | undefined {
    if (this.full) return this.full.body;
    if (this.format === 'plain') return this.parsed().body;
    const v = this.jsonLookup('_body');
    return v === FULL ? this.parsed().body : v;
  }

  private hot: Map<string, number> | undefined;

  private jsonLookup(name: string): string | undefined | typeof FULL {
    let open: number | typeof FULL;
    if (HOT_SET.has(name)) open = (this.hot ??= hotIndex(this.text)).get(name) ?? -1;
    else open = jsonValueStart(this.text, name);
    if (open === FULL) return FULL;
    return open < 0 ? undefined : jsonValueAt(this.raw, this.text, open);
  }

  private parsed(): Parsed {
    return (this.full ??= this.format === 'json' ? fullJson(this.raw) : fullPlain(this.raw));
  }
}

/** A text/event-plain body: encoded headers, then optionally an inner Content-Length and body. */
export function parsePlainEvent(body: Buffer): EslEvent {
  const end = body.indexOf('\n\n');
  const ev = new LazyEvent(body, 'plain', end < 0 ? body.length : end);
  // A bad inner length would make `body` throw later; refuse the event now instead.
  const len = ev.header('Content-Length');
  if (len !== undefined && end >= 0 && !/^\d+$/.test(len)) throw new EventParseError(`inner Content-Length is not a number: ${JSON.stringify(len)}`);
  return ev;
}

/** A text/event-json body: one object; all values strings except array variables. */
export function parseJsonEvent(body: Buffer): EslEvent {
  // cJSON's compact output; anything else (pretty-printed, truncated, not an object) is parsed in full now.
  if (body.length < 2 || body[0] !== 0x7b || body[1] !== QUOTE || body[body.length - 1] !== 0x7d) {
    const { headers, body: inner } = fullJson(body);
    return eventFromHeaders(headers, inner);
  }
  return new LazyEvent(body, 'json', body.length);
}

/** An event from an already-built header map (tests, synthetic events). */
export function eventFromHeaders(headers: Record<string, string>, body?: string): EslEvent {
  const name = headers['Event-Name'];
  if (!name) throw new EventParseError('event without Event-Name');
  return { name, headers, body, header: (h) => own(headers, h) };
}

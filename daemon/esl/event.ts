// ESL event bodies (text/event-plain and text/event-json) turned into one typed
// shape. A channel event is 5-12 KiB with ~200 headers of which the daemon reads
// a handful, so header(name) searches the raw bytes for that one header (a
// native byte search, no string copy of the event) and the full map is only
// built when someone asks for all of them (headers).
//
// Repeated names: FreeSWITCH's own lookup (switch_event_get_header_ptr) returns
// the first header of a name, so every path here does too.
//
// Exactness of the json search: FreeSWITCH writes event-json with cJSON's
// compact printer (no whitespace, a flat object whose values are strings or
// arrays of strings). Inside a JSON string every '"' is escaped, so `,"Key":` or
// `{"Key":` can only be a real key. Anything else (pretty-printed, a value that
// is neither string nor array, a name that would need escaping) is answered by
// JSON.parse instead.
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

/** A null-prototype map: a header named "__proto__" or "constructor" is just a header. */
const headerMap = (): Record<string, string> => Object.create(null) as Record<string, string>;

function headerBlock(text: string): Record<string, string> {
  const headers = headerMap();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(': ');
    if (colon <= 0)
      throw new EventParseError(`header line without "name: value": ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon);
    if (!(name in headers)) headers[name] = percentDecode(line.slice(colon + 2));
  }
  return headers;
}

/** Own headers only: "constructor" or "toString" are not headers unless FreeSWITCH sent them. */
const own = (headers: Readonly<Record<string, string>>, name: string): string | undefined =>
  Object.hasOwn(headers, name) ? headers[name] : undefined;

interface Parsed {
  headers: Record<string, string>;
  body: string | undefined;
}

/** The whole plain event, eagerly. */
function fullPlain(raw: Buffer, end: number): Parsed {
  const headers = headerBlock(raw.toString('latin1', 0, end));
  let body: string | undefined;
  const len = headers['Content-Length'];
  if (len !== undefined && end < raw.length) {
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

/** Not FreeSWITCH's compact json: JSON.parse answers (a repeated key is then the last one). */
function parsedJson(raw: Buffer): Parsed {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new EventParseError(`event body is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new EventParseError('event body is not a JSON object');
  const headers = headerMap();
  let body: string | undefined;
  for (const [k, v] of Object.entries(parsed)) {
    if (k === '_body') body = jsonValue(v);
    else headers[k] = jsonValue(v);
  }
  return { headers, body };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Marker: the compact-json reader cannot answer exactly; JSON.parse must. */
const FULL = Symbol('full');

/**
 * Just past the string (or value) that jsonString / jsonValueAt read last. One slot instead of a result object
 * per string read: these run for every header a consumer asks for, and nothing can run in between.
 */
let readEnd = 0;

/** The JSON string at `open` (a '"'), decoded, its end in readEnd; a fresh string, so keeping it does not keep the event's bytes alive. */
function jsonString(raw: Buffer, open: number): string | typeof FULL {
  let escaped = false;
  let ascii = true;
  for (let i = open + 1; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === QUOTE) {
      readEnd = i + 1;
      if (!escaped) return raw.toString(ascii ? 'latin1' : 'utf8', open + 1, i);
      try {
        return JSON.parse(raw.toString('utf8', open, i + 1)) as string;
      } catch {
        return FULL;
      }
    }
    if (b === BACKSLASH) {
      escaped = true;
      i++;
    } else if (b < 0x20) return FULL;
    else if (b >= 0x80) ascii = false;
  }
  return FULL;
}

/** The value at `open`: a string, or an array of strings as ARRAY::a|:b, its end in readEnd; FULL when it is anything else. */
function jsonValueAt(raw: Buffer, open: number): string | typeof FULL {
  if (raw[open] === QUOTE) return jsonString(raw, open);
  if (raw[open] !== OPEN_BRACKET) return FULL;
  const items: string[] = [];
  let i = open + 1;
  if (raw[i] === CLOSE_BRACKET) {
    readEnd = i + 1;
    return 'ARRAY::';
  }
  for (;;) {
    if (raw[i] !== QUOTE) return FULL;
    const s = jsonString(raw, i);
    if (s === FULL) return FULL;
    items.push(s);
    i = readEnd;
    if (raw[i] === CLOSE_BRACKET) {
      readEnd = i + 1;
      return `ARRAY::${items.join('|:')}`;
    }
    if (raw[i] !== COMMA) return FULL;
    i++;
  }
}

/** Every header of a compact json event in one walk, first of a name kept; FULL when it is not the compact form. */
function walkJson(raw: Buffer): Parsed | typeof FULL {
  const headers = headerMap();
  let body: string | undefined;
  let i = 1;
  if (raw[i] === CLOSE_BRACE) return i === raw.length - 1 ? { headers, body } : FULL;
  for (;;) {
    if (raw[i] !== QUOTE) return FULL;
    const key = jsonString(raw, i);
    if (key === FULL || raw[readEnd] !== COLON) return FULL;
    const v = jsonValueAt(raw, readEnd + 1);
    if (v === FULL) return FULL;
    if (key === '_body') body ??= v;
    else if (!(key in headers)) headers[key] = v;
    i = readEnd;
    if (raw[i] === COMMA) {
      i++;
      continue;
    }
    return raw[i] === CLOSE_BRACE && i === raw.length - 1 ? { headers, body } : FULL;
  }
}

// Bytes of a FreeSWITCH event from most to least frequent (counted over the
// captured streams). node's search runs memchr on a needle's first byte, so a
// needle starting at the name's rarest byte skips most of the event at memchr
// speed; quotes, colons and newlines are everywhere (a needle starting with one
// is 3-8x slower). The part of the name before that byte is checked after.
const BY_FREQUENCY = 'ear-l0int"_:oCbc s12\ndvm3pu%5h.476f,gD8AI9TNPLSEOUHwxMR/FWByqG\\k@=ZX+VKjz;';
const rarity = (c: string): number => {
  const i = BY_FREQUENCY.indexOf(c);
  return i < 0 ? BY_FREQUENCY.length : i;
};

/** How to find one header: search `needle`, then check the `before` bytes precede it. */
interface Needle {
  needle: Buffer;
  before: Buffer;
  /** Chosen on a real event (retuned), so never chosen again. */
  tuned: boolean;
}

const needleAt = (name: string, at: number, suffix: string, tuned: boolean): Needle => ({
  needle: Buffer.from(name.slice(at) + suffix, 'latin1'),
  before: Buffer.from(name.slice(0, at), 'latin1'),
  tuned,
});

function needleFor(name: string, suffix: string): Needle {
  let at = 0;
  for (let i = 1; i < name.length; i++) if (rarity(name[i]!) > rarity(name[at]!)) at = i;
  return needleAt(name, at, suffix, false);
}

/** Relative costs of a search: one more native call (a false match) against one memchr stop on the first byte. */
const CALL_COST = 20;
const STOP_COST = 1;

/**
 * The rarest byte is a guess made without the event: when a name ends like many others ("-Time", "-Number",
 * "Direction"), other keys match the needle first, each match one more native call. The first time a name is
 * found past two such matches, its start is chosen again on that event, by what each start would have cost to
 * reach the key there (native calls, and memchr stops on its first byte); events of one kind repeat their layout.
 * Any start finds the same header (the bytes before it are checked), so this changes only the speed.
 */
function retuned(raw: Buffer, key: number, name: string, suffix: string): Needle {
  const stops = new Uint32Array(256);
  for (let i = 0; i < key; i++) stops[raw[i]!]!++;
  let best = 0;
  let bestCost = Infinity;
  for (let i = 0; i < name.length; i++) {
    const needle = Buffer.from(name.slice(i) + suffix, 'latin1');
    let calls = 1;
    for (let at = raw.indexOf(needle, 2); at >= 0 && at < key + i; at = raw.indexOf(needle, at + 1)) calls++;
    const cost = calls * CALL_COST + stops[name.charCodeAt(i)]! * STOP_COST;
    if (cost < bestCost) {
      best = i;
      bestCost = cost;
    }
  }
  return needleAt(name, best, suffix, true);
}

/** Search patterns per header name (a small fixed set in the daemon; the bound only guards against callers asking for everything). */
class Needles {
  private readonly map = new Map<string, Needle | null>();
  constructor(private readonly make: (name: string) => Needle | null) {}
  get(name: string): Needle | null {
    let n = this.map.get(name);
    if (n === undefined) {
      n = this.make(name);
      if (this.map.size < 4096) this.map.set(name, n);
    }
    return n;
  }
  /** Replaces a name's needle (retuned). */
  set(name: string, n: Needle): void {
    if (this.map.has(name)) this.map.set(name, n);
  }
}

/** `Name":` for names that cJSON and JSON.stringify spell the same (plain ASCII, nothing to escape). */
const jsonNeedles = new Needles((name) =>
  /^[\x20-\x7e]+$/.test(name) && !/["\\]/.test(name) ? needleFor(name, '":') : null,
);
/** `Name: ` for names a header line can hold. */
const plainNeedles = new Needles((name) =>
  /^[\x21-\x7e][\x20-\x7e]*$/.test(name) && !name.includes(': ') ? needleFor(name, ': ') : null,
);

/** Whether `before` sits right in front of `at`. */
function preceded(raw: Buffer, at: number, before: Buffer): boolean {
  const from = at - before.length;
  if (from < 0) return false;
  // A few bytes: a loop is cheaper than Buffer#compare's argument checks and native call.
  for (let i = 0; i < before.length; i++) if (raw[from + i] !== before[i]) return false;
  return true;
}

/** Where the value of the first top-level `"name":` starts; -1 when absent, FULL when the name cannot be searched. */
function jsonValueStart(raw: Buffer, name: string): number | typeof FULL {
  const n = jsonNeedles.get(name);
  if (!n) return FULL;
  let misses = 0;
  for (let at = raw.indexOf(n.needle, 2); at > 0; at = raw.indexOf(n.needle, at + 1)) {
    const key = at - n.before.length; // where the name starts
    if (
      key >= 2 &&
      raw[key - 1] === QUOTE &&
      (raw[key - 2] === COMMA || raw[key - 2] === OPEN_BRACE) &&
      preceded(raw, at, n.before)
    ) {
      if (misses >= 2 && !n.tuned) jsonNeedles.set(name, retuned(raw, key, name, '":'));
      return at + n.needle.length;
    }
    misses++;
  }
  return -1;
}

/** The first `name: ` line of a plain event's header block [0, end), percent-decoded; undefined when absent. */
function plainLookup(raw: Buffer, end: number, name: string): string | undefined | typeof FULL {
  const n = plainNeedles.get(name);
  if (!n) return FULL;
  // A line starts at 0 or after "\n".
  const lineStart = (at: number) => {
    const key = at - n.before.length;
    return (key === 0 || (key > 0 && raw[key - 1] === 0x0a)) && preceded(raw, at, n.before);
  };
  let at = raw.indexOf(n.needle);
  while (at >= 0 && !lineStart(at)) at = raw.indexOf(n.needle, at + 1);
  if (at < 0 || at + n.needle.length > end) return undefined;
  const start = at + n.needle.length;
  let stop = raw.indexOf(0x0a, start);
  if (stop < 0 || stop > end) stop = end;
  return percentDecode(raw.toString('latin1', start, stop));
}

abstract class LazyEvent implements EslEvent {
  abstract readonly name: string;
  private full: Parsed | undefined;

  constructor(protected readonly raw: Buffer) {}

  /** Event-Name, which every event must have. */
  protected eventName(): string {
    const name = this.header('Event-Name');
    if (!name) throw new EventParseError('event without Event-Name');
    return name;
  }

  protected abstract lookup(name: string): string | undefined | typeof FULL;
  protected abstract parse(): Parsed;

  header(name: string): string | undefined {
    if (this.full) return own(this.full.headers, name);
    // No per-event cache: consumers read each header about once, and a Map per event costs more than it saves.
    const found = this.lookup(name);
    return found === FULL ? own(this.parsed().headers, name) : found;
  }

  get headers(): Readonly<Record<string, string>> {
    return this.parsed().headers;
  }

  get body(): string | undefined {
    return this.parsed().body;
  }

  protected parsed(): Parsed {
    return (this.full ??= this.parse());
  }
}

/** How FreeSWITCH starts every json event: switch_event_create adds Event-Name first (switch_event_prep_for_delivery). */
const JSON_START = Buffer.from('{"Event-Name":"', 'latin1');

class JsonEvent extends LazyEvent {
  readonly name = this.startName() ?? this.eventName();

  /** Event-Name when it opens the object, as FreeSWITCH writes it: a key at the very start is the first of its name. */
  private startName(): string | undefined {
    if (!preceded(this.raw, JSON_START.length, JSON_START)) return undefined;
    const v = jsonString(this.raw, JSON_START.length - 1);
    return v !== FULL && v ? v : undefined;
  }

  protected lookup(name: string): string | undefined | typeof FULL {
    if (name === '_body') return undefined; // the body, not a header
    const open = jsonValueStart(this.raw, name);
    if (open === FULL || open < 0) return open === FULL ? FULL : undefined;
    return jsonValueAt(this.raw, open);
  }

  protected parse(): Parsed {
    const walked = walkJson(this.raw);
    return walked === FULL ? parsedJson(this.raw) : walked;
  }

  override get body(): string | undefined {
    // BACKGROUND_JOB results are read on every bgapi: find "_body" without walking every header.
    const open = jsonValueStart(this.raw, '_body');
    if (open === -1) return undefined;
    const v = open === FULL ? FULL : jsonValueAt(this.raw, open);
    return v === FULL ? this.parsed().body : v;
  }
}

class PlainEvent extends LazyEvent {
  /** End of the header block; the inner body (if any) starts 2 bytes later. */
  private readonly headerEnd: number;
  readonly name: string;

  constructor(raw: Buffer) {
    super(raw);
    const end = raw.indexOf('\n\n');
    this.headerEnd = end < 0 ? raw.length : end;
    this.name = this.eventName();
    // A bad inner length would make `body` throw later; refuse the event now instead.
    const len = this.header('Content-Length');
    if (len !== undefined && end >= 0 && !/^\d+$/.test(len))
      throw new EventParseError(`inner Content-Length is not a number: ${JSON.stringify(len)}`);
  }

  protected lookup(name: string): string | undefined | typeof FULL {
    return plainLookup(this.raw, this.headerEnd, name);
  }

  protected parse(): Parsed {
    return fullPlain(this.raw, this.headerEnd);
  }
}

/** A text/event-plain body: encoded headers, then optionally an inner Content-Length and body. */
export function parsePlainEvent(body: Buffer): EslEvent {
  return new PlainEvent(body);
}

/** A text/event-json body: one object; all values strings except array variables. */
export function parseJsonEvent(body: Buffer): EslEvent {
  // cJSON's compact output; anything else (pretty-printed, truncated, not an object) is parsed in full now.
  if (body.length < 2 || body[0] !== OPEN_BRACE || body[1] !== QUOTE || body[body.length - 1] !== CLOSE_BRACE) {
    const { headers, body: inner } = parsedJson(body);
    return eventFromHeaders(headers, inner);
  }
  return new JsonEvent(body);
}

/** An event from an already-built header map (tests, synthetic events). */
export function eventFromHeaders(headers: Record<string, string>, body?: string): EslEvent {
  const name = headers['Event-Name'];
  if (!name) throw new EventParseError('event without Event-Name');
  return { name, headers, body, header: (h) => own(headers, h) };
}

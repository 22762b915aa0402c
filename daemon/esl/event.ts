// ESL event bodies (text/event-plain and text/event-json) turned into one typed
// shape. Parsing never throws on bad percent-encoding: FreeSWITCH's
// switch_url_encode leaves a "%" that is followed by two hex digits alone, so a
// plain event can hold sequences no strict decoder accepts.

/** One FreeSWITCH event. Header names are case-sensitive, as FreeSWITCH sends them. */
export interface EslEvent {
  /** Event-Name, e.g. CHANNEL_CREATE; CUSTOM events also carry Event-Subclass. */
  readonly name: string;
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

/** A text/event-plain body: encoded headers, then optionally an inner Content-Length and body. */
export function parsePlainEvent(body: Buffer): EslEvent {
  const end = body.indexOf('\n\n');
  const headers = headerBlock(body.toString('latin1', 0, end < 0 ? body.length : end), true);
  let inner: string | undefined;
  const len = headers['Content-Length'];
  if (len !== undefined && end >= 0) {
    if (!/^\d+$/.test(len)) throw new EventParseError(`inner Content-Length is not a number: ${JSON.stringify(len)}`);
    inner = body.toString('utf8', end + 2, Math.min(body.length, end + 2 + Number(len)));
  }
  return finish(headers, inner);
}

/** A text/event-json body: one object; all values strings except array variables. */
export function parseJsonEvent(body: Buffer): EslEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new EventParseError(`event body is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new EventParseError('event body is not a JSON object');
  // The parsed object is used as is (copying ~150 headers per event halves throughput);
  // JSON.parse makes "__proto__" an own property, so no key can reach the prototype.
  const headers = parsed as Record<string, unknown>;
  let inner: string | undefined;
  for (const k in headers) {
    const v = headers[k];
    if (typeof v === 'string') continue;
    // Arrays in the form plain events use (ARRAY::a|:b), so consumers see one representation.
    headers[k] = Array.isArray(v) ? `ARRAY::${v.map(String).join('|:')}` : JSON.stringify(v);
  }
  if ('_body' in headers) {
    inner = String(headers._body);
    delete headers._body;
  }
  return finish(headers as Record<string, string>, inner);
}

function finish(headers: Record<string, string>, body: string | undefined): EslEvent {
  const name = headers['Event-Name'];
  if (!name) throw new EventParseError('event without Event-Name');
  return { name, headers, body };
}

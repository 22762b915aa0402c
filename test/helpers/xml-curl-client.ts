// A stand-in for mod_xml_curl: replays the real captured requests in
// test/fixtures/freeswitch/xml-curl/ (request line, headers and body bytes as
// FreeSWITCH sent them) against a listening server, optionally with credentials
// or with fields changed, and parses every answer back as strict XML.
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { projectRoot } from '../../daemon/paths.js';

export const FIXTURE_DIR = path.join(projectRoot, 'test', 'fixtures', 'freeswitch', 'xml-curl');

export interface Fixture {
  name: string;
  method: string;
  path: string;
  /** Header name/value pairs in wire order. */
  headers: Array<[string, string]>;
  body: Buffer;
  /** The decoded form fields, in order. */
  fields: Array<[string, string]>;
}

export function fixtureNames(): string[] {
  return fs
    .readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.body'))
    .map((f) => f.slice(0, -'.body'.length))
    .sort();
}

export function loadFixture(name: string): Fixture {
  const head = fs.readFileSync(path.join(FIXTURE_DIR, `${name}.headers`), 'latin1');
  const body = fs.readFileSync(path.join(FIXTURE_DIR, `${name}.body`));
  const [requestLine, ...lines] = head.split('\r\n').filter((l) => l !== '');
  const [method, target] = requestLine!.split(' ');
  const headers = lines.map((l): [string, string] => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
  const fields = body
    .toString('latin1')
    .split('&')
    .map((pair): [string, string] => {
      const eq = pair.indexOf('=');
      return [decodeURIComponent(pair.slice(0, eq)), decodeURIComponent(pair.slice(eq + 1))];
    });
  return { name, method: method!, path: target!, headers, body, fields };
}

// switch_url_encode: everything outside unreserved ASCII and `,/()!*'~$` as %XX.
const KEEP = /[A-Za-z0-9\-_.,/()!*'~$]/;
export function fsEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && KEEP.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function encodeFields(fields: ReadonlyArray<readonly [string, string]>): string {
  return fields.map(([k, v]) => `${fsEncode(k)}=${fsEncode(v)}`).join('&');
}

/** The fixture's fields with some replaced (set), added at the end if absent, or removed (undefined). */
export function withFields(f: Fixture, changes: Record<string, string | undefined>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const done = new Set<string>();
  for (const [k, v] of f.fields) {
    if (k in changes) {
      done.add(k);
      const nv = changes[k];
      if (nv !== undefined) out.push([k, nv]);
    } else out.push([k, v]);
  }
  for (const [k, v] of Object.entries(changes)) if (!done.has(k) && v !== undefined) out.push([k, v]);
  return out;
}

export interface Target {
  host: string;
  port: number;
  user?: string;
  password?: string;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface ReplayOptions {
  /** Replaces the body (Content-Length follows). */
  body?: string | Buffer;
  /** Send without credentials even if the target has them. */
  anonymous?: boolean;
  /** Extra or replaced headers. */
  headers?: Record<string, string>;
}

/** Sends the fixture's request as FreeSWITCH did, plus basic auth (gateway-credentials) if the target has it. */
export function replay(target: Target, f: Fixture, opts: ReplayOptions = {}): Promise<Reply> {
  const body =
    opts.body === undefined ? f.body : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body, 'utf8');
  const headers: Record<string, string> = {};
  for (const [k, v] of f.headers) headers[k] = v;
  headers['Content-Length'] = String(body.length);
  if (target.user !== undefined && !opts.anonymous) {
    headers.Authorization = `Basic ${Buffer.from(`${target.user}:${target.password ?? ''}`).toString('base64')}`;
  }
  Object.assign(headers, opts.headers);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.host, port: target.port, method: f.method, path: f.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Replays fields (encoded the way FreeSWITCH encodes) using a fixture's request line and headers. */
export const post = (
  target: Target,
  f: Fixture,
  fields: ReadonlyArray<readonly [string, string]>,
  opts: ReplayOptions = {},
) => replay(target, f, { ...opts, body: encodeFields(fields) });

// ---- strict XML parsing (sax in strict mode rejects anything not well-formed) ----

export interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

interface SaxParser {
  onerror: (e: Error) => void;
  onopentag: (n: { name: string; attributes: Record<string, string> }) => void;
  onclosetag: () => void;
  ontext: (t: string) => void;
  write(s: string): SaxParser;
  close(): void;
}
const sax = createRequire(import.meta.url)('sax') as { parser(strict: boolean): SaxParser };

export function parseXml(xml: string): El {
  const p = sax.parser(true);
  const root: El = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: El[] = [root];
  let error: Error | undefined;
  p.onerror = (e) => {
    error ??= e;
  };
  p.onopentag = (n) => {
    const el: El = { name: n.name, attrs: n.attributes, children: [], text: '' };
    stack.at(-1)!.children.push(el);
    stack.push(el);
  };
  p.onclosetag = () => {
    stack.pop();
  };
  p.ontext = (t) => {
    stack.at(-1)!.text += t;
  };
  p.write(xml).close();
  if (error) throw new Error(`not well-formed XML: ${error.message}\n${xml}`);
  if (root.children.length !== 1) throw new Error(`expected one root element\n${xml}`);
  return root.children[0]!;
}

export function findAll(el: El, name: string): El[] {
  const out: El[] = [];
  const walk = (e: El) => {
    for (const c of e.children) {
      if (c.name === name) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}

export function find(el: El, name: string, attrs: Record<string, string> = {}): El | undefined {
  return findAll(el, name).find((e) => Object.entries(attrs).every(([k, v]) => e.attrs[k] === v));
}

/** The FreeSWITCH document's section element; asserts the envelope. */
export function sectionOf(xml: string): El {
  const doc = parseXml(xml);
  if (doc.name !== 'document' || doc.attrs.type !== 'freeswitch/xml')
    throw new Error(`not a freeswitch/xml document:\n${xml}`);
  const s = doc.children.filter((c) => c.name === 'section');
  if (s.length !== 1) throw new Error(`expected exactly one section:\n${xml}`);
  return s[0]!;
}

/** `<result status="not found"/>`: FreeSWITCH asks its next binding, then its own files. */
export const isRetryableNotFound = (xml: string): boolean => {
  const s = sectionOf(xml);
  return s.attrs.name === 'result' && find(s, 'result')?.attrs.status === 'not found';
};

/** A valid directory document holding nothing: the lookup fails without asking another binding. */
export const isFinalNotFound = (xml: string): boolean => {
  const s = sectionOf(xml);
  return s.attrs.name === 'directory' && s.children.length === 0;
};

/** Either form: nothing FreeSWITCH can use. */
export const isNotFound = (xml: string): boolean => isRetryableNotFound(xml) || isFinalNotFound(xml);

/** `<action application data>` pairs of a dialplan answer, in order. */
export const actions = (xml: string): Array<[string, string]> =>
  findAll(sectionOf(xml), 'action').map((a) => [a.attrs.application!, a.attrs.data ?? '']);

// The HTTP requests the load generator sends: real mod_xml_curl captures from
// test/fixtures/freeswitch/xml-curl/, byte for byte, plus the Authorization header
// that xml_curl's gateway-credentials adds (the capture responder had no auth).
// Parent and generator child both import this, so a request is described by a
// small serialisable RequestSource and built where it is sent.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../daemon/paths.js';

export const FIXTURE_DIR = path.join(projectRoot, 'test', 'fixtures', 'freeswitch', 'xml-curl');

export const FIXTURES = {
  sipAuthRegister: '025-directory-sip_auth-register-acme-1001',
  dialplanInternal: '028-dialplan-acme-1001',
  dialplanDid: '039-dialplan-public-15550001000',
  networkList: '017-directory-network-list-acme',
} as const;

export interface Credentials {
  user: string;
  password: string;
}

export type RequestSource =
  /**
   * The same captured request, over and over; `channelVars` are appended as `variable_<name>` fields,
   * as FreeSWITCH sends them once our directory answer has put them on the channel.
   */
  | {
      kind: 'fixture';
      fixture: string;
      auth: Credentials | null;
      channelVars?: Record<string, string>;
      /** Fields of the capture given other values (or added): another destination, another section. */
      fields?: Record<string, string>;
    }
  /**
   * A capture about acme's user 1001 (sip_auth, or network-list with usersPerTenant 1) rewritten for
   * tenant `i % tenants`, user `1000 + floor(i / tenants)`: request i asks for a different user until
   * all tenants*users have been asked once, and consecutive requests belong to different tenants (as
   * registrations from many PBXs would).
   */
  | { kind: 'scaled'; fixture: string; tenants: number; usersPerTenant: number; auth: Credentials | null };

export const fixtureBody = (name: string): string => readFileSync(path.join(FIXTURE_DIR, `${name}.body`), 'latin1');

/** The captured request line and headers (CRLF), without the terminating empty line. */
function fixtureHead(name: string): string[] {
  const raw = readFileSync(path.join(FIXTURE_DIR, `${name}.headers`), 'latin1');
  return raw.split('\r\n').filter((line) => line !== '');
}

function withAuth(head: string[], auth: Credentials | null): string[] {
  if (!auth) return head;
  const token = Buffer.from(`${auth.user}:${auth.password}`).toString('base64');
  return [...head, `Authorization: Basic ${token}`];
}

function assemble(head: string[], body: string): Buffer {
  const lines = head.map((l) =>
    /^content-length:/i.test(l) ? `Content-Length: ${Buffer.byteLength(body, 'latin1')}` : l,
  );
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
}

/** Names the scaled data set uses (test/bench/scale-data.ts creates exactly these). */
export const scaledDomain = (tenant: number): string => `t${String(tenant).padStart(4, '0')}.bench.test`;
export const scaledSlug = (tenant: number): string => `t${String(tenant).padStart(4, '0')}`;
export const scaledUser = (user: number): string => String(1000 + user);

/** Rewrites a capture's fields that hold acme's domain or user 1001 (and only those) for another user. */
export function rewriteSipAuth(body: string, domain: string, user: string): string {
  return body
    .split('&')
    .map((field) => {
      const eq = field.indexOf('=');
      const value = field.slice(eq + 1);
      if (value === 'acme.pbx.test') return `${field.slice(0, eq)}=${domain}`;
      if (value === '1001') return `${field.slice(0, eq)}=${user}`;
      return field;
    })
    .join('&');
}

/** The capture with `fields` set to these values, in place where present, appended otherwise. */
export function withFields(body: string, fields: Record<string, string>): string {
  const left = new Map(Object.entries(fields));
  const out = body.split('&').map((field) => {
    const name = field.slice(0, field.indexOf('='));
    const value = left.get(name);
    if (value === undefined) return field;
    left.delete(name);
    return `${name}=${encodeURIComponent(value)}`;
  });
  for (const [name, value] of left) out.push(`${name}=${encodeURIComponent(value)}`);
  return out.join('&');
}

/** Returns request i (cycling) for a source. */
export function requestFactory(source: RequestSource): { count: number; get(i: number): Buffer } {
  switch (source.kind) {
    case 'fixture': {
      const extra = Object.entries(source.channelVars ?? {})
        .map(([k, v]) => `&variable_${k}=${encodeURIComponent(v)}`)
        .join('');
      const body = withFields(fixtureBody(source.fixture), source.fields ?? {});
      const buf = assemble(withAuth(fixtureHead(source.fixture), source.auth), body + extra);
      return { count: 1, get: () => buf };
    }
    case 'scaled': {
      const head = withAuth(fixtureHead(source.fixture), source.auth);
      const body = fixtureBody(source.fixture);
      const count = source.tenants * source.usersPerTenant;
      return {
        count,
        get: (i) => {
          const n = i % count;
          return assemble(
            head,
            rewriteSipAuth(body, scaledDomain(n % source.tenants), scaledUser(Math.floor(n / source.tenants))),
          );
        },
      };
    }
  }
}

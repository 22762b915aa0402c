// The one place XML documents for FreeSWITCH are built. xmlbuilder2 escapes
// markup; on top of that every value that did not come from our own constants
// goes through `text()`, because FreeSWITCH runs each xml_curl answer through
// its config preprocessor before parsing it (switch_xml_parse_file ->
// preprocess): `$${name}` is expanded there, and `${...}` later in action data
// (including API calls such as ${system(...)}); control characters and stray
// newlines would change how that line-oriented pass reads the document.
import { create, fragment } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';

export type { XMLBuilder };

export const XML_CONTENT_TYPE = 'text/xml; charset=utf-8';

// C0/C1 controls (NUL, CR, LF, TAB, ...), lone surrogates, non-characters, and `$`.
const UNSAFE = /[\p{Cc}\p{Cs}\uFFFE\uFFFF$]/gu;

/** An untrusted value made safe to place in an attribute FreeSWITCH will read. */
export function text(value: string, max = 256): string {
  return value.replace(UNSAFE, '').slice(0, max);
}

/** `<document type="freeswitch/xml"><section name=...>`; returns the section element. */
export function section(name: string, attrs: Record<string, string> = {}): XMLBuilder {
  return create({ version: '1.0', encoding: 'UTF-8' })
    .ele('document', { type: 'freeswitch/xml' })
    .ele('section', { name, ...attrs });
}

const WRITER = { prettyPrint: true, indent: ' ' } as const;

/**
 * Serializes the whole document. Pretty-printed on purpose: the preprocessor
 * drops every line that contains `<?`, so the XML declaration must sit on a
 * line of its own, never on the same line as the document.
 */
export function serialize(node: XMLBuilder): string {
  return node.doc().end(WRITER);
}

/**
 * Documents assembled from parts serialized apart (one tenant's gateways, its ACL list), so that a change re-renders
 * only its part: `serializeAt` writes one element exactly as serialize() would write it `depth` levels below
 * <document>; a `slot()` left in the frame marks where `fill()` puts such parts. Added only when there are parts,
 * so an element with none still reads `<gateways/>`, as serialize() writes it.
 */
const SLOT = 'fs-tenantd-slot';
export function serializeAt(
  depth: number,
  name: string,
  attrs: Record<string, string>,
  build?: (el: XMLBuilder) => void,
): string {
  // Built under one scratch parent and taken off again: a new fragment() per part costs as much as the part.
  const el = SCRATCH.ele(name, attrs);
  try {
    build?.(el);
    return el.toString({ ...WRITER, offset: depth });
  } finally {
    el.remove();
  }
}
const SCRATCH = fragment();

export function slot(parent: XMLBuilder, parts: readonly string[]): void {
  if (parts.length) parent.ele(SLOT);
}

/** `serialized` with the line of its slot replaced by `parts` (serialized at the slot's depth); as is without one. */
export function fill(serialized: string, parts: readonly string[]): string {
  const at = serialized.indexOf(`<${SLOT}/>`);
  if (at < 0) return serialized;
  const start = serialized.lastIndexOf('\n', at) + 1;
  return serialized.slice(0, start) + parts.join('\n') + serialized.slice(at + SLOT.length + 3);
}

/**
 * The answer for anything we do not serve, and for a fetch we could not answer now: switch_xml_locate
 * (src/switch_xml.c) then asks the next <binding> (another daemon, which may have the answer cached), and
 * after the last one FreeSWITCH's own files.
 */
export const NOT_FOUND = serialize(section('result').ele('result', { status: 'not found' }));

/**
 * A final "no such user or domain": a valid document whose directory section holds nothing. switch_xml_locate
 * stops at the first binding that answers a document that is not `<result status="not found"/>`; it then looks
 * for the domain in it, finds none and falls back to the static XML (which has no directory), so the lookup
 * fails exactly as for not found, with no second fetch: an unknown-user REGISTER costs one request, not one
 * per binding, and a second daemon with an older cache cannot turn the refusal into an answer.
 */
export const NO_SUCH_ENTRY = serialize(section('directory'));

/** A value we wrote ourselves (a template with FreeSWITCH variables): placed as is. */
export interface Trusted {
  readonly trusted: string;
}
export const trusted = (value: string): Trusted => ({ trusted: value });

/** Adds `<params>`/`<settings>` with one `<param name value/>` each; plain strings pass through `text()`. */
export function params(
  parent: XMLBuilder,
  tag: string,
  values: ReadonlyArray<readonly [string, string | Trusted]>,
): XMLBuilder {
  const el = parent.ele(tag);
  for (const [name, value] of values) {
    el.ele('param', { name, value: typeof value === 'string' ? text(value, 1024) : value.trusted });
  }
  return el;
}

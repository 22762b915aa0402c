// The core (xml-handlers/) is pure: a fetch and a tenant snapshot in, a document
// out. This walks every module in it and fails on an import that could reach
// I/O: a Node.js built-in (none is allowed today), an npm package other than
// the XML builder, or any path leaving xml-handlers/ (daemon/ imports the core,
// never the reverse). Also refused: the globals that do I/O without an import.
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { projectRoot } from '../../daemon/paths.js';

const test = suite('xml-handlers: the core imports nothing with I/O');

const CORE = path.join(projectRoot, 'xml-handlers');
/** npm packages the core may use: the XML builder is pure string building. */
const PACKAGES = new Set(['xmlbuilder2']);
/** Pure built-ins the core may use, each with its reason. None is needed (node:net was, for CIDRs: see cidr.ts). */
const BUILTINS = new Set<string>();
/** Globals that reach the outside world without an import. */
const IO_GLOBALS = new Set(['process', 'fetch', 'require', 'WebSocket', 'XMLHttpRequest', 'EventSource']);

const BUILTIN_NAMES = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Every problem with one module of the core at `file` (absolute), whose text is `source`. */
function violations(file: string, source: string): string[] {
  const out: string[] = [];
  for (const { fileName: spec } of ts.preProcessFile(source, true, true).importedFiles) {
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec);
      if (path.relative(CORE, target).startsWith('..')) out.push(`${spec}: leaves xml-handlers/`);
    } else if (BUILTIN_NAMES.has(spec) || spec.startsWith('node:')) {
      if (!BUILTINS.has(spec.replace(/^node:/, ''))) out.push(`${spec}: a Node.js built-in`);
    } else if (!PACKAGES.has(packageName(spec))) {
      out.push(`${spec}: an npm package outside the allow-list`);
    }
  }
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && IO_GLOBALS.has(node.text)) {
      const p = node.parent;
      // `x.process`, `{ fetch: … }`, `function require()` are names of our own, not the global.
      const ownName =
        (ts.isPropertyAccessExpression(p) ||
          ts.isPropertyAssignment(p) ||
          ts.isFunctionDeclaration(p) ||
          ts.isMethodDeclaration(p) ||
          ts.isVariableDeclaration(p) ||
          ts.isParameter(p) ||
          ts.isPropertySignature(p)) &&
        p.name === node;
      const line = sf.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      if (!ownName) out.push(`${node.text}: a global with I/O (line ${line})`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function coreModules(dir = CORE): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? coreModules(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

test('every module of xml-handlers/ imports only the core itself and the allowed packages', () => {
  const files = coreModules();
  assert.ok(files.length >= 20, `found the core's modules (${files.length})`);
  const problems = files.flatMap((f) =>
    violations(f, readFileSync(f, 'utf8')).map((v) => `${path.relative(projectRoot, f)}: ${v}`),
  );
  assert.equal(problems, []);
});

test('the check catches each kind of violation', () => {
  const file = path.join(CORE, 'dialplan', 'example.ts');
  const bad = (source: string) => violations(file, source).length > 0;
  for (const source of [
    "import { CHANNEL_VARS } from '../../daemon/calls/channel-vars.js';",
    "import type { TenantStore } from '../../daemon/tenants/tenant-store.js';",
    "export { x } from '../../test/helpers/postgres.js';",
    "import { readFileSync } from 'node:fs';",
    "import net from 'net';",
    "import { request } from 'node:http';",
    "const cp = await import('node:child_process');",
    "import pg from 'pg';",
    "import { LRUCache } from 'lru-cache';",
    'const url = process.env.DATABASE_URL;',
    "await fetch('http://example.com');",
  ])
    assert.ok(bad(source), source);
  for (const source of [
    "import { section } from '../xml.js';",
    "import type { TenantSnapshot } from '../model.js';",
    "import { create } from 'xmlbuilder2';",
    "import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';",
    '// a comment about process.env and fetch()',
    "const s = 'node:fs';",
    'const o = { process: 1 }; o.process = 2;',
  ])
    assert.not.ok(bad(source), source);
});

test.run();

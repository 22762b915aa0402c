// `npm test`: starts a throwaway PostgreSQL, runs every uvu suite under
// dist/test (optionally filtered: `node dist/test/run.js esl`), stops the
// cluster, and prints one closing line "tests: N passed, N failed, N skipped".
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';
import { makeClusterDir, removeClusterDir, startTestCluster } from './helpers/postgres.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];

const dir = await makeClusterDir('fs-tenantd-test-');
const started = Date.now();
const { cluster, info } = await startTestCluster(dir);
process.env.FS_TENANTD_TEST_PG = JSON.stringify(info);
console.log(`test PostgreSQL ready on 127.0.0.1:${info.port} in ${Date.now() - started} ms`);

let out = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

let code = 1;
try {
  const ctx = await parse(here, /\.test\.js$/, { ignore: [/helpers\//] });
  // The filter is a regular expression over the file's path (e.g. "esl", "test/db/").
  if (filter) ctx.suites = ctx.suites.filter((s) => new RegExp(filter).test(s.file));
  if (ctx.suites.length === 0) throw new Error(`no test files match ${filter}`);
  await run(ctx.suites, { bail: false });
  code = process.exitCode === undefined ? 0 : Number(process.exitCode);
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  process.stdout.write = write;
  // Imported only now: it loads uvu, which must not load before run() sets UVU_DEFER (or every suite runs at import).
  await (await import('./helpers/freeswitch.js')).stopFreeswitchStack();
  await cluster.stop();
  await removeClusterDir(dir);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips the ANSI colour codes uvu prints
const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? 0);
const total = num('Total');
const passed = num('Passed');
const skipped = num('Skipped');
console.log(`tests: ${passed} passed, ${total - passed} failed, ${skipped} skipped`);
process.exit(code || (total - passed > 0 ? 1 : 0));

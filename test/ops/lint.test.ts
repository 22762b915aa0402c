// The whole tree is formatted and linted by Biome (biome.jsonc): `biome ci` checks both without writing, so a file
// that was not run through `npx biome check --write .` fails the suite here, with Biome's own report.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { projectRoot } from '../../daemon/paths.js';

test('biome ci: formatting and lint rules hold on the whole tree', () => {
  const biome = path.join(projectRoot, 'node_modules', '.bin', 'biome');
  const r = spawnSync(biome, ['ci', '--colors=off', '--max-diagnostics=20', '.'], {
    cwd: projectRoot,
    encoding: 'utf8',
  });
  assert.is(r.status, 0, `${r.stdout}\n${r.stderr}\nfix with: npx biome check --write .`);
});

test.run();

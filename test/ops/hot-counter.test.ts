// hotCounter: increments are plain additions that prom-client takes over when
// the counter is read, so a scrape shows every one, however many bindings.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRegistry, hotCounter } from '../../daemon/metrics.js';

const config = { name: 'fs_tenantd_test_hot_total', help: 'test', labelNames: ['cache'] as const };

test('every increment of every binding shows in the exposition, and again after more', async () => {
  const registry = createRegistry();
  // Two modules binding the same counter (two caches share the hits counter).
  const a = hotCounter(registry, config)({ cache: 'domain' });
  const b = hotCounter(registry, config)({ cache: 'tenant' });
  const again = hotCounter(registry, config)({ cache: 'domain' });
  for (let i = 0; i < 5; i++) a.inc();
  b.inc(3);
  again.inc();
  const text = await registry.metrics();
  assert.match(text, /fs_tenantd_test_hot_total\{cache="domain"\} 6\n/);
  assert.match(text, /fs_tenantd_test_hot_total\{cache="tenant"\} 3\n/);
  a.inc();
  const values = (await registry.getSingleMetric(config.name)!.get()).values;
  assert.equal(values.map((v) => [v.labels.cache, v.value]).sort(), [['domain', 7], ['tenant', 3]]);
  // A second read adds nothing that was already handed over.
  assert.match(await registry.metrics(), /fs_tenantd_test_hot_total\{cache="domain"\} 7\n/);
});

test.run();

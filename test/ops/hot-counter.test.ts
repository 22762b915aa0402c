// hotCounter: increments are plain additions that prom-client takes over when
// the counter is read, so a scrape shows every one, however many bindings.
// hotHistogram: read exactly as prom-client's own Histogram given the same observations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import client from 'prom-client';
import { createRegistry, hotCounter, hotHistogram } from '../../daemon/metrics.js';

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
  assert.equal(values.map((v) => [v.labels.cache, v.value]).sort(), [
    ['domain', 7],
    ['tenant', 3],
  ]);
  // A second read adds nothing that was already handed over.
  assert.match(await registry.metrics(), /fs_tenantd_test_hot_total\{cache="domain"\} 7\n/);
});

test('hotHistogram: the same exposition and JSON as a prom-client Histogram fed the same values; reset empties it', async () => {
  const config = {
    name: 'fs_tenantd_test_seconds',
    help: 'test',
    labelNames: ['section'] as const,
    buckets: [0.001, 0.01, 0.1, 1],
  };
  const ours = createRegistry();
  const theirs = new client.Registry();
  const reference = new client.Histogram({ ...config, labelNames: [...config.labelNames], registers: [theirs] });
  const bind = hotHistogram(ours, config);
  const dir = bind({ section: 'directory' });
  const dp = hotHistogram(ours, config)({ section: 'dialplan' }); // a second registration binds the same histogram
  const samples: Array<[typeof dir, string, number]> = [
    [dir, 'directory', 0.0004],
    [dir, 'directory', 0.001],
    [dir, 'directory', 0.05],
    [dir, 'directory', 3],
    [dp, 'dialplan', 0.2],
    [dp, 'dialplan', 0.0099],
  ];
  for (const [h, section, v] of samples) {
    h.observe(v);
    reference.observe({ section }, v);
  }
  dir.observe(Number.NaN); // ignored, where prom-client would throw
  const text = (r: client.Registry) => r.getSingleMetricAsString(config.name);
  assert.is(await text(ours), await text(theirs));
  // get() as prom-client's, less its exemplar fields (always empty here).
  const plain = (m: { values: Array<{ labels: object; value: number; metricName?: string }> }) =>
    m.values.map(({ labels, value, metricName }) => ({ labels: { ...labels }, value, metricName }));
  assert.equal(plain(await ours.getSingleMetric(config.name)!.get()), plain(await reference.get()));
  ours.resetMetrics();
  reference.reset();
  assert.match(await text(ours), /fs_tenantd_test_seconds_count\{section="directory"\} 0/);
  dir.observe(0.5);
  reference.observe({ section: 'directory' }, 0.5);
  assert.match(await text(ours), /fs_tenantd_test_seconds_bucket\{le="1",section="directory"\} 1/);
});

test.run();

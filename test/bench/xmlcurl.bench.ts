// Items 1 and 3: warm-cache fetches with the real captured requests, against a
// bare fastify + formbody route answering a constant document of the same bytes.
import { DEMO_FLOW_CODES, seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { CHANNEL_VARS } from '../../xml-handlers/channel-vars.js';
import { freshDatabase } from '../helpers/postgres.js';
import { generate, generateInterleaved, type BenchContext, type LoadRun } from './context.js';
import { fetchOnce } from './http-wire.js';
import type { LoadJob } from './load-generator.js';
import { layout, profileArgs, startChild, type Child } from './processes.js';
import { figure, type Figure } from './report.js';
import { FIXTURES, requestFactory, type Credentials } from './requests.js';

interface Case {
  id: string;
  what: string;
  fixture: string;
  mode: LoadJob['mode'];
  /** A string every answer must contain (so a not-found answer cannot pass as a fast one). */
  expect: string;
  /** Issue 8's target on the req/s ratio, if any. */
  rpsTarget?: number;
  /** An internal call's A-leg carries the tenant variables our directory answer set on it. */
  tenantVars?: boolean;
  /** Fields of the capture changed (the dialled number; for ivr.conf the section and menu, see below). */
  fields?: (demo: DemoIds) => Record<string, string>;
}

interface DemoIds {
  /** acme's demo menu node (daemon/db/demo-seed.ts), its name in ivr.conf. */
  menu: string;
}

const dialling = (number: string) => () => ({ 'Caller-Destination-Number': number, 'Hunt-Destination-Number': number });

const CASES: Case[] = [
  {
    id: '1.close',
    what: 'directory sip_auth, warm, new TCP connection per request',
    fixture: FIXTURES.sipAuthRegister,
    mode: 'close',
    expect: '<user ',
    rpsTarget: 0.9,
  },
  {
    id: '1.keepalive',
    what: 'directory sip_auth, warm, keep-alive',
    fixture: FIXTURES.sipAuthRegister,
    mode: 'keepalive',
    expect: '<user ',
    rpsTarget: 0.9,
  },
  {
    id: '3.internal',
    what: 'dialplan internal call acme 1000->1001, warm, new connection per request',
    fixture: FIXTURES.dialplanInternal,
    mode: 'close',
    expect: 'bridge',
    tenantVars: true,
  },
  {
    id: '3.menu',
    what: 'dialplan internal call acme 1000->8000 (IVR menu node), warm, new connection per request',
    fixture: FIXTURES.dialplanInternal,
    mode: 'close',
    expect: 'application="ivr"',
    tenantVars: true,
    fields: dialling(DEMO_FLOW_CODES.menu),
  },
  {
    id: '3.timecond',
    what: 'dialplan internal call acme 1000->8100 (time condition, then menu or announcement), warm, new connection',
    fixture: FIXTURES.dialplanInternal,
    mode: 'close',
    expect: 'application="answer"',
    tenantVars: true,
    fields: dialling(DEMO_FLOW_CODES.hours),
  },
  {
    // mod_dptools' ivr app sends the calling channel's event headers with Menu-Name (ivr_application_function):
    // the internal call's capture with the configuration fields in place of the dialplan ones.
    id: '3.ivrconf',
    what: "configuration ivr.conf for acme's menu (the call's channel headers), warm, new connection per request",
    fixture: FIXTURES.dialplanInternal,
    mode: 'close',
    expect: '<menu ',
    tenantVars: true,
    fields: (demo) => ({
      section: 'configuration',
      tag_name: 'configuration',
      key_name: 'name',
      key_value: 'ivr.conf',
      'Menu-Name': demo.menu,
    }),
  },
  {
    id: '3.did',
    what: 'dialplan DID +15550001000 from trunk, warm, new connection per request',
    fixture: FIXTURES.dialplanDid,
    mode: 'close',
    expect: '<action ',
  },
];

export interface DaemonStart {
  port: number;
  auth: Credentials;
}

/** Who was busy: a server below ~0.9 of its core means something else (generator, machine) limited the run. */
export function cpuShares(d: LoadRun, b: LoadRun): string {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  return `CPU share server/generator: fs-tenantd ${pct(d.serverCpuShare)}/${pct(d.generatorCpuShare)}, baseline ${pct(b.serverCpuShare)}/${pct(b.generatorCpuShare)}`;
}

export async function benchWarmFetches(ctx: BenchContext): Promise<Figure[]> {
  const db = await freshDatabase(ctx.cluster);
  const seedPool = db.appPool(2);
  await seedDemo(seedPool);
  const {
    rows: [acme],
  } = await seedPool.query<{ tenant_id: string }>("SELECT tenant_id FROM resolve_tenant_slug('acme')");
  const demo: DemoIds = {
    menu: await withTenant(seedPool, asTenantId(acme!.tenant_id), async (c) =>
      String((await c.query("SELECT id FROM call_flow_nodes WHERE name = 'main-menu'")).rows[0].id),
    ),
  };
  await seedPool.end();
  const acmeVars = { [CHANNEL_VARS.tenantId]: acme!.tenant_id, [CHANNEL_VARS.tenantSlug]: 'acme' };
  const figures: Figure[] = [];
  let daemon: Child | undefined;
  let baseline: Child | undefined;
  try {
    daemon = await startChild('servers/daemon-http.js', layout.serverCpu, ['--expose-gc', ...profileArgs()]);
    const started = await daemon.call<DaemonStart>('start', { appUrl: db.appUrl, poolMax: ctx.poolMax });
    const sourceOf = (c: Case) =>
      ({
        kind: 'fixture',
        fixture: c.fixture,
        auth: started.auth,
        ...(c.tenantVars ? { channelVars: acmeVars } : {}),
        ...(c.fields ? { fields: c.fields(demo) } : {}),
      }) as const;
    // The daemon is one long-lived process serving every case (a baseline is started per case and is
    // tiny): every case once, unmeasured, so the first case measured is not the one V8 compiles it in.
    for (const c of CASES) {
      await generate(daemon, {
        host: '127.0.0.1',
        port: started.port,
        mode: c.mode,
        connections: ctx.connections,
        source: sourceOf(c),
        durationMs: ctx.warmupMs,
        warmupMs: 0,
        expect: c.expect,
      });
    }
    for (const c of CASES) {
      const source = sourceOf(c);
      const first = await fetchOnce(started.port, requestFactory(source).get(0));
      const body = first.body.toString('utf8');
      if (first.status !== 200 || !body.includes(c.expect)) {
        figures.push(
          figure({
            id: `${c.id}.rps`,
            what: c.what,
            unit: 'req/s',
            better: 'higher',
            value: null,
            baseline: null,
            baselineName: 'bare fastify+formbody route',
            note: `daemon answered ${first.status} without ${JSON.stringify(c.expect)}: ${body.slice(0, 200)}`,
          }),
        );
        continue;
      }
      baseline = await startChild('servers/baseline-http.js', layout.serverCpu, profileArgs());
      const { port: basePort } = await baseline.call<{ port: number }>('start', {
        document: body,
        contentType: first.contentType,
      });
      const job = (port: number): LoadJob => ({
        host: '127.0.0.1',
        port,
        mode: c.mode,
        connections: ctx.connections,
        source,
        durationMs: ctx.sliceMs,
        warmupMs: 0,
        expect: c.expect,
      });
      const {
        runs: [d, b],
        pairRatios,
      } = await generateInterleaved(
        [
          { server: daemon, job: job(started.port) },
          { server: baseline, job: job(basePort) },
        ],
        ctx.slices,
        ctx.sliceMs,
        ctx.warmupMs,
      );
      await baseline.stop();
      baseline = undefined;
      const sorted = [...pairRatios].sort((x, y) => x - y);
      const q = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))]!.toFixed(2);
      const spread = `slice-pair ratios: median ${q(0.5)}, middle half ${q(0.25)}-${q(0.75)}, all ${q(0)}-${q(1)}`;
      ctx.log(
        `${c.id}: fs-tenantd ${Math.round(d.rps)} req/s (p99 ${d.p99Ms.toFixed(2)} ms), baseline ${Math.round(b.rps)} req/s (p99 ${b.p99Ms.toFixed(2)} ms), ${first.body.length} B answer; ${spread}`,
      );
      const baselineName = `bare fastify+formbody route, same ${first.body.length}-byte document`;
      const note = `${ctx.connections} connections, ${pairRatios.length} alternating ${ctx.sliceMs} ms slices per side, pooled (${d.requests} requests); ${spread}; ${cpuShares(d, b)}`;
      figures.push(
        figure({
          id: `${c.id}.rps`,
          what: c.what,
          unit: 'req/s',
          better: 'higher',
          value: d.rps,
          baseline: b.rps,
          baselineName,
          note,
          ...(c.rpsTarget ? { target: { on: 'ratio', op: '>=', limit: c.rpsTarget } } : {}),
        }),
        figure({
          id: `${c.id}.p50`,
          what: `${c.what}: p50 latency`,
          unit: 'ms',
          better: 'lower',
          value: d.p50Ms,
          baseline: b.p50Ms,
          baselineName,
        }),
        figure({
          id: `${c.id}.p99`,
          what: `${c.what}: p99 latency`,
          unit: 'ms',
          better: 'lower',
          value: d.p99Ms,
          baseline: b.p99Ms,
          baselineName,
        }),
        figure({
          id: `${c.id}.cpu`,
          what: `${c.what}: server CPU per request`,
          unit: 'µs',
          better: 'lower',
          value: d.serverCpuUsPerRequest,
          baseline: b.serverCpuUsPerRequest,
          baselineName,
          note: 'CPU time of the server process / requests answered: stable even when the machine is shared',
        }),
      );
    }
  } finally {
    await baseline?.stop();
    await daemon?.stop();
    await db.drop();
  }
  return figures;
}

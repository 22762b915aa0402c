// Naming, list parsers (real captured replies), the planner and event parsing.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { eventDomain, parseCcEvent } from '../../daemon/callcenter/cc-events.js';
import {
  ListParseError,
  parseAgentList,
  parseMemberList,
  parseQueueList,
  parseTierList,
} from '../../daemon/callcenter/list-parsers.js';
import {
  agentContact,
  agentFsName,
  domainOf,
  NamingError,
  parseFsName,
  queueFsName,
} from '../../xml-handlers/callcenter-names.js';
import { apiArg, planReconciliation, type ActualState } from '../../daemon/callcenter/planner.js';
import { QueueStats } from '../../daemon/callcenter/queue-stats.js';
import type { TenantCallcenter } from '../../xml-handlers/callcenter-state.js';
import { createRegistry, TenantLabels } from '../../daemon/metrics.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { projectRoot } from '../../daemon/paths.js';
import { ModCallcenterEmulator, separateBlank } from './mod-callcenter-emulator.js';

const ESL = path.join(projectRoot, 'test/fixtures/freeswitch/esl');
/** The api/response body of a captured reply frame. */
const apiBody = (file: string): string => {
  const raw = readFileSync(path.join(ESL, file));
  const split = raw.indexOf('\n\n');
  const len = Number(/Content-Length: (\d+)/.exec(raw.subarray(0, split).toString())![1]);
  return raw.subarray(split + 2, split + 2 + len).toString('utf8');
};

const ACME = asTenantId('11111111-1111-4111-8111-111111111111');
const GLOBEX = asTenantId('22222222-2222-4222-8222-222222222222');

const test = suite('callcenter pure parts');

test('names are qualified by the tenant domain and parse back', () => {
  assert.is(queueFsName('support', 'acme.pbx.test'), 'support@acme.pbx.test');
  assert.is(agentFsName('1001', 'globex.pbx.test'), '1001@globex.pbx.test');
  assert.equal(parseFsName('support@acme.pbx.test', 'queue'), { local: 'support', domain: 'acme.pbx.test' });
  assert.is(parseFsName('support@acme.pbx.test', 'agent'), undefined);
  assert.is(parseFsName('support', 'queue'), undefined);
  assert.is(parseFsName('a@b@acme.pbx.test', 'queue'), undefined);
  assert.is(domainOf('1001@ACME.pbx.test'), 'acme.pbx.test');
  assert.is(domainOf('nodomain'), undefined);
  for (const bad of [
    () => queueFsName('Support Desk', 'acme.pbx.test'),
    () => agentFsName('10a1', 'acme.pbx.test'),
    () => queueFsName('support', "acme.pbx.test'"),
    () => agentFsName('1001', ''),
  ]) {
    assert.throws(bad, (e: unknown) => e instanceof NamingError);
  }
});

test('the agent contact dials only the agent itself and carries its tenant', () => {
  const c = agentContact({
    tenantId: ACME,
    tenantSlug: 'acme',
    extension: '1001',
    domain: 'acme.pbx.test',
    legTimeoutS: 15,
  });
  assert.is(c, `{fs_tenant_id=${ACME},fs_tenant_slug=acme}[leg_timeout=15]user/1001@acme.pbx.test`);
  // The callcenter_config argument splitter (switch_separate_string) keeps it in one piece.
  assert.equal(separateBlank(`agent set contact 1001@acme.pbx.test ${apiArg(c)}`), [
    'agent',
    'set',
    'contact',
    '1001@acme.pbx.test',
    c,
  ]);
  assert.equal(separateBlank(`agent set status 1001@acme.pbx.test ${apiArg('On Break')}`), [
    'agent',
    'set',
    'status',
    '1001@acme.pbx.test',
    'On Break',
  ]);
  assert.throws(
    () => apiArg("it's"),
    (e: unknown) => e instanceof NamingError,
  );
  assert.throws(() =>
    agentContact({
      tenantId: ACME,
      tenantSlug: 'Acme Corp',
      extension: '1001',
      domain: 'acme.pbx.test',
      legTimeoutS: 15,
    }),
  );
});

test('list replies captured from FreeSWITCH parse', () => {
  const agents = parseAgentList(apiBody('api-callcenter_config-agent-list.raw'));
  assert.equal(
    agents.map((a) => [a.name, a.type, a.contact, a.status, a.maxNoAnswer, a.wrapUpTime, a.rejectDelayTime]),
    [
      ['1001@acme.pbx.test', 'callback', '[leg_timeout=15]user/1001@acme.pbx.test', 'Available', 3, 2, 5],
      ['1002@acme.pbx.test', 'callback', '[leg_timeout=15]user/1002@acme.pbx.test', 'Logged Out', 3, 2, 5],
    ],
  );
  assert.is(parseAgentList(apiBody('api-callcenter_config-agent-list-call-up.raw'))[0]!.state, 'In a queue call');
  assert.equal(parseTierList(apiBody('api-callcenter_config-tier-list.raw')), [
    { queue: 'support@acme.pbx.test', agent: '1001@acme.pbx.test', state: 'Ready', level: 1, position: 1 },
    { queue: 'support@acme.pbx.test', agent: '1002@acme.pbx.test', state: 'Ready', level: 1, position: 2 },
  ]);
  const [queue] = parseQueueList(apiBody('api-callcenter_config-queue-list.raw'));
  assert.equal(queue, {
    name: 'support@acme.pbx.test',
    strategy: 'longest-idle-agent',
    mohSound: 'local_stream://moh',
    timeBaseScore: 'system',
    tierRulesApply: false,
    discardAbandonedAfter: 60,
    abandonedResumeAllowed: false,
    maxWaitTime: 0,
    maxWaitTimeWithNoAgent: 0,
    callsAnswered: 0,
    callsAbandoned: 0,
  });
  const [member] = parseMemberList(apiBody('api-callcenter_config-queue-list-members-call-up.raw'));
  assert.equal(member, {
    queue: 'support@acme.pbx.test',
    uuid: 'cf30d9af-fc9c-4dd2-b210-e33c59c7198a',
    sessionUuid: 'a5054ed3-287c-4956-8507-582680c9e4b0',
    state: 'Answered',
  });
  // No rows: mod_callcenter writes no header either.
  assert.equal(parseAgentList('+OK\n'), []);
});

test('damaged or refused list replies are errors, a "|" inside a contact is not', () => {
  for (const bad of [
    '',
    '-ERR callcenter_config Command not found!\n',
    'name|type\nx|y\n+OK\n',
    'queue|agent|state|level|position\nq@a.b|1@a.b|Ready|one|1\n+OK\n',
    'queue|agent|state|level|position\nq@a.b|1@a.b\n+OK\n',
  ]) {
    assert.throws(
      () => (bad.includes('queue|') ? parseTierList(bad) : parseAgentList(bad)),
      (e: unknown) => e instanceof ListParseError,
      bad,
    );
  }
  const body = apiBody('api-callcenter_config-agent-list.raw').replace(
    '[leg_timeout=15]user/1001@acme.pbx.test',
    'user/1001@a.test|user/1001@b.test',
  );
  assert.is(parseAgentList(body)[0]!.contact, 'user/1001@a.test|user/1001@b.test');
});

test('the emulator answers list commands byte for byte like the captured FreeSWITCH', () => {
  const emu = new ModCallcenterEmulator(() => undefined);
  emu.loadQueue('support@acme.pbx.test', {
    strategy: 'longest-idle-agent',
    mohSound: 'local_stream://moh',
    timeBaseScore: 'system',
    tierRulesApply: false,
    discardAbandonedAfter: 60,
    abandonedResumeAllowed: false,
    maxWaitTime: 0,
    maxWaitTimeWithNoAgent: 0,
  });
  for (const [n, status] of [
    ['1001', 'Available'],
    ['1002', 'Logged Out'],
  ] as const) {
    emu.addAgent(`${n}@acme.pbx.test`, 'callback', {
      contact: `[leg_timeout=15]user/${n}@acme.pbx.test`,
      status,
      max_no_answer: 3,
      wrap_up_time: 2,
      reject_delay_time: 5,
      busy_delay_time: 5,
      last_status_change: 1795383731,
    });
  }
  emu.api('callcenter_config tier add support@acme.pbx.test 1002@acme.pbx.test 1 2');
  emu.api('callcenter_config tier add support@acme.pbx.test 1001@acme.pbx.test 1 1');
  assert.is(emu.api('callcenter_config agent list'), apiBody('api-callcenter_config-agent-list.raw'));
  assert.is(emu.api('callcenter_config tier list'), apiBody('api-callcenter_config-tier-list.raw'));
  assert.is(emu.api('callcenter_config queue list'), apiBody('api-callcenter_config-queue-list.raw'));
});

test('queue load imports the agents and tiers of the CC-Queue answer, as in the captured session', () => {
  // conn-api-session.raw sent `queue load` and `agent set status` only, and the lists then held both agents and tiers.
  const settings = {
    strategy: 'longest-idle-agent',
    mohSound: 'local_stream://moh',
    timeBaseScore: 'system',
    tierRulesApply: false,
    discardAbandonedAfter: 60,
    abandonedResumeAllowed: false,
    maxWaitTime: 0,
    maxWaitTimeWithNoAgent: 0,
  };
  const agent = (n: string) => ({
    name: `${n}@acme.pbx.test`,
    type: 'callback',
    contact: `[leg_timeout=15]user/${n}@acme.pbx.test`,
    status: 'Logged Out',
    maxNoAnswer: 3,
    wrapUpTime: 2,
    rejectDelayTime: 5,
    busyDelayTime: 5,
    noAnswerDelayTime: 0,
  });
  const answer = {
    ...settings,
    agents: [agent('1001'), agent('1002')],
    tiers: [
      { queue: 'support@acme.pbx.test', agent: '1001@acme.pbx.test', level: 1, position: 1 },
      { queue: 'support@acme.pbx.test', agent: '1002@acme.pbx.test', level: 1, position: 2 },
    ],
  };
  const emu = new ModCallcenterEmulator((q) => (q === 'support@acme.pbx.test' ? answer : undefined));
  assert.is(emu.api('callcenter_config queue load support@acme.pbx.test'), '+OK\n');
  assert.is(emu.api('callcenter_config agent set status 1001@acme.pbx.test Available'), '+OK\n');
  assert.is(emu.api('callcenter_config agent list'), apiBody('api-callcenter_config-agent-list.raw'));
  assert.is(emu.api('callcenter_config tier list'), apiBody('api-callcenter_config-tier-list.raw'));
  assert.is(emu.api('callcenter_config queue list'), apiBody('api-callcenter_config-queue-list.raw'));
  // Adding them again is refused with mod_callcenter's texts; nothing changes.
  assert.is(emu.api('callcenter_config agent add 1002@acme.pbx.test callback'), '-ERR Agent already exist!\n');
  assert.is(
    emu.api('callcenter_config tier add support@acme.pbx.test 1002@acme.pbx.test 1 2'),
    '-ERR Tier already exist!\n',
  );
  assert.is(emu.api('callcenter_config agent list'), apiBody('api-callcenter_config-agent-list.raw'));
  // A reload imports again: the answer's values win over what was set since.
  emu.api('callcenter_config tier set level support@acme.pbx.test 1002@acme.pbx.test 4');
  assert.is(emu.api('callcenter_config queue reload support@acme.pbx.test'), '+OK\n');
  assert.is(emu.agents.find((a) => a.name === '1001@acme.pbx.test')!.status, 'Logged Out');
  assert.is(emu.api('callcenter_config tier list'), apiBody('api-callcenter_config-tier-list.raw'));

  // A queue loaded on first use (get_queue, here by `tier add`) imports nothing.
  const lazy = new ModCallcenterEmulator((q) => (q === 'support@acme.pbx.test' ? answer : undefined));
  lazy.api('callcenter_config agent add 1001@acme.pbx.test callback');
  assert.is(lazy.api('callcenter_config tier add support@acme.pbx.test 1001@acme.pbx.test 1 1'), '+OK\n');
  assert.equal(
    lazy.agents.map((a) => a.name),
    ['1001@acme.pbx.test'],
  );
  assert.equal(
    lazy.tiers.map((t) => t.agent),
    ['1001@acme.pbx.test'],
  );
});

const queue = (fsName: string) => ({
  fsName,
  strategy: 'longest-idle-agent',
  mohSound: 'local_stream://moh',
  timeBaseScore: 'system',
  tierRulesApply: false,
  discardAbandonedAfter: 60,
  abandonedResumeAllowed: false,
  maxWaitTime: 0,
  maxWaitTimeWithNoAgent: 0,
});
const agent = (tenantId: typeof ACME, slug: string, ext: string, domain: string) => ({
  fsName: `${ext}@${domain}`,
  contact: agentContact({ tenantId, tenantSlug: slug, extension: ext, domain, legTimeoutS: 15 }),
  status: 'Available' as const,
  maxNoAnswer: 3,
  wrapUpTime: 10,
  rejectDelayTime: 10,
  busyDelayTime: 60,
  noAnswerDelayTime: 60,
});

function twoTenants(): TenantCallcenter[] {
  return [
    {
      tenantId: ACME,
      slug: 'acme',
      domain: 'acme.pbx.test',
      queues: [queue('support@acme.pbx.test')],
      agents: [agent(ACME, 'acme', '1001', 'acme.pbx.test')],
      tiers: [{ queue: 'support@acme.pbx.test', agent: '1001@acme.pbx.test', level: 1, position: 1 }],
    },
    {
      tenantId: GLOBEX,
      slug: 'globex',
      domain: 'globex.pbx.test',
      queues: [queue('support@globex.pbx.test')],
      agents: [agent(GLOBEX, 'globex', '1001', 'globex.pbx.test')],
      tiers: [{ queue: 'support@globex.pbx.test', agent: '1001@globex.pbx.test', level: 2, position: 1 }],
    },
  ];
}

const EMPTY: ActualState = { queues: [], agents: [], tiers: [] };

test('planning from an empty node: queues, then agents, then tiers; colliding names stay apart', () => {
  const plan = planReconciliation(twoTenants(), EMPTY);
  assert.equal(plan.refusals, []);
  const cmds = plan.commands.map((c) => c.command);
  assert.equal(
    cmds.filter((c) => / (queue|agent add|tier add) /.test(c)),
    [
      'callcenter_config queue load support@acme.pbx.test',
      'callcenter_config queue load support@globex.pbx.test',
      'callcenter_config agent add 1001@acme.pbx.test callback',
      'callcenter_config agent add 1001@globex.pbx.test callback',
      'callcenter_config tier add support@acme.pbx.test 1001@acme.pbx.test 1 1',
      'callcenter_config tier add support@globex.pbx.test 1001@globex.pbx.test 2 1',
    ],
  );
  assert.ok(
    cmds.indexOf('callcenter_config agent set status 1001@acme.pbx.test Available') >
      cmds.findIndex((c) =>
        c.startsWith(`callcenter_config agent set contact 1001@acme.pbx.test {fs_tenant_id=${ACME}`),
      ),
  );
  for (const c of plan.commands) assert.is(c.tenantId, c.command.includes('globex') ? GLOBEX : ACME, c.command);
});

test('a node already in the desired state needs no command', () => {
  const emu = new ModCallcenterEmulator((q) =>
    twoTenants()
      .flatMap((t) => t.queues)
      .find((x) => x.fsName === q),
  );
  for (const c of planReconciliation(twoTenants(), EMPTY).commands)
    assert.ok(emu.api(c.command)!.startsWith('+OK'), c.command);
  const actual = {
    queues: parseQueueList(emu.api('callcenter_config queue list')!),
    agents: parseAgentList(emu.api('callcenter_config agent list')!),
    tiers: parseTierList(emu.api('callcenter_config tier list')!),
  };
  assert.equal(planReconciliation(twoTenants(), actual).commands, []);
});

test("a tenant's primary domain changes: the full pass moves its objects to the new names, leaves none behind", () => {
  // The names carry the primary domain (callcenter-state.ts); a sip_domains change runs a full pass (callcenter-sync).
  const moved = twoTenants().map((t) =>
    t.slug === 'acme'
      ? (JSON.parse(JSON.stringify(t).replaceAll('acme.pbx.test', 'voice.acme.test')) as TenantCallcenter)
      : t,
  );
  const emu = new ModCallcenterEmulator((q) =>
    [...twoTenants(), ...moved].flatMap((t) => t.queues).find((x) => x.fsName === q),
  );
  for (const c of planReconciliation(twoTenants(), EMPTY).commands) emu.api(c.command);
  const read = () => ({
    queues: parseQueueList(emu.api('callcenter_config queue list')!),
    agents: parseAgentList(emu.api('callcenter_config agent list')!),
    tiers: parseTierList(emu.api('callcenter_config tier list')!),
  });
  const plan = planReconciliation(moved, read());
  const cmds = plan.commands.map((c) => c.command);
  // (The old agent's tier goes with the agent: no tier del of its own.)
  for (const stale of [
    'callcenter_config agent del 1001@acme.pbx.test',
    'callcenter_config queue unload support@acme.pbx.test',
  ])
    assert.ok(
      cmds.indexOf(stale) >= 0 &&
        cmds.indexOf(stale) < cmds.indexOf('callcenter_config queue load support@voice.acme.test'),
      stale,
    );
  for (const c of cmds) assert.ok(emu.api(c)!.startsWith('+OK'), c);
  const after = JSON.stringify(read());
  assert.not.ok(after.includes('acme.pbx.test'), after);
  assert.ok(after.includes('support@voice.acme.test') && after.includes('1001@voice.acme.test'), after);
  assert.not.ok(
    cmds.some((c) => c.includes('globex')),
    'the other tenant is untouched',
  );
  // New names are the tenant's; the old ones no longer name its primary, so their removal is attributed to nobody.
  for (const c of plan.commands)
    assert.is(c.tenantId, c.command.includes('acme.pbx.test') ? undefined : ACME, c.command);
});

test('the planner refuses cross-tenant tiers, foreign names and contacts that dial elsewhere, and removes their copies', () => {
  const tenants = twoTenants();
  tenants[0]!.tiers.push({ queue: 'support@acme.pbx.test', agent: '1001@globex.pbx.test', level: 1, position: 1 });
  tenants[1]!.tiers.push({ queue: 'support@acme.pbx.test', agent: '1001@acme.pbx.test', level: 1, position: 1 });
  tenants[1]!.agents.push({
    ...agent(GLOBEX, 'globex', '1002', 'globex.pbx.test'),
    contact: `{fs_tenant_id=${GLOBEX}}[leg_timeout=15]user/1002@acme.pbx.test`,
  });
  tenants[1]!.queues.push(queue('sales@acme.pbx.test'));
  tenants[0]!.tiers.push({ queue: 'sales@acme.pbx.test', agent: '1001@acme.pbx.test', level: 1, position: 1 });
  const actual: ActualState = {
    ...EMPTY,
    tiers: [{ queue: 'support@acme.pbx.test', agent: '1001@globex.pbx.test', state: 'Ready', level: 1, position: 1 }],
  };
  const plan = planReconciliation(tenants, actual);
  assert.equal(
    plan.refusals.map((r) => [r.tenantId === ACME ? 'acme' : 'globex', r.object, r.name, r.reason]),
    [
      ['acme', 'tier', 'support@acme.pbx.test 1001@globex.pbx.test', 'tier-cross-tenant'],
      ['acme', 'tier', 'sales@acme.pbx.test 1001@acme.pbx.test', 'tier-unknown-queue'],
      ['globex', 'queue', 'sales@acme.pbx.test', 'name-not-of-tenant'],
      ['globex', 'agent', '1002@globex.pbx.test', 'contact-not-own-user'],
      ['globex', 'tier', 'support@acme.pbx.test 1001@acme.pbx.test', 'tier-cross-tenant'],
    ],
  );
  const cmds = plan.commands.map((c) => c.command);
  assert.ok(cmds.includes('callcenter_config tier del support@acme.pbx.test 1001@globex.pbx.test'));
  assert.not.ok(cmds.some((c) => c.includes('sales@') || c.includes('1002@')));
  assert.is(cmds.filter((c) => c.includes(' tier add ')).length, 2);
});

test('stale and foreign leftovers are removed before anything is created', () => {
  const actual: ActualState = {
    queues: [
      { ...queue('old@acme.pbx.test'), name: 'old@acme.pbx.test', callsAnswered: 0, callsAbandoned: 0 },
      {
        ...queue('support@acme.pbx.test'),
        name: 'support@acme.pbx.test',
        strategy: 'ring-all',
        callsAnswered: 0,
        callsAbandoned: 0,
      },
    ],
    agents: [
      {
        name: '1001@acme.pbx.test',
        type: 'uuid-standby',
        contact: '[leg_timeout=15]user/1001@acme.pbx.test',
        status: 'On Break',
        state: 'Waiting',
        maxNoAnswer: 3,
        wrapUpTime: 10,
        rejectDelayTime: 10,
        busyDelayTime: 60,
        noAnswerDelayTime: 60,
      },
      {
        name: '1009@gone.pbx.test',
        type: 'callback',
        contact: 'user/1009@gone.pbx.test',
        status: 'Available',
        state: 'Waiting',
        maxNoAnswer: 0,
        wrapUpTime: 0,
        rejectDelayTime: 0,
        busyDelayTime: 0,
        noAnswerDelayTime: 0,
      },
      {
        name: 'bad agent',
        type: 'callback',
        contact: '',
        status: '',
        state: '',
        maxNoAnswer: 0,
        wrapUpTime: 0,
        rejectDelayTime: 0,
        busyDelayTime: 0,
        noAnswerDelayTime: 0,
      },
      {
        name: "o'brien",
        type: 'callback',
        contact: '',
        status: '',
        state: '',
        maxNoAnswer: 0,
        wrapUpTime: 0,
        rejectDelayTime: 0,
        busyDelayTime: 0,
        noAnswerDelayTime: 0,
      },
    ],
    tiers: [
      { queue: 'old@acme.pbx.test', agent: '1001@acme.pbx.test', state: 'Ready', level: 1, position: 1 },
      { queue: 'support@acme.pbx.test', agent: '1009@gone.pbx.test', state: 'Ready', level: 1, position: 1 },
      { queue: 'support@acme.pbx.test', agent: '1001@acme.pbx.test', state: 'Ready', level: 3, position: 1 },
    ],
  };
  const plan = planReconciliation(twoTenants().slice(0, 1), actual);
  assert.equal(
    plan.commands.map((c) => c.command),
    [
      'callcenter_config tier del old@acme.pbx.test 1001@acme.pbx.test',
      'callcenter_config agent del 1009@gone.pbx.test', // its tier goes with it (cc_agent_del)
      "callcenter_config agent del 'bad agent'",
      'callcenter_config queue unload old@acme.pbx.test',
      'callcenter_config queue reload support@acme.pbx.test',
      'callcenter_config agent set type 1001@acme.pbx.test callback',
      `callcenter_config agent set contact 1001@acme.pbx.test {fs_tenant_id=${ACME},fs_tenant_slug=acme}[leg_timeout=15]user/1001@acme.pbx.test`,
      'callcenter_config agent set status 1001@acme.pbx.test Available',
      'callcenter_config tier set level support@acme.pbx.test 1001@acme.pbx.test 1',
    ],
  );
  // A quote cannot pass through callcenter_config's argument splitter: reported, never sent.
  assert.equal(plan.unremovable, ["o'brien"]);
});

test('an incremental plan only touches the scoped domains', () => {
  const actual: ActualState = {
    ...EMPTY,
    agents: [
      {
        name: '1005@globex.pbx.test',
        type: 'callback',
        contact: 'user/1005@globex.pbx.test',
        status: 'Available',
        state: 'Waiting',
        maxNoAnswer: 0,
        wrapUpTime: 0,
        rejectDelayTime: 0,
        busyDelayTime: 0,
        noAnswerDelayTime: 0,
      },
    ],
  };
  const acmeOnly = planReconciliation(twoTenants().slice(0, 1), actual, { scope: new Set(['acme.pbx.test']) });
  assert.not.ok(acmeOnly.commands.some((c) => c.command.includes('globex')));
  const full = planReconciliation(twoTenants().slice(0, 1), actual);
  assert.ok(full.commands.some((c) => c.command === 'callcenter_config agent del 1005@globex.pbx.test'));
});

test('a domain claimed by two tenants is refused for both', () => {
  const [a, b] = twoTenants();
  const plan = planReconciliation([a!, { ...b!, domain: 'acme.pbx.test' }], EMPTY);
  assert.equal(
    plan.refusals.map((r) => r.reason),
    ['domain-claimed-twice', 'domain-claimed-twice'],
  );
  assert.equal(plan.commands, []);
});

test('callcenter::info headers parse; attribution needs one agreeing domain', () => {
  const e = parseCcEvent({
    'Event-Subclass': 'callcenter::info',
    'CC-Action': 'member-queue-end',
    'CC-Queue': 'support@acme.pbx.test',
    'CC-Agent': '1001@acme.pbx.test',
    'CC-Member-UUID': 'm1',
    'CC-Cause': 'Cancel',
  });
  assert.equal(e, { action: 'member-queue-end', queue: 'support@acme.pbx.test', member: 'm1', cause: 'Cancel' });
  assert.equal(eventDomain(e!), { ok: true, domain: 'acme.pbx.test' });
  const cross = parseCcEvent({
    'Event-Subclass': 'callcenter::info',
    'CC-Action': 'bridge-agent-start',
    'CC-Queue': 'support@acme.pbx.test',
    'CC-Agent': '1001@globex.pbx.test',
    'CC-Member-UUID': 'm1',
  })!;
  assert.equal(eventDomain(cross), { ok: false, reason: 'domains-disagree' });
  const bare = parseCcEvent({
    'Event-Subclass': 'callcenter::info',
    'CC-Action': 'members-count',
    'CC-Queue': 'support',
    'CC-Count': '2',
  })!;
  assert.equal(eventDomain(bare), { ok: false, reason: 'name-without-domain' });
  assert.is(
    parseCcEvent({
      'Event-Subclass': 'callcenter::info',
      'CC-Action': 'members-count',
      'CC-Queue': 'support@acme.pbx.test',
      'CC-Count': 'x',
    }),
    undefined,
  );
  assert.is(parseCcEvent({ 'Event-Subclass': 'conference::maintenance', 'CC-Action': 'members-count' }), undefined);
});

test('queue stats: per node, per tenant; tenants past the label bound share one summed series', async () => {
  const registry = createRegistry();
  const stats = new QueueStats(registry, new TenantLabels(1));
  const owners = new Map([
    ['acme.pbx.test', { tenantSlug: 'acme' }],
    ['globex.pbx.test', { tenantSlug: 'globex' }],
    ['initech.pbx.test', { tenantSlug: 'initech' }],
  ]);
  const member = (queue: string, uuid: string) => ({ queue, uuid, state: 'Waiting' });
  stats.replaceNode(
    'fs1',
    {
      tiers: [{ queue: 'support@acme.pbx.test', agent: '1001@acme.pbx.test' }],
      agents: [{ name: '1001@acme.pbx.test', status: 'Available' }],
      members: [
        member('support@acme.pbx.test', 'a'),
        member('support@globex.pbx.test', 'g'),
        { ...member('support@globex.pbx.test', 'x'), state: 'Answered' },
      ],
    },
    owners,
  );
  stats.replaceNode(
    'fs2',
    {
      tiers: [],
      agents: [],
      members: [member('support@initech.pbx.test', 'i1'), member('support@initech.pbx.test', 'i2')],
    },
    owners,
  );
  const read = async (name: string) =>
    Object.fromEntries(
      (await registry.getSingleMetric(name)!.get()).values.map((v) => [
        `${v.labels.tenant}/${v.labels.queue}`,
        v.value,
      ]),
    );
  assert.equal(await read('fs_tenantd_callcenter_members_waiting'), { 'acme/support': 1, '_other/_other': 3 });
  assert.equal(await read('fs_tenantd_callcenter_agents_available'), { 'acme/support': 1, '_other/_other': 0 });
  stats.apply(
    'fs1',
    { action: 'agent-status-change', agent: '1001@acme.pbx.test', status: 'On Break' },
    { tenantSlug: 'acme' },
  );
  stats.apply(
    'fs2',
    { action: 'member-queue-end', queue: 'support@initech.pbx.test', member: 'i1', cause: 'Cancel' },
    { tenantSlug: 'initech' },
  );
  assert.equal(await read('fs_tenantd_callcenter_agents_available'), { 'acme/support': 0, '_other/_other': 0 });
  assert.equal(await read('fs_tenantd_callcenter_members_waiting'), { 'acme/support': 1, '_other/_other': 2 });
  assert.equal(await read('fs_tenantd_callcenter_abandoned_total'), { '_other/_other': 1 });
  // A node's fresh lists replace what events built up; queues gone from every node lose their series.
  stats.replaceNode('fs1', { tiers: [], agents: [], members: [] }, owners);
  assert.equal(await read('fs_tenantd_callcenter_members_waiting'), { '_other/_other': 1 });
});

test.run();

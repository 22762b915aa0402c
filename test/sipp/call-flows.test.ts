// Call flows on the real FreeSWITCH (README "Call flows"): an IVR menu answered through ivr.conf picks its branch
// from RFC 2833 DTMF, a time condition sends a DID's call to its open or closed branch, ring groups ring in their
// stated order, an unanswered extension forwards (set by feature code) and follows its follow-me list. In every
// case globex's phones with the same numbers are registered too and never ring. Each case removes what it made.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { DEMO_FLOW_CODES, demoPassword } from '../../daemon/db/demo-seed.js';
import { type Stack, callOutcomes, sippSuite, withPhones } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: call flows (IVR menu, time condition, ring groups, forwarding, follow-me)');
const ACME = 'acme.pbx.test';
const GLOBEX = 'globex.pbx.test';
const pw = demoPassword;
/** RFC 2833 captures shipped with SIPp (Debian's sip-tester): one key each. */
const DTMF_DIR = '/usr/share/sip-tester';

async function admin(s: Stack) {
  const token = await s.token('tenant_admin', 'acme');
  const call = async (method: string, url: string, body?: unknown) => {
    const r = await s.api(method, url, token, body);
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const extensions = (await call('GET', '/extensions')).items as { id: string; number: string }[];
  return { call, extId: (n: string) => extensions.find((e) => e.number === n)!.id };
}

/** Calls `to` (acme `from` with its password, or a carrier from `ip`) and presses `digit` once answered. */
async function callAndPress(s: Stack, from: string, to: string, digit: string, ip?: string) {
  await fs.copyFile(path.join(DTMF_DIR, `dtmf_2833_${digit}.pcap`), path.join(s.dir, 'dtmf.pcap'));
  const args = ['-s', to, '-key', 'from_user', from, '-d', '800'];
  if (ip) return s.sipp('dtmf_call.xml', [...args, '-key', 'domain', '127.0.0.1'], { ip, target: 'external' }).done;
  return s.sipp('dtmf_call.xml', [...args, '-key', 'domain', ACME, '-au', from, '-ap', pw('acme', from)]).done;
}

t.it(
  'IVR menu (ivr.conf from the daemon): a DID call presses 1 → acme 1000; dial code 8000 + 3 → ring group',
  async (s) => {
    if (!existsSync(path.join(DTMF_DIR, 'dtmf_2833_1.pcap'))) {
      console.log(`  note: ${DTMF_DIR}/dtmf_2833_*.pcap (SIPp's RFC 2833 captures) absent: menu case not run`);
      return;
    }
    // SIPp plays a pcap through a raw socket, which only root (CAP_NET_RAW) may open: as another user no key is sent.
    if (process.getuid?.() !== 0) {
      console.log('  note: SIPp needs root to play RFC 2833 captures (raw socket): menu case not run as this user');
      return;
    }
    const { call } = await admin(s);
    const menu = ((await call('GET', '/call-flow-nodes')).items as { id: string; name: string }[]).find(
      (x) => x.name === 'main-menu',
    )!;
    const did = await call('POST', '/dids', { e164: '+15550001998', destinationType: 'flow', flowNodeId: menu.id });
    try {
      await withPhones(
        s,
        [
          ['1000', ACME, pw('acme', '1000')],
          ['1001', ACME, pw('acme', '1001')],
          ['1002', ACME, pw('acme', '1002')],
          ['1000', GLOBEX, pw('globex', '1000')],
          ['1001', GLOBEX, pw('globex', '1001')],
        ],
        async ([a1000, a1001, a1002, g1000, g1001]) => {
          const one = await callAndPress(s, '+15557654321', '+15550001998', '1', '127.0.0.2');
          assert.equal(callOutcomes(one.messages), [200], one.output);
          await s.until(async () => (await a1000!.invites()) === 1, 'acme 1000 to ring after key 1');
          const three = await callAndPress(s, '1003', DEMO_FLOW_CODES.menu, '3');
          assert.equal(callOutcomes(three.messages), [200], three.output);
          await s.until(async () => (await a1001!.invites()) + (await a1002!.invites()) >= 1, 'the ring group to ring');
          assert.equal([await g1000!.invites(), await g1001!.invites()], [0, 0], 'a globex phone rang');
          assert.is(await a1000!.invites(), 1, 'key 3 rang the operator too');
        },
      );
    } finally {
      await call('DELETE', `/dids/${did.id}`);
    }
  },
);

t.it('time condition on a DID: open rings acme 1001, a holiday today sends it to the closed branch', async (s) => {
  const { call, extId } = await admin(s);
  const made: string[] = [];
  let did: string | undefined;
  try {
    const open = await call('POST', '/call-flow-nodes', {
      name: 'sipp-open',
      kind: 'extension',
      extensionId: extId('1001'),
    });
    made.unshift(open.id);
    const closed = await call('POST', '/call-flow-nodes', {
      name: 'sipp-closed',
      kind: 'hangup',
      settings: { cause: 'busy' },
    });
    made.unshift(closed.id);
    const always = [{ days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], from: '00:00', to: '24:00' }];
    const hours = await call('POST', '/call-flow-nodes', {
      name: 'sipp-hours',
      kind: 'time_condition',
      settings: { timezone: 'Pacific/Auckland', weekly: always },
      nextNodeId: open.id,
      elseNodeId: closed.id,
    });
    made.unshift(hours.id);
    did = (await call('POST', '/dids', { e164: '+15550001999', destinationType: 'flow', flowNodeId: hours.id })).id;
    const carrierCall = () =>
      s.call({ from: '+15557654321', to: '+15550001999', domain: '127.0.0.1', ip: '127.0.0.2', target: 'external' })
        .done;
    await withPhones(
      s,
      [
        ['1001', ACME, pw('acme', '1001')],
        ['1001', GLOBEX, pw('globex', '1001')],
      ],
      async ([a1001, g1001]) => {
        const r = await carrierCall();
        assert.equal(callOutcomes(r.messages), [200], r.output);
        assert.equal([await a1001!.invites(), await g1001!.invites()], [1, 0]);
        // Today in the node's zone (and the days around it, whatever the hour): closed.
        const day = (offset: number) =>
          new Date(Date.now() + offset * 86_400_000).toLocaleDateString('en-CA', { timeZone: 'Pacific/Auckland' });
        await call('PATCH', `/call-flow-nodes/${hours.id}`, {
          settings: { timezone: 'Pacific/Auckland', weekly: always, holidays: [day(-1), day(0), day(1)] },
        });
        await s.until(async () => {
          const again = await carrierCall();
          return callOutcomes(again.messages)[0] === 486;
        }, 'the holiday to reach the dialplan');
        assert.equal([await a1001!.invites(), await g1001!.invites()], [1, 0], 'closed still rang a phone');
      },
    );
  } finally {
    if (did) await call('DELETE', `/dids/${did}`);
    for (const id of made) await call('DELETE', `/call-flow-nodes/${id}`);
  }
});

t.it('sequential ring group: its first member rings alone; once unreachable the next one rings', async (s) => {
  const { call } = await admin(s);
  const group = await call('POST', '/call-flow-nodes', {
    name: 'sipp-seq',
    kind: 'ring_group',
    dialCode: '8299',
    settings: { strategy: 'sequential', members: [{ number: '1002', timeoutS: 10 }, { number: '1001' }] },
  });
  try {
    await withPhones(
      s,
      [
        ['1001', ACME, pw('acme', '1001')],
        ['1002', ACME, pw('acme', '1002')],
        ['1002', GLOBEX, pw('globex', '1002')],
      ],
      async ([a1001, a1002, g1002]) => {
        const dial = () => s.call({ from: '1000', to: '8299', domain: ACME, password: pw('acme', '1000') }).done;
        const first = await dial();
        assert.equal(callOutcomes(first.messages), [200], first.output);
        assert.equal([await a1002!.invites(), await a1001!.invites()], [1, 0], 'not in order');
        await s.fs.api(`sofia profile internal flush_inbound_reg 1002@${ACME}`);
        const second = await dial();
        assert.equal(callOutcomes(second.messages), [200], second.output);
        assert.equal([await a1002!.invites(), await a1001!.invites(), await g1002!.invites()], [1, 1, 0]);
      },
    );
  } finally {
    await call('DELETE', `/call-flow-nodes/${group.id}`);
  }
});

t.it('*92 1002 from 1001 (forward on no answer): 1001 rings 5 s unanswered, then acme 1002 answers', async (s) => {
  const agent = await s.token('agent', 'acme', '1001');
  await withPhones(
    s,
    [
      ['1001', ACME, pw('acme', '1001'), 'ring'],
      ['1002', ACME, pw('acme', '1002')],
      ['1002', GLOBEX, pw('globex', '1002')],
    ],
    async ([a1001, a1002, g1002]) => {
      try {
        assert.is((await s.api('PUT', '/me/features', agent, { noAnswerTimeoutS: 5 })).status, 200);
        const code = await s.call({ from: '1001', to: '*921002', domain: ACME, password: pw('acme', '1001') }).done;
        assert.equal(callOutcomes(code.messages), [200], code.output);
        const started = Date.now();
        const r = await s.call({ from: '1000', to: '1001', domain: ACME, password: pw('acme', '1000') }).done;
        assert.equal(callOutcomes(r.messages), [200], r.output);
        assert.ok(Date.now() - started >= 4500, 'answered before the no-answer timeout');
        assert.equal([await a1001!.invites(), await a1002!.invites(), await g1002!.invites()], [1, 1, 0]);
      } finally {
        await s.api('PUT', '/me/features', agent, { forwardNoAnswer: null, noAnswerTimeoutS: 20 });
      }
    },
  );
});

t.it('follow-me: 1001 unanswered for 5 s, then its list rings acme 1002 (never globex 1002)', async (s) => {
  const agent = await s.token('agent', 'acme', '1001');
  await withPhones(
    s,
    [
      ['1001', ACME, pw('acme', '1001'), 'ring'],
      ['1002', ACME, pw('acme', '1002')],
      ['1002', GLOBEX, pw('globex', '1002')],
    ],
    async ([a1001, a1002, g1002]) => {
      try {
        const set = await s.api('PUT', '/me/features', agent, {
          noAnswerTimeoutS: 5,
          followMe: [{ number: '1002', timeoutS: 15 }],
        });
        assert.is(set.status, 200, JSON.stringify(set.body));
        const started = Date.now();
        const r = await s.call({ from: '1000', to: '1001', domain: ACME, password: pw('acme', '1000') }).done;
        assert.equal(callOutcomes(r.messages), [200], r.output);
        assert.ok(Date.now() - started >= 4500, 'answered before 1001 had rung for 5 s');
        assert.equal([await a1001!.invites(), await a1002!.invites(), await g1002!.invites()], [1, 1, 0]);
      } finally {
        await s.api('PUT', '/me/features', agent, { followMe: [], noAnswerTimeoutS: 20 });
      }
    },
  );
});

t.run();

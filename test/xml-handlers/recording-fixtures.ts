// A hand-built tenant with a recording policy, for the recording tests (test/xml-handlers/record-call.test.ts,
// test/xml-curl/recording-cache.test.ts).
import type { DialplanRequest } from '../../xml-handlers/fetch-request.js';
import {
  type Extension,
  NO_FEATURES,
  NO_MAILBOX,
  type RecordingRule,
  type TenantId,
  type TenantSnapshot,
} from '../../xml-handlers/model.js';

export const ID = '11111111-2222-4333-8444-555555555555' as TenantId;
export const NOW = new Date('2026-12-02T12:00:00Z');
export const DIR = '/srv/recordings';
export const UUID = '56356642-2fdf-4006-baa1-14b2ad06c094';

export const ext = (number: string, over: Partial<Extension> = {}): Extension => ({
  number,
  credentials: new Map([['t1.example', 'a'.repeat(32)]]),
  callerIdName: null,
  callerIdNumber: null,
  enabled: true,
  variables: {},
  features: NO_FEATURES,
  voicemail: NO_MAILBOX,
  ...over,
});

export function tenant(rules: RecordingRule[] | undefined, over: Partial<TenantSnapshot> = {}): TenantSnapshot {
  return {
    id: ID,
    slug: 't1',
    status: 'active',
    timezone: 'UTC',
    primaryDomain: 't1.example',
    domains: ['t1.example'],
    ceilings: { maxInbound: null, maxOutbound: null, maxTotal: null },
    defaultCallerIdName: null,
    defaultCallerIdNumber: '+15550000001',
    extensions: new Map([
      ['1000', ext('1000')],
      ['1001', ext('1001')],
      ['1002', ext('1002')],
      ['1003', ext('1003', { enabled: false })],
    ]),
    queues: new Map([
      [
        'sales',
        {
          name: 'sales',
          dialCode: '7000',
          strategy: 'ring-all',
          mohSound: 'local_stream://moh',
          timeBaseScore: 'system',
          maxWaitTime: 0,
          maxWaitTimeWithNoAgent: 0,
          tierRulesApply: false,
          discardAbandonedAfter: 60,
          abandonedResumeAllowed: false,
        },
      ],
    ]),
    dids: new Map([
      ['+15550000001', { e164: '+15550000001', enabled: true, destination: { type: 'extension', extension: '1000' } }],
      ['+15550000002', { e164: '+15550000002', enabled: true, destination: { type: 'queue', queue: 'sales' } }],
    ]),
    trunks: [
      {
        name: 'carrier',
        proxy: '192.0.2.1',
        username: null,
        password: null,
        register: false,
        allowedCidrs: ['192.0.2.1/32'],
        enabled: true,
      },
    ],
    outboundRoutes: [
      {
        name: 'pstn',
        pattern: /^\+[1-9][0-9]{6,14}$/,
        priority: 1,
        trunk: 'carrier',
        stripDigits: 0,
        prepend: '',
        callerIdNumber: null,
        callerIdName: null,
      },
    ],
    agents: [],
    tiers: [],
    flowNodes: new Map(),
    ...(rules ? { recordingRules: rules } : {}),
    ...over,
  };
}

export const call = (destination: string, over: Partial<DialplanRequest> = {}): DialplanRequest => ({
  context: 't1.example',
  destination,
  callUuid: UUID,
  channelTenantId: ID,
  sourceIp: '192.0.2.1',
  callerUser: '1000',
  channelDirection: undefined,
  ...over,
});

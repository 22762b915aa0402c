// Rings several numbers at once (simultaneous: `,` between legs) or one after
// the other (sequential: `|`), each with its own delay and timeout; members are
// the tenant's extensions or external numbers reached through its own outbound
// routes (dial-legs.ts). When nobody answers, the node's next, else the cause.
import type { RouteKind } from '../route-kind.js';
import { legTo } from '../dial-legs.js';
import { FORWARD_TARGET } from '../feature-codes.js';
import { SettingsProblem, type NodeKind, flowDestination } from './node-kind.js';
import { settingsReader } from './settings.js';

export interface RingGroupSettings {
  strategy: 'simultaneous' | 'sequential';
  members: ReadonlyArray<{ number: string; delayS: number; timeoutS: number }>;
}

export interface RingGroupTarget {
  type: 'ring_group';
  sequential: boolean;
  /** Leg dial strings joined by `,` or `|`. */
  dial: string;
  /** Context and destination of the transfer when nobody answered. */
  next?: { context: string; destination: string };
}

export const ringGroup: RouteKind<RingGroupTarget> = {
  type: 'ring_group',
  actions: (target, act, legVars) => {
    act('set', 'hangup_after_bridge=true');
    if (target.next) act('set', 'continue_on_fail=true');
    // Without it a member that times out ends the whole `|` list (switch_ivr_originate.c continue_on_timeout).
    if (target.sequential) act('set', 'originate_continue_on_timeout=true');
    act('bridge', `${legVars}${target.dial}`);
    if (target.next) act('transfer', `${target.next.destination} XML ${target.next.context}`);
  },
};

export const ringGroupNode: NodeKind<'ring_group', RingGroupSettings> = {
  kind: 'ring_group',
  read: (node) => {
    const r = settingsReader(node.settings, ['strategy', 'members']);
    const strategy = r.oneOf('strategy', ['simultaneous', 'sequential'] as const, 'simultaneous');
    const members = r.array('members', 32).map((m, i) => {
      const f = r.field(`members[${i}]`);
      if (!m || typeof m !== 'object' || Array.isArray(m))
        throw new SettingsProblem(f, 'must be {number, timeoutS, delayS}');
      const mr = settingsReader(m as Record<string, unknown>, ['number', 'timeoutS', 'delayS']);
      const number = mr.raw('number');
      if (typeof number !== 'string' || !FORWARD_TARGET.test(number))
        throw new SettingsProblem(`${f}.number`, 'must be an extension number or +E.164');
      const bounded = (name: string, min: number, max: number, fallback: number) => {
        try {
          return mr.int(name, min, max, fallback);
        } catch {
          throw new SettingsProblem(`${f}.${name}`, `must be an integer from ${min} to ${max}`);
        }
      };
      return { number, timeoutS: bounded('timeoutS', 5, 300, 20), delayS: bounded('delayS', 0, 120, 0) };
    });
    if (!members.length) throw new SettingsProblem(r.field('members'), 'needs at least one member');
    return { strategy, members };
  },
  step: (node, s, { tenant }) => {
    const legs = s.members
      .map((m) => legTo(tenant, m.number, m.timeoutS, s.strategy === 'simultaneous' ? m.delayS : 0))
      .filter((l) => l !== undefined);
    if (!legs.length) {
      return node.next
        ? { goto: node.next }
        : {
            reject: {
              sipCode: 480,
              reason: 'Temporarily Unavailable',
              detail: `flow ${node.name}: no member can ring`,
            },
          };
    }
    const target: RingGroupTarget = {
      type: 'ring_group',
      sequential: s.strategy === 'sequential',
      dial: legs.map((l) => l.dial).join(s.strategy === 'simultaneous' ? ',' : '|'),
      ...(node.next && tenant.primaryDomain
        ? { next: { context: tenant.primaryDomain, destination: flowDestination(node.next) } }
        : {}),
    };
    // A member reached through a trunk makes the call an outbound one for the ceilings.
    return { route: { direction: legs.some((l) => l.external) ? 'outbound' : 'internal', target } };
  },
};

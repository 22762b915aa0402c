// An IVR menu: the dialplan answers and runs mod_dptools' `ivr` on the menu's
// name; FreeSWITCH then fetches ivr.conf for that Menu-Name
// (ivr_application_function), answered by configuration/ivr.ts from the same
// node. Each choice transfers to its node; a caller who chooses nothing valid
// (max failures or timeouts, switch_ivr_menu_execute) continues at next.
import type { RouteKind } from '../route-kind.js';
import { SettingsProblem, type NodeKind, flowDestination } from './node-kind.js';
import { settingsReader } from './settings.js';

export interface MenuSettings {
  greeting: string;
  invalidSound: string | null;
  exitSound: string | null;
  timeoutMs: number;
  interDigitTimeoutMs: number;
  maxFailures: number;
  maxTimeouts: number;
  digitLen: number;
}

export interface MenuTarget {
  type: 'menu';
  /** The menu's name in FreeSWITCH: the node's uuid, unique across tenants. */
  menu: string;
  next?: { context: string; destination: string };
}

export const runMenu: RouteKind<MenuTarget> = {
  type: 'menu',
  actions: (target, act) => {
    act('answer');
    act('ivr', target.menu);
    if (target.next) act('transfer', `${target.next.destination} XML ${target.next.context}`);
    else act('hangup', 'NORMAL_CLEARING');
  },
};

export const MENU_DIGITS = /^[0-9*#]{1,4}$/;

export const menuNode: NodeKind<'menu', MenuSettings> = {
  kind: 'menu',
  read: (node) => {
    const r = settingsReader(node.settings, [
      'greeting',
      'invalidSound',
      'exitSound',
      'timeoutMs',
      'interDigitTimeoutMs',
      'maxFailures',
      'maxTimeouts',
      'digitLen',
    ]);
    const s: MenuSettings = {
      greeting: r.sound('greeting', true)!,
      invalidSound: r.sound('invalidSound', false),
      exitSound: r.sound('exitSound', false),
      timeoutMs: r.int('timeoutMs', 1000, 30000, 5000),
      interDigitTimeoutMs: r.int('interDigitTimeoutMs', 500, 10000, 2000),
      maxFailures: r.int('maxFailures', 1, 9, 3),
      maxTimeouts: r.int('maxTimeouts', 1, 9, 3),
      digitLen: r.int('digitLen', 1, 4, 1),
    };
    for (const digits of node.choices.keys()) {
      if (!MENU_DIGITS.test(digits) || digits.length > s.digitLen)
        throw new SettingsProblem('digits', `choice ${digits} is longer than the menu's digitLen (${s.digitLen})`);
    }
    return s;
  },
  step: (node, _s, { tenant }) => ({
    route: {
      direction: 'internal',
      target: {
        type: 'menu',
        menu: node.id,
        ...(node.next && tenant.primaryDomain
          ? { next: { context: tenant.primaryDomain, destination: flowDestination(node.next) } }
          : {}),
      },
    },
  }),
};

// Adapts one EslClient (daemon/esl) to the CallcenterNode port: subscribes to
// CUSTOM callcenter::info, and hands back -ERR replies as replies (the planner
// logs and counts them per command) instead of as exceptions, which are kept
// for transport failures (timeout, disconnect) that end a reconciliation.
import type { EslClient } from '../esl/client.js';
import { EslCommandError } from '../esl/client.js';
import type { EslEvent } from '../esl/event.js';
import { CALLCENTER_SUBCLASS, type Headers } from './cc-events.js';
import type { CallcenterNode } from './node-port.js';

export function eslCallcenterNode(esl: EslClient): CallcenterNode {
  // Kept across reconnects by the client; resolves at once while not connected.
  esl.subscribe([CALLCENTER_SUBCLASS]).catch(() => undefined);
  const wrapped = new Map<(h: Headers) => void, (ev: EslEvent) => void>();
  const node: CallcenterNode = {
    get name() {
      return esl.node;
    },
    get connected() {
      return esl.connected;
    },
    async api(command: string): Promise<string> {
      try {
        return await esl.api(command);
      } catch (err) {
        if (err instanceof EslCommandError && err.kind === 'rejected' && err.reply !== undefined) return err.reply;
        throw err;
      }
    },
    on(event: 'ready' | 'event', fn: (() => void) | ((h: Headers) => void)) {
      if (event === 'ready') return esl.on('ready', fn as () => void);
      // Only callcenter::info events are handed on: the full header map is built for those alone.
      const w = (ev: EslEvent) => {
        if (ev.name === 'CUSTOM' && ev.header('Event-Subclass') === CALLCENTER_SUBCLASS)
          (fn as (h: Headers) => void)(ev.headers);
      };
      wrapped.set(fn as (h: Headers) => void, w);
      return esl.on('event', w);
    },
    off(event: 'ready' | 'event', fn: (() => void) | ((h: Headers) => void)) {
      if (event === 'ready') return esl.off('ready', fn as () => void);
      const w = wrapped.get(fn as (h: Headers) => void);
      wrapped.delete(fn as (h: Headers) => void);
      return w ? esl.off('event', w) : esl;
    },
  };
  return node;
}

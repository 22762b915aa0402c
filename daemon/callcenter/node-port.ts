// The little the call-center sync needs from one FreeSWITCH node's ESL
// connection. main.ts adapts the ESL client (daemon/esl) to it; tests use the
// same client against the in-test ESL server.
import type { Headers } from './cc-events.js';

export interface CallcenterNode {
  readonly name: string;
  /** True while authenticated and subscribed. */
  readonly connected: boolean;
  /** Sends `api <command>` and resolves with the api/response body; rejects on timeout or disconnect. */
  api(command: string): Promise<string>;
  /** 'ready' after every (re)connect once events are subscribed; 'event' for each event's decoded headers. */
  on(event: 'ready', fn: () => void): unknown;
  on(event: 'event', fn: (headers: Headers) => void): unknown;
  off(event: 'ready', fn: () => void): unknown;
  off(event: 'event', fn: (headers: Headers) => void): unknown;
}

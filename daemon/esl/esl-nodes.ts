// One EslClient per configured FreeSWITCH node, and their readiness.
import type { Logger } from 'pino';
import type { EslNodeConfig } from '../config.js';
import type { MetricsRegistry } from '../metrics.js';
import { EslClient, type EslNodeStatus } from './client.js';

/** What the ledger, call records and mod_callcenter sync need from every node. */
export const DAEMON_EVENTS = [
  'CHANNEL_CREATE',
  'CHANNEL_ANSWER',
  'CHANNEL_BRIDGE',
  'CALL_UPDATE',
  'CHANNEL_HANGUP_COMPLETE',
  'CHANNEL_DESTROY',
  'HEARTBEAT',
  'BACKGROUND_JOB',
  'callcenter::info',
] as const;

export interface EslNodes {
  readonly clients: readonly EslClient[];
  client(node: string): EslClient | undefined;
  start(): void;
  stop(): Promise<void>;
  /** For /readyz: one entry per node; `ready` is true when every node is connected. */
  status(): { ready: boolean; nodes: EslNodeStatus[] };
}

export function createEslNodes(opts: {
  nodes: readonly EslNodeConfig[];
  commandTimeoutMs: number;
  log: Logger;
  registry: MetricsRegistry;
}): EslNodes {
  const clients = opts.nodes.map(
    (node) =>
      new EslClient({
        node,
        log: opts.log,
        registry: opts.registry,
        commandTimeoutMs: opts.commandTimeoutMs,
        events: DAEMON_EVENTS,
      }),
  );
  return {
    clients,
    client: (name) => clients.find((c) => c.node === name),
    start: () => {
      for (const c of clients) c.start();
    },
    stop: async () => {
      await Promise.all(clients.map((c) => c.stop()));
    },
    status: () => {
      const nodes = clients.map((c) => c.status());
      return { ready: nodes.every((n) => n.connected), nodes };
    },
  };
}

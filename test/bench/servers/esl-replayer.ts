// FreeSWITCH's side of item 4, in the generator's slot of the layout: in-test ESL
// servers (test/helpers/esl-server.ts: real handshake, captured replies, idle
// `show channels/calls` for the resync), one per reader, so a flood goes to one
// reader only while the other stays connected and idle. A flood is rendered
// before it is sent and handed to the kernel in one write: the replayer then costs
// only the kernel's copy, and the reader under test sets the pace.
import { EslTestServer } from '../../helpers/esl-server.js';
import { CallWriter, capturedCall, type Phase, type Tenant } from '../esl-stream.js';
import { cpuSeconds, serveCalls } from '../processes.js';

const call = capturedCall();
const servers = new Map<string, EslTestServer>();
let writer: { key: string; writer: CallWriter } | undefined;

serveCalls(
  {
    /** A server for the reader `name`; returns its port. */
    start: async (args: { name: string }) => {
      const s = await EslTestServer.start();
      servers.set(args.name, s);
      return { port: s.port };
    },
    /**
     * Once `after` commands matching `pattern` have been received by `name`'s server (the client is
     * subscribed, or has asked for the live channels to resync), writes calls [first, first+count) to
     * its connected client; resolves when all is handed to the kernel.
     */
    replay: async (args: {
      name: string;
      pattern: string;
      after: number;
      first: number;
      count: number;
      tenants: Tenant[];
      phases: Phase[];
    }) => {
      const s = servers.get(args.name)!;
      await s.waitForCommand(new RegExp(args.pattern), args.after);
      // One layout per phase set, as large as the largest flood asked for (kept: floods repeat).
      const key = args.phases.join();
      if (!writer || writer.key !== key || writer.writer.ring < args.count)
        writer = {
          key,
          writer: new CallWriter(call, new Set(args.phases), args.tenants[0]!.slug.length, args.count),
        };
      const w = writer.writer;
      const bytes = w.calls(args.first, args.count, (n) => args.tenants[n % args.tenants.length]!);
      const cpu0 = cpuSeconds();
      const t0 = performance.now();
      s.sendRaw(bytes);
      await s.drained();
      // The replayer's share of its core while sending: well below 1 means it waited for the reader.
      const cpuShare = (cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000);
      return { events: args.count * w.events, bytes: bytes.length, cpuShare };
    },
  },
  async () => {
    for (const s of servers.values()) await s.close();
  },
);

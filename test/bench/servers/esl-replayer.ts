// FreeSWITCH's side of item 4, in the generator's slot of the layout: the
// in-test ESL server (test/helpers/esl-server.ts: real handshake, captured
// replies, idle `show channels/calls` for the resync), replaying the call stream
// of esl-stream.ts to the connected client as fast as it reads.
import { EslTestServer } from '../../helpers/esl-server.js';
import { CallWriter, capturedCall, type Phase, type Tenant } from '../esl-stream.js';
import { cpuSeconds, serveCalls } from '../processes.js';

const call = capturedCall();
let server: EslTestServer | undefined;

serveCalls(
  {
    start: async () => {
      server = await EslTestServer.start();
      return { port: server.port };
    },
    /**
     * Once `after` commands matching `pattern` have been received in total (the client is subscribed,
     * or has asked for the live channels to resync), writes calls [first, first+count) to the
     * connected clients; resolves when all is handed to the kernel.
     */
    replay: async (args: {
      pattern: string;
      after: number;
      first: number;
      count: number;
      tenants: Tenant[];
      phases: Phase[];
    }) => {
      const s = server!;
      await s.waitForCommand(new RegExp(args.pattern), args.after);
      const phases = new Set(args.phases);
      const writer = new CallWriter(call, phases, args.tenants[0]!.slug.length);
      let bytes = 0;
      const cpu0 = cpuSeconds();
      const t0 = performance.now();
      for (let n = args.first; n < args.first + args.count; n++) {
        const frames = writer.frames(n, args.tenants[n % args.tenants.length]!);
        bytes += frames.length;
        s.sendRaw(frames);
        // About a megabyte at a time (well inside the writer's ring), so the reader's pace sets the rate.
        if (n % 20 === 19) await s.drained();
      }
      await s.drained();
      // Near 1: the replayer, not the reader, set the pace.
      const cpuShare = (cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000);
      return { events: args.count * writer.events, bytes, cpuShare };
    },
  },
  async () => {
    await server?.close();
  },
);

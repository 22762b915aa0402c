// Baseline for item 4: the same bytes from the same replayer over the same kind
// of TCP connection (loopback, a net.Socket's 'data' events as the daemon's
// client reads them), through the least an ESL reader must do: find each frame's
// end of headers, read its Content-Length, skip the body, count the event.
import net from 'node:net';
import { cpuUsage, serveCalls } from '../processes.js';

let socket: net.Socket | undefined;
let counted = 0;
let firstAt = 0;
let cpuAtFirst = cpuUsage();
let target = Infinity;
let finished: Promise<unknown> = Promise.resolve();
let onTarget: (() => void) | undefined;
let replies = 0;
/** Socket reads and their bytes since the armed run's first event: small reads mean this reader waited for bytes. */
let reads = 0;
let readBytes = 0;
let onSubscribed: (() => void) | undefined;

function reader() {
  let head = Buffer.alloc(0);
  let skip = 0;
  return (chunk: Buffer) => {
    reads++;
    readBytes += chunk.length;
    let pos = 0;
    while (pos < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - pos);
        skip -= n;
        pos += n;
        if (skip === 0 && ++counted === target) onTarget?.();
        continue;
      }
      const data = head.length ? Buffer.concat([head, chunk.subarray(pos)]) : chunk.subarray(pos);
      const end = data.indexOf('\n\n');
      if (end < 0) {
        head = Buffer.from(data);
        return;
      }
      const headers = data.toString('latin1', 0, end);
      const consumed = end + 2 - head.length;
      head = Buffer.alloc(0);
      pos += consumed;
      const cl = headers.indexOf('Content-Length: ');
      if (cl < 0) {
        if (++replies === 3) onSubscribed?.();
        continue;
      } // auth/request, auth reply, event reply
      if (!firstAt) {
        firstAt = performance.now();
        cpuAtFirst = cpuUsage();
        reads = 1;
        readBytes = chunk.length;
      }
      skip = parseInt(headers.slice(cl + 16), 10);
    }
  };
}

serveCalls(
  {
    connect: (args: { port: number }) =>
      new Promise<void>((resolve, reject) => {
        onSubscribed = resolve;
        socket = net.connect(args.port, '127.0.0.1', () =>
          socket!.write('auth ClueCon\n\nevent json CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE\n\n'),
        );
        socket.on('data', reader());
        socket.on('error', reject);
      }),
    /** Arms the counter for the next `events` events (call before the replay starts). */
    expect: (args: { events: number }) => {
      firstAt = 0;
      counted = 0;
      target = args.events;
      finished = new Promise((resolve) => {
        onTarget = () => {
          const elapsedS = (performance.now() - firstAt) / 1000;
          const cpu = cpuUsage(cpuAtFirst);
          resolve({ events: counted, elapsedS, eventsPerS: counted / elapsedS, cpu, reads, readBytes });
        };
      });
    },
    /** The armed run's rate, from its first event's headers to its last event's last byte. */
    done: () => finished,
  },
  async () => {
    socket?.destroy();
  },
);

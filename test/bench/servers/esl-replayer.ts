// A FreeSWITCH stand-in for item 4, in the generator's slot of the layout:
// speaks the inbound event socket handshake with the captured reply bytes
// (auth/request, command/reply, api/response), then replays the call stream of
// esl-stream.ts to every subscribed connection as fast as the reader drains it.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { callFrames, capturedCall, ESL_FIXTURE_DIR, eventsPerCall, type Phase, type Tenant } from '../esl-stream.js';
import { serveCalls } from '../processes.js';

const fixture = (name: string) => readFileSync(path.join(ESL_FIXTURE_DIR, name));
const AUTH_REQUEST = fixture('auth-request.raw');
const AUTH_OK = fixture('auth-reply-ok.raw');
const EVENT_JSON_OK = fixture('event-json-all-reply.raw');
const IDLE_CHANNELS = fixture('api-show-channels-json-idle.raw');
const IDLE_CALLS = fixture('api-show-calls-json-idle.raw');

const reply = (text: string) => `Content-Type: command/reply\nReply-Text: ${text}\n\n`;
const apiResponse = (body: string) => `Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`;

/** The answer to `api <command>`: the captured idle answers for the resync queries, +OK otherwise. */
function apiAnswer(command: string): Buffer | string {
  if (/^show channels/.test(command)) return IDLE_CHANNELS;
  if (/^show calls/.test(command)) return IDLE_CALLS;
  return apiResponse('+OK\n');
}

const subscribed = new Set<net.Socket>();
let waiters: Array<() => void> = [];
const commandsSeen: string[] = [];

const server = net.createServer((socket) => {
  socket.write(AUTH_REQUEST);
  let buf = '';
  socket.on('data', (chunk) => {
    buf += chunk.toString('latin1');
    for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
      const command = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const [line, ...extra] = command.split('\n');
      const word = line!.split(' ')[0];
      commandsSeen.push(line!.split(' ').slice(0, 3).join(' '));
      if (word === 'auth') socket.write(AUTH_OK);
      else if (word === 'event') {
        socket.write(EVENT_JSON_OK);
        subscribed.add(socket);
        for (const w of waiters) w();
        waiters = [];
      } else if (word === 'api') socket.write(apiAnswer(line!.slice(4)));
      else if (word === 'bgapi') {
        const job = extra.find((h) => h.startsWith('Job-UUID: '))?.slice(10) ?? randomUUID();
        socket.write(reply(`+OK Job-UUID: ${job}`));
        const result = apiAnswer(line!.slice(6)).toString();
        const body = result.slice(result.indexOf('\n\n') + 2);
        const ev = JSON.stringify({ 'Event-Name': 'BACKGROUND_JOB', 'Job-UUID': job, 'Job-Command': line!.slice(6).split(' ')[0], 'Content-Length': String(Buffer.byteLength(body)), _body: body });
        socket.write(`Content-Length: ${Buffer.byteLength(ev)}\nContent-Type: text/event-json\n\n${ev}`);
      } else if (word === 'exit') { socket.write(reply('+OK bye')); socket.end(); }
      else socket.write(reply('+OK'));
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => subscribed.delete(socket));
});

const call = capturedCall();

serveCalls({
  start: async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as net.AddressInfo).port };
  },
  /** Writes calls [first, first+count) to every subscribed connection; resolves when all is handed to the kernel. */
  replay: async (args: { first: number; count: number; tenants: Tenant[]; phases: Phase[] }) => {
    if (subscribed.size === 0) await new Promise<void>((resolve) => waiters.push(resolve));
    const phases = new Set(args.phases);
    let bytes = 0;
    for (let n = args.first; n < args.first + args.count; n++) {
      const frames = callFrames(call, n, args.tenants[n % args.tenants.length]!, phases);
      bytes += frames.length;
      let full = false;
      for (const s of subscribed) if (!s.write(frames)) full = true;
      if (full) await Promise.all([...subscribed].map((s) => (s.writableNeedDrain ? new Promise((r) => { s.once('drain', r); s.once('close', r); }) : undefined)));
    }
    return { events: args.count * eventsPerCall(call, phases), bytes };
  },
  commandsSeen: () => commandsSeen,
}, async () => { for (const s of subscribed) s.destroy(); server.close(); });

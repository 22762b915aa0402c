// An Event Socket server for tests that speaks mod_event_socket's inbound
// protocol the way the real one does (see test/fixtures/freeswitch/README.md):
// auth/request on connect, `auth` -> command/reply, `event plain|json ...`,
// `api` -> api/response (Content-Length in bytes), `bgapi` -> command/reply with
// Job-UUID and a later BACKGROUND_JOB event, `exit` -> +OK bye + disconnect-notice.
// Replies to fixed commands are the captured bytes from test/fixtures/freeswitch/esl/.
// Events are encoded per connection in the format it subscribed with; output can be
// split into small TCP writes or coalesced, to exercise the client's framing.
//
// Reusable: script `api` answers with onApi() (e.g. callcenter_config replies),
// push events with emitEvent()/replayStream(), inspect `commands`.
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { projectRoot } from '../../daemon/paths.js';

export const ESL_FIXTURES = path.join(projectRoot, 'test/fixtures/freeswitch/esl');
export const fixture = (name: string): Buffer => fs.readFileSync(path.join(ESL_FIXTURES, name));

export type Headers = Record<string, string | string[]>;
export interface FsEvent {
  headers: Headers;
  body?: string;
}

export type Chunking =
  | { mode: 'whole' }
  /** Each frame written in pieces of these sizes (cycled), with a macrotask between pieces so they leave as separate segments. */
  | { mode: 'split'; sizes: number[] }
  /** Frames are held and written together in one write of at least `bytes`. */
  | { mode: 'coalesce'; bytes: number };

export type ApiHandler = (
  command: string,
  conn: EslServerConnection,
) => string | undefined | Promise<string | undefined>;

/** switch_url_encode as FreeSWITCH does it: a "%" already followed by two hex digits is left alone (lossy). */
export function fsUrlEncode(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  const special = ' #%&+:;<=>?@[\\]^`{|}"\r\n';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const ch = String.fromCharCode(b);
    if (b === 0x25 && /^[0-9A-Fa-f]{2}$/.test(String.fromCharCode(bytes[i + 1] ?? 0, bytes[i + 2] ?? 0))) {
      out += '%';
      continue;
    }
    if (b < 0x20 || b > 0x7e || special.includes(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

export function encodeEvent(ev: FsEvent, format: 'plain' | 'json'): Buffer {
  let body: Buffer;
  if (format === 'json') {
    const obj: Record<string, unknown> = { ...ev.headers };
    if (ev.body !== undefined) {
      obj['Content-Length'] = String(Buffer.byteLength(ev.body));
      obj._body = ev.body;
    }
    body = Buffer.from(JSON.stringify(obj));
  } else {
    let text = '';
    for (const [k, v] of Object.entries(ev.headers)) {
      const value = Array.isArray(v) ? `ARRAY::${v.join('|:')}` : v;
      text += `${k}: ${fsUrlEncode(value)}\n`;
    }
    if (ev.body !== undefined) text += `Content-Length: ${Buffer.byteLength(ev.body)}\n\n${ev.body}`;
    else text += '\n';
    body = Buffer.from(text);
  }
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\nContent-Type: text/event-${format}\n\n`), body]);
}

/** Splits captured bytes into frames (the fixtures are well-formed). */
export function splitFrames(
  bytes: Buffer,
): Array<{ headers: Record<string, string>; body: Buffer | undefined; raw: Buffer }> {
  const frames = [];
  let pos = 0;
  while (pos < bytes.length) {
    const end = bytes.indexOf('\n\n', pos);
    if (end < 0) break;
    const headers: Record<string, string> = {};
    for (const line of bytes.toString('latin1', pos, end).split('\n')) {
      const i = line.indexOf(': ');
      if (i > 0) headers[line.slice(0, i)] = line.slice(i + 2);
    }
    const len = headers['Content-Length'] ? Number(headers['Content-Length']) : 0;
    const body = headers['Content-Length'] ? bytes.subarray(end + 2, end + 2 + len) : undefined;
    frames.push({ headers, body, raw: bytes.subarray(pos, end + 2 + len) });
    pos = end + 2 + len;
  }
  return frames;
}

/** The events of a captured stream (json or plain), in arrival order, as header maps. */
export function streamEvents(fixtureName: string): FsEvent[] {
  const out: FsEvent[] = [];
  for (const f of splitFrames(fixture(fixtureName))) {
    const type = f.headers['Content-Type'];
    if (type === 'text/event-json' && f.body) {
      const obj = JSON.parse(f.body.toString('utf8')) as Record<string, string | string[]>;
      const { _body, ...headers } = obj;
      delete headers['Content-Length'];
      out.push(_body === undefined ? { headers } : { headers, body: String(_body) });
    } else if (type === 'text/event-plain' && f.body) {
      const text = f.body.toString('latin1');
      const end = text.indexOf('\n\n');
      const headers: Headers = {};
      for (const line of text.slice(0, end < 0 ? undefined : end).split('\n')) {
        const i = line.indexOf(': ');
        if (i > 0) headers[line.slice(0, i)] = decodeURIComponent(line.slice(i + 2));
      }
      const len = headers['Content-Length'];
      delete headers['Content-Length'];
      out.push(
        len === undefined ? { headers } : { headers, body: f.body.toString('utf8', end + 2, end + 2 + Number(len)) },
      );
    }
  }
  return out;
}

export class EslServerConnection {
  format: 'plain' | 'json' | undefined;
  readonly subscribed = new Set<string>();
  authed = false;
  private inbox = '';
  private queue: Buffer[] = [];
  private queued = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly socket: net.Socket,
    private readonly server: EslTestServer,
  ) {
    socket.on('data', (d) => this.onData(d));
    socket.on('error', () => undefined);
    this.write(fixture('auth-request.raw'));
  }

  wants(eventName: string, subclass?: string): boolean {
    if (!this.authed || !this.format) return false;
    return (
      this.subscribed.has('ALL') ||
      this.subscribed.has(eventName) ||
      (subclass !== undefined && this.subscribed.has(subclass))
    );
  }

  /** Writes bytes according to the server's chunking policy (order is always kept). */
  write(bytes: Buffer): void {
    const c = this.server.chunking;
    if (c.mode === 'coalesce') {
      this.queue.push(bytes);
      this.queued += bytes.length;
      if (this.queued >= c.bytes) this.flush();
      else setImmediate(() => this.flush());
      return;
    }
    if (c.mode === 'whole') {
      this.chain(async () => {
        this.socket.write(bytes);
      });
      return;
    }
    this.chain(async () => {
      let i = 0;
      for (let pos = 0; pos < bytes.length; i++) {
        const n = Math.max(1, c.sizes[i % c.sizes.length]!);
        if (this.socket.destroyed) return;
        this.socket.write(bytes.subarray(pos, pos + n));
        pos += n;
        await new Promise((r) => setImmediate(r));
      }
    });
  }

  flush(): void {
    if (!this.queue.length) return;
    const all = Buffer.concat(this.queue);
    this.queue = [];
    this.queued = 0;
    this.chain(async () => {
      this.socket.write(all);
    });
  }

  /** Resolves when everything written so far has been handed to the socket. */
  async drained(): Promise<void> {
    this.flush();
    await this.writing;
    if (this.socket.writableLength > 0 && !this.socket.destroyed) await once(this.socket, 'drain');
  }

  private chain(fn: () => Promise<void>): void {
    this.writing = this.writing.then(fn).catch(() => undefined);
  }

  sendEvent(ev: FsEvent): void {
    if (this.format) this.write(encodeEvent(ev, this.format));
  }

  private reply(text: string): void {
    this.write(Buffer.from(`Content-Type: command/reply\nReply-Text: ${text}\n\n`));
  }

  private onData(d: Buffer): void {
    this.inbox += d.toString('utf8');
    for (let end = this.inbox.indexOf('\n\n'); end >= 0; end = this.inbox.indexOf('\n\n')) {
      const cmd = this.inbox.slice(0, end);
      this.inbox = this.inbox.slice(end + 2);
      void this.handle(cmd);
    }
  }

  private async handle(raw: string): Promise<void> {
    const [line = '', ...headerLines] = raw.split('\n');
    this.server.commands.push(line);
    this.server.emit('command', line, this);
    if (!this.authed) {
      if (line === `auth ${this.server.password}`) {
        this.authed = true;
        this.write(fixture('auth-reply-ok.raw'));
        this.server.emit('authed', this);
      } else {
        this.write(fixture('auth-reply-wrong-password.raw'));
        await this.drained();
        this.socket.end();
      }
      return;
    }
    const m = /^(\S+)\s*(.*)$/.exec(line);
    const verb = m?.[1] ?? '';
    const rest = m?.[2] ?? '';
    if (verb === 'event') {
      const words = rest.split(' ').filter(Boolean);
      const format = words.shift();
      if (format !== 'plain' && format !== 'json') {
        this.reply('-ERR no keywords supplied');
        return;
      }
      this.format = format;
      for (const w of words) if (w !== 'CUSTOM') this.subscribed.add(w);
      if (format === 'plain' && words.join(' ') === 'ALL') this.write(fixture('event-plain-all-reply.raw'));
      else if (format === 'json' && words.join(' ') === 'ALL') this.write(fixture('event-json-all-reply.raw'));
      else this.reply(`+OK event listener enabled ${format}`);
      return;
    }
    if (verb === 'api') {
      const body = await this.server.answerApi(rest, this);
      if (body === null) return; // scripted to never answer
      this.write(
        Buffer.concat([
          Buffer.from(`Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n`),
          Buffer.from(body),
        ]),
      );
      return;
    }
    if (verb === 'bgapi') {
      const jobHeader = headerLines.find((h) => /^job-uuid: /i.test(h));
      const jobUuid = jobHeader
        ? jobHeader.slice(jobHeader.indexOf(': ') + 2)
        : `00000000-0000-4000-8000-${String(++this.server.jobCounter).padStart(12, '0')}`;
      this.reply(`+OK Job-UUID: ${jobUuid}\nJob-UUID: ${jobUuid}`);
      const body = await this.server.answerApi(rest, this);
      if (body === null) return;
      const [cmd = '', ...args] = rest.split(' ');
      const headers: Headers = {
        ...this.server.coreHeaders('BACKGROUND_JOB'),
        'Job-UUID': jobUuid,
        'Job-Command': cmd,
      };
      if (args.length) headers['Job-Command-Arg'] = args.join(' ');
      if (this.wants('BACKGROUND_JOB')) this.sendEvent({ headers, body });
      return;
    }
    if (verb === 'exit') {
      this.reply('+OK bye');
      this.write(
        Buffer.from(
          'Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n',
        ),
      );
      await this.drained();
      this.socket.end();
      return;
    }
    this.reply('-ERR command not found');
  }
}

export class EslTestServer extends EventEmitter {
  readonly connections = new Set<EslServerConnection>();
  /** First line of every command received, in order (the password is in here: tests only). */
  readonly commands: string[] = [];
  chunking: Chunking = { mode: 'whole' };
  jobCounter = 0;
  private handlers: ApiHandler[] = [];
  private sequence = 10_000;
  /** The emulated core (switch_core_init's core_uuid); restart() gives it a new one, as a FreeSWITCH restart does. */
  coreUuid = 'b0af81ff-b88e-447b-be32-b4fb0096666c';
  private coreStartedAt = Date.now();
  private readonly server: net.Server;

  private constructor(
    readonly password: string,
    readonly hostname: string,
  ) {
    super();
    this.server = net.createServer((socket) => {
      socket.setNoDelay(true);
      const conn = new EslServerConnection(socket, this);
      this.connections.add(conn);
      socket.on('close', () => this.connections.delete(conn));
      this.emit('connection', conn);
    });
  }

  static async start(opts: { password?: string; hostname?: string; port?: number } = {}): Promise<EslTestServer> {
    const s = new EslTestServer(opts.password ?? 'ClueCon', opts.hostname ?? 'vm');
    s.server.listen(opts.port ?? 0, '127.0.0.1');
    await once(s.server, 'listening');
    return s;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /**
   * Adds an api/bgapi answer script, consulted newest first. Return the body,
   * undefined to pass on, or null to never answer (a hung FreeSWITCH).
   */
  onApi(
    handler: (
      command: string,
      conn: EslServerConnection,
    ) => string | null | undefined | Promise<string | null | undefined>,
  ): void {
    this.handlers.unshift(handler as ApiHandler);
  }

  async answerApi(command: string, conn: EslServerConnection): Promise<string | null> {
    for (const h of this.handlers) {
      const r = await h(command, conn);
      if (r !== undefined) return r as string | null;
    }
    // Captured answers for the commands the fixtures hold.
    const captured: Record<string, string> = {
      status: 'api-status.raw',
      'show channels as json': 'api-show-channels-json-idle.raw',
      'show calls as json': 'api-show-calls-json-idle.raw',
      reloadacl: 'api-reloadacl.raw',
    };
    if (captured[command]) return splitFrames(fixture(captured[command]))[0]!.body!.toString('utf8');
    if (command.startsWith('xml_flush_cache')) return '+OK cleared 0 entries\n';
    if (command === 'switchname' || command === 'hostname') return this.hostname;
    if (command === 'global_getvar core_uuid') return this.coreUuid;
    if (command === 'uptime s') return `${Math.floor((Date.now() - this.coreStartedAt) / 1000)}\n`;
    if (command.startsWith('uuid_dump ') || command.startsWith('uuid_kill ')) return '-ERR No such channel!\n';
    return `-ERR ${command.split(' ')[0]} Command not found!\n`;
  }

  /** Headers every FreeSWITCH event starts with. */
  coreHeaders(eventName: string): Record<string, string> {
    return {
      'Event-Name': eventName,
      'Core-UUID': this.coreUuid,
      'FreeSWITCH-Hostname': this.hostname,
      'FreeSWITCH-Switchname': this.hostname,
      'Event-Date-Timestamp': String(Date.now() * 1000),
      'Event-Sequence': String(++this.sequence),
    };
  }

  /** Sends an event to every connection subscribed to it, in that connection's format. */
  emitEvent(ev: FsEvent): void {
    const name = String(ev.headers['Event-Name']);
    const subclass = ev.headers['Event-Subclass'] === undefined ? undefined : String(ev.headers['Event-Subclass']);
    for (const c of this.connections) if (c.wants(name, subclass)) c.sendEvent(ev);
  }

  /** Writes bytes as they are (malformed frames, raw fixture slices) to every authenticated connection. */
  sendRaw(bytes: Buffer): void {
    for (const c of this.connections) if (c.authed) c.write(bytes);
  }

  async drained(): Promise<void> {
    await Promise.all([...this.connections].map((c) => c.drained()));
  }

  /** Resolves once `count` commands matching `pattern` have been received in total (checks the log first: no race). */
  async waitForCommand(pattern: RegExp, count = 1, timeoutMs = 15_000): Promise<void> {
    // A command that never comes fails the test instead of hanging the suite.
    const signal = AbortSignal.timeout(timeoutMs);
    while (this.commands.filter((c) => pattern.test(c)).length < count) {
      await once(this, 'command', { signal }).catch((err: Error) => {
        throw err.name === 'AbortError' ? new Error(`no command matching ${pattern} within ${timeoutMs} ms`) : err;
      });
    }
    // Let the command's reply go out before the caller acts.
    await new Promise((r) => setImmediate(r));
  }

  /** A FreeSWITCH restart: every connection cut, a new Core-UUID, uptime from zero. */
  restart(coreUuid: string = randomUUID()): void {
    this.dropAll();
    this.coreUuid = coreUuid;
    this.coreStartedAt = Date.now();
  }

  /** Cuts every connection (a FreeSWITCH restart or a network drop). */
  dropAll(): void {
    for (const c of this.connections) c.socket.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

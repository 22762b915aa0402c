// One inbound Event Socket connection to one FreeSWITCH node: authenticate,
// subscribe (json format: exact values), answer api/bgapi with per-command
// timeouts, and reconnect forever with capped, jittered backoff. Our own
// framing instead of modesl: against the real fixture bytes modesl's parser
// throws URIError out of the socket's data handler (crashing the process) and
// overflows the stack on a few thousand coalesced frames.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Logger } from 'pino';
import client from 'prom-client';
import type { EslNodeConfig } from '../config.js';
import { hotCounter, metric, type MetricsRegistry } from '../metrics.js';
import { backoffDelay } from './backoff.js';
import { type EslEvent, EventParseError, parseJsonEvent, parsePlainEvent } from './event.js';
import { DEFAULT_LIMITS, EslFrameParser, type EslFrame, type FrameParserLimits } from './frame-parser.js';

export type EslState = 'connecting' | 'connected' | 'down' | 'stopped';

export type EslCommandFailure = 'timeout' | 'disconnected' | 'not_connected' | 'rejected' | 'invalid';

export class EslCommandError extends Error {
  override name = 'EslCommandError';
  constructor(
    readonly kind: EslCommandFailure,
    message: string,
    readonly reply?: string,
  ) {
    super(message);
  }
}

export interface EslClientOptions {
  node: EslNodeConfig;
  log: Logger;
  registry: MetricsRegistry;
  commandTimeoutMs: number;
  /** Events subscribed on every (re)connect; more can be added with subscribe(). */
  events?: readonly string[];
  backoff?: { initialMs: number; maxMs: number };
  random?: () => number;
  limits?: FrameParserLimits;
}

export interface CommandOptions {
  timeoutMs?: number;
}

export interface EslNodeStatus {
  node: string;
  state: EslState;
  connected: boolean;
  /** When the current state began (ms since epoch). */
  since: number;
  lastError: string | undefined;
}

interface Pending {
  command: string;
  /** Bytes received on the connection when the command was sent. */
  receivedAtSend: number;
  started: bigint;
  resolve(frame: EslFrame): void;
  reject(err: EslCommandError): void;
  timer: NodeJS.Timeout | undefined;
  /** Timed out: the late reply is still consumed (replies come in order) but goes nowhere. */
  abandoned: boolean;
}

interface Job {
  resolve(body: string): void;
  reject(err: EslCommandError): void;
  timer: NodeJS.Timeout;
}

/** Events the daemon itself always needs. */
const REQUIRED_EVENTS = ['BACKGROUND_JOB'];

/** What an EslClient emits: every event; `ready` once authenticated and subscribed (after every (re)connect:
 * consumers resync there); `down` when a ready connection is lost. */
interface EslClientEvents {
  event: [ev: EslEvent];
  ready: [];
  down: [reason: string];
}

export class EslClient extends EventEmitter<EslClientEvents> {
  readonly node: string;
  private stateValue: EslState = 'down';
  private since = Date.now();
  private lastError: string | undefined;
  private socket: net.Socket | undefined;
  private parser: EslFrameParser | undefined;
  private pending: Pending[] = [];
  private jobs = new Map<string, Job>();
  private readonly events: Set<string>;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private bytesReceived = 0;
  private maxBufferedValue = 0;
  private readonly eventCounters = new Map<string, { inc(): void }>();

  private readonly m: {
    connected: client.Gauge<'node'>;
    reconnects: client.Counter<'node'>;
    events: (labels: { node: string; event: string }) => { inc(): void };
    duration: client.Histogram<'node'>;
    malformed: client.Counter<'node'>;
  };

  constructor(private readonly opts: EslClientOptions) {
    super();
    this.node = opts.node.name;
    this.events = new Set([...REQUIRED_EVENTS, ...(opts.events ?? [])]);
    const r = opts.registry;
    this.m = {
      connected: metric(
        r,
        'fs_tenantd_esl_connected',
        () =>
          new client.Gauge({
            name: 'fs_tenantd_esl_connected',
            help: '1 while the ESL connection to the node is authenticated and subscribed',
            labelNames: ['node'],
            registers: [r],
          }),
      ),
      reconnects: metric(
        r,
        'fs_tenantd_esl_reconnects_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_esl_reconnects_total',
            help: 'ESL reconnection attempts',
            labelNames: ['node'],
            registers: [r],
          }),
      ),
      events: hotCounter(r, {
        name: 'fs_tenantd_esl_events_total',
        help: 'ESL events received, by Event-Name',
        labelNames: ['node', 'event'],
      }),
      duration: metric(
        r,
        'fs_tenantd_esl_command_duration_seconds',
        () =>
          new client.Histogram({
            name: 'fs_tenantd_esl_command_duration_seconds',
            help: 'Time from sending an ESL command to its reply',
            labelNames: ['node'],
            buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
            registers: [r],
          }),
      ),
      malformed: metric(
        r,
        'fs_tenantd_esl_malformed_frames_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_esl_malformed_frames_total',
            help: 'ESL frames that could not be parsed (skipped, or the connection was reset)',
            labelNames: ['node'],
            registers: [r],
          }),
      ),
    };
    this.m.connected.labels(this.node).set(0);
  }

  get state(): EslState {
    return this.stateValue;
  }
  get connected(): boolean {
    return this.stateValue === 'connected';
  }

  status(): EslNodeStatus {
    return {
      node: this.node,
      state: this.stateValue,
      connected: this.connected,
      since: this.since,
      lastError: this.lastError,
    };
  }

  /** Buffer high-water mark in bytes across connections (memory-bound checks). */
  get maxBufferedBytes(): number {
    return Math.max(this.maxBufferedValue, this.parser?.maxBuffered ?? 0);
  }

  start(): void {
    if (this.stateValue !== 'down' && this.stateValue !== 'stopped') return;
    this.setState('down');
    this.connect();
  }

  async stop(): Promise<void> {
    this.setState('stopped');
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    if (socket && !socket.destroyed) {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.destroy();
      await closed;
    }
  }

  /** Drops the connection now (it reconnects unless stopped); used when the link looks dead. */
  reset(reason: string): void {
    this.lastError = reason;
    this.socket?.destroy();
  }

  /** Runs `api <command>`; resolves with the response body, rejects on -ERR/-USAGE, timeout or disconnect. */
  async api(command: string, options: CommandOptions = {}): Promise<string> {
    const frame = await this.send(`api ${command}`, options.timeoutMs);
    const body = frame.body?.toString('utf8') ?? '';
    if (body.startsWith('-ERR') || body.startsWith('-USAGE'))
      throw new EslCommandError('rejected', `${command.split(' ')[0]}: ${body.trim()}`, body);
    return body;
  }

  /** Runs `bgapi <command>` and resolves with the BACKGROUND_JOB's body; the timeout covers the whole job. */
  async bgapi(command: string, options: CommandOptions = {}): Promise<string> {
    const timeoutMs = options.timeoutMs ?? this.opts.commandTimeoutMs;
    const jobUuid = randomUUID();
    const result = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.jobs.delete(jobUuid);
        reject(
          new EslCommandError('timeout', `bgapi ${command.split(' ')[0]}: no BACKGROUND_JOB within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.jobs.set(jobUuid, { resolve, reject, timer });
    });
    try {
      const reply = await this.send(`bgapi ${command}\nJob-UUID: ${jobUuid}`, timeoutMs, true);
      const text = reply.headers.get('Reply-Text') ?? '';
      if (!text.startsWith('+OK'))
        throw new EslCommandError('rejected', `bgapi ${command.split(' ')[0]}: ${text}`, text);
    } catch (err) {
      const job = this.jobs.get(jobUuid);
      if (job) {
        clearTimeout(job.timer);
        this.jobs.delete(jobUuid);
      }
      result.catch(() => undefined);
      throw err;
    }
    const body = await result;
    if (body.startsWith('-ERR') || body.startsWith('-USAGE'))
      throw new EslCommandError('rejected', `${command.split(' ')[0]}: ${body.trim()}`, body);
    return body;
  }

  /** Adds events to the subscription (kept across reconnects). `CUSTOM a::b` style names are accepted. */
  async subscribe(events: readonly string[]): Promise<void> {
    const fresh = events.filter((e) => !this.events.has(e));
    for (const e of fresh) this.events.add(e);
    if (fresh.length && this.connected) await this.subscribeCommand(fresh);
  }

  private async subscribeCommand(events: readonly string[]): Promise<void> {
    // CUSTOM subclasses must follow the CUSTOM keyword in the same command (mod_event_socket.c).
    const plain = events.filter((e) => !e.includes('::'));
    const custom = events.filter((e) => e.includes('::'));
    const words = [...plain, ...(custom.length ? ['CUSTOM', ...custom] : [])];
    const reply = await this.send(`event json ${words.join(' ')}`, undefined, true, true);
    const text = reply.headers.get('Reply-Text') ?? '';
    if (!text.startsWith('+OK')) throw new EslCommandError('rejected', `event subscription refused: ${text}`, text);
  }

  private send(
    command: string,
    timeoutMs = this.opts.commandTimeoutMs,
    multiLine = false,
    internal = false,
  ): Promise<EslFrame> {
    if (!multiLine && /[\r\n]/.test(command)) {
      return Promise.reject(new EslCommandError('invalid', 'ESL command contains a line break'));
    }
    const socket = this.socket;
    if (!socket || socket.destroyed || (!internal && !this.connected)) {
      return Promise.reject(new EslCommandError('not_connected', `ESL node ${this.node} is not connected`));
    }
    return new Promise<EslFrame>((resolve, reject) => {
      const p: Pending = {
        command: command.split(/[ \n]/)[0]!,
        receivedAtSend: this.bytesReceived,
        started: process.hrtime.bigint(),
        resolve,
        reject,
        timer: undefined,
        abandoned: false,
      };
      p.timer = setTimeout(() => {
        p.abandoned = true;
        reject(new EslCommandError('timeout', `${p.command}: no reply from ${this.node} within ${timeoutMs} ms`));
        // Nothing at all arrived since we sent it: the socket is dead (half-open TCP), not just slow.
        if (this.bytesReceived === p.receivedAtSend) this.reset(`no data for ${timeoutMs} ms after ${p.command}`);
      }, timeoutMs);
      this.pending.push(p);
      socket.write(`${command}\n\n`);
    });
  }

  private connect(): void {
    if (this.stateValue === 'stopped') return;
    this.setState('connecting');
    const { host, port } = this.opts.node;
    const socket = net.connect({ host, port });
    this.socket = socket;
    this.parser = new EslFrameParser(this.opts.limits ?? DEFAULT_LIMITS);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    // TCP connect + auth/request + auth + subscribe must all finish within one command timeout.
    this.handshakeTimer = setTimeout(() => this.reset('handshake timed out'), this.opts.commandTimeoutMs);
    socket.on('data', (chunk) => this.onData(socket, chunk));
    socket.on('error', (err) => {
      this.lastError = err.message;
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onData(socket: net.Socket, chunk: Buffer): void {
    if (socket !== this.socket || !this.parser) return;
    this.bytesReceived += chunk.length;
    let frames: EslFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      // Framing is lost: no later byte can be trusted, so start over on a new connection.
      this.m.malformed.labels(this.node).inc();
      this.opts.log.warn({ node: this.node, err: (err as Error).message }, 'ESL stream is malformed; reconnecting');
      this.reset(`malformed stream: ${(err as Error).message}`);
      return;
    }
    for (const frame of frames) {
      if (socket !== this.socket) return;
      try {
        this.onFrame(frame);
      } catch (err) {
        if (err instanceof EventParseError) {
          // Events are parsed lazily: a body broken deep inside surfaces when a consumer reads that part.
          this.m.malformed.labels(this.node).inc();
          this.opts.log.warn({ node: this.node, err: err.message }, 'malformed ESL event skipped');
          continue;
        }
        // A consumer's bug must not take the connection (or the process) down.
        this.opts.log.error({ node: this.node, err }, 'ESL frame handler failed');
      }
    }
  }

  private onFrame(frame: EslFrame): void {
    const type = frame.headers.get('Content-Type');
    switch (type) {
      case 'auth/request':
        void this.handshake();
        return;
      case 'command/reply':
      case 'api/response':
        this.onReply(frame);
        return;
      case 'text/event-json':
      case 'text/event-plain':
        this.onEventFrame(frame, type);
        return;
      case 'text/disconnect-notice':
        this.opts.log.info(
          { node: this.node, notice: frame.body?.toString('utf8').trim() },
          'FreeSWITCH is closing the ESL connection',
        );
        this.lastError = 'disconnected by FreeSWITCH';
        return;
      default:
        // log/data, text/rude-rejection and anything new: not ours to act on.
        if (type === undefined) {
          this.m.malformed.labels(this.node).inc();
          this.opts.log.warn({ node: this.node }, 'ESL frame without Content-Type skipped');
        }
    }
  }

  private onReply(frame: EslFrame): void {
    const p = this.pending.shift();
    if (!p) {
      this.m.malformed.labels(this.node).inc();
      this.opts.log.warn({ node: this.node }, 'ESL reply with no command waiting; skipped');
      return;
    }
    clearTimeout(p.timer);
    if (p.abandoned) return;
    this.m.duration.labels(this.node).observe(Number(process.hrtime.bigint() - p.started) / 1e9);
    p.resolve(frame);
  }

  private onEventFrame(frame: EslFrame, type: 'text/event-json' | 'text/event-plain'): void {
    let ev: EslEvent;
    try {
      ev =
        type === 'text/event-json'
          ? parseJsonEvent(frame.body ?? Buffer.alloc(0))
          : parsePlainEvent(frame.body ?? Buffer.alloc(0));
    } catch (err) {
      if (!(err instanceof EventParseError)) throw err;
      this.m.malformed.labels(this.node).inc();
      this.opts.log.warn({ node: this.node, err: err.message }, 'malformed ESL event skipped');
      return;
    }
    let counter = this.eventCounters.get(ev.name);
    if (!counter) {
      counter = this.m.events({ node: this.node, event: ev.name });
      // Event-Name comes from a fixed enum in FreeSWITCH; the cap only guards against surprises.
      if (this.eventCounters.size < 200) this.eventCounters.set(ev.name, counter);
    }
    counter.inc();
    if (ev.name === 'BACKGROUND_JOB') {
      const jobUuid = ev.header('Job-UUID');
      const job = jobUuid ? this.jobs.get(jobUuid) : undefined;
      if (job && jobUuid) {
        clearTimeout(job.timer);
        this.jobs.delete(jobUuid);
        job.resolve(ev.body ?? '');
      }
    }
    this.emit('event', ev);
  }

  private async handshake(): Promise<void> {
    try {
      const auth = await this.send(`auth ${this.opts.node.password}`, undefined, false, true);
      if (!(auth.headers.get('Reply-Text') ?? '').startsWith('+OK')) {
        this.opts.log.error(
          { node: this.node, reply: auth.headers.get('Reply-Text') },
          'ESL authentication refused (check FS_TENANTD_ESL_PASSWORD)',
        );
        this.reset('authentication refused');
        return;
      }
      await this.subscribeCommand([...this.events]);
    } catch (err) {
      this.opts.log.warn({ node: this.node, err: (err as Error).message }, 'ESL handshake failed');
      this.reset(`handshake failed: ${(err as Error).message}`);
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.attempt = 0;
    this.lastError = undefined;
    this.setState('connected');
    this.opts.log.info({ node: this.node, host: this.opts.node.host, port: this.opts.node.port }, 'ESL connected');
    this.emit('ready');
  }

  private onClose(socket: net.Socket): void {
    if (socket !== this.socket) return;
    clearTimeout(this.handshakeTimer);
    this.maxBufferedValue = Math.max(this.maxBufferedValue, this.parser?.maxBuffered ?? 0);
    this.socket = undefined;
    this.parser = undefined;
    const wasConnected = this.stateValue === 'connected';
    const failed = (kind: EslCommandFailure) => new EslCommandError(kind, `ESL connection to ${this.node} closed`);
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      if (!p.abandoned) p.reject(failed('disconnected'));
    }
    for (const [id, job] of this.jobs) {
      clearTimeout(job.timer);
      this.jobs.delete(id);
      job.reject(failed('disconnected'));
    }
    if (this.stateValue === 'stopped') return;
    this.setState('down');
    if (wasConnected) {
      this.opts.log.warn({ node: this.node, reason: this.lastError }, 'ESL connection lost');
      this.emit('down', this.lastError ?? 'connection closed');
    }
    const { initialMs, maxMs } = this.opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
    const delay = backoffDelay(this.attempt++, initialMs, maxMs, this.opts.random);
    this.opts.log.debug({ node: this.node, delay, attempt: this.attempt }, 'ESL reconnect scheduled');
    this.m.reconnects.labels(this.node).inc();
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private setState(state: EslState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.since = Date.now();
    this.m.connected.labels(this.node).set(state === 'connected' ? 1 : 0);
  }
}

// Load generator, run as its own process (pinned to its own core by run.ts) so
// it never shares an event loop with the server it measures.
//
// Why not autocannon: its reconnectRate (the only way to get a new TCP connection
// per request, which is what mod_xml_curl does) drops the response from its stats
// and starts the clock after connect. This generator times each request from
// connect() to the last byte of the response, as FreeSWITCH experiences it.
import net from 'node:net';
import { parseResponse } from './http-wire.js';
import { percentiles, type LatencySummary } from './percentiles.js';
import { cpuSeconds, serveCalls } from './processes.js';
import { requestFactory, type RequestSource } from './requests.js';

export interface LoadJob {
  host: string;
  port: number;
  /** 'close': a new TCP connection per request (mod_xml_curl); 'keepalive': persistent connections. */
  mode: 'close' | 'keepalive';
  connections: number;
  source: RequestSource;
  /** Stop after this long, or after `requests` requests if that is given. */
  durationMs: number;
  requests?: number;
  /** Unmeasured run before the measured one (JIT, caches). */
  warmupMs: number;
  /** Every 200 answer must contain this string, else it counts as a mismatch. */
  expect: string;
  /** Return every measured latency (ms), so runs can be pooled. */
  keepSamples?: boolean;
}

export interface LoadResult extends LatencySummary {
  requests: number;
  errors: number;
  mismatches: number;
  statuses: Record<string, number>;
  /** Answers in the unmeasured warm-up before the run. */
  warmupRequests: number;
  elapsedS: number;
  rps: number;
  /** The generator's own CPU seconds per elapsed second (near 1: the generator may be the bottleneck). */
  generatorCpuShare: number;
  firstError?: string;
  firstMismatch?: string;
  samples?: number[];
}

async function run(job: LoadJob, measure: boolean, durationMs: number, limit: number | undefined): Promise<LoadResult> {
  const factory = requestFactory(job.source);
  const expect = Buffer.from(job.expect);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let done = 0;
  let errors = 0;
  let mismatches = 0;
  let firstError: string | undefined;
  let firstMismatch: string | undefined;
  const started = performance.now();
  const cpuAtStart = cpuSeconds();
  const deadline = started + durationMs;
  const more = () => (limit === undefined ? performance.now() < deadline : sent < limit);

  const record = (t0: number, res: { status: number; body: Buffer }) => {
    done++;
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status === 200 && !res.body.includes(expect)) {
      mismatches++;
      firstMismatch ??= res.body.toString('utf8', 0, 300);
    }
    if (measure) latencies.push(performance.now() - t0);
  };
  const fail = (err: Error) => {
    errors++;
    firstError ??= err.message;
  };

  // One closed loop per connection slot: the next request leaves when the previous answer is in.
  const loopClose = () =>
    new Promise<void>((resolve) => {
      const next = () => {
        if (!more()) return resolve();
        const req = factory.get(sent++);
        const t0 = performance.now();
        let buf = Buffer.alloc(0);
        const socket = net.connect(job.port, job.host, () => socket.write(req));
        socket.setNoDelay(true);
        socket.on('data', (chunk) => {
          buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
          try {
            const res = parseResponse(buf);
            if (!res) return;
            record(t0, res);
            socket.destroy();
            setImmediate(next);
          } catch (err) {
            socket.destroy(err as Error);
          }
        });
        socket.on('error', (err) => {
          fail(err);
          socket.destroy();
          setImmediate(next);
        });
        socket.on('end', () => {
          if (!socket.destroyed) {
            fail(new Error('connection closed before the answer'));
            socket.destroy();
            setImmediate(next);
          }
        });
      };
      next();
    });

  const loopKeepAlive = () =>
    new Promise<void>((resolve) => {
      let socket: net.Socket;
      let buf = Buffer.alloc(0);
      let t0 = 0;
      const send = () => {
        if (!more()) {
          socket.destroy();
          return resolve();
        }
        t0 = performance.now();
        socket.write(factory.get(sent++));
      };
      const connect = () => {
        buf = Buffer.alloc(0);
        socket = net.connect(job.port, job.host, send);
        socket.setNoDelay(true);
        socket.on('data', (chunk) => {
          buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
          let res: ReturnType<typeof parseResponse>;
          try {
            res = parseResponse(buf);
          } catch (err) {
            socket.destroy(err as Error);
            return;
          }
          if (!res) return;
          buf = buf.subarray(res.length);
          record(t0, res);
          send();
        });
        socket.on('error', (err) => {
          fail(err);
        });
        socket.on('close', () => {
          if (more()) setTimeout(connect, 10);
          else resolve();
        });
      };
      connect();
    });

  const loop = job.mode === 'close' ? loopClose : loopKeepAlive;
  await Promise.all(Array.from({ length: job.connections }, loop));
  const elapsedS = (performance.now() - started) / 1000;
  const result: LoadResult = {
    requests: done,
    errors,
    mismatches,
    statuses,
    warmupRequests: 0,
    elapsedS,
    rps: done / elapsedS,
    generatorCpuShare: (cpuSeconds() - cpuAtStart) / elapsedS,
    ...percentiles(latencies),
  };
  if (firstError) result.firstError = firstError;
  if (firstMismatch) result.firstMismatch = firstMismatch;
  if (measure && job.keepSamples) result.samples = latencies;
  return result;
}

serveCalls({
  run: async (job: LoadJob): Promise<LoadResult> => {
    const warmup = job.warmupMs > 0 ? (await run(job, false, job.warmupMs, undefined)).requests : 0;
    return { ...(await run(job, true, job.durationMs, job.requests)), warmupRequests: warmup };
  },
});

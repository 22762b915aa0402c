// Results: every figure sits next to the baseline measured in the same run and
// their ratio, because on shared machines only same-run ratios are stable.
import { execSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { layout } from './processes.js';

export type Better = 'higher' | 'lower';

export interface Figure {
  /** Issue 8 item number and a short key, e.g. "1.close.rps". */
  id: string;
  what: string;
  unit: string;
  better: Better;
  value: number | null;
  baseline: number | null;
  baselineName: string;
  /** value / baseline. */
  ratio: number | null;
  /** A target on the ratio ("ratio>=0.9") or on the value ("value<1"), when issue 8 sets one. */
  target?: { on: 'ratio' | 'value'; op: '>=' | '<=' | '<'; limit: number };
  met?: boolean | null;
  /** Why a figure is missing, or what to know when reading it. */
  note?: string;
}

/** `ratio` defaults to value / baseline; give it when the ratio is measured otherwise (e.g. a median of pair ratios). */
export function figure(f: Omit<Figure, 'ratio' | 'met'> & { ratio?: number }): Figure {
  const ratio = f.ratio ?? (f.value !== null && f.baseline !== null && f.baseline !== 0 ? f.value / f.baseline : null);
  let met: boolean | null | undefined;
  if (f.target) {
    const x = f.target.on === 'ratio' ? ratio : f.value;
    met =
      x === null || Number.isNaN(x)
        ? null
        : f.target.op === '>='
          ? x >= f.target.limit
          : f.target.op === '<='
            ? x <= f.target.limit
            : x < f.target.limit;
  }
  return { ...f, ratio, ...(met !== undefined ? { met } : {}) };
}

const fmt = (n: number | null, unit: string): string => {
  if (n === null || Number.isNaN(n)) return '-';
  if (unit === 'MB') return n.toFixed(1);
  if (unit === 'ms') return n < 1 ? n.toFixed(3) : n.toFixed(2);
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
};

export function table(figures: Figure[]): string {
  const rows = figures.map((f) => [
    f.id,
    f.what,
    f.unit,
    fmt(f.value, f.unit),
    fmt(f.baseline, f.unit),
    f.ratio === null ? '-' : f.ratio.toFixed(2),
    f.target ? `${f.target.on} ${f.target.op} ${f.target.limit}` : '',
    f.met === undefined ? '' : f.met === null ? 'n/a' : f.met ? 'met' : 'MISSED',
  ]);
  const head = ['id', 'figure', 'unit', 'fs-tenantd', 'baseline', 'ratio', 'target', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i >= 3 && i <= 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows) out.push(line(r));
  const notes = figures
    .filter((f) => f.note || f.baselineName)
    .map((f) => `  ${f.id}: baseline = ${f.baselineName}${f.note ? `; ${f.note}` : ''}`);
  return [...out, '', 'ratio = fs-tenantd / baseline (for latency and memory, lower is better)', ...notes].join('\n');
}

function git(cmd: string): string | null {
  try {
    return execSync(`git ${cmd}`, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: os.availableParallelism(),
    memoryMB: Math.round(os.totalmem() / 2 ** 20),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    commit: git('rev-parse --short HEAD'),
    layout,
  };
}

export async function writeJson(file: string, payload: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${JSON.stringify(payload, null, 2)}\n`);
}

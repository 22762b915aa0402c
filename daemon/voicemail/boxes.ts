// A tenant's voicemail messages, read and changed through mod_voicemail's own
// API over ESL (vm_list, vm_read, vm_delete: mod_voicemail.c), so its index,
// its MWI events and the files stay one consistent thing. Every command names
// `<box>@<domain>` as the daemon read them from PostgreSQL in the tenant's
// context (RLS), never as a request spelled them. The index is per node unless
// mod_voicemail shares one database (FS_TENANTD_VOICEMAIL_ODBC_DSN): with
// several nodes the first connected one answers.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { EslClient } from '../esl/client.js';

export interface VoicemailMessage {
  uuid: string;
  createdAt: string;
  readAt: string | null;
  folder: string;
  callerIdName: string;
  callerIdNumber: string;
  lengthS: number;
  /** Where the file is, as FreeSWITCH wrote it; checked to be inside the box before it is read. */
  file: string;
}

export class VoicemailUnavailable extends Error {
  override name = 'VoicemailUnavailable';
}

export interface Box {
  /** The box's folder as the directory answer gives it (xml-handlers/directory.ts mailboxDir). */
  dir: string;
  number: string;
  domain: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const tag = (xml: string, name: string) =>
  new RegExp(`<${name}>([^<]*)</${name}>`)
    .exec(xml)?.[1]
    ?.replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>') ?? '';
const epoch = (v: string) => (Number(v) > 0 ? new Date(Number(v) * 1000).toISOString() : null);

export function createVoicemailBoxes(clients: readonly EslClient[]) {
  const api = async (command: string): Promise<string> => {
    const client = clients.find((c) => c.connected);
    if (!client) throw new VoicemailUnavailable('no FreeSWITCH node is connected');
    return client.api(command);
  };
  const list = async (box: Box): Promise<VoicemailMessage[]> => {
    const out = await api(`vm_list ${box.number}@${box.domain} xml`);
    return [...out.matchAll(/<message>([\s\S]*?)<\/message>/g)]
      .map(([, m]) => ({
        uuid: tag(m!, 'uuid'),
        createdAt: epoch(tag(m!, 'created_epoch')) ?? '',
        readAt: epoch(tag(m!, 'read_epoch')),
        folder: tag(m!, 'folder'),
        callerIdName: tag(m!, 'cid-name'),
        callerIdNumber: tag(m!, 'cid-number'),
        lengthS: Number(tag(m!, 'message-len')) || 0,
        file: tag(m!, 'path'),
      }))
      .filter((m) => UUID.test(m.uuid));
  };
  const find = async (box: Box, uuid: string) => (await list(box)).find((m) => m.uuid === uuid);
  return {
    list,
    find,
    async setHeard(box: Box, uuid: string, heard: boolean): Promise<void> {
      await api(`vm_read ${box.number}@${box.domain} ${heard ? 'read' : 'unread'} ${uuid}`);
    },
    async remove(box: Box, uuid: string): Promise<void> {
      await api(`vm_delete ${box.number}@${box.domain} ${uuid}`);
    },
    /** The message's audio, or undefined when the file is gone; a file outside the box is refused. */
    async audio(box: Box, m: VoicemailMessage): Promise<{ stream: Readable; bytes: number } | undefined> {
      let real: string;
      try {
        real = await realpath(m.file);
      } catch {
        return undefined;
      }
      const dir = await realpath(box.dir).catch(() => path.resolve(box.dir));
      if (!real.startsWith(`${dir}${path.sep}`))
        throw new Error(`message file ${m.file} is outside its box ${box.dir}`);
      const { size } = await stat(real);
      return { stream: createReadStream(real), bytes: size };
    },
  };
}

export type VoicemailBoxes = ReturnType<typeof createVoicemailBoxes>;

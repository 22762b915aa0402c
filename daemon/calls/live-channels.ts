// Reads FreeSWITCH's own list of live channels for a ledger resync:
// `show channels as json` for the uuids, then `uuid_dump <uuid> json` for each
// channel the ledger cannot attribute yet (show channels has no channel
// variables, and only the daemon's own variables may attribute a call).
import type { EslClient } from '../esl/client.js';
import { EslCommandError } from '../esl/client.js';
import { parseJsonEvent } from '../esl/event.js';
import { CHANNEL_VARS, eventHeader } from '../../xml-handlers/channel-vars.js';
import { asDirection, asTenant, linkOf, type ChannelSnapshot } from './call-ledger.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function readLiveChannels(esl: EslClient, known: (uuid: string) => boolean): Promise<ChannelSnapshot[]> {
  const list = JSON.parse(await esl.api('show channels as json')) as {
    row_count?: number;
    rows?: Array<{ uuid?: unknown }>;
  };
  const out: ChannelSnapshot[] = [];
  for (const row of list.rows ?? []) {
    const uuid = typeof row.uuid === 'string' ? row.uuid : '';
    if (!UUID.test(uuid)) continue; // never put an unexpected string into a command
    if (known(uuid)) {
      out.push({ uuid, linkedTo: undefined, tenantId: undefined, tenantSlug: undefined, direction: undefined });
      continue;
    }
    let dump: string;
    try {
      dump = await esl.api(`uuid_dump ${uuid} json`);
    } catch (err) {
      if (err instanceof EslCommandError && err.kind === 'rejected') continue; // hung up meanwhile
      throw err;
    }
    // uuid_dump json is the channel's CHANNEL_DATA event serialized like an event-json body.
    const ev = parseJsonEvent(Buffer.from(dump));
    out.push({
      uuid,
      linkedTo: linkOf(ev),
      tenantId: asTenant(ev.header(eventHeader(CHANNEL_VARS.tenantId))),
      tenantSlug: ev.header(eventHeader(CHANNEL_VARS.tenantSlug)),
      direction: asDirection(ev.header(eventHeader(CHANNEL_VARS.direction))),
    });
  }
  return out;
}

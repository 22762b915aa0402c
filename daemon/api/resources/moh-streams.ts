// Music-on-hold streams (sql/013, README "Music on hold"): a tenant's named
// folders of WAV files (files: routes/moh.ts), one of which may be its default
// hold music. The name is the tenant's handle (queues' local_stream://<name>);
// FreeSWITCH knows the stream by its ids only (xml-handlers/media-names.ts).
import type { ResourceDef } from '../resource.js';
import { bool } from '../schema-types.js';

export const mohStreams: ResourceDef = {
  path: 'moh-streams',
  table: 'moh_streams',
  noun: 'moh_stream',
  // ON DELETE RESTRICT from moh_stream_files: a stream's files go first, so no folder is left without its rows.
  usedBy: 'its files (delete them first)',
  fields: {
    // `moh` and `default` are the stock streams' (sql/013 CHECK): a queue naming them means the platform's.
    name: {
      column: 'name',
      schema: { type: 'string', pattern: '^(?!(moh|default)$)[a-z0-9][a-z0-9_-]{0,62}$' },
      required: true,
    },
    isDefault: { column: 'is_default', schema: bool },
  },
  async beforeWrite({ db, input, before }) {
    // One default per tenant (a partial unique index): choosing a new one unsets the old in the same transaction.
    if (input.isDefault === true)
      await db.query('UPDATE moh_streams SET is_default = false WHERE is_default AND id IS DISTINCT FROM $1', [
        before?.id ?? null,
      ]);
    return {};
  },
};

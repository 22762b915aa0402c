// Call-center queues (mod_callcenter); names are qualified with the tenant's domain on the FreeSWITCH side.
import { mohSoundAllowed } from '../../../xml-handlers/moh.js';
import { badRequest } from '../errors.js';
import type { ResourceDef } from '../resource.js';
import { bool, digits, int, nullable, slug } from '../schema-types.js';

export const STRATEGIES = [
  'ring-all',
  'longest-idle-agent',
  'round-robin',
  'top-down',
  'agent-with-least-talk-time',
  'agent-with-fewest-calls',
  'sequentially-by-agent-order',
  'random',
  'ring-progressively',
] as const;

export const queues: ResourceDef = {
  path: 'queues',
  table: 'queues',
  noun: 'queue',
  usedBy: 'a call-flow node',
  fields: {
    name: { column: 'name', schema: slug, required: true },
    dialCode: { column: 'dial_code', schema: nullable(digits(2, 10)) },
    strategy: { column: 'strategy', schema: { type: 'string', enum: [...STRATEGIES] } },
    // Sources only, never a file path: a tenant must not play files from the host (or another tenant's). A
    // local_stream:// names one of the tenant's own streams (by its name, /api/moh-streams) or a stock one (`moh`:
    // the tenant's hold music; `default`): checked below, and mapped at render (xml-handlers/moh.ts).
    mohSound: {
      column: 'moh_sound',
      schema: {
        type: 'string',
        maxLength: 255,
        pattern:
          '^(local_stream://[A-Za-z0-9_-]{1,64}|silence_stream://-?[0-9]{1,9}|tone_stream://[A-Za-z0-9%(),=.;:+ -]{1,200})$',
      },
    },
    timeBaseScore: { column: 'time_base_score', schema: { type: 'string', enum: ['queue', 'system'] } },
    maxWaitTime: { column: 'max_wait_time', schema: int(0, 86400) },
    maxWaitTimeWithNoAgent: { column: 'max_wait_time_with_no_agent', schema: int(0, 86400) },
    tierRulesApply: { column: 'tier_rules_apply', schema: bool },
    discardAbandonedAfter: { column: 'discard_abandoned_after', schema: int(0, 86400) },
    abandonedResumeAllowed: { column: 'abandoned_resume_allowed', schema: bool },
  },
  // Checked when written only: a stream deleted later does not block other edits of the queue (the renderer then
  // plays the tenant's hold music in its place).
  async beforeWrite({ db, input }) {
    const sound = input.mohSound;
    if (typeof sound !== 'string' || !sound.startsWith('local_stream://')) return {};
    // RLS shows only the tenant's own streams: another tenant's name is as unknown as a made-up one.
    const streams = (await db.query<{ name: string }>('SELECT name FROM moh_streams')).rows;
    if (
      !mohSoundAllowed(
        streams.map((s) => s.name),
        sound,
      )
    )
      throw badRequest(
        'mohSound',
        'names no music-on-hold stream of this tenant (local_stream://moh, local_stream://default, or a stream ' +
          'of /api/moh-streams by name)',
      );
    return {};
  },
};

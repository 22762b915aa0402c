// Music on hold per tenant (README "Music on hold"): which local_stream a call,
// a queue or a parking lot of a tenant may play. Only three kinds of answer
// exist: one of the tenant's own streams (named from its ids, media-names.ts),
// the platform's stock stream, or a source that is not a stream at all
// (silence_stream://, tone_stream://). Nothing a tenant stored can name another
// tenant's stream: a value that is not one of these is replaced here, at render.
import { mohStreamName } from './media-names.js';
import type { MohStream, TenantHead } from './model.js';

/**
 * The platform's stock streams (local_stream.conf, configuration/local-stream.ts). `moh` is what a queue plays
 * by default (sql/001 queues.moh_sound); local_stream_file_open looks up `moh/<rate>` first, so `moh/8000` is
 * served too. `default` is where FreeSWITCH falls back for a source it does not know.
 */
export const STOCK_MOH_STREAMS = ['default', 'moh'] as const;
export const STOCK_HOLD_MUSIC = 'local_stream://moh';

const LOCAL_STREAM = 'local_stream://';

/** The tenant's default stream, if it has one. */
/** What hold-music choices read of a tenant. */
export type MohOwner = Pick<TenantHead, 'id' | 'mohStreams' | 'inheritedMoh'>;

export const defaultMohStream = (tenant: MohOwner): MohStream | undefined =>
  tenant.mohStreams?.find((s) => s.isDefault);

/**
 * What `hold_music` is on the tenant's calls: its default stream, else the nearest ancestor's (a reseller's music
 * for its customers, chosen by the reseller: sql/014), else the stock one.
 */
export function tenantHoldMusic(tenant: MohOwner): string {
  const s = defaultMohStream(tenant);
  if (s) return `${LOCAL_STREAM}${mohStreamName(tenant.id, s.id)}`;
  const up = tenant.inheritedMoh;
  return up ? `${LOCAL_STREAM}${mohStreamName(up.tenant, up.stream)}` : STOCK_HOLD_MUSIC;
}

/**
 * Whether a tenant whose streams are named `streamNames` may store `sound` as a queue's moh-sound (the API checks
 * it on write; the renderer maps it again, resolveMohSound, in case a stream is deleted afterwards).
 */
export function mohSoundAllowed(streamNames: readonly string[], sound: string): boolean {
  if (!sound.startsWith(LOCAL_STREAM)) return true; // silence_stream:// and tone_stream:// (the API's pattern)
  const name = sound.slice(LOCAL_STREAM.length);
  return (STOCK_MOH_STREAMS as readonly string[]).includes(name) || streamNames.includes(name);
}

/**
 * The source FreeSWITCH is given for a tenant's stored moh-sound: `local_stream://<name>` with `name` one of the
 * tenant's streams becomes that stream's node-wide name; `moh` (the column's default) is the tenant's hold music
 * (its default stream, else the stock one); `default` is the stock stream; any other stream name (a stream since
 * deleted, a row written before sql/013, a name typed to reach another tenant's stream) becomes the tenant's hold
 * music. Sources that are not streams pass unchanged.
 */
export function resolveMohSound(tenant: MohOwner, sound: string): string {
  if (!sound.startsWith(LOCAL_STREAM)) return sound;
  const name = sound.slice(LOCAL_STREAM.length);
  // `moh` is every queue's default (sql/001): it inherits the tenant's hold music; `default` is the stock, chosen.
  if (name === 'moh') return tenantHoldMusic(tenant);
  if (name === 'default') return sound;
  const own = tenant.mohStreams?.find((s) => s.name === name);
  return own ? `${LOCAL_STREAM}${mohStreamName(tenant.id, own.id)}` : tenantHoldMusic(tenant);
}

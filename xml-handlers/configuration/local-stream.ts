// local_stream.conf (mod_local_stream.c). Read by launch_streams: with no name
// when the module loads (every <directory> is started), and with a name on
// `local_stream start <name>` (that directory only, switch_xml_find_child), and
// by read_stream_thread on `local_stream reload <name>` (its params again).
// FreeSWITCH never starts a stream on first use: an unknown source falls back to
// `default` (local_stream_file_open), so the daemon starts each tenant's stream
// over ESL (daemon/esl/moh-sync.ts) from the same desired set rendered here.
//
// Served: the platform's stock streams (as the static file once had them) and
// one directory per tenant stream, named and placed from ids (media-names.ts).
import { mohStreamDir, mohStreamName } from '../media-names.js';
import type { PlatformTenant } from '../model.js';
import { section, serialize } from '../xml.js';
import type { ConfigurationFile } from './file.js';

/** The params every stream gets: 8 kHz mono, 20 ms, files of other rates resampled by the file layer on open. */
const STREAM_PARAMS: ReadonlyArray<readonly [string, string]> = [
  ['rate', '8000'],
  ['shuffle', 'true'],
  ['channels', '1'],
  ['interval', '20'],
  ['timer-name', 'soft'],
];

/**
 * The platform's stock streams: `default` (where FreeSWITCH falls back for an unknown source) and `moh/8000` (what
 * local_stream://moh finds first at 8 kHz). `$${sounds_dir}` is FreeSWITCH's own, expanded by the preprocessor that
 * reads every xml_curl answer (switch_xml_parse_file); the folder is FreeSWITCH's music package, shared by all.
 */
export const STOCK_STREAMS: ReadonlyArray<{ name: string; path: string }> = [
  { name: 'default', path: '$${sounds_dir}/music/8000' },
  { name: 'moh/8000', path: '$${sounds_dir}/music/8000' },
];

export interface DesiredMohStream {
  name: string;
  path: string;
  tenantId: PlatformTenant['id'];
  /** What changes when the stream must be reloaded: its files' names, sizes and times. */
  contents: string;
}

/** Every tenant stream FreeSWITCH should run, by node-wide name; none without FS_TENANTD_MOH_DIR. */
export function desiredMohStreams(tenants: readonly PlatformTenant[], dir: string | undefined): DesiredMohStream[] {
  if (!dir) return [];
  return tenants.flatMap((t) =>
    (t.mohStreams ?? []).map((s) => ({
      name: mohStreamName(t.id, s.id),
      path: mohStreamDir(dir, t.id, s.id),
      tenantId: t.id,
      contents: JSON.stringify(s.files.map((f) => [f.name, f.sizeBytes, f.updatedAt])),
    })),
  );
}

export function renderLocalStreamConf(tenants: readonly PlatformTenant[], dir: string | undefined): string {
  const conf = section('configuration', { description: 'fs-tenantd' }).ele('configuration', {
    name: 'local_stream.conf',
    description: 'stream files from local dir',
  });
  const streams = [...STOCK_STREAMS, ...desiredMohStreams(tenants, dir)];
  for (const s of streams) {
    // Names and paths are built from uuids and a directory the daemon validated: nothing here came from a request.
    const el = conf.ele('directory', { name: s.name, path: s.path });
    for (const [name, value] of STREAM_PARAMS) el.ele('param', { name, value });
  }
  return serialize(conf);
}

export const localStreamConf: ConfigurationFile<{ file: 'local_stream.conf' }, PlatformTenant> = {
  name: 'local_stream.conf',
  // launch_streams passes no params to switch_xml_open_cfg: the answer is the same for every fetch.
  parse: () => ({ file: 'local_stream.conf' }),
  needs: () => 'platform',
  render: (_req, tenants, settings) => ({
    xml: renderLocalStreamConf(tenants, settings.moh?.dir),
    ...(settings.moh?.dir
      ? {}
      : { warnings: [{ msg: 'local_stream.conf: no FS_TENANTD_MOH_DIR, tenant streams left out' }] }),
  }),
};

// voicemail.conf: mod_voicemail's one profile, read when the module loads.
// Nothing in it belongs to a tenant: boxes, their folders and PINs come with
// each user's directory answer (directory.ts), the domain with each call's
// dialplan answer (dialplan/voicemail.ts).
import { PROFILE_MAX_RECORD_LEN_S, VOICEMAIL_PROFILE } from '../dialplan/voicemail.js';
import { section, serialize, text } from '../xml.js';
import type { ConfigurationFile } from './file.js';

export const voicemailConf: ConfigurationFile<{ file: 'voicemail.conf' }> = {
  name: 'voicemail.conf',
  parse: () => ({ file: 'voicemail.conf' }),
  needs: () => 'none',
  render: (_req, _tenants, settings) => {
    const conf = section('configuration', { description: 'fs-tenantd' }).ele('configuration', {
      name: 'voicemail.conf',
      description: 'Voicemail',
    });
    conf.ele('settings');
    const profile = conf.ele('profiles').ele('profile', { name: VOICEMAIL_PROFILE });
    const params: Array<[string, string]> = [
      ['file-extension', 'wav'],
      // Messages end when the caller hangs up or presses #, not on silence: a quiet caller's message is kept.
      ['record-silence-threshold', '0'],
      ['min-record-len', '2'],
      ['max-record-len', String(PROFILE_MAX_RECORD_LEN_S)],
      ['max-login-attempts', '3'],
      // A box without a PIN is opened only by its own phone (*97, `check auth`), never by an empty PIN.
      ['allow-empty-password-auth', 'false'],
      ['db-password-override', 'false'],
      ['tone-spec', '%(500, 0, 640)'],
      // The index of messages: each node's own SQLite file, or one database every node shares (README Voicemail).
      ...(settings.voicemail.odbcDsn
        ? ([['odbc-dsn', text(settings.voicemail.odbcDsn, 512)]] as Array<[string, string]>)
        : []),
    ];
    for (const [name, value] of params) profile.ele('param', { name, value });
    return { xml: serialize(conf) };
  },
};

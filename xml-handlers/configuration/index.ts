// The configuration files the daemon answers. Any other name is not found at
// once, and FreeSWITCH falls back to its own file or defaults.
import { aclConf } from './acl.js';
import { callcenterConf } from './callcenter.js';
import { conferenceConf } from './conference.js';
import type { PlatformTenant } from '../model.js';
import type { ConfigurationFile, Fields } from './file.js';
import { ivrConf } from './ivr.js';
import { localStreamConf } from './local-stream.js';
import { sofiaConf } from './sofia.js';
import { voicemailConf } from './voicemail.js';

export const CONFIGURATION_FILES = [
  sofiaConf,
  aclConf,
  callcenterConf,
  ivrConf,
  conferenceConf,
  voicemailConf,
  localStreamConf,
] as const;

type ServedFile = (typeof CONFIGURATION_FILES)[number];
export type ServedRequest = ReturnType<ServedFile['parse']>;
export type ConfigurationRequest = ServedRequest | { file: 'other'; name: string };

const BY_NAME = new Map<string, ServedFile>(CONFIGURATION_FILES.map((f) => [f.name, f]));

export function parseConfiguration(get: Fields): ConfigurationRequest {
  const name = get('key_value') ?? '';
  return BY_NAME.get(name)?.parse(get) ?? { file: 'other', name };
}

/** The module that parsed `req`. Each file only ever gets back the requests it parsed itself. */
/** Typed for the widest `tenants` a file can be given; what it really gets is what its `needs` asks for. */
export function configurationFile(req: ServedRequest): ConfigurationFile<ServedRequest, PlatformTenant> {
  return BY_NAME.get(req.file) as unknown as ConfigurationFile<ServedRequest, PlatformTenant>;
}

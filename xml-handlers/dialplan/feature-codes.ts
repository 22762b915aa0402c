// Feature codes a user dials from the phone to set its own extension's features
// (README "Feature codes"). The dialplan fetch that carries one is the daemon's
// own authenticated input (the channel's tenant and directory user), so the
// daemon applies the change while answering it and then plays a confirmation:
// no callback from FreeSWITCH, and the next call already sees the change.
import type { ExtensionFeatures } from '../model.js';
import { section, serialize, text } from '../xml.js';

export type FeatureField = keyof Omit<ExtensionFeatures, 'noAnswerTimeoutS'>;

/** A parsed feature code: the fields to set, or why the code cannot be applied. */
export interface FeatureChange {
  code: string;
  set: Partial<Pick<ExtensionFeatures, FeatureField>>;
  invalid?: string;
}

/** A forward target as the API and sql/007 accept it: digits, or +E.164. */
export const FORWARD_TARGET = /^(\+[1-9][0-9]{1,14}|[0-9]{2,15})$/;

/** Code → field and value; a code taking a number is followed by the target (`*72` + `1002`). */
export const FEATURE_CODES: readonly { code: string; field: FeatureField; value: boolean | 'number' | null }[] = [
  { code: '*78', field: 'dnd', value: true },
  { code: '*79', field: 'dnd', value: false },
  { code: '*72', field: 'forwardAlways', value: 'number' },
  { code: '*73', field: 'forwardAlways', value: null },
  { code: '*90', field: 'forwardBusy', value: 'number' },
  { code: '*91', field: 'forwardBusy', value: null },
  { code: '*92', field: 'forwardNoAnswer', value: 'number' },
  { code: '*93', field: 'forwardNoAnswer', value: null },
  { code: '*94', field: 'forwardUnreachable', value: 'number' },
  { code: '*95', field: 'forwardUnreachable', value: null },
];

/** The change a dialled number asks for, or undefined when it is not a feature code. */
export function featureCode(dest: string): FeatureChange | undefined {
  const entry = FEATURE_CODES.find((c) => dest.startsWith(c.code));
  if (!entry) return undefined;
  const rest = dest.slice(entry.code.length);
  if (entry.value !== 'number') {
    return rest === ''
      ? { code: entry.code, set: { [entry.field]: entry.value } }
      : { code: entry.code, set: {}, invalid: `${entry.code} takes no number` };
  }
  // Phones often send `+` as is; `*` or `#` inside a target never routes.
  if (!FORWARD_TARGET.test(rest))
    return { code: entry.code, set: {}, invalid: `${entry.code} needs a number to forward to` };
  return { code: entry.code, set: { [entry.field]: rest } };
}

/** The answer once the change is stored: answer, a short confirmation tone, hang up. */
export function renderFeatureDone(contextName: string, code: string): string {
  const cond = section('dialplan', { description: 'fs-tenantd' })
    .ele('context', { name: text(contextName, 253) })
    .ele('extension', { name: `fs-tenantd-feature-${text(code.slice(1), 8)}` })
    .ele('condition');
  cond.ele('action', { application: 'answer' });
  // Two short beeps (tone_stream: %(on ms, off ms, Hz); switch_ivr_play_say.c / teletone).
  cond.ele('action', { application: 'playback', data: 'tone_stream://%(150,100,880);%(150,0,880)' });
  cond.ele('action', { application: 'hangup', data: 'NORMAL_CLEARING' });
  return serialize(cond);
}

// Reads a node's settings JSON field by field: unknown keys, wrong types and
// out-of-range values are a SettingsProblem naming `settings.<field>`, so the
// API's 400 and the call-time log say the same thing.
import { isSound } from '../../sounds.js';
import { SettingsProblem } from './node-kind.js';

export function settingsReader(raw: Readonly<Record<string, unknown>>, allowed: readonly string[]) {
  for (const key of Object.keys(raw)) {
    if (!allowed.includes(key))
      throw new SettingsProblem(`settings.${key}`, `is not a setting of this kind (${allowed.join(', ') || 'none'})`);
  }
  const field = (name: string) => `settings.${name}`;
  return {
    int(name: string, min: number, max: number, fallback?: number): number {
      const v = raw[name] ?? fallback;
      if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
        throw new SettingsProblem(field(name), `must be an integer from ${min} to ${max}`);
      }
      return v as number;
    },
    sound(name: string, required: boolean): string | null {
      const v = raw[name];
      if (v === undefined || v === null) {
        if (required) throw new SettingsProblem(field(name), 'is required');
        return null;
      }
      if (!isSound(v)) {
        throw new SettingsProblem(
          field(name),
          'must be tone_stream://…, silence_stream://<ms> or a stock prompt (ivr/ivr-welcome.wav)',
        );
      }
      return v;
    },
    oneOf<T extends string>(name: string, values: readonly T[], fallback?: T): T {
      const v = raw[name] ?? fallback;
      if (!values.includes(v as T)) throw new SettingsProblem(field(name), `must be one of ${values.join(', ')}`);
      return v as T;
    },
    array(name: string, max: number): unknown[] {
      const v = raw[name] ?? [];
      if (!Array.isArray(v) || v.length > max)
        throw new SettingsProblem(field(name), `must be a list of at most ${max}`);
      return v;
    },
    raw: (name: string) => raw[name],
    field,
  };
}

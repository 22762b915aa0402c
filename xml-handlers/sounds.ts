// What a tenant may name as a prompt or announcement. Never a file path from a
// request, never an absolute path or `..`: a sound is generated (tones,
// silence) or one of FreeSWITCH's stock prompts, resolved under its
// sound_prefix (switch_ivr_play_file prefixes a relative path), which holds
// platform content, not another tenant's files. Per-tenant uploads are not
// served yet (README Known limits).

/** tone_stream://%(on,off,Hz[,Hz]);… (teletone_run, libteletone_generate.c), at most 8 segments and a loop count. */
const TONE = /^tone_stream:\/\/(%\(\d{1,5},\d{1,5},\d{2,4}(,\d{2,4})?\);?){1,8}(loops=\d{1,2})?$/;
const SILENCE = /^silence_stream:\/\/\d{1,6}$/;
/** A stock prompt: lower-case path segments, e.g. ivr/ivr-welcome.wav. */
const STOCK = /^[a-z0-9_-]{1,32}(\/[a-z0-9_-]{1,64}){0,3}\.(wav|mp3)$/;

export const SOUND_PATTERN = `${TONE.source}|${SILENCE.source}|${STOCK.source}`;

export function isSound(value: unknown): value is string {
  return (
    typeof value === 'string' && value.length <= 256 && (TONE.test(value) || SILENCE.test(value) || STOCK.test(value))
  );
}

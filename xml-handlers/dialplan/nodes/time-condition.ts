// Business hours: a weekly schedule plus holiday dates, in the node's time zone
// or the tenant's. Decided here at fetch time (FreeSWITCH does not cache
// dialplan answers, so every call is decided afresh) rather than with
// FreeSWITCH's date-time conditions (switch_xml_std_datetime_check), so holiday
// lists, zones and a fixed clock in tests do not depend on the switch's local
// time or how its time zones were built.
import { SettingsProblem, type NodeKind } from './node-kind.js';
import { settingsReader } from './settings.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
type Day = (typeof DAYS)[number];

export interface Schedule {
  timezone: string;
  /** Open ranges, minutes since local midnight, [from, to). */
  weekly: ReadonlyArray<{ days: ReadonlySet<Day>; from: number; to: number }>;
  /** Local dates (YYYY-MM-DD) the schedule is closed all day. */
  holidays: ReadonlySet<string>;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** A formatter for `zone`; throws RangeError for a zone the tz database does not know. */
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

export function isTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The local date, weekday and minute of the day at `now` in `zone`. */
export function localTime(zone: string, now: Date): { date: string; day: Day; minute: number } {
  const p: Record<string, string> = {};
  for (const { type, value } of formatter(zone).formatToParts(now)) p[type] = value;
  return {
    date: `${p.year}-${p.month}-${p.day}`,
    day: p.weekday!.toLowerCase().slice(0, 3) as Day,
    minute: Number(p.hour) * 60 + Number(p.minute),
  };
}

export function isOpen(s: Schedule, now: Date): boolean {
  const t = localTime(s.timezone, now);
  if (s.holidays.has(t.date)) return false;
  return s.weekly.some((r) => r.days.has(t.day) && t.minute >= r.from && t.minute < r.to);
}

const HHMM = /^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$/;
const minutes = (v: string) => (v === '24:00' ? 1440 : Number(v.slice(0, 2)) * 60 + Number(v.slice(3)));
const DATE = /^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/;

export const timeConditionNode: NodeKind<'time_condition', Schedule> = {
  kind: 'time_condition',
  read: (node, tenant) => {
    const r = settingsReader(node.settings, ['timezone', 'weekly', 'holidays']);
    const tz = r.raw('timezone') ?? tenant.timezone;
    if (typeof tz !== 'string' || !isTimeZone(tz))
      throw new SettingsProblem(r.field('timezone'), 'not a known IANA time zone');
    const weekly = r.array('weekly', 50).map((range, i) => {
      const f = `weekly[${i}]`;
      if (!range || typeof range !== 'object' || Array.isArray(range))
        throw new SettingsProblem(r.field(f), 'must be {days, from, to}');
      const { days, from, to, ...rest } = range as Record<string, unknown>;
      if (Object.keys(rest).length) throw new SettingsProblem(r.field(f), 'only days, from and to');
      if (!Array.isArray(days) || !days.length || !days.every((d) => DAYS.includes(d as Day)))
        throw new SettingsProblem(r.field(`${f}.days`), `must list days of ${DAYS.join(', ')}`);
      if (typeof from !== 'string' || !HHMM.test(from) || from === '24:00')
        throw new SettingsProblem(r.field(`${f}.from`), 'must be HH:MM');
      if (typeof to !== 'string' || !HHMM.test(to))
        throw new SettingsProblem(r.field(`${f}.to`), 'must be HH:MM (or 24:00)');
      if (minutes(to) <= minutes(from))
        throw new SettingsProblem(
          r.field(`${f}.to`),
          'must be after from (split a range that crosses midnight in two)',
        );
      return { days: new Set(days as Day[]), from: minutes(from), to: minutes(to) };
    });
    const holidays = r.array('holidays', 400).map((d, i) => {
      if (typeof d !== 'string' || !DATE.test(d))
        throw new SettingsProblem(r.field(`holidays[${i}]`), 'must be YYYY-MM-DD');
      return d;
    });
    return { timezone: tz, weekly, holidays: new Set(holidays) };
  },
  // sql/009 guarantees both branches on a time condition.
  step: (node, schedule, { now }) => ({ goto: isOpen(schedule, now) ? node.next! : node.else! }),
};

// Parsers for the `callcenter_config ... list` api replies (mod_callcenter.c,
// list_result_callback and the queue list writer): a header line of column
// names, one line per row, fields joined by "|", then "+OK". With no rows the
// header is missing too and the reply is just "+OK". Columns are found by
// name, so a FreeSWITCH version that adds or reorders columns still parses.
// Values are written raw, so a contact dial string may itself hold "|"
// (failover dialling): each table names its one free-text column, which takes
// any surplus fields back.

import type { QueueSettings } from '../../xml-handlers/callcenter-state.js';

export class ListParseError extends Error {
  override name = 'ListParseError';
}

export interface AgentRow {
  name: string;
  type: string;
  contact: string;
  status: string;
  state: string;
  maxNoAnswer: number;
  wrapUpTime: number;
  rejectDelayTime: number;
  busyDelayTime: number;
  noAnswerDelayTime: number;
}

export interface TierRow {
  queue: string;
  agent: string;
  state: string;
  level: number;
  position: number;
}

export interface QueueRow extends QueueSettings {
  name: string;
  callsAnswered: number;
  callsAbandoned: number;
}

export interface MemberRow {
  queue: string;
  uuid: string;
  sessionUuid: string;
  state: string;
}

type Row = Map<string, string>;

/** Splits an api reply into rows keyed by column name; throws on -ERR or a damaged table. */
function parseTable(reply: string, required: readonly string[], freeText: string): Row[] {
  const text = reply.replace(/\r/g, '');
  const lines = text.split('\n');
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const last = lines.pop();
  if (last === undefined || !last.startsWith('+OK')) {
    const first = text.trim().split('\n')[0] ?? '';
    throw new ListParseError(
      first.startsWith('-ERR') || first.startsWith('-USAGE')
        ? `FreeSWITCH answered ${JSON.stringify(first.slice(0, 200))}`
        : 'reply does not end with +OK',
    );
  }
  if (lines.length === 0) return [];
  const header = lines[0]!.split('|');
  for (const col of required) {
    if (!header.includes(col)) throw new ListParseError(`column ${col} missing from header`);
  }
  const freeIdx = header.indexOf(freeText);
  return lines.slice(1).map((line, i) => {
    let fields = line.split('|');
    if (fields.length > header.length && freeIdx >= 0) {
      const surplus = fields.length - header.length;
      fields = [
        ...fields.slice(0, freeIdx),
        fields.slice(freeIdx, freeIdx + surplus + 1).join('|'),
        ...fields.slice(freeIdx + surplus + 1),
      ];
    }
    if (fields.length !== header.length) {
      throw new ListParseError(`row ${i + 1} has ${fields.length} fields, header has ${header.length}`);
    }
    return new Map(header.map((h, j) => [h, fields[j]!]));
  });
}

function int(row: Row, col: string): number {
  const v = row.get(col) ?? '';
  if (!/^-?\d+$/.test(v)) throw new ListParseError(`${col}=${JSON.stringify(v)} is not a number`);
  return Number(v);
}

function bool(row: Row, col: string): boolean {
  const v = row.get(col);
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ListParseError(`${col}=${JSON.stringify(v)} is not true/false`);
}

const str = (row: Row, col: string): string => row.get(col) ?? '';

function named(row: Row, col: string): string {
  const v = str(row, col);
  if (!v) throw new ListParseError(`empty ${col}`);
  return v;
}

const AGENT_COLS = [
  'name',
  'type',
  'contact',
  'status',
  'state',
  'max_no_answer',
  'wrap_up_time',
  'reject_delay_time',
  'busy_delay_time',
  'no_answer_delay_time',
] as const;

/** `callcenter_config agent list` */
export function parseAgentList(reply: string): AgentRow[] {
  return parseTable(reply, AGENT_COLS, 'contact').map((r) => ({
    name: named(r, 'name'),
    type: str(r, 'type'),
    contact: str(r, 'contact'),
    status: str(r, 'status'),
    state: str(r, 'state'),
    maxNoAnswer: int(r, 'max_no_answer'),
    wrapUpTime: int(r, 'wrap_up_time'),
    rejectDelayTime: int(r, 'reject_delay_time'),
    busyDelayTime: int(r, 'busy_delay_time'),
    noAnswerDelayTime: int(r, 'no_answer_delay_time'),
  }));
}

/** `callcenter_config tier list` */
export function parseTierList(reply: string): TierRow[] {
  return parseTable(reply, ['queue', 'agent', 'state', 'level', 'position'], 'state').map((r) => ({
    queue: named(r, 'queue'),
    agent: named(r, 'agent'),
    state: str(r, 'state'),
    level: int(r, 'level'),
    position: int(r, 'position'),
  }));
}

const QUEUE_COLS = [
  'name',
  'strategy',
  'moh_sound',
  'time_base_score',
  'tier_rules_apply',
  'discard_abandoned_after',
  'abandoned_resume_allowed',
  'max_wait_time',
  'max_wait_time_with_no_agent',
  'calls_answered',
  'calls_abandoned',
] as const;

/** `callcenter_config queue list` */
export function parseQueueList(reply: string): QueueRow[] {
  return parseTable(reply, QUEUE_COLS, 'moh_sound').map((r) => ({
    name: named(r, 'name'),
    strategy: str(r, 'strategy'),
    // An unset moh-sound is a NULL char* printed with %s: glibc writes "(null)".
    mohSound: str(r, 'moh_sound') === '(null)' ? '' : str(r, 'moh_sound'),
    timeBaseScore: str(r, 'time_base_score'),
    tierRulesApply: bool(r, 'tier_rules_apply'),
    discardAbandonedAfter: int(r, 'discard_abandoned_after'),
    abandonedResumeAllowed: bool(r, 'abandoned_resume_allowed'),
    maxWaitTime: int(r, 'max_wait_time'),
    maxWaitTimeWithNoAgent: int(r, 'max_wait_time_with_no_agent'),
    callsAnswered: int(r, 'calls_answered'),
    callsAbandoned: int(r, 'calls_abandoned'),
  }));
}

/** `callcenter_config queue list members [queue]` */
export function parseMemberList(reply: string): MemberRow[] {
  return parseTable(reply, ['queue', 'uuid', 'session_uuid', 'state', 'cid_name'], 'cid_name').map((r) => ({
    queue: named(r, 'queue'),
    uuid: str(r, 'uuid'),
    sessionUuid: str(r, 'session_uuid'),
    state: str(r, 'state'),
  }));
}

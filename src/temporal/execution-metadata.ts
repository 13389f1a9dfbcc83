import {
  defineSearchAttributeKey,
  type SearchAttributePair,
  SearchAttributeType,
} from '@temporalio/common';
import { describeSchedule } from '../schedule/describe';
import { TASK_ID_SEARCH_ATTRIBUTE, TASK_NAME_SEARCH_ATTRIBUTE } from './contracts';

/** The typed keys of the task's search attributes (SPEC §15), both Keyword. */
export const TASK_ID_KEY = defineSearchAttributeKey(
  TASK_ID_SEARCH_ATTRIBUTE,
  SearchAttributeType.KEYWORD,
);
export const TASK_NAME_KEY = defineSearchAttributeKey(
  TASK_NAME_SEARCH_ATTRIBUTE,
  SearchAttributeType.KEYWORD,
);

/** The attributes to register on a namespace, with their types as Temporal's CLI spells them. */
export const TASK_SEARCH_ATTRIBUTES: readonly { name: string; type: 'Keyword' }[] = [
  { name: TASK_ID_SEARCH_ATTRIBUTE, type: 'Keyword' },
  { name: TASK_NAME_SEARCH_ATTRIBUTE, type: 'Keyword' },
];

/** What an execution's metadata is made from: the task row's public fields, never its secrets. */
export interface DescribedTask {
  id: string;
  name: string;
  schedule: string;
  timezone: string;
}

/** A scheduled run (the schedule's action) or a manual one (POST /api/tasks/:id/trigger). */
export type RunKind = 'scheduled' | 'manual';

export interface ExecutionMetadata {
  typedSearchAttributes: SearchAttributePair[];
  staticSummary: string;
  staticDetails: string;
}

/**
 * Temporal refuses a summary payload over 400 bytes (`limit.userMetadataSummarySize`); the
 * payload's own encoding metadata and JSON quotes take part of that, so the text keeps to this.
 */
export const SUMMARY_MAX_BYTES = 300;

/**
 * The search attributes, one-line summary and details of a task's executions (SPEC §15): an
 * execution's page in the Web UI (and `temporal workflow describe`) shows the summary ("Stand-up
 * reminder · At 09:00, Monday through Friday (Europe/Paris)") and the details with the link to
 * the task in the console (`publicUrl`, as alerts link it); the server's list call returns no
 * summaries, so lists find runs by the attributes. Ids, the name and the schedule only: the
 * webhook URL and the payload stay in PostgreSQL.
 */
export function executionMetadata(
  task: DescribedTask,
  options: { kind: RunKind; publicUrl?: string },
): ExecutionMetadata {
  const name = oneLine(task.name);
  const words = describeSchedule(task.schedule);
  const when = `${words} (${task.timezone})`;
  const summary =
    options.kind === 'manual' ? `${name} · manual run · schedule ${when}` : `${name} · ${when}`;
  const details = [
    `**Task** ${name} (\`${task.id}\`)`,
    `**Schedule** \`${oneLine(task.schedule)}\`: ${words}, time zone ${task.timezone}`,
    options.kind === 'manual'
      ? '**Run** manual (triggered through the API)'
      : '**Run** scheduled (by its Temporal Schedule)',
    ...(options.publicUrl
      ? [`[Open the task in the console](${options.publicUrl}/tasks/${task.id})`]
      : []),
  ].join('\n\n');
  return {
    typedSearchAttributes: [
      { key: TASK_ID_KEY, value: task.id },
      { key: TASK_NAME_KEY, value: task.name },
    ],
    staticSummary: truncateBytes(summary, SUMMARY_MAX_BYTES),
    staticDetails: details,
  };
}

/** The summary is one line: whitespace runs (a name's newline, tabs) become one space. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** At most `max` UTF-8 bytes, cut between code points, with an ellipsis when cut. */
export function truncateBytes(text: string, max: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(text).length <= max) return text;
  const ellipsis = '…';
  let budget = max - encoder.encode(ellipsis).length;
  let out = '';
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (size > budget) break;
    out += char;
    budget -= size;
  }
  return `${out.trimEnd()}${ellipsis}`;
}

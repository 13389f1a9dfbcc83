/** The template variables of SPEC §5, with the sample values the preview shows for them. */
export const TEMPLATE_VARIABLES = [
  { name: 'task.name', label: 'Task name' },
  { name: 'task.id', label: 'Task id' },
  { name: 'execution.scheduledTime', label: 'Scheduled time' },
  { name: 'execution.time', label: 'Delivery time' },
  { name: 'execution.attempt', label: 'Attempt number' },
] as const;

export interface SampleValues {
  taskId: string;
  taskName: string;
  scheduledTime: string;
  time: string;
}

const TAG = /\{\{\s*([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s*\}\}/g;

/** The text as a delivery would render it, with sample values; unknown tags stay as written. */
export function renderSample(text: string, sample: SampleValues): string {
  const values: Record<string, string> = {
    'task.id': sample.taskId,
    'task.name': sample.taskName,
    'execution.scheduledTime': sample.scheduledTime,
    'execution.time': sample.time,
    'execution.attempt': '1',
  };
  return text.replace(TAG, (tag, name: string) => values[name] ?? tag);
}

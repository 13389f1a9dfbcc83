const LABELS: Record<string, string> = {
  ACTIVE: 'Active',
  INACTIVE: 'Paused',
  FAILED: 'Failed',
  COMPLETED: 'Completed',
  SUCCESS: 'Delivered',
  RETRYING: 'Retrying',
};

/** A task's status or an attempt's outcome, in words and colour (the words carry the meaning). */
export function StatusBadge({ status }: { status: string | null }) {
  if (!status) return <span className="muted">Never run</span>;
  return <span className={`badge badge-${status.toLowerCase()}`}>{LABELS[status] ?? status}</span>;
}

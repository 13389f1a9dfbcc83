import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useMemo, useRef, useState } from 'react';
import { useAccess } from '../api/access';
import {
  api,
  ApiError,
  call,
  type CreateTaskRequest,
  type Task,
  type UpdateTaskRequest,
} from '../api/client';
import { navigate } from '../routes';
import { Field } from '../ui/Field';
import { Link } from '../ui/Link';
import { useNotice } from '../ui/Notice';
import { BoundsFields } from './BoundsFields';
import { ComposerField, type InsertTarget, InsertTargetContext } from './ComposerField';
import { DiscordPreview } from './DiscordPreview';
import { EmbedEditor } from './EmbedEditor';
import {
  alertWebhookUrlOf,
  boundsOf,
  type Draft,
  deleteAfterError,
  deleteAfterOf,
  draftFromTask,
  emptyDraft,
  emptyEmbed,
  embedText,
  errorsByPath,
  LIMITS,
  MESSAGE_MODES,
  maxRunsOf,
  payloadOf,
  webhookUrlError,
} from './model';
import { NextRuns, previewError, ScheduleField, useSchedulePreview } from './ScheduleField';
import { VariableMenu } from './VariableMenu';
import { instantOf } from './wall-time';

/** Every IANA zone this browser knows, for the picker (UTC first). */
const ZONES: string[] = (() => {
  const known =
    typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return ['UTC', ...known.filter((z) => z !== 'UTC')];
})();

const SAMPLE_TASK_ID = '00000000-0000-4000-8000-000000000000';

/** Create (no id) or edit a task. */
export function EditorPage({ id }: { id?: string }) {
  const access = useAccess();
  const task = useQuery({
    queryKey: ['task', id],
    queryFn: () => call(api.GET('/api/tasks/{id}', { params: { path: { id: id! } } })),
    enabled: Boolean(id),
  });
  if (!access.known || (id && task.isPending)) {
    return (
      <p className="loading" aria-busy="true">
        {id ? 'Loading the task…' : 'Loading…'}
      </p>
    );
  }
  if (access.readOnly) return <ReadOnlyEditor id={id} name={task.data?.name} />;
  if (id && task.isError) {
    return (
      <p className="form-error" role="alert">
        Could not load the task: {task.error.message}
      </p>
    );
  }
  return <EditorForm task={task.data} />;
}

/**
 * What a read-only key (SPEC §14) gets at /tasks/new or /tasks/:id/edit, say from a shared link:
 * why there is no form, and the way back.
 */
function ReadOnlyEditor({ id, name }: { id?: string; name?: string }) {
  return (
    <section aria-labelledby="editor-title">
      <div className="page-head">
        <h1 id="editor-title">{id ? (name ? `Edit “${name}”` : 'Edit task') : 'New task'}</h1>
      </div>
      <div className="empty">
        <p>
          {id ? 'This task cannot be changed' : 'No task can be created'} with a read-only key. Sign
          in with a key that may write (API_KEY) to {id ? 'edit it' : 'create one'}.
        </p>
        <Link href={id ? `/tasks/${id}` : '/tasks'}>
          {id ? 'Back to the task' : 'Back to the tasks'}
        </Link>
      </div>
    </section>
  );
}

function EditorForm({ task }: { task?: Task }) {
  /** The task as loaded: a save sends the bounds that differ from it. */
  const [saved] = useState(() => (task ? draftFromTask(task) : undefined));
  const [draft, setDraft] = useState<Draft>(() => saved ?? emptyDraft());
  const [replacingUrl, setReplacingUrl] = useState(!task);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  /** "Delete after" is checked here once the user has left it (or submitted), not mid-word. */
  const [deleteAfterLeft, setDeleteAfterLeft] = useState(false);
  /** Likewise the alert webhook URL. */
  const [alertLeft, setAlertLeft] = useState(false);
  const insertTarget = useRef<InsertTarget | null>(null);
  const contentRef = useRef<HTMLTextAreaElement | null>(null);
  const queryClient = useQueryClient();
  const notice = useNotice();
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));

  const preview = useSchedulePreview(draft.schedule, draft.timezone, {
    startAt: instantOf(draft.startAt, draft.timezone),
    endAt: instantOf(draft.endAt, draft.timezone),
    maxRuns: maxRunsOf(draft.maxRuns),
    runsMade:
      task && task.maxRuns !== null && task.runsLeft !== null ? task.maxRuns - task.runsLeft : 0,
  });
  /** A field's error: the preview's as the user types, else the last save's. */
  const fieldError = (field: 'schedule' | 'timezone' | 'startAt' | 'endAt' | 'maxRuns') =>
    previewError(preview.error, field) ?? errors[field];
  const scheduleError = fieldError('schedule');
  const timezoneError = fieldError('timezone');
  const editMode = draft.messageMode === 'edit';
  const deleteAfterInvalid = editMode ? undefined : deleteAfterError(draft.deleteAfter);
  const deleteAfterShown = (deleteAfterLeft && deleteAfterInvalid) || errors.deleteAfter;
  /** The saved alert webhook, masked (SPEC §14); null when alerts go to the deployment's. */
  const savedAlert = task?.alertWebhookUrl ?? null;
  const removingAlert = Boolean(savedAlert) && draft.removeAlertWebhook;
  const alertInvalid = removingAlert ? undefined : webhookUrlError(draft.alertWebhookUrl);
  const alertShown = (alertLeft && alertInvalid) || errors.alertWebhookUrl;

  const zones = useMemo(
    () => (ZONES.includes(draft.timezone) ? ZONES : [draft.timezone, ...ZONES]),
    [draft.timezone],
  );
  const embedTotal = draft.embeds.reduce((sum, e) => sum + embedText(e), 0);
  const sample = {
    taskId: task?.id ?? SAMPLE_TASK_ID,
    taskName: draft.name || 'My task',
    scheduledTime: preview.data?.nextRuns[0] ?? new Date().toISOString(),
    time: preview.data?.nextRuns[0] ?? new Date().toISOString(),
  };

  const save = useMutation({
    mutationFn: async (): Promise<Task> => {
      const common = {
        name: draft.name,
        schedule: draft.schedule,
        timezone: draft.timezone,
        maxRetry: draft.maxRetry,
        messageMode: draft.messageMode,
        deleteAfter: deleteAfterOf(draft),
        payload: payloadOf(draft),
        ...boundsOf(draft, saved),
      };
      const alertWebhookUrl = alertWebhookUrlOf(draft, Boolean(task));
      const alert = alertWebhookUrl === undefined ? {} : { alertWebhookUrl };
      if (!task) {
        const body: CreateTaskRequest = {
          ...common,
          ...alert,
          webhookUrl: draft.webhookUrl.trim(),
          status: draft.startPaused ? 'INACTIVE' : 'ACTIVE',
        };
        return call(api.POST('/api/tasks', { body }));
      }
      const body: UpdateTaskRequest = {
        ...common,
        ...alert,
        ...(replacingUrl ? { webhookUrl: draft.webhookUrl.trim() } : {}),
      };
      return call(api.PATCH('/api/tasks/{id}', { params: { path: { id: task.id } }, body }));
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries();
      notice(task ? `“${saved.name}” saved.` : `“${saved.name}” created.`);
      navigate(`/tasks/${saved.id}`);
    },
    onError: (error) => {
      if (error instanceof ApiError && error.errors.length > 0) {
        setErrors(errorsByPath(error.errors));
        setFormError('The task was not saved: correct the fields marked below.');
      } else {
        setErrors({});
        setFormError(`The task was not saved: ${error.message}`);
      }
      requestAnimationFrame(() => document.getElementById('form-error')?.focus());
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setErrors({});
    setDeleteAfterLeft(true);
    setAlertLeft(true);
    if (deleteAfterInvalid || alertInvalid) {
      setFormError('The task was not saved: correct the fields marked below.');
      requestAnimationFrame(() => document.getElementById('form-error')?.focus());
      return;
    }
    setFormError(null);
    save.mutate();
  };

  const shown = new Set([
    'name',
    'schedule',
    'timezone',
    'webhookUrl',
    'maxRetry',
    'messageMode',
    'deleteAfter',
    'alertWebhookUrl',
    'startAt',
    'endAt',
    'maxRuns',
    'payload',
    'payload.content',
    'payload.username',
    'payload.avatar_url',
    'payload.embeds',
  ]);
  const elsewhere = Object.entries(errors).filter(
    ([path]) => !shown.has(path) && !path.startsWith('payload.embeds.'),
  );

  return (
    <InsertTargetContext.Provider value={insertTarget}>
      <form className="editor" onSubmit={submit} noValidate aria-labelledby="editor-title">
        <div className="page-head">
          <h1 id="editor-title">{task ? `Edit “${task.name}”` : 'New task'}</h1>
          <Link href={task ? `/tasks/${task.id}` : '/tasks'}>Cancel</Link>
        </div>
        {formError && (
          <div id="form-error" className="form-error" role="alert" tabIndex={-1}>
            <p>{formError}</p>
            {elsewhere.length > 0 && (
              <ul>
                {elsewhere.map(([path, message]) => (
                  <li key={path}>
                    <code>{path}</code>: {message}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}

        <div className="editor-columns">
          <div className="editor-settings">
            <h2>Settings</h2>
            <Field
              label="Name"
              error={errors.name}
              count={{ value: draft.name.length, max: LIMITS.name }}
            >
              {(control) => (
                <input
                  {...control}
                  value={draft.name}
                  required
                  onChange={(e) => set({ name: e.target.value })}
                />
              )}
            </Field>
            <ScheduleField
              schedule={draft.schedule}
              timezone={draft.timezone}
              error={scheduleError}
              onChange={(schedule) => set({ schedule })}
            />
            <section aria-label="Schedule preview" aria-live="polite" className="schedule-preview">
              {!scheduleError && !timezoneError && (
                <NextRuns
                  preview={preview.data}
                  timezone={draft.timezone}
                  loading={preview.isFetching}
                />
              )}
            </section>
            <Field label="Time zone" error={timezoneError}>
              {(control) => (
                <select
                  {...control}
                  value={draft.timezone}
                  onChange={(e) => set({ timezone: e.target.value })}
                >
                  {zones.map((zone) => (
                    <option key={zone} value={zone}>
                      {zone}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {task && !replacingUrl ? (
              <div className="field">
                <span className="label">Webhook URL</span>
                <div className="saved-url">
                  <code>{task.webhookUrl}</code>
                  <button type="button" onClick={() => setReplacingUrl(true)}>
                    Replace webhook URL
                  </button>
                </div>
                {errors.webhookUrl && <div className="field-error">{errors.webhookUrl}</div>}
              </div>
            ) : (
              <Field
                label="Webhook URL"
                error={errors.webhookUrl}
                hint={
                  task
                    ? 'The saved URL is replaced when you save.'
                    : 'Discord: channel settings → Integrations → Webhooks → Copy Webhook URL.'
                }
              >
                {(control) => (
                  <input
                    {...control}
                    type="url"
                    value={draft.webhookUrl}
                    required
                    autoComplete="off"
                    spellCheck={false}
                    placeholder="https://discord.com/api/webhooks/…"
                    onChange={(e) => set({ webhookUrl: e.target.value })}
                  />
                )}
              </Field>
            )}
            <Field
              label="Retries after a failed attempt"
              error={errors.maxRetry}
              hint="0 to 10; each retry waits longer than the one before."
            >
              {(control) => (
                <input
                  {...control}
                  type="number"
                  min={0}
                  max={10}
                  value={draft.maxRetry}
                  onChange={(e) => set({ maxRetry: e.target.valueAsNumber || 0 })}
                />
              )}
            </Field>
            {!task && (
              <label className="check">
                <input
                  type="checkbox"
                  checked={draft.startPaused}
                  onChange={(e) => set({ startPaused: e.target.checked })}
                />
                Create paused
              </label>
            )}
            <BoundsFields
              draft={draft}
              errors={{
                startAt: fieldError('startAt'),
                endAt: fieldError('endAt'),
                maxRuns: fieldError('maxRuns'),
              }}
              set={set}
              saved={task}
            />

            <h3>Discord messages</h3>
            <fieldset
              className="field choices"
              aria-describedby={errors.messageMode ? 'message-mode-error' : undefined}
            >
              <legend>What each run does</legend>
              {MESSAGE_MODES.map((mode) => (
                <div className="choice" key={mode.value}>
                  <input
                    type="radio"
                    id={`message-mode-${mode.value}`}
                    name="messageMode"
                    value={mode.value}
                    checked={draft.messageMode === mode.value}
                    aria-describedby={`message-mode-${mode.value}-hint`}
                    aria-invalid={errors.messageMode ? true : undefined}
                    onChange={() => set({ messageMode: mode.value })}
                  />
                  <div>
                    <label htmlFor={`message-mode-${mode.value}`}>{mode.label}</label>
                    <div id={`message-mode-${mode.value}-hint`} className="hint">
                      {mode.explain}
                    </div>
                  </div>
                </div>
              ))}
              {errors.messageMode && (
                <div id="message-mode-error" className="field-error">
                  {errors.messageMode}
                </div>
              )}
            </fieldset>
            <Field
              label="Delete after"
              error={deleteAfterShown}
              hint={
                editMode ? (
                  'Not with Edit: every run edits the same message, so it is kept.'
                ) : (
                  <>
                    e.g. <code>10s</code>, <code>30m</code>, <code>12h</code>, <code>7d</code>;
                    empty keeps messages. Each message is deleted this long after it was posted (at
                    most 30d).
                  </>
                )
              }
            >
              {(control) => (
                <input
                  {...control}
                  className="short"
                  value={editMode ? '' : draft.deleteAfter}
                  disabled={editMode}
                  placeholder={editMode ? 'kept' : 'never'}
                  spellCheck={false}
                  autoComplete="off"
                  onChange={(e) => set({ deleteAfter: e.target.value })}
                  onBlur={() => setDeleteAfterLeft(true)}
                />
              )}
            </Field>

            <h3>Alerts</h3>
            <Field
              label="Alert webhook URL"
              error={alertShown}
              hint={
                removingAlert ? (
                  <>
                    Removed when you save: this task's failure and recovery alerts go to the
                    deployment's <code>ALERT_WEBHOOK_URL</code> again.
                  </>
                ) : savedAlert ? (
                  <>
                    Where this task's failure and recovery alerts go. Saved:{' '}
                    <code className="break">{savedAlert}</code>, kept unless you enter a new one.
                  </>
                ) : (
                  <>
                    Optional: where this task's failure and recovery alerts go. Empty: the
                    deployment's <code>ALERT_WEBHOOK_URL</code>.
                  </>
                )
              }
            >
              {(control) => (
                <input
                  {...control}
                  type="url"
                  value={removingAlert ? '' : draft.alertWebhookUrl}
                  disabled={removingAlert}
                  autoComplete="off"
                  spellCheck={false}
                  placeholder={
                    removingAlert ? 'none' : (savedAlert ?? 'https://discord.com/api/webhooks/…')
                  }
                  onChange={(e) => set({ alertWebhookUrl: e.target.value })}
                  onBlur={() => setAlertLeft(true)}
                />
              )}
            </Field>
            {savedAlert && (
              <label className="check">
                <input
                  type="checkbox"
                  checked={draft.removeAlertWebhook}
                  onChange={(e) => set({ removeAlertWebhook: e.target.checked })}
                />
                Remove the alert webhook
              </label>
            )}
          </div>

          <div className="editor-message">
            <div className="composer-head">
              <h2>Message</h2>
              <VariableMenu
                target={insertTarget}
                fallback={() =>
                  contentRef.current
                    ? { element: contentRef.current, set: (content) => set({ content }) }
                    : null
                }
              />
            </div>
            {errors.payload && <div className="field-error">{errors.payload}</div>}
            <div ref={(el) => void (contentRef.current = el?.querySelector('textarea') ?? null)}>
              <ComposerField
                label="Content"
                value={draft.content}
                onChange={(content) => set({ content })}
                max={LIMITS.content}
                multiline
                error={errors['payload.content']}
                hint="Markdown: **bold**, *italic*, `code`, [links](https://…)."
              />
            </div>
            <div className="grid-2">
              <ComposerField
                label="Username"
                value={draft.username}
                onChange={(username) => set({ username })}
                max={LIMITS.username}
                error={errors['payload.username']}
                hint="Shown instead of the webhook's name."
              />
              <ComposerField
                label="Avatar URL"
                type="url"
                value={draft.avatarUrl}
                onChange={(avatarUrl) => set({ avatarUrl })}
                error={errors['payload.avatar_url']}
              />
            </div>
            <p className={embedTotal > LIMITS.embedTotal ? 'count over' : 'count'}>
              Embeds: {draft.embeds.length}/{LIMITS.embeds}, text {embedTotal}/{LIMITS.embedTotal}{' '}
              characters
            </p>
            {errors['payload.embeds'] && (
              <div className="field-error">{errors['payload.embeds']}</div>
            )}
            {draft.embeds.map((embed, index) => (
              <EmbedEditor
                key={index}
                index={index}
                embed={embed}
                errors={errors}
                onChange={(next) =>
                  set({ embeds: draft.embeds.map((e, i) => (i === index ? next : e)) })
                }
                onRemove={() => set({ embeds: draft.embeds.filter((_, i) => i !== index) })}
              />
            ))}
            <button
              type="button"
              disabled={draft.embeds.length >= LIMITS.embeds}
              onClick={() => set({ embeds: [...draft.embeds, emptyEmbed()] })}
            >
              Add embed
            </button>
            <h2 className="preview-title">Preview</h2>
            <p className="muted small">
              Variables show sample values: the task name, and the next run as the time.
            </p>
            <DiscordPreview draft={draft} sample={sample} />
          </div>
        </div>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : task ? 'Save changes' : 'Create task'}
          </button>
        </div>
      </form>
    </InsertTargetContext.Provider>
  );
}

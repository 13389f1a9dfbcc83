/// <reference lib="dom" />
// (page.evaluate callbacks run in the browser)
import type { Page } from '@playwright/test';
import { expect, expectAccessible, READ_ONLY_KEY, screenshot, test } from './fixtures';

/** The API's task, as far as these tests read it. */
interface Task {
  id: string;
  name: string;
  status: 'ACTIVE' | 'INACTIVE' | 'FAILED';
}

/** A task's bounds and what they left (SPEC §14). */
interface Bounded {
  id: string;
  status: 'ACTIVE' | 'INACTIVE' | 'FAILED' | 'COMPLETED';
  startAt: string | null;
  endAt: string | null;
  maxRuns: number | null;
  runsLeft: number | null;
  nextRunAt: string | null;
}

/** A task's Discord message settings (SPEC §13). */
interface MessageSettings extends Task {
  messageMode: 'post' | 'edit' | 'replace';
  deleteAfter: string | null;
  lastMessageId: string | null;
}

interface SentPayload {
  content?: string;
  username?: string;
  embeds?: {
    title?: string;
    description?: string;
    color?: number;
    fields?: { name: string; value: string; inline?: boolean }[];
    footer?: { text: string };
  }[];
}

let counter = 0;
const unique = (what: string) => `${what} ${Date.now().toString(36)}${counter++}`;

/** What the console says, once, to a read-only key (SPEC §14). */
const READ_ONLY_NOTICE =
  'Signed in with a read-only key: you can see tasks, logs and the dashboard, but not change or run them.';

/** The buttons that change or run a task, by their names in the table and on the task page. */
const WRITE_BUTTON = /^(Run\b|Pause\b|Resume\b|Delete\b|Edit\b)/;

/** A text as a regular expression that matches it literally. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** An instant as the wall-clock time a datetime-local field holds in a zone (to the minute). */
function wallIn(instant: Date, timeZone: string): string {
  const f = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    })
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  return `${f.year}-${f.month}-${f.day}T${f.hour}:${f.minute}`;
}

/** The instant (ISO, as the API writes it) a wall-clock time names in a zone, away from a DST change. */
function instantIn(wall: string, timeZone: string): string {
  const guess = Date.parse(`${wall}Z`);
  const offset = Date.parse(`${wallIn(new Date(guess), timeZone)}Z`) - guess;
  const instant = new Date(guess - offset);
  expect(wallIn(instant, timeZone), `${wall} in ${timeZone}`).toBe(wall);
  return instant.toISOString();
}

async function signInWith(page: Page, key: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible();
}

test.describe('the web console', () => {
  test('when a wrong key is entered, then it is refused; the right key opens the tasks; sign-out forgets it', async ({
    page,
    services,
  }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Discord Task Scheduler' })).toBeVisible();
    await expectAccessible(page, 'sign-in');
    await screenshot(page, 'sign-in');

    await page.getByLabel('API key').fill('wrong-key-0123456789abcdef');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toHaveText(/refused this key/);
    await expect(page.getByLabel('API key')).toHaveAttribute('aria-invalid', 'true');

    await page.getByLabel('API key').fill(services.product.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible();
    expect(await page.evaluate(() => sessionStorage.getItem('dts.apiKey'))).toBe(
      services.product.apiKey,
    );
    expect(await page.evaluate(() => localStorage.getItem('dts.apiKey'))).toBeNull();

    // A reload keeps the session; signing out forgets the key.
    await page.reload();
    await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page.getByLabel('API key')).toBeVisible();
    expect(await page.evaluate(() => sessionStorage.getItem('dts.apiKey'))).toBeNull();
  });

  test('when "remember on this device" is ticked, then the key is kept in localStorage; a later 401 forgets it and returns to the prompt', async ({
    page,
    services,
  }) => {
    await page.goto('/');
    await page.getByLabel('API key').fill(services.product.apiKey);
    await page.getByLabel('Remember on this device').check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible();
    expect(await page.evaluate(() => localStorage.getItem('dts.apiKey'))).toBe(
      services.product.apiKey,
    );

    // The key is revoked on the server: the next answer is a 401.
    await page.route(
      (url) => url.pathname === '/api/tasks',
      (route) =>
        route.fulfill({
          status: 401,
          contentType: 'application/problem+json',
          body: JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401 }),
        }),
    );
    await page.getByLabel('Search by name').fill('anything');
    await expect(page.getByRole('alert')).toHaveText('Your key was refused; sign in again.');
    await expect(page.getByLabel('API key')).toBeVisible();
    expect(await page.evaluate(() => localStorage.getItem('dts.apiKey'))).toBeNull();
  });

  test('when a task with an embed is created through the form, then the preview shows what Discord then receives', async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('Stand-up');
    const webhookId = `${Date.now()}1`;
    await page.getByRole('link', { name: 'New task' }).click();
    await expect(page.getByRole('heading', { name: 'New task' })).toBeVisible();

    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Schedule', { exact: true }).fill('30 9 * * MON-FRI');
    await page.getByLabel('Time zone').selectOption('Europe/Paris');
    await expect(page.getByText('At 09:30, Monday through Friday')).toBeVisible();
    const nextRuns = page.getByRole('list', { name: 'Next runs' }).getByRole('listitem');
    await expect(nextRuns).toHaveCount(5);
    await expect(nextRuns.first()).toContainText(/09:30/);

    await page
      .getByLabel('Webhook URL', { exact: true })
      .fill(services.discord.webhookUrl(webhookId));
    await page.getByLabel('Content', { exact: true }).fill('Hello **team**, this is ');
    // A variable from the menu goes where the caret is.
    await page.getByRole('button', { name: 'Insert variable' }).click();
    await page.getByRole('button', { name: /Task name/ }).click();
    await expect(page.getByLabel('Content', { exact: true })).toHaveValue(
      'Hello **team**, this is {{task.name}}',
    );
    await expect(page.getByText('37/2000')).toBeVisible();
    await page.getByLabel('Username').fill('Stand-up Bot');

    await page.getByRole('button', { name: 'Add embed' }).click();
    await page.getByLabel('Embed 1 title').fill('{{task.name}} report');
    await page.getByLabel('Embed 1 description').fill('All *systems* go, see `status`');
    await page.getByLabel('Embed 1 colour').fill('#57f287');
    await page.getByRole('button', { name: 'Add field to embed 1' }).click();
    await page.getByLabel('Field 1 name').fill('Owner');
    await page.getByLabel('Field 1 value').fill('Ops');
    // The menu writes into the field focused last, here a Discord timestamp into a field value.
    await page.getByRole('button', { name: 'Add field to embed 1' }).click();
    await page.getByLabel('Field 2 name').fill('Next stand-up');
    await page.getByLabel('Field 2 value').focus();
    await page.getByRole('button', { name: 'Insert variable' }).click();
    await page
      .getByRole('button', { name: 'Scheduled time, as a Discord timestamp (relative)' })
      .click();
    await expect(page.getByLabel('Field 2 value')).toHaveValue(
      '{{execution.scheduledTime|discord:R}}',
    );
    await page.getByLabel('Embed 1 footer', { exact: true }).fill('Sent by the scheduler');

    const preview = page.getByRole('region', { name: 'Discord preview' });
    await expect(preview).toContainText(`Hello team, this is ${name}`);
    await expect(preview.getByRole('article')).toContainText(`${name} report`);
    await expect(preview.locator('strong')).toHaveText('team');
    await expect(preview.locator('.dc-description em')).toHaveText('systems');
    // The next run, as each reader's Discord shows it ("in 3 days"), never the markup.
    const nextStandUp = preview.locator('.dc-field').nth(1).getByRole('time');
    await expect(nextStandUp).toHaveText(/^in \d+ (seconds?|minutes?|hours?|days?)$/);
    await expect(preview).not.toContainText('<t:');
    const shown = {
      content: await preview.locator('.dc-content').innerText(),
      username: await preview.locator('.dc-username').innerText(),
      title: await preview.locator('.dc-title').innerText(),
      description: await preview.locator('.dc-description').innerText(),
      field: await preview.locator('.dc-field').first().innerText(),
      footer: await preview.locator('.dc-footer').innerText(),
      color: await preview
        .getByRole('article')
        .evaluate((el) => getComputedStyle(el).borderLeftColor),
    };
    await expectAccessible(page, 'editor');
    await screenshot(page, 'editor', true);

    await page.getByRole('button', { name: 'Create task' }).click();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    await page.getByRole('button', { name: 'Run now' }).click();
    const [request] = await services.discord.waitForRequests(1, { webhookId, timeoutMs: 30_000 });
    const sent = request!.body as SentPayload;

    // What Discord received is what the preview showed, markdown and variables rendered.
    expect(sent.content).toBe(`Hello **team**, this is ${name}`);
    expect(shown.content).toBe(sent.content!.replace(/\*\*/g, ''));
    expect(shown.username).toBe(sent.username);
    const embed = sent.embeds![0]!;
    expect(shown.title).toBe(embed.title);
    expect(embed.title).toBe(`${name} report`);
    expect(shown.description).toBe(embed.description!.replace(/[*`]/g, ''));
    expect(embed.color).toBe(0x57f287);
    expect(shown.color).toBe('rgb(87, 242, 135)');
    expect(embed.fields).toEqual([
      { name: 'Owner', value: 'Ops', inline: false },
      { name: 'Next stand-up', value: expect.stringMatching(/^<t:\d+:R>$/), inline: false },
    ]);
    expect(shown.field).toBe('Owner\nOps');
    // A run started by hand has no scheduled time: it renders as the time of the run.
    const [, unix] = /^<t:(\d+):R>$/.exec(embed.fields![1]!.value)!;
    expect(Math.abs(Number(unix) - Date.now() / 1000)).toBeLessThan(120);
    expect(shown.footer).toBe(embed.footer!.text);

    const deliveries = page.getByRole('region', { name: 'Deliveries' });
    await expect(deliveries.getByRole('article')).toHaveCount(1);
    await expect(deliveries.getByRole('cell', { name: 'Delivered', exact: true })).toBeVisible();
  });

  test('when the schedule or the content is invalid, then the errors show at their fields', async ({
    signedIn: page,
    services,
  }) => {
    await page.getByRole('link', { name: 'New task' }).click();
    const schedule = page.getByLabel('Schedule', { exact: true });
    await schedule.fill('61 * * * *');
    await expect(schedule).toHaveAttribute('aria-invalid', 'true');
    await expect(schedule).toHaveAccessibleDescription(/minute 61 is out of range 0-59/);

    await schedule.fill('*/5 * * * *');
    await expect(schedule).not.toHaveAttribute('aria-invalid');
    await page.getByLabel('Name', { exact: true }).fill(unique('Too long'));
    await page.getByLabel('Webhook URL', { exact: true }).fill(services.discord.webhookUrl());
    const content = page.getByLabel('Content', { exact: true });
    await content.fill('x'.repeat(2001));
    await expect(page.getByText('2001/2000')).toBeVisible();
    await page.getByRole('button', { name: 'Create task' }).click();

    await expect(page.getByRole('alert')).toContainText('correct the fields marked below');
    await expect(content).toHaveAttribute('aria-invalid', 'true');
    await expect(content).toHaveAccessibleDescription(/2000 characters/);
    await screenshot(page, 'editor-errors');

    // An invalid schedule the API refuses on submit shows at the schedule too.
    await content.fill('Fine now');
    await schedule.fill('@reboot');
    await page.getByRole('button', { name: 'Create task' }).click();
    await expect(schedule).toHaveAccessibleDescription(/@reboot|not supported|supported/);
    await expect(page.getByRole('heading', { name: 'New task' })).toBeVisible();
  });

  test.describe('for a reader in India with an American English browser', () => {
    test.use({ locale: 'en-US', timezoneId: 'Asia/Kolkata' });

    test("when a Discord timestamp is inserted from the variable menu, then the preview shows it in the reader's language and time zone, and a bad style is refused at its field", async ({
      signedIn: page,
      services,
    }) => {
      const name = unique('Timestamps');
      await page.getByRole('link', { name: 'New task' }).click();
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('Schedule', { exact: true }).fill('0 9 * * *');
      await page.getByLabel('Time zone').selectOption('UTC');
      const nextRuns = page.getByRole('list', { name: 'Next runs' }).getByRole('listitem');
      await expect(nextRuns).toHaveCount(5);
      await page.getByLabel('Webhook URL', { exact: true }).fill(services.discord.webhookUrl());

      const content = page.getByLabel('Content', { exact: true });
      await content.fill('Stand-up ');
      await page.getByRole('button', { name: 'Insert variable' }).click();
      const styles = page.getByRole('group', { name: 'Scheduled time, as a Discord timestamp' });
      await expect(styles.getByRole('button')).toHaveCount(7);
      await expectAccessible(page, 'editor with the variable menu open');
      await styles
        .getByRole('button', { name: 'Scheduled time, as a Discord timestamp (relative)' })
        .click();
      await expect(content).toHaveValue('Stand-up {{execution.scheduledTime|discord:R}}');
      // The caret is after the inserted tag; a tag typed by hand may have spaces, like any tag.
      await expect(content).toBeFocused();
      await page.keyboard.type(', at {{ execution.scheduledTime | discord:t }}');

      // 09:00 UTC is 14:30 in India (no summer time there), in the reader's own words.
      const preview = page.getByRole('region', { name: 'Discord preview' });
      const [relative, clock] = [
        preview.getByRole('time').first(),
        preview.getByRole('time').nth(1),
      ];
      await expect(preview.getByRole('time')).toHaveCount(2);
      await expect(relative).toHaveText(/^in \d+ (seconds?|minutes?|hours?)$/);
      await expect(relative).toHaveAttribute('datetime', /T09:00:00\.000Z$/);
      await expect(clock).toHaveText('2:30 PM');
      await expect(clock).toHaveAttribute(
        'title',
        /^(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, [A-Z][a-z]+ \d{1,2}, \d{4} 2:30 PM$/,
      );
      await expect(preview).toContainText(/Stand-up in \d+ \w+, at 2:30 PM/);
      await expect(preview).not.toContainText('<t:');

      // A style Discord does not have stays literal in the preview; the API refuses it.
      await content.fill('Due {{execution.time|discord:X}}');
      await expect(preview).toContainText('Due {{execution.time|discord:X}}');
      await expect(preview.getByRole('time')).toHaveCount(0);
      await page.getByRole('button', { name: 'Create task' }).click();
      await expect(page.getByRole('alert')).toContainText('correct the fields marked below');
      await expect(content).toHaveAttribute('aria-invalid', 'true');
      await expect(content).toHaveAccessibleDescription(/style "X"/);

      await content.fill('Due {{ execution.time | discord:R }}');
      await page.getByRole('button', { name: 'Create task' }).click();
      await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
      const id = new URL(page.url()).pathname.split('/').pop()!;
      const saved = await services.api<Task & { payload: unknown }>('GET', `/api/tasks/${id}`);
      expect(saved.payload).toEqual({ content: 'Due {{ execution.time | discord:R }}' });
    });
  });

  test('when a task is edited, then the saved webhook stays masked unless replaced, and the changes are saved', async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('Edit me');
    const task = await services.api<Task>('POST', '/api/tasks', {
      name,
      schedule: '@daily',
      webhookUrl: services.discord.webhookUrl(),
      payload: { content: 'Before', embeds: [{ title: 'Kept', color: 255 }] },
    });
    await page.goto(`/tasks/${task.id}/edit`);
    await expect(page.getByRole('heading', { name: `Edit “${name}”` })).toBeVisible();
    await expect(page.getByText(/\/webhooks\/\d+\/\*\*\*\*/)).toBeVisible();
    await expect(page.getByLabel('Webhook URL', { exact: true })).toHaveCount(0);
    await expect(page.getByLabel('Embed 1 title')).toHaveValue('Kept');
    await page.getByLabel('Name', { exact: true }).fill(`${name} (renamed)`);
    await page.getByLabel('Content', { exact: true }).fill('After');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(page.getByRole('heading', { name: `${name} (renamed)`, level: 1 })).toBeVisible();
    const saved = await services.api<Task & { payload: unknown }>('GET', `/api/tasks/${task.id}`);
    expect(saved.payload).toEqual({ content: 'After', embeds: [{ title: 'Kept', color: 255 }] });
  });

  test('when a task is created in edit mode and then switched to replace with delete after 10s, then the API stores both and the task page shows them', async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('Status board');
    await page.getByRole('link', { name: 'New task' }).click();
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Schedule', { exact: true }).fill('@daily');
    await page.getByLabel('Webhook URL', { exact: true }).fill(services.discord.webhookUrl());
    await page.getByLabel('Content', { exact: true }).fill('All systems go');

    const modes = page.getByRole('group', { name: 'What each run does' });
    const mode = (label: string) => modes.getByRole('radio', { name: label, exact: true });
    await expect(mode('Post')).toBeChecked();
    await expect(mode('Edit')).toHaveAccessibleDescription(/edits the message the last run posted/);
    const deleteAfter = page.getByLabel('Delete after');
    await expect(deleteAfter).toBeEnabled();
    await expect(deleteAfter).toHaveAccessibleDescription(/e\.g\. 10s, 30m, 12h, 7d; empty keeps/);

    // A value the API would refuse is refused at the field, before anything is sent.
    await deleteAfter.fill('10x');
    await deleteAfter.blur();
    await expect(deleteAfter).toHaveAttribute('aria-invalid', 'true');
    await expect(deleteAfter).toHaveAccessibleDescription(/duration such as 10s, 30m, 12h or 7d/);
    await page.getByRole('button', { name: 'Create task' }).click();
    await expect(page.getByRole('alert')).toContainText('correct the fields marked below');
    await expect(page.getByRole('heading', { name: 'New task' })).toBeVisible();
    await deleteAfter.fill('31d');
    await expect(deleteAfter).toHaveAccessibleDescription(/between 1s and 30d/);
    const none = await services.api<{ data: Task[] }>(
      'GET',
      `/api/tasks?search=${encodeURIComponent(name)}`,
    );
    expect(none.data).toEqual([]);

    // Edit keeps its one message: "Delete after" is off, and says why.
    await mode('Edit').check();
    await expect(deleteAfter).toBeDisabled();
    await expect(deleteAfter).toHaveValue('');
    await expect(deleteAfter).not.toHaveAttribute('aria-invalid');
    await expect(deleteAfter).toHaveAccessibleDescription(/Not with Edit/);
    await expectAccessible(page, 'editor in edit mode');
    await page.getByRole('button', { name: 'Create task' }).click();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    const id = new URL(page.url()).pathname.split('/').pop()!;
    const created = await services.api<MessageSettings>('GET', `/api/tasks/${id}`);
    expect(created).toMatchObject({ messageMode: 'edit', deleteAfter: null });
    const settings = page.locator('.settings');
    await expect(settings).toContainText('Edit one message each run (a status board)');
    await expect(settings).toContainText(/Delete after\s*never/);

    // Switched to replace, with messages deleted 10 seconds after they were posted.
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await expect(page.getByRole('heading', { name: `Edit “${name}”` })).toBeVisible();
    await expect(mode('Edit')).toBeChecked();
    await expect(deleteAfter).toBeDisabled();
    await mode('Replace').check();
    await expect(deleteAfter).toBeEnabled();
    await deleteAfter.fill('10s');
    await expect(deleteAfter).not.toHaveAttribute('aria-invalid');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(page.getByRole('heading', { name, level: 1, exact: true })).toBeVisible();
    const saved = await services.api<MessageSettings>('GET', `/api/tasks/${id}`);
    expect(saved).toMatchObject({ messageMode: 'replace', deleteAfter: '10s' });
    await expect(settings).toContainText('Post a new message each run and delete the previous one');
    await expect(settings).toContainText(/Delete after\s*10 seconds 10s/);

    // The editor loads them back; the id of the last message shows once a run posted one.
    await page.route(`**/api/tasks/${id}`, async (route) => {
      const response = await route.fetch();
      const task = (await response.json()) as MessageSettings;
      await route.fulfill({ response, json: { ...task, lastMessageId: '1243567890123456789' } });
    });
    await page.reload();
    await expect(settings).toContainText(/Last message\s*1243567890123456789/);
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await expect(mode('Replace')).toBeChecked();
    await expect(deleteAfter).toHaveValue('10s');
  });

  test('when a task is given its own alert webhook, then the API stores it (masked in answers) and the task page shows it masked; removing it sends null', async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('Own alerts');
    const alertId = `${Date.now()}4`;
    const token = `alert-token-${Date.now().toString(36)}-0123456789abcdefWxYz`;
    const alertUrl = services.discord.webhookUrl(alertId, token);
    const masked = `${services.discord.url}/api/webhooks/${alertId}/****WxYz`;
    await page.getByRole('link', { name: 'New task' }).click();
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Schedule', { exact: true }).fill('@daily');
    await page.getByLabel('Webhook URL', { exact: true }).fill(services.discord.webhookUrl());
    await page.getByLabel('Content', { exact: true }).fill('Watched closely');

    const alert = page.getByLabel('Alert webhook URL');
    await expect(alert).toHaveValue('');
    await expect(alert).toHaveAccessibleDescription(
      /Optional: where this task's failure and recovery alerts go\. Empty: the deployment's ALERT_WEBHOOK_URL/,
    );
    // A URL that is no webhook is refused at the field, before anything is sent.
    await alert.fill('https://example.com/hooks/alerts');
    await alert.blur();
    await expect(alert).toHaveAttribute('aria-invalid', 'true');
    await expect(alert).toHaveAccessibleDescription(/Must be a Discord webhook URL/);
    await page.getByRole('button', { name: 'Create task' }).click();
    await expect(page.getByRole('alert')).toContainText('correct the fields marked below');
    // A webhook on an origin the deployment does not allow: the API's field error shows there.
    await alert.fill('https://discord.com/api/webhooks/123456789012345678/not-allowed-here');
    await expect(alert).not.toHaveAttribute('aria-invalid');
    await page.getByRole('button', { name: 'Create task' }).click();
    await expect(alert).toHaveAttribute('aria-invalid', 'true');
    await expect(alert).toHaveAccessibleDescription(/not allowed/);
    await expect(page.getByRole('heading', { name: 'New task' })).toBeVisible();

    await alert.fill(alertUrl);
    await page.getByRole('button', { name: 'Create task' }).click();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    const id = new URL(page.url()).pathname.split('/').pop()!;
    const stored = await services.api<Task & { alertWebhookUrl: string | null }>(
      'GET',
      `/api/tasks/${id}`,
    );
    expect(stored.alertWebhookUrl).toBe(masked);
    const listed = await services.api<{ data: unknown[] }>(
      'GET',
      `/api/tasks?search=${encodeURIComponent(name)}`,
    );
    expect(listed.data).toEqual([expect.objectContaining({ id, alertWebhookUrl: masked })]);
    expect(JSON.stringify([stored, listed])).not.toContain(token);
    const settings = page.locator('.settings');
    await expect(settings).toContainText(`Alerts${masked}`);
    await expect(page.locator('body')).not.toContainText(token);

    // Editing keeps the saved one (shown masked) unless a new one is entered: nothing is sent.
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await expect(page.getByRole('heading', { name: `Edit “${name}”` })).toBeVisible();
    await expect(alert).toHaveValue('');
    await expect(alert).toHaveAttribute('placeholder', masked);
    await expect(alert).toHaveAccessibleDescription(new RegExp(`Saved: ${literal(masked)}, kept`));
    await expectAccessible(page, 'editor with an alert webhook');
    const kept = page.waitForRequest((r) => r.method() === 'PATCH');
    await page.getByRole('button', { name: 'Save changes' }).click();
    expect((await kept).postDataJSON()).not.toHaveProperty('alertWebhookUrl');
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    await expect(settings).toContainText(`Alerts${masked}`);
    const afterKeep = await services.api<{ alertWebhookUrl: string | null }>(
      'GET',
      `/api/tasks/${id}`,
    );
    expect(afterKeep.alertWebhookUrl).toBe(masked);

    // Removed: null is sent, and the deployment's alert webhook takes over again.
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByLabel('Remove the alert webhook').check();
    await expect(alert).toBeDisabled();
    await expect(alert).toHaveAccessibleDescription(/Removed when you save/);
    const removed = page.waitForRequest((r) => r.method() === 'PATCH');
    await page.getByRole('button', { name: 'Save changes' }).click();
    expect((await removed).postDataJSON()).toMatchObject({ alertWebhookUrl: null });
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    await expect(settings).toContainText("Alertsthe deployment's alert webhook");
    const cleared = await services.api<{ alertWebhookUrl: string | null }>(
      'GET',
      `/api/tasks/${id}`,
    );
    expect(cleared.alertWebhookUrl).toBeNull();
  });

  test('when a one-off task is picked for 18:00 New York time three days ahead, then the task page shows that run, and the editor shows the picker filled in', async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('One-off');
    const day = wallIn(new Date(Date.now() + 3 * 86_400_000), 'America/New_York').slice(0, 10);
    const wall = `${day}T18:00`;
    const runsAt = instantIn(wall, 'America/New_York');
    await page.getByRole('link', { name: 'New task' }).click();
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Time zone').selectOption('America/New_York');
    await page.getByRole('radio', { name: 'Once, at a date and time' }).check();
    await expect(page.getByLabel('Schedule', { exact: true })).toHaveCount(0);
    const picker = page.getByLabel('Run once at');
    await expect(picker).toHaveAccessibleDescription(/In the task's time zone, America\/New_York/);
    await picker.fill(wall);
    await expect(page.getByText(`Once, on ${day} at 18:00`)).toBeVisible();
    const nextRuns = page.getByRole('list', { name: 'Next runs' }).getByRole('listitem');
    await expect(nextRuns).toHaveCount(1);
    await expect(nextRuns.getByRole('time')).toHaveAttribute('datetime', runsAt);
    await page.getByLabel('Webhook URL', { exact: true }).fill(services.discord.webhookUrl());
    await page.getByLabel('Content', { exact: true }).fill('Happy holidays');
    await expectAccessible(page, 'editor with a one-off');

    const created = page.waitForRequest(
      (r) => r.method() === 'POST' && r.url().endsWith('/api/tasks'),
    );
    await page.getByRole('button', { name: 'Create task' }).click();
    expect((await created).postDataJSON()).toMatchObject({
      schedule: `@at ${wall}`,
      timezone: 'America/New_York',
    });
    await expect(page.getByRole('heading', { name, level: 1, exact: true })).toBeVisible();
    const id = new URL(page.url()).pathname.split('/').pop()!;
    const stored = await services.api<Bounded>('GET', `/api/tasks/${id}`);
    expect(stored.nextRunAt).toBe(runsAt);
    await expect(page.locator('.settings')).toContainText(`Once, on ${day} at 18:00`);
    const next = page.getByRole('list', { name: 'Next runs' }).getByRole('listitem');
    await expect(next).toHaveCount(1);
    await expect(next.getByRole('time')).toHaveAttribute('datetime', runsAt);
    await expect(next).toContainText(/\b(06:00\sPM|18:00)\b/);
    await expectAccessible(page, 'task with a one-off');

    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await expect(page.getByRole('radio', { name: 'Once, at a date and time' })).toBeChecked();
    await expect(picker).toHaveValue(wall);
    // Back to a repeating schedule: the cron field returns, with the editor's usual one.
    await page.getByRole('radio', { name: 'On a schedule' }).check();
    await expect(page.getByLabel('Schedule', { exact: true })).toHaveValue('0 9 * * MON-FRI');
  });

  test('when a task is given a start, an end and max runs in the editor, then the API stores instants of its zone, the task page shows the runs left, and clearing sends null', async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('Bounded');
    const zone = 'Asia/Tokyo';
    const day = (n: number) => wallIn(new Date(Date.now() + n * 86_400_000), zone).slice(0, 10);
    const start = `${day(2)}T08:00`;
    const end = `${day(10)}T08:00`;
    await page.getByRole('link', { name: 'New task' }).click();
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Schedule', { exact: true }).fill('0 9 * * *');
    await page.getByLabel('Time zone').selectOption(zone);
    await page.getByLabel('Webhook URL', { exact: true }).fill(services.discord.webhookUrl());
    await page.getByLabel('Content', { exact: true }).fill('Within bounds');
    const startAt = page.getByLabel('Start at');
    const endAt = page.getByLabel('End at');
    const maxRuns = page.getByLabel('Max runs');
    await expect(startAt).toHaveAccessibleDescription(/in the task's time zone \(Asia\/Tokyo\)/);
    await startAt.fill(start);
    await maxRuns.fill('3');
    // The preview lists the runs the bounds leave: three, from the first 09:00 after the start.
    const nextRuns = page.getByRole('list', { name: 'Next runs' }).getByRole('listitem');
    await expect(nextRuns).toHaveCount(3);
    await expect(nextRuns.first().getByRole('time')).toHaveAttribute(
      'datetime',
      instantIn(`${day(2)}T09:00`, zone),
    );

    // An end before the start: the API's error shows at the field.
    await endAt.fill(`${day(1)}T08:00`);
    await page.getByRole('button', { name: 'Create task' }).click();
    await expect(page.getByRole('alert')).toContainText('correct the fields marked below');
    await expect(endAt).toHaveAttribute('aria-invalid', 'true');
    await expect(endAt).toHaveAccessibleDescription(/endAt must be after startAt/);
    await endAt.fill(end);
    await expectAccessible(page, 'editor with bounds');

    const created = page.waitForRequest(
      (r) => r.method() === 'POST' && r.url().endsWith('/api/tasks'),
    );
    await page.getByRole('button', { name: 'Create task' }).click();
    expect((await created).postDataJSON()).toMatchObject({
      startAt: instantIn(start, zone),
      endAt: instantIn(end, zone),
      maxRuns: 3,
    });
    await expect(page.getByRole('heading', { name, level: 1, exact: true })).toBeVisible();
    const id = new URL(page.url()).pathname.split('/').pop()!;
    expect(await services.api<Bounded>('GET', `/api/tasks/${id}`)).toMatchObject({
      startAt: instantIn(start, zone),
      endAt: instantIn(end, zone),
      maxRuns: 3,
      runsLeft: 3,
    });
    const settings = page.locator('.settings');
    await expect(settings).toContainText(/Max runs\s*3 of 3 runs left/);
    await expect(settings.getByRole('time').first()).toHaveAttribute(
      'datetime',
      instantIn(start, zone),
    );
    await expect(page.getByRole('list', { name: 'Next runs' }).getByRole('listitem')).toHaveCount(
      3,
    );

    // The editor shows them back in the task's zone; clearing the end and the limit sends null,
    // and the untouched start is not sent at all.
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await expect(startAt).toHaveValue(start);
    await expect(endAt).toHaveValue(end);
    await expect(maxRuns).toHaveValue('3');
    await expect(maxRuns).toHaveAccessibleDescription(/Now 3 of 3 left/);
    await page.getByRole('button', { name: 'Clear end at' }).click();
    await expect(endAt).toHaveValue('');
    await expect(endAt).toBeFocused();
    await maxRuns.fill('');
    const patched = page.waitForRequest((r) => r.method() === 'PATCH');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const body = (await patched).postDataJSON() as Record<string, unknown>;
    expect(body).toMatchObject({ endAt: null, maxRuns: null });
    expect(body).not.toHaveProperty('startAt');
    await expect(page.getByRole('heading', { name, level: 1, exact: true })).toBeVisible();
    expect(await services.api<Bounded>('GET', `/api/tasks/${id}`)).toMatchObject({
      startAt: instantIn(start, zone),
      endAt: null,
      maxRuns: null,
      runsLeft: null,
    });
    await expect(settings).not.toContainText('Max runs');
    await expect(settings).not.toContainText('End at');
  });

  test('when a task has made its last run, then it is COMPLETED: its badge, the status filter and the dashboard show it, Resume is refused with the reason, and a change that gives it a run ahead lets it resume', async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('Two runs');
    // Scheduled runs two seconds apart, and the tasks complete: the way users get there. This one
    // stays COMPLETED (the README's pictures show it); the other is given one more run.
    const task = await services.api<Bounded>('POST', '/api/tasks', {
      name,
      schedule: '@every 2s',
      maxRuns: 2,
      webhookUrl: services.discord.webhookUrl(),
      payload: { content: 'Twice' },
    });
    const extendedName = unique('One more run');
    const extended = await services.api<Bounded>('POST', '/api/tasks', {
      name: extendedName,
      schedule: '@every 2s',
      maxRuns: 1,
      webhookUrl: services.discord.webhookUrl(),
      payload: { content: 'Once, then once more' },
    });
    await services.api('POST', '/api/tasks', {
      name: `${name} (still running)`,
      schedule: '@daily',
      webhookUrl: services.discord.webhookUrl(),
      payload: { content: 'Daily' },
    });
    for (const { id } of [task, extended]) {
      await expect
        .poll(async () => (await services.api<Bounded>('GET', `/api/tasks/${id}`)).status, {
          timeout: 30_000,
        })
        .toBe('COMPLETED');
    }

    await page.getByLabel('Search by name').fill(name);
    await expect(page.getByRole('row', { name: new RegExp(literal(name)) })).toHaveCount(2);
    await page.getByLabel('Status').selectOption('COMPLETED');
    const row = page.getByRole('row', { name: new RegExp(literal(name)) });
    await expect(row).toHaveCount(1);
    await expect(row.getByRole('link', { name, exact: true })).toBeVisible();
    await expect(row.getByRole('cell', { name: 'Completed', exact: true })).toBeVisible();
    await expectAccessible(page, 'tasks with a completed one');
    await row.getByRole('button', { name: `Resume ${name}` }).click();
    await expect(page.getByRole('status')).toContainText(/no run ahead.*maxRuns/);

    await row.getByRole('link', { name, exact: true }).click();
    await expect(page.getByRole('heading', { name, level: 1, exact: true })).toBeVisible();
    const settings = page.locator('.settings');
    await expect(settings).toContainText(/Status\s*Completed/);
    await expect(settings).toContainText(/Max runs\s*0 of 2 runs left/);
    const why = 'Completed: all 2 of its scheduled runs were made (max runs 2).';
    await expect(page.getByRole('region', { name: 'Next runs' })).toContainText(why);
    const resume = page.getByRole('button', { name: 'Resume' });
    await expect(resume).toHaveAccessibleDescription(new RegExp(`^${literal(why)}`));
    await expectAccessible(page, 'completed task');
    const refused = page.waitForResponse((r) => r.url().endsWith(`/api/tasks/${task.id}/toggle`));
    await resume.click();
    expect((await refused).status()).toBe(409);
    await expect(page.getByRole('status')).toContainText(
      /The task has no run ahead \(maxRuns 2 is used up.*\); change its maxRuns first\./,
    );
    expect((await services.api<Bounded>('GET', `/api/tasks/${task.id}`)).status).toBe('COMPLETED');

    const stats = await services.api<{ tasks: { completed: number } }>(
      'GET',
      '/api/dashboard/stats',
    );
    expect(stats.tasks.completed).toBeGreaterThanOrEqual(1);
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await expect(page.locator('.stat').filter({ hasText: 'Completed' })).toHaveText(
      `${stats.tasks.completed}Completed`,
    );

    // One more run, daily: still COMPLETED until resumed, and then it runs again.
    await page.goto(`/tasks/${extended.id}`);
    await expect(page.getByRole('region', { name: 'Next runs' })).toContainText(
      'Completed: its one scheduled run was made (max runs 1).',
    );
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByLabel('Schedule', { exact: true }).fill('@daily');
    await page.getByLabel('Max runs').fill('2');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(
      page.getByRole('heading', { name: extendedName, level: 1, exact: true }),
    ).toBeVisible();
    await expect(settings).toContainText(/Status\s*Completed/);
    await expect(settings).toContainText(/Max runs\s*1 of 2 runs left/);
    await expect(page.getByRole('region', { name: 'Next runs' })).toContainText(
      'Completed, and changed since: it has a run ahead again.',
    );
    await resume.click();
    await expect(page.getByRole('status')).toContainText(`“${extendedName}” resumed.`);
    await expect(settings).toContainText(/Status\s*Active/);
    await expect(page.getByRole('list', { name: 'Next runs' }).getByRole('listitem')).toHaveCount(
      1,
    );
  });

  test('when run now, pause, resume and delete are used in the table, then each does what it says', async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('Table actions');
    const webhookId = `${Date.now()}2`;
    await services.api<Task>('POST', '/api/tasks', {
      name,
      schedule: '0 0 1 1 *',
      webhookUrl: services.discord.webhookUrl(webhookId),
      payload: { content: 'From the table' },
    });
    await page.getByLabel('Search by name').fill(name);
    const row = page.getByRole('row', { name: new RegExp(name) });
    await expect(row).toHaveCount(1);
    await expect(row.getByRole('cell', { name: 'Active' })).toBeVisible();
    await expect(row).toContainText('At 00:00, on day 1 of the month, only in January');

    await row.getByRole('button', { name: `Run ${name} now` }).click();
    await expect(page.getByRole('status')).toContainText(`Delivery of “${name}” started.`);
    await services.discord.waitForRequests(1, { webhookId, timeoutMs: 30_000 });

    await row.getByRole('button', { name: `Pause ${name}` }).click();
    await expect(row.getByRole('cell', { name: 'Paused' })).toBeVisible();
    await row.getByRole('button', { name: `Resume ${name}` }).click();
    await expect(row.getByRole('cell', { name: 'Active' })).toBeVisible();

    await row.getByRole('button', { name: `Delete ${name}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this task?' });
    await expect(dialog).toBeVisible();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(row).toHaveCount(1);
    await row.getByRole('button', { name: `Delete ${name}` }).click();
    await dialog.getByRole('button', { name: 'Delete task' }).click();
    await expect(row).toHaveCount(0);
    await expect(page.getByText('No task matches these filters.')).toBeVisible();
    const left = await services.api<{ data: Task[] }>(
      'GET',
      `/api/tasks?search=${encodeURIComponent(name)}`,
    );
    expect(left.data).toEqual([]);
  });

  test('when a webhook answers 500, then the task page shows each attempt of the delivery', async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('Failing webhook');
    const webhookId = `${Date.now()}3`;
    services.discord.setBehavior(webhookId, { kind: 'server-error' });
    const task = await services.api<Task>('POST', '/api/tasks', {
      name,
      schedule: '@daily',
      webhookUrl: services.discord.webhookUrl(webhookId),
      payload: { content: 'This will fail' },
      maxRetry: 2,
    });
    await page.goto(`/tasks/${task.id}`);
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    await page.getByRole('button', { name: 'Run now' }).click();

    const execution = page.getByRole('region', { name: 'Deliveries' }).getByRole('article');
    await expect(execution).toHaveCount(1);
    const attempts = execution.getByRole('row').filter({ has: page.getByRole('cell') });
    await expect(attempts).toHaveCount(3, { timeout: 45_000 });
    for (const [i, outcome] of ['Retrying', 'Retrying', 'Failed'].entries()) {
      const cells = attempts.nth(i).getByRole('cell');
      await expect(cells.nth(0)).toHaveText(String(i + 1));
      await expect(cells.nth(1)).toHaveText(outcome);
      await expect(cells.nth(2)).toHaveText('500');
      await expect(cells.nth(3)).toHaveText(/\d+ ms|\d+\.\d+ s/);
      await expect(cells.nth(5)).toContainText('500');
    }
    await expect(execution.getByRole('link', { name: /Open in Temporal UI/ })).toHaveAttribute(
      'href',
      new RegExp(
        `^http://127\\.0\\.0\\.1:${services.product.ports.ui}/namespaces/default/workflows/task-${task.id}`,
      ),
    );
    await expect(page.locator('.settings')).toContainText('Failed');
    const detail = await services.api<Task>('GET', `/api/tasks/${task.id}`);
    expect(detail.status).toBe('FAILED');
    await expectAccessible(page, 'task');
    await screenshot(page, 'task', true);
  });

  test("when a task has run, then its page opens the Temporal Web UI's list filtered by its TaskId in a new tab, which shows the run; with no Web UI address there is no link", async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('Runs in Temporal');
    const webhookId = `${Date.now()}5`;
    const task = await services.api<Task>('POST', '/api/tasks', {
      name,
      schedule: '0 0 1 1 *',
      webhookUrl: services.discord.webhookUrl(webhookId),
      payload: { content: 'Found in the Web UI' },
    });
    await page.goto(`/tasks/${task.id}`);
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    const link = page.getByRole('link', {
      name: 'Open in Temporal UI (every run of this task, new tab)',
    });
    const runsUrl = `http://127.0.0.1:${services.product.ports.ui}/namespaces/default/workflows?query=${encodeURIComponent(
      `TaskId = "${task.id}"`,
    )}`;
    await expect(link).toHaveAttribute('href', runsUrl);
    await expect(link).toHaveAttribute('target', '_blank');
    await expect(link).toHaveAttribute('rel', 'noopener noreferrer');

    await page.getByRole('button', { name: 'Run now' }).click();
    const deliveries = page.getByRole('region', { name: 'Deliveries' });
    await expect(deliveries.getByRole('cell', { name: 'Delivered', exact: true })).toBeVisible({
      timeout: 30_000,
    });
    const logs = await services.api<{ data: { workflowId: string }[] }>(
      'GET',
      `/api/tasks/${task.id}/logs`,
    );
    const workflowId = logs.data[0]!.workflowId;
    expect(workflowId).toMatch(new RegExp(`^task-${task.id}-manual-`));

    const [webUi] = await Promise.all([page.context().waitForEvent('page'), link.click()]);
    await expect(webUi).toHaveURL(
      new RegExp(
        `^http://127\\.0\\.0\\.1:${services.product.ports.ui}/namespaces/default/workflows\\?query=`,
      ),
    );
    // The Web UI's list: one row per run, its workflow id a link (so are its run id and type).
    const runs = webUi.getByRole('table', { name: 'Workflows' });
    const run = runs.getByRole('link', { name: workflowId, exact: true });
    // Temporal lists a run once its visibility record is written; reload until it is.
    let loads = 0;
    await expect(async () => {
      if (loads++ > 0) await webUi.reload();
      await expect(run).toBeVisible({ timeout: 15_000 });
    }).toPass({ timeout: 60_000 });
    // Only this task's runs: the other tests' runs are on the same server.
    await expect(runs.getByRole('link', { name: /^task-/ })).toHaveCount(1);
    await screenshot(webUi, 'temporal-ui-by-task');
    await webUi.close();

    // As with an external Temporal and TEMPORAL_UI_URL unset: nothing to link to.
    await page.route('**/api/config', async (route) => {
      const response = await route.fetch();
      const config = (await response.json()) as Record<string, unknown>;
      await route.fulfill({ response, json: { ...config, temporalUiUrl: null } });
    });
    await page.reload();
    await expect(deliveries.getByRole('cell', { name: 'Delivered', exact: true })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Run now' })).toBeVisible();
    await expect(page.getByRole('link', { name: /Open in Temporal UI/ })).toHaveCount(0);
  });

  test('when the tasks, logs and dashboard are opened, on a wide screen and at 360 px, then they show the data and pass axe', async ({
    signedIn: page,
  }) => {
    await expect(page.getByRole('table')).toBeVisible();
    await expectAccessible(page, 'tasks');
    await screenshot(page, 'tasks');

    await page.getByRole('link', { name: 'Logs' }).click();
    await expect(page.getByRole('heading', { name: 'Logs', level: 1 })).toBeVisible();
    await expect(page.getByRole('table')).toBeVisible();
    await page.getByLabel('Outcome').selectOption('FAILED');
    await expect(page.getByRole('table').getByRole('row')).not.toHaveCount(0);
    for (const cell of await page.getByRole('cell', { name: /Delivered|Retrying/ }).all()) {
      await expect(cell).toBeHidden();
    }
    await page.getByLabel('Outcome').selectOption('');
    await expectAccessible(page, 'logs');
    await screenshot(page, 'logs');

    await page.getByRole('link', { name: 'Dashboard' }).click();
    await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 })).toBeVisible();
    await expect(
      page.getByRole('img', { name: /Attempts per hour over the last 24 hours/ }),
    ).toBeVisible();
    await expect(page.getByText('Success rate')).toBeVisible();
    await expectAccessible(page, 'dashboard');
    await screenshot(page, 'dashboard');

    await page.setViewportSize({ width: 360, height: 780 });
    for (const [link, heading] of [
      ['Tasks', 'Tasks'],
      ['Logs', 'Logs'],
      ['Dashboard', 'Dashboard'],
    ] as const) {
      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: link })
        .click();
      await expect(page.getByRole('heading', { name: heading, level: 1 })).toBeVisible();
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow, `${link} at 360 px scrolls sideways`).toBeLessThanOrEqual(0);
      await expectAccessible(page, `${link} at 360 px`);
    }
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Tasks' })
      .click();
    await expect(page.getByRole('table')).toBeVisible();
    await screenshot(page, 'tasks-360px');
    await page.getByRole('link', { name: 'New task' }).click();
    await expect(page.getByLabel('Content', { exact: true })).toBeVisible();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow, 'the editor at 360 px scrolls sideways').toBeLessThanOrEqual(0);
    await expectAccessible(page, 'editor at 360 px');
  });

  test('when the console is used by keyboard only, then a task can be found and opened', async ({
    signedIn: page,
    services,
  }) => {
    const name = unique('Keyboard');
    await services.api('POST', '/api/tasks', {
      name,
      schedule: '@hourly',
      webhookUrl: services.discord.webhookUrl(),
      payload: { content: 'By keyboard' },
    });
    await page.keyboard.press('Tab');
    await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
    await page.keyboard.press('Enter');
    await page.getByLabel('Search by name').focus();
    await page.keyboard.type(name);
    const link = page.getByRole('link', { name, exact: true });
    await expect(link).toBeVisible();
    await link.focus();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
    // Run now is reachable by Tab and works with Enter.
    await page.getByRole('button', { name: 'Run now' }).focus();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('status')).toContainText(`Delivery of “${name}” started.`);
  });

  test("when the console is signed in with a read-only key, then it shows tasks, a task's page, logs and the dashboard, offers no write action, says why, and passes axe", async ({
    page,
    services,
  }) => {
    const name = unique('Read only');
    const webhookId = `${Date.now()}4`;
    const task = await services.api<Task>('POST', '/api/tasks', {
      name,
      schedule: '@daily',
      webhookUrl: services.discord.webhookUrl(webhookId),
      payload: { content: 'Seen, not run, by a reader' },
    });
    await services.api('POST', `/api/tasks/${task.id}/trigger`);
    await services.discord.waitForRequests(1, { webhookId, timeoutMs: 30_000 });

    // The API refuses the key anything that writes, and tells the console what the key may do.
    const refused = await services.apiWithKey(READ_ONLY_KEY, 'POST', '/api/tasks', {
      name: `${name} (by the reader)`,
      schedule: '@daily',
      webhookUrl: services.discord.webhookUrl(),
      payload: { content: 'Never created' },
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const config = await services.apiWithKey(READ_ONLY_KEY, 'GET', '/api/config');
    expect(((await config.json()) as { access: string }).access).toBe('read-only');
    const created = await services.api<{ data: Task[] }>(
      'GET',
      `/api/tasks?search=${encodeURIComponent(`${name} (by the reader)`)}`,
    );
    expect(created.data).toEqual([]);

    await signInWith(page, READ_ONLY_KEY);
    const notice = page.getByText(READ_ONLY_NOTICE);
    await expect(notice).toBeVisible();
    await expect(notice).toHaveCount(1);
    const row = page.getByRole('row', { name: new RegExp(name) });
    await expect(row).toHaveCount(1);
    await expect(row.getByRole('cell', { name: 'Active' })).toBeVisible();
    await expect(page.getByRole('link', { name: 'New task' })).toHaveCount(0);
    await expect(page.getByRole('link', { name: 'Create your first task' })).toHaveCount(0);
    await expect(page.getByRole('button', { name: WRITE_BUTTON })).toHaveCount(0);
    await expect(page.getByRole('link', { name: 'Edit', exact: true })).toHaveCount(0);
    await expectAccessible(page, 'tasks with a read-only key');
    await screenshot(page, 'read-only');

    await row.getByRole('link', { name, exact: true }).click();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    const deliveries = page.getByRole('region', { name: 'Deliveries' });
    await expect(deliveries.getByRole('cell', { name: 'Delivered', exact: true })).toBeVisible();
    await expect(notice).toBeVisible();
    await expect(page.getByRole('button', { name: WRITE_BUTTON })).toHaveCount(0);
    await expect(page.getByRole('link', { name: 'Edit', exact: true })).toHaveCount(0);
    await expectAccessible(page, 'task with a read-only key');

    await page.getByRole('link', { name: 'Logs' }).click();
    await expect(page.getByRole('heading', { name: 'Logs', level: 1 })).toBeVisible();
    await expect(page.getByRole('table')).toBeVisible();
    await expect(notice).toBeVisible();
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 })).toBeVisible();
    await expect(
      page.getByRole('img', { name: /Attempts per hour over the last 24 hours/ }),
    ).toBeVisible();
    await expect(notice).toBeVisible();

    // The editor's addresses, opened directly, say why there is no form.
    await page.goto('/tasks/new');
    await expect(page.getByRole('heading', { name: 'New task', level: 1 })).toBeVisible();
    await expect(page.getByText(/No task can be created with a read-only key/)).toBeVisible();
    await expect(page.getByRole('button', { name: 'Create task' })).toHaveCount(0);
    await expect(page.getByLabel('Name', { exact: true })).toHaveCount(0);
    await expect(page.locator('form.editor')).toHaveCount(0);
    await expectAccessible(page, 'new task with a read-only key');
    await page.goto(`/tasks/${task.id}/edit`);
    await expect(page.getByText(/This task cannot be changed with a read-only key/)).toBeVisible();
    await expect(page.getByRole('button', { name: 'Save changes' })).toHaveCount(0);
    await expect(page.locator('form.editor')).toHaveCount(0);
    await page.getByRole('link', { name: 'Back to the task' }).click();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
  });

  test("when a read-only key's console offers a write action anyway, then the API's 403 detail shows, nothing runs, and the action goes away", async ({
    page,
    services,
  }) => {
    const name = unique('Refused run');
    const webhookId = `${Date.now()}5`;
    const task = await services.api<Task>('POST', '/api/tasks', {
      name,
      schedule: '@daily',
      webhookUrl: services.discord.webhookUrl(webhookId),
      payload: { content: 'Never sent' },
    });
    await signInWith(page, READ_ONLY_KEY);
    // The console is told once that the key may write (an access that changed since, say).
    await page.route(
      (url) => url.pathname === '/api/config',
      async (route) => {
        const response = await route.fetch();
        const config = (await response.json()) as Record<string, unknown>;
        await route.fulfill({ response, json: { ...config, access: 'read-write' } });
      },
      { times: 1 },
    );
    await page.goto(`/tasks/${task.id}`);
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    await page.getByRole('button', { name: 'Run now' }).click();
    await expect(page.getByRole('status')).toContainText(
      'This API key is read-only (API_KEYS_READ_ONLY): it may read, not create, change, run or delete.',
    );
    // The access is read again: the notice shows and the actions go.
    await expect(page.getByText(READ_ONLY_NOTICE)).toBeVisible();
    await expect(page.getByRole('button', { name: 'Run now' })).toHaveCount(0);
    expect(services.discord.requests(webhookId)).toEqual([]);
    const logs = await services.api<{ data: unknown[] }>('GET', `/api/tasks/${task.id}/logs`);
    expect(logs.data).toEqual([]);
  });
});

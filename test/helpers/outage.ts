import { randomUUID } from 'node:crypto';
import type request from 'supertest';

/** SPEC §5: a dependency that is down is a 503 with Retry-After, answered within about a second. */
export const FAIL_FAST_MS = 1_500;

/** A valid task body; its webhook is never called (the tests that use it cut a dependency). */
export const newTask = (name: string) => ({
  name,
  schedule: '*/5 * * * *',
  webhookUrl: `https://discord.com/api/webhooks/${Date.now()}/tok-${randomUUID()}`,
  payload: { content: 'hello' },
});

/** Sends one request and reports its status, Retry-After, body and how long it took. */
export async function timed(req: request.Test) {
  const started = Date.now();
  const res = await req;
  return {
    status: res.status,
    retryAfter: res.headers['retry-after'],
    body: res.body,
    ms: Date.now() - started,
  };
}

import type { AxiosInstance } from 'axios';
import { createDiscordHealthProbe } from '../../src/discord/discord-health';

const ORIGIN = 'https://discord.com';

/** An http client whose gateway answers the statuses given, one per call (then the last). */
function gateway(...statuses: (number | Error)[]) {
  const calls: string[] = [];
  let release: (() => void) | undefined;
  const http = {
    get: jest.fn(async (url: string) => {
      calls.push(url);
      if (release === undefined) {
        // Held until the test lets it answer, so that concurrent checks can be seen to share it.
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      }
      const next = statuses.length > 1 ? statuses.shift()! : statuses[0]!;
      if (next instanceof Error) throw next;
      return { status: next };
    }),
  };
  return {
    http: http as unknown as AxiosInstance,
    calls,
    answer: () => release?.(),
    answerAtOnce: () => {
      release = () => undefined;
    },
  };
}

describe("the probe of Discord's API (SPEC §13)", () => {
  it('when failures arrive together, then they share one probe of GET /api/v10/gateway', async () => {
    const now = 1_000;
    const g = gateway(200);
    const probe = createDiscordHealthProbe({ http: g.http, timeoutMs: 1_000, clock: () => now });
    const checks = [probe.check(ORIGIN, now), probe.check(ORIGIN, now), probe.check(ORIGIN, now)];
    await new Promise((r) => setImmediate(r));
    g.answer();
    expect(await Promise.all(checks)).toEqual(['up', 'up', 'up']);
    expect(g.calls).toEqual([`${ORIGIN}/api/v10/gateway`]);
  });

  it('when Discord answered "up" before a failure came back, then that failure gets a probe of its own', async () => {
    let now = 1_000;
    const g = gateway(200, 503);
    g.answerAtOnce();
    const changes: string[] = [];
    const probe = createDiscordHealthProbe({
      http: g.http,
      timeoutMs: 1_000,
      clock: () => now,
      onChange: (_origin, health) => changes.push(health),
    });
    expect(await probe.check(ORIGIN, now)).toBe('up');
    now += 100;
    // Discord went down after that probe: the 503 that came back now must not be excused as "up".
    expect(await probe.check(ORIGIN, now)).toBe('down');
    expect(g.calls).toHaveLength(2);
    expect(changes).toEqual(['up', 'down']);
  });

  it('when Discord is down, then the answer stands for 5 s for every failure, and a webhook answering again clears it', async () => {
    let now = 1_000;
    const g = gateway(new Error('getaddrinfo ENOTFOUND discord.com'));
    g.answerAtOnce();
    const changes: string[] = [];
    const probe = createDiscordHealthProbe({
      http: g.http,
      timeoutMs: 1_000,
      clock: () => now,
      onChange: (_origin, health) => changes.push(health),
    });
    expect(await probe.check(ORIGIN, now)).toBe('down');
    now += 4_000;
    expect(await probe.check(ORIGIN, now)).toBe('down');
    expect(g.calls).toHaveLength(1);
    now += 1_001;
    expect(await probe.check(ORIGIN, now)).toBe('down');
    expect(g.calls).toHaveLength(2);
    probe.noteAnswered(ORIGIN);
    expect(probe.last(ORIGIN)).toBe('unknown');
    expect(changes).toEqual(['down', 'up']);
  });

  it('when the gateway answers 429 or 404, then Discord is there; 5xx means it is not', async () => {
    for (const [status, health] of [
      [429, 'up'],
      [404, 'up'],
      [502, 'down'],
    ] as const) {
      const g = gateway(status);
      g.answerAtOnce();
      const probe = createDiscordHealthProbe({ http: g.http, timeoutMs: 1_000 });
      expect(await probe.check(ORIGIN)).toBe(health);
    }
  });
});

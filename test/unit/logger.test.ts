import { Writable } from 'node:stream';
import { LogTimestamp } from '@temporalio/worker';
import { createLogger, defaultLogFormat, type LogFormat, requestContext } from '../../src/logger';
import { temporalRuntimeLogger } from '../../src/main/worker';

const TOKEN = 'aZ9_-secretWebhookToken0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ';
const URL = `https://discord.com/api/webhooks/123456789012345678/${TOKEN}`;
const API_KEY = 'env-api-key-0123456789abcdef';

function capture(secrets: readonly string[] = []) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level: 'trace', secrets }, destination);
  return { logger, lines, text: () => lines.join('\n') };
}

describe('logger', () => {
  it('when err is a string rather than an Error, then it is logged as scrubbed text', () => {
    const { logger, lines } = capture([API_KEY]);
    logger.warn({ err: `could not reach ${URL} with ${API_KEY}` }, 'string err');
    const line = JSON.parse(lines[0]!) as { err: unknown };
    expect(typeof line.err).toBe('string');
    expect(line.err).toMatch(
      /^could not reach https:\/\/discord\.com\/api\/webhooks\/123456789012345678\//,
    );
    expect(JSON.stringify(line)).not.toContain(TOKEN);
    expect(JSON.stringify(line)).not.toContain(API_KEY);
  });

  it('when anything carrying a webhook URL or an API key is logged, then neither the token nor the key is written', () => {
    const { logger, text } = capture([API_KEY]);
    logger.info({ webhookUrl: URL, task: { webhookUrl: URL } }, 'by key');
    logger.info(
      { detail: `insert into tasks values ('${URL}')`, nested: { list: [URL, { deeper: URL }] } },
      'in fields',
    );
    logger.warn(`in the message: ${URL} and ${API_KEY}`);
    logger.error({ err: new Error(`request to ${URL} failed (key ${API_KEY})`) }, 'in an error');
    logger.info(
      { req: { headers: { 'x-api-key': API_KEY } }, headers: { 'x-api-key': API_KEY } },
      'in headers',
    );
    logger.info(
      { apiKeys: [API_KEY], config: { apiKeys: [API_KEY] }, note: `key=${API_KEY}` },
      'in config',
    );
    logger
      .child({ component: 'x' })
      .debug({ escaped: JSON.stringify({ url: URL }) }, 'JSON-escaped');

    expect(text()).not.toContain(TOKEN);
    expect(text()).not.toContain(API_KEY);
    // What is left is still useful: the webhook id, the masked token, the error's stack.
    expect(text()).toContain('/webhooks/123456789012345678/****');
    expect(text()).toMatch(
      /"stack":"Error: request to https:\/\/discord.com\/api\/webhooks\/123456789012345678\/\*\*\*\*/,
    );
  });

  it('when a line is written while serving a request, then it is one JSON object carrying the request id', () => {
    const { logger, lines } = capture();
    requestContext.run({ requestId: 'req-42' }, () => logger.info({ taskId: 't1' }, 'served'));
    logger.info('outside');
    const [served, outside] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(served).toMatchObject({ level: 30, msg: 'served', taskId: 't1', requestId: 'req-42' });
    expect(outside!.requestId).toBeUndefined();
    expect(typeof served!.time).toBe('string');
  });

  it('when the Temporal SDK (its native core included) logs, then each entry is one JSON line under component "temporal", and below debug only warnings pass', () => {
    const { logger, lines } = capture();
    const info = temporalRuntimeLogger(logger.child({}), 'info');
    // What NativeLogCollector hands the Runtime logger for a forwarded core entry.
    info.log('WARN', 'gRPC call poll_workflow_task_queue retried 6 times', {
      [LogTimestamp]: 1_764_590_000_000_000_000n,
      sdkComponent: 'core',
      target: 'temporalio_client::retry',
      spanContexts: [],
      error: `Status { code: Unavailable, message: "tcp connect error" } ${URL}`,
    });
    info.log('INFO', 'workflow bundle built');
    temporalRuntimeLogger(logger, 'debug').log('DEBUG', 'poll returned');

    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toMatchObject({
      level: 40,
      component: 'temporal',
      sdkComponent: 'core',
      target: 'temporalio_client::retry',
      msg: 'gRPC call poll_workflow_task_queue retried 6 times',
    });
    expect(String(parsed[0]!.error)).not.toContain(TOKEN);
    expect(parsed[1]).toMatchObject({ level: 20, component: 'temporal', msg: 'poll returned' });
  });
});

describe('log format', () => {
  /** A destination that says whether it is a terminal, as process.stdout does. */
  function captureOn(
    isTTY: boolean,
    options: { format?: LogFormat; nodeEnv?: string; secrets?: readonly string[] } = {},
  ) {
    const lines: string[] = [];
    const destination = Object.assign(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(...chunk.toString().split('\n').filter(Boolean));
          done();
        },
      }),
      { isTTY },
    );
    const logger = createLogger({ level: 'info', nodeEnv: 'development', ...options }, destination);
    return { logger, lines };
  }
  const isJson = (line: string) => {
    try {
      return typeof JSON.parse(line) === 'object';
    } catch {
      return false;
    }
  };

  it('when stdout is a terminal in development, then each event is one readable line: not JSON, never several, no escape sequences', () => {
    const { logger, lines } = captureOn(true);
    logger.info({ port: 54329, childPid: 4242 }, 'embedded PostgreSQL started');
    logger.child({ component: 'postgres' }).warn('checkpoints are occurring too frequently');
    logger.info('asset workflow-bundle.js 1.58 MiB\nruntime modules\nwebpack compiled\n');
    logger.info('name \u001b[2Jcleared');

    expect(lines).toHaveLength(4);
    expect(lines.some(isJson)).toBe(false);
    expect(lines[0]).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: embedded PostgreSQL started \{"port":54329,"childPid":4242\}$/,
    );
    expect(lines[1]).toMatch(/ WARN: \[postgres\] checkpoints are occurring too frequently$/);
    expect(lines[2]).toMatch(/ INFO: asset workflow-bundle.js 1.58 MiB \(\+2 more lines\)$/);
    expect(lines[3]).toMatch(/ INFO: name \[2Jcleared$/);
  });

  it('when stdout is a pipe or a file, or NODE_ENV is production, then JSON lines as before', () => {
    for (const { lines, logger } of [
      captureOn(false),
      captureOn(true, { nodeEnv: 'production' }),
    ]) {
      logger.info({ port: 54329 }, 'embedded PostgreSQL started');
      expect(JSON.parse(lines[0]!)).toMatchObject({
        level: 30,
        port: 54329,
        msg: 'embedded PostgreSQL started',
      });
    }
    expect(defaultLogFormat({ isTTY: true, nodeEnv: 'test' })).toBe('pretty');
    expect(defaultLogFormat({ isTTY: false, nodeEnv: 'development' })).toBe('json');
  });

  it('when LOG_FORMAT is set, then it wins over what stdout is', () => {
    const json = captureOn(true, { format: 'json' });
    json.logger.info('a');
    expect(isJson(json.lines[0]!)).toBe(true);
    const pretty = captureOn(false, { format: 'pretty', nodeEnv: 'production' });
    pretty.logger.info('b');
    expect(pretty.lines[0]).toMatch(/ INFO: b$/);
  });

  it('when secrets are logged in pretty lines, then they are redacted there too', () => {
    const { logger, lines } = captureOn(true, { secrets: [API_KEY] });
    logger.info({ webhookUrl: URL, task: { webhookUrl: URL } }, 'by key');
    logger.warn(
      { headers: { 'x-api-key': API_KEY }, detail: `posting to ${URL}` },
      `key ${API_KEY}`,
    );
    logger.error({ err: new Error(`request to ${URL} failed`) }, 'delivery failed');
    const text = lines.join('\n');

    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(API_KEY);
    expect(text).toContain('"webhookUrl":"[redacted]"');
    expect(text).toContain('/webhooks/123456789012345678/****');
    expect(lines[0]).toMatch(/ INFO: by key /);
  });
});

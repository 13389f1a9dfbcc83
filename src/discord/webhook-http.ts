import http from 'node:http';
import https from 'node:https';
import { type AxiosInstance, isAxiosError } from 'axios';

/** Discord's answer: its status, its headers (lower-case names), its body as JSON, else as text. */
export interface WebhookResponse {
  status: number;
  headers: Record<string, unknown>;
  body: unknown;
}

/** A request that got no answer: refused, reset, DNS, or no answer within the timeout. */
export class WebhookNetworkError extends Error {
  constructor(
    message: string,
    /** The network's code (ECONNREFUSED, ECONNRESET, ENOTFOUND, ...); ETIMEDOUT for the timeout. */
    readonly code: string | undefined,
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'WebhookNetworkError';
  }
}

export interface WebhookHttp {
  request(options: {
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
    url: string;
    /** Sent as JSON. */
    body?: unknown;
    headers?: Record<string, string>;
  }): Promise<WebhookResponse>;
}

/** How much of an answer's body is kept: Discord's are a few KiB at most. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The deliveries' HTTP client: node's own http and https (their global keep-alive agents, as
 * axios used them), one request per call, redirects never followed, every status an answer, and
 * one deadline (`timeoutMs`) for the whole exchange. It costs a fraction of axios's CPU per
 * request (docs/benchmarks.md); axios stays for a process with an egress proxy (HTTPS_PROXY),
 * which this client does not speak.
 */
export function createWebhookHttp(options: { timeoutMs: number }): WebhookHttp {
  return {
    request({ method, url, body, headers = {} }) {
      return new Promise<WebhookResponse>((resolve, reject) => {
        const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
        const requestOptions: http.RequestOptions = {
          method,
          headers: data ? { ...headers, 'Content-Length': data.length } : headers,
        };
        let req: http.ClientRequest;
        try {
          req = (url.startsWith('https:') ? https : http).request(url, requestOptions, answered);
        } catch (error) {
          // An invalid URL or header: nothing was sent.
          const { message, code } = error as Error & { code?: string };
          reject(new WebhookNetworkError(message, code));
          return;
        }
        let expired: WebhookNetworkError | undefined;
        const timer = setTimeout(() => {
          expired = new WebhookNetworkError(
            `no answer within ${options.timeoutMs} ms`,
            'ETIMEDOUT',
            true,
          );
          req.destroy(expired);
        }, options.timeoutMs);
        function fail(error: Error & { code?: string }): void {
          clearTimeout(timer);
          // Past the deadline, the socket's own error (a reset, an aborted body) is the timeout's.
          reject(expired ?? new WebhookNetworkError(error.message, error.code));
        }
        function answered(res: http.IncomingMessage): void {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size >= MAX_BODY_BYTES) return;
            chunks.push(chunk);
            size += chunk.length;
          });
          res.on('error', fail);
          res.on('end', () => {
            clearTimeout(timer);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: parseBody(Buffer.concat(chunks).toString('utf8')),
            });
          });
        }
        req.on('error', fail);
        req.end(data);
      });
    },
  };
}

/** A body that is JSON (Discord's always are) parsed; anything else kept as text. */
function parseBody(text: string): unknown {
  if (text === '') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The same exchange over axios, which honours HTTP_PROXY / HTTPS_PROXY / NO_PROXY by itself: the
 * deliveries' client when the process has an egress proxy (see `egressProxyConfigured`).
 */
export function axiosWebhookHttp(instance: AxiosInstance): WebhookHttp {
  return {
    async request({ method, url, body, headers }) {
      try {
        const response = await instance.request({
          method,
          url,
          ...(body === undefined ? {} : { data: body }),
          headers,
        });
        return {
          status: response.status,
          headers: response.headers as Record<string, unknown>,
          body: response.data as unknown,
        };
      } catch (error) {
        if (!isAxiosError(error)) throw error;
        const timedOut = error.code === 'ETIMEDOUT' || error.code === 'ECONNABORTED';
        throw new WebhookNetworkError(error.message, error.code, timedOut);
      }
    },
  };
}

/** Whether the environment routes outbound HTTP through a proxy, which node's http does not do. */
export function egressProxyConfigured(env: NodeJS.ProcessEnv): boolean {
  return ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((name) =>
    Boolean(env[name]),
  );
}

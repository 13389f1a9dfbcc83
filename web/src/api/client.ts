import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

/**
 * The typed client of the public API, generated from src/api/openapi.yaml at build time
 * (`npm run console:types`): a route or field the console uses that the document drops or
 * changes no longer compiles. The console calls nothing else.
 */
export type Schemas = components['schemas'];
export type Task = Schemas['Task'];
export type TaskDetail = Schemas['TaskDetail'];
export type TaskLog = Schemas['TaskLog'];
export type TaskStatus = Task['status'];
export type MessageMode = Schemas['MessageMode'];
export type LogStatus = TaskLog['status'];
export type CreateTaskRequest = Schemas['CreateTaskRequest'];
export type UpdateTaskRequest = Schemas['UpdateTaskRequest'];
export type DiscordPayload = CreateTaskRequest['payload'];
export type DiscordEmbed = Schemas['DiscordEmbed'];
export type SchedulePreview = Schemas['SchedulePreview'];
export type HourlyAttempts = Schemas['HourlyAttempts'];
export type FieldError = NonNullable<Schemas['Problem']['errors']>[number];

/** A problem document from the API (RFC 9457), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let apiKey: string | null = null;
let onUnauthorized: () => void = () => undefined;

/** The key sent as X-API-Key, and what to do when the API answers 401 (back to the prompt). */
export function setSession(key: string | null, unauthorized: () => void = () => undefined) {
  apiKey = key;
  onUnauthorized = unauthorized;
}

const auth: Middleware = {
  onRequest({ request }) {
    if (apiKey) request.headers.set('X-API-Key', apiKey);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401 && apiKey) onUnauthorized();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: '' });
api.use(auth);

interface Problem {
  title?: string;
  detail?: string;
  errors?: FieldError[];
}

/** The data of a successful call, or an ApiError carrying the problem's detail and field errors. */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request;
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
  }
  const { data, error, response } = result;
  if (!response.ok) {
    const problem = (error ?? {}) as Problem;
    throw new ApiError(
      response.status,
      problem.detail ?? problem.title ?? `The server answered ${response.status}.`,
      problem.errors ?? [],
    );
  }
  return data as T;
}

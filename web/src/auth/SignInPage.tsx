import { type FormEvent, useState } from 'react';
import { api, ApiError, call, setSession } from '../api/client';

/**
 * The key prompt (SPEC §10): the key is checked against the API (GET /api/config needs it like
 * every /api route) before the console opens.
 */
export function SignInPage(props: {
  expired: boolean;
  onSignedIn: (key: string, remember: boolean) => void;
}) {
  const [key, setKey] = useState('');
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const candidate = key.trim();
    if (!candidate) {
      setError('Enter an API key.');
      return;
    }
    setChecking(true);
    setError(null);
    setSession(candidate);
    try {
      await call(api.GET('/api/config'));
      props.onSignedIn(candidate, remember);
    } catch (e) {
      setSession(null);
      setError(
        e instanceof ApiError && e.status === 401
          ? 'The API refused this key. Check it and try again.'
          : e instanceof Error
            ? e.message
            : String(e),
      );
    } finally {
      setChecking(false);
    }
  }

  return (
    <main className="sign-in" id="main">
      <form onSubmit={submit} noValidate aria-describedby="sign-in-intro">
        <h1>Discord Task Scheduler</h1>
        <p id="sign-in-intro">
          Enter an API key to manage tasks. In development, <code>npm start</code> prints one (it is
          kept in <code>.data/api-key</code>).
        </p>
        {props.expired && !error && (
          <p className="form-error" role="alert">
            Your key was refused; sign in again.
          </p>
        )}
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autoComplete="current-password"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'api-key-error' : undefined}
            autoFocus
          />
          {error && (
            <div id="api-key-error" className="field-error" role="alert">
              {error}
            </div>
          )}
        </div>
        <label className="check">
          <input
            type="checkbox"
            checked={remember}
            onChange={(e) => setRemember(e.target.checked)}
          />
          Remember on this device
        </label>
        <button type="submit" className="primary" disabled={checking}>
          {checking ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

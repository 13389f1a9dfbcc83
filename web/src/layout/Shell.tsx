import type { ReactNode } from 'react';
import { READ_ONLY_NOTICE, useAccess } from '../api/access';
import { useRoute } from '../routes';
import { Link } from '../ui/Link';

export function Shell({ children, onSignOut }: { children: ReactNode; onSignOut: () => void }) {
  const route = useRoute();
  const current = (names: string[]) => (names.includes(route.name) ? 'page' : undefined);
  const { readOnly } = useAccess();
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/tasks" className="brand">
          Task Scheduler
        </Link>
        <nav aria-label="Main">
          <Link href="/tasks" aria-current={current(['tasks', 'task', 'edit', 'new'])}>
            Tasks
          </Link>
          <Link href="/logs" aria-current={current(['logs'])}>
            Logs
          </Link>
          <Link href="/dashboard" aria-current={current(['dashboard'])}>
            Dashboard
          </Link>
        </nav>
        <button type="button" className="link-button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {readOnly && (
          // Said once, above every screen: why no screen offers to change or run anything.
          <p className="form-info" id="read-only-notice">
            {READ_ONLY_NOTICE}
          </p>
        )}
        {children}
      </main>
    </>
  );
}

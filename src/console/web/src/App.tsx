import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { getKey, setKey } from './api';
import { ErrorNote } from './components/ui';
import { Accuracy } from './pages/Accuracy';
import { Live } from './pages/Live';
import { MapPage } from './pages/MapPage';
import { Orders } from './pages/Orders';
import { Models } from './pages/Models';
import { TryIt } from './pages/TryIt';
import { navigate, PAGES, usePage } from './router';

function KeyForm({ onKey, refused }: { onKey: (key: string) => void; refused: string | null }) {
  const [value, setValue] = useState('');
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    if (value.trim()) onKey(value.trim());
  };
  return (
    <div className="key-gate">
      <form className="card key-card" onSubmit={submit}>
        <h2>Admin key</h2>
        <p className="muted">
          The console calls the admin API. Enter a key with the <code>admin</code> scope (the demo key printed
          by <code>etaserve start</code> has it). It is kept for this browser tab only.
        </p>
        <ErrorNote error={refused} />
        <label className="field">
          <span>API key</span>
          <input
            name="admin-key"
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder="es_…"
            autoFocus
          />
        </label>
        <button className="btn primary" type="submit">
          Open the console
        </button>
      </form>
    </div>
  );
}

interface Readiness {
  status: 'ready' | 'degraded' | 'unready' | 'unreachable' | 'checking';
  reasons: string[];
}

/**
 * /readyz, every 5 s: 200 for ready and degraded (the body says which), 503 for unready. An older gateway answers
 * without a status, so the HTTP code decides then.
 */
function useReadiness(): Readiness {
  const [state, setState] = useState<Readiness>({ status: 'checking', reasons: [] });
  useEffect(() => {
    let live = true;
    const check = async (): Promise<void> => {
      try {
        const r = await fetch('/readyz', { headers: { accept: 'application/json' } });
        let body: { status?: unknown; reasons?: unknown } = {};
        try {
          body = (await r.json()) as typeof body;
        } catch {
          // A plain-text answer: the HTTP code alone decides.
        }
        const status =
          body.status === 'ready' || body.status === 'degraded' || body.status === 'unready'
            ? body.status
            : r.ok
              ? 'ready'
              : 'unready';
        const reasons = Array.isArray(body.reasons) ? body.reasons.map(String) : [];
        // Same answer, same state: no re-render of the whole shell every 5 s.
        if (live)
          setState((prev) =>
            prev.status === status && prev.reasons.join('\n') === reasons.join('\n')
              ? prev
              : { status, reasons },
          );
      } catch {
        if (live)
          setState((prev) =>
            prev.status === 'unreachable'
              ? prev
              : { status: 'unreachable', reasons: ['the gateway did not answer /readyz'] },
          );
      }
    };
    void check();
    const t = setInterval(() => void check(), 5000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  return state;
}

function Ready({ state }: { state: Readiness }) {
  const tone =
    state.status === 'ready'
      ? 'good'
      : state.status === 'degraded'
        ? 'warn'
        : state.status === 'checking'
          ? ''
          : 'bad';
  const label = state.status === 'unready' ? 'not ready' : state.status;
  return (
    <span className={`ready ${tone}`} title="/readyz">
      <span className="dot" /> {label}
    </span>
  );
}

/** Degraded or unready, said on every page with the gateway's reasons, not only as a dot in the sidebar. */
function ReadinessBanner({ state }: { state: Readiness }) {
  if (state.status === 'ready' || state.status === 'checking') return null;
  const headline =
    state.status === 'degraded'
      ? 'Degraded: the platform still answers, with less (fallback ETAs or missing parts).'
      : state.status === 'unready'
        ? 'Not ready: the gateway cannot serve ETAs now.'
        : 'The gateway is unreachable.';
  return (
    <div
      className={`note banner ${state.status === 'degraded' ? 'warn' : 'error'}`}
      role="alert"
      data-testid="readiness-banner"
      data-status={state.status}
    >
      <span className="note-text">
        <strong>{headline}</strong>
        {state.reasons.length > 0 && (
          <ul>
            {state.reasons.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
        )}
      </span>
    </div>
  );
}

export function App() {
  const page = usePage();
  const [key, setKeyState] = useState(getKey);
  const readiness = useReadiness();
  // Why the key form is back: the server refused the key the console held.
  const [refused, setRefused] = useState<string | null>(null);
  // Stable: the live stream restarts whenever this changes, and the readiness poll re-renders the shell.
  const keyRefused = useCallback((): void => {
    setKey('');
    setKeyState('');
    setRefused('The server refused this key (401/403): enter a key with the admin scope.');
  }, []);
  const changeKey = (k: string): void => {
    setRefused(null);
    setKey(k);
    setKeyState(k);
  };
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand">
          <img src="/favicon.svg" alt="" width="26" height="26" />
          <span>etaserve</span>
        </div>
        <nav className="nav" aria-label="Pages">
          {PAGES.map((p) => (
            <a
              key={p.path}
              href={p.path}
              className={page === p.path ? 'active' : ''}
              aria-current={page === p.path ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(p.path);
              }}
            >
              {p.label}
            </a>
          ))}
        </nav>
        <div className="side-foot">
          <Ready state={readiness} />
          {key && (
            <button type="button" className="link" onClick={() => changeKey('')}>
              Forget key
            </button>
          )}
          <a href="/docs" className="link">
            API docs
          </a>
        </div>
      </aside>
      <main className="content">
        <ReadinessBanner state={readiness} />
        {!key ? (
          <KeyForm onKey={changeKey} refused={refused} />
        ) : page === '/live' ? (
          <Live onUnauthorized={keyRefused} />
        ) : page === '/models' ? (
          <Models />
        ) : page === '/accuracy' ? (
          <Accuracy />
        ) : page === '/orders' ? (
          <Orders />
        ) : page === '/map' ? (
          <MapPage />
        ) : (
          <TryIt />
        )}
      </main>
    </div>
  );
}

import { useEffect, useState, type FormEvent } from 'react';
import { getKey, setKey } from './api';
import { Accuracy } from './pages/Accuracy';
import { Live } from './pages/Live';
import { MapPage } from './pages/MapPage';
import { Models } from './pages/Models';
import { TryIt } from './pages/TryIt';
import { navigate, PAGES, usePage } from './router';

function KeyForm({ onKey }: { onKey: (key: string) => void }) {
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

function Ready() {
  const [ready, setReady] = useState<boolean | null>(null);
  useEffect(() => {
    let live = true;
    const check = (): void => {
      fetch('/readyz')
        .then((r) => live && setReady(r.ok))
        .catch(() => live && setReady(false));
    };
    check();
    const t = setInterval(check, 5000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  return (
    <span className={`ready ${ready ? 'good' : ready === false ? 'bad' : ''}`} title="/readyz">
      <span className="dot" /> {ready === null ? 'checking' : ready ? 'ready' : 'not ready'}
    </span>
  );
}

export function App() {
  const page = usePage();
  const [key, setKeyState] = useState(getKey);
  const changeKey = (k: string): void => {
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
          <Ready />
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
        {!key ? (
          <KeyForm onKey={changeKey} />
        ) : page === '/live' ? (
          <Live onUnauthorized={() => changeKey('')} />
        ) : page === '/models' ? (
          <Models />
        ) : page === '/accuracy' ? (
          <Accuracy />
        ) : page === '/map' ? (
          <MapPage />
        ) : (
          <TryIt />
        )}
      </main>
    </div>
  );
}

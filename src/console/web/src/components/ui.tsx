import type { ReactNode } from 'react';

export function Card({
  title,
  actions,
  children,
  className,
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section className={`card ${className ?? ''}`}>
      {(title || actions) && (
        <header className="card-head">
          <h2>{title}</h2>
          {actions && <div className="card-actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

export function Stat({
  label,
  value,
  hint,
  tone,
  testId,
}: {
  label: string;
  value: ReactNode;
  hint?: ReactNode;
  tone?: 'good' | 'warn' | 'bad';
  testId?: string;
}) {
  return (
    <div className={`stat ${tone ?? ''}`} data-testid={testId}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {hint && <div className="stat-hint">{hint}</div>}
    </div>
  );
}

export function Badge({
  tone,
  wide,
  children,
}: {
  tone?: 'good' | 'warn' | 'bad' | 'info' | 'muted';
  /** Takes two grid columns (a verdict in place of a bar). */
  wide?: boolean;
  children: ReactNode;
}) {
  return <span className={`badge ${tone ?? 'muted'}${wide ? ' wide' : ''}`}>{children}</span>;
}

/**
 * The one way a failed action or read shows itself: the server's own message (`{"error":{"message"}}`), visibly,
 * announced to screen readers. Every page puts its failures through this.
 */
export function ErrorNote({
  error,
  onDismiss,
  children,
}: {
  error: unknown;
  onDismiss?: () => void;
  /** A follow-up offered with the message (for example "Promote anyway"). */
  children?: ReactNode;
}) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const status = (error as { status?: unknown }).status;
  return (
    <div className="note error" role="alert" data-testid="error-note">
      <span className="note-text">
        {message}
        {typeof status === 'number' && <span className="muted small"> (HTTP {status})</span>}
      </span>
      {children && <span className="note-actions">{children}</span>}
      {onDismiss && (
        <button type="button" className="link note-close" aria-label="Dismiss" onClick={onDismiss}>
          ×
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Loading({ what }: { what: string }) {
  return <div className="empty loading">Loading {what}…</div>;
}

export function Confirm({
  title,
  body,
  confirmLabel,
  tone,
  busy,
  disabled,
  onConfirm,
  onCancel,
}: {
  title: string;
  body: ReactNode;
  confirmLabel: string;
  tone?: 'danger' | 'primary';
  busy?: boolean;
  /** The confirm button waits for something (a reason). */
  disabled?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <div className="modal-backdrop" onClick={onCancel}>
      <div
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-label={title}
        onClick={(e) => e.stopPropagation()}
      >
        <h3>{title}</h3>
        <div className="modal-body">{body}</div>
        <div className="modal-actions">
          <button type="button" className="btn" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            className={`btn ${tone === 'danger' ? 'danger' : 'primary'}`}
            onClick={onConfirm}
            disabled={busy || disabled}
          >
            {busy ? 'Working…' : confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

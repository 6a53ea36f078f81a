import { html } from 'htm/preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, RelayApi, type Scope, type StatusView } from './api.js';
import { ConfirmDialog, type PendingAction } from './components/confirm.js';
import { RulesPanel } from './components/rules.js';
import { SignIn } from './components/sign-in.js';
import { Connections, Events, HybridConnections, Listeners, Nodes } from './components/tables.js';
import { ThroughputChart, type ThroughputPoint } from './components/throughput-chart.js';
import { NO_RATES, ratesBetween, type Rates } from './rates.js';
import { loadSession, saveSession, type Session } from './sas.js';

const POLL_MS = 1000;
/** Five minutes of points. */
const HISTORY = 300;

export function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const signOut = useCallback((why?: string) => {
    saveSession(undefined);
    setSession(undefined);
    setNotice(why);
  }, []);
  const check = async (candidate: Session) => {
    try {
      await new RelayApi(candidate.token).status(0);
      return undefined;
    } catch (err) {
      return err instanceof ApiError ? err.message : 'the relay did not answer';
    }
  };
  if (!session)
    return html`<${SignIn}
      notice=${notice}
      check=${check}
      done=${(s: Session) => {
        saveSession(s);
        setNotice(undefined);
        setSession(s);
      }}
    />`;
  return html`<${Dashboard} session=${session} signOut=${signOut} />`;
}

function Dashboard(props: { session: Session; signOut(why?: string): void }) {
  const api = useRef(new RelayApi(props.session.token)).current;
  const [status, setStatus] = useState<StatusView | undefined>(undefined);
  const [rates, setRates] = useState<Rates>(NO_RATES);
  const [events, setEvents] = useState<StatusView['events']>([]);
  const [points, setPoints] = useState<ThroughputPoint[]>([]);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [pending, setPending] = useState<PendingAction | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [scope, setScope] = useState<Scope>(undefined);
  const [revision, setRevision] = useState(0);
  const last = useRef<{ status?: StatusView; seq: number }>({ seq: 0 });

  const poll = useCallback(async () => {
    if (props.session.expiresAt * 1000 <= Date.now()) return props.signOut('Your one-hour session ended. Sign in again.');
    try {
      const next = await api.status(last.current.seq);
      const r = ratesBetween(last.current.status, next);
      last.current = { status: next, seq: next.events.at(-1)?.seq ?? last.current.seq };
      setStatus(next);
      setRates(r);
      if (next.events.length > 0) setEvents((old) => [...old, ...next.events].slice(-200));
      setPoints((old) => [...old, { t: Date.parse(next.time) / 1000, toListener: r.total.toListener, toSender: r.total.toSender }].slice(-HISTORY));
      setProblem(undefined);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return props.signOut(`The relay no longer accepts this session (${err.message}); the key may have been renewed. Sign in again.`);
      setProblem(`The relay did not answer: ${(err as Error).message}`);
    }
  }, []);

  useEffect(() => {
    void poll();
    const timer = setInterval(() => void poll(), POLL_MS);
    return () => clearInterval(timer);
  }, [poll]);

  const ask = (title: string, detail: string, run: () => Promise<void>) => setPending({ title, detail, run });
  const confirm = async () => {
    if (!pending) return;
    setBusy(true);
    try {
      await pending.run();
      setProblem(undefined);
    } catch (err) {
      setProblem(`${pending.title.replace(/\?$/, '')} failed: ${(err as Error).message}`);
    } finally {
      setBusy(false);
      setPending(undefined);
      setRevision((n) => n + 1);
      void poll();
    }
  };

  if (!status) return html`<p class="loading">Connecting to the relay…</p>`;
  const now = Date.parse(status.time);
  const hycos = status.hybridConnections.map((h) => h.name);
  return html`
    <header>
      <h1>hybridge relay <span class="node">${status.node}</span></h1>
      <p>Signed in with rule <strong id="signed-in-rule">${props.session.rule}</strong> until ${new Date(props.session.expiresAt * 1000).toLocaleTimeString()}
        <button id="sign-out" onClick=${() => props.signOut('Signed out.')}>Sign out</button></p>
    </header>
    ${problem && html`<p class="error banner" role="alert">${problem}</p>`}
    <${HybridConnections}
      status=${status}
      rates=${rates}
      onRules=${setScope}
      onDelete=${(name: string) => ask(`Delete hybrid connection "${name}"?`, 'Its listeners and connections are closed and its rules are deleted.', () => api.deleteHybridConnection(name).then(() => undefined))}
      onCreate=${(name: string, clientAuth: boolean) => ask(`Create hybrid connection "${name}"?`, clientAuth ? 'Senders will need a token with Send rights.' : 'Senders may connect without a token.', () => api.createHybridConnection(name, clientAuth).then(() => undefined))}
    />
    <div class="columns">
      <${Listeners} status=${status} now=${now} />
      <${Nodes} status=${status} />
    </div>
    <${Connections} status=${status} rates=${rates} now=${now} />
    <${ThroughputChart} points=${points} />
    <${RulesPanel} api=${api} scope=${scope} revision=${revision} onScope=${setScope} hycos=${hycos} ask=${ask} />
    <${Events} events=${events} />
    <${ConfirmDialog} action=${pending} busy=${busy} onConfirm=${confirm} onCancel=${() => setPending(undefined)} />
  `;
}

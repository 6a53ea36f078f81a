import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { sendRelayError } from '../relay/http-errors.js';
import type { RelayServer } from '../relay/relay-server.js';
import { headerValue } from '../relay/request-url.js';
import type { Logger } from '../util/logger.js';
import type { RelayEventSink } from './events/event-bus.js';
import { auditFileSink, eventFileSink } from './events/file-sinks.js';
import { JsonLinesFile } from './events/json-lines-file.js';
import { RecentEvents } from './events/recent-events.js';
import { Webhook } from './events/webhooks.js';
import type { ProxyPolicy } from '../proxy/proxy-policy.js';
import { RelayMetrics } from './metrics/relay-metrics.js';
import { sendMetrics, startMetricsServer, type MetricsAddress, type MetricsServer } from './metrics/metrics-server.js';
import { metricsRegistry } from './metrics/registry.js';
import { RelayStatus } from './status/relay-status.js';

export const METRICS_PATH = '/$hybridge/metrics';
export const STATUS_PATH = '/$hybridge/v1/status';

export interface RelayObservabilityOptions {
  log: Logger;
  /** `--no-metrics`: no Prometheus metrics at all (the status API, events and the dashboard still work). */
  metrics?: boolean;
  /** `--metrics-addr`: a separate, unauthenticated /metrics listener. */
  metricsAddress?: MetricsAddress;
  /** `--metrics-max-entities`. */
  maxEntities?: number;
  /** `--event-log FILE`. */
  eventLog?: string;
  /** `--audit-log FILE`. */
  auditLog?: string;
  /** `--webhook URL` (repeatable). */
  webhooks?: readonly URL[];
  /** `--outbound-proxy`: webhooks are delivered through it. */
  proxy?: ProxyPolicy;
  /** Serves the dashboard's files; undefined when `--dashboard` is off. */
  dashboard?: (req: IncomingMessage, res: ServerResponse, url: string) => boolean;
}

/**
 * Everything an operator watches the relay with: its metrics (on the relay port behind a Manage
 * token, and on `--metrics-addr`), the event and audit files, webhooks, the status API behind
 * `hybridge status` and the dashboard. Attach it to a server before the server starts.
 */
export class RelayObservability {
  readonly registry: Registry | undefined;
  readonly metrics: RelayMetrics | undefined;
  readonly recent = new RecentEvents();
  readonly status: RelayStatus;
  private readonly files: JsonLinesFile[] = [];
  private readonly hooks: Webhook[] = [];
  private metricsServer: MetricsServer | undefined;

  constructor(
    private readonly server: RelayServer,
    private readonly options: RelayObservabilityOptions,
  ) {
    const directory = server.directory;
    this.registry = options.metrics === false ? undefined : metricsRegistry();
    this.metrics = this.registry
      ? new RelayMetrics(
          this.registry,
          {
            node: directory.nodeId,
            lifecycle: server.lifecycle,
            events: server.events,
            listenerEntities: () => server.local.localChannels().map((c) => c.directoryKey),
            socketRefusals: () => server.socketRefusals(),
            ...(directory.membership ? { membership: () => directory.membership!() } : {}),
          },
          { maxEntities: options.maxEntities },
        )
      : undefined;
    // The status page and the dashboard are the default namespace's (its Manage key opens them): hosted namespaces' events stay out.
    server.events.subscribe((event) => {
      if (event.namespace === undefined) this.recent.sink(event);
    });
    this.status = new RelayStatus(server, this.recent);
    if (options.eventLog) this.files.push(this.subscribeFile(options.eventLog, eventFileSink));
    if (options.auditLog) this.files.push(this.subscribeFile(options.auditLog, auditFileSink));
    for (const url of options.webhooks ?? []) {
      const hook = new Webhook(url, {
        log: options.log,
        proxy: options.proxy,
        onDelivered: () => this.metrics?.webhookDeliveries.inc({ result: 'delivered' }),
        onFailed: () => this.metrics?.webhookDeliveries.inc({ result: 'failed' }),
        onDropped: () => this.metrics?.webhookDropped.inc(),
      });
      server.events.subscribe(hook.sink);
      this.hooks.push(hook);
    }
  }

  /** The relay's own routes for these: pass to RelayServerOptions.extraRoutes. */
  readonly routes = (req: IncomingMessage, res: ServerResponse, url: string): boolean => {
    const path = url.split('?')[0]!;
    if (path === METRICS_PATH) {
      if (!this.registry) return sendRelayError(res, 404, 'NotFound', 'this relay runs with --no-metrics'), true;
      const registry = this.registry;
      void this.authorized(req, res).then((ok) => (ok ? sendMetrics(registry, res) : undefined));
      return true;
    }
    if (path === STATUS_PATH) {
      if (req.method !== 'GET') return sendRelayError(res, 405, 'MethodNotAllowed', `${req.method} is not allowed here`), true;
      void this.authorized(req, res).then((ok) => (ok ? this.sendStatus(res, url) : undefined));
      return true;
    }
    return this.options.dashboard?.(req, res, url) ?? false;
  };

  /** Starts the `--metrics-addr` listener, if any; returns its port. */
  async start(): Promise<number | undefined> {
    if (!this.options.metricsAddress || !this.registry) return undefined;
    this.metricsServer = await startMetricsServer(this.options.metricsAddress, this.registry);
    return this.metricsServer.port;
  }

  /** SIGHUP: the event and audit files are reopened (after a rotation). */
  reopenFiles(): void {
    for (const file of this.files) file.reopen();
  }

  async close(): Promise<void> {
    for (const hook of this.hooks) hook.close();
    await this.metricsServer?.close();
    await Promise.all(this.files.map((f) => f.close()));
  }

  private subscribeFile(path: string, sink: (file: JsonLinesFile) => RelayEventSink): JsonLinesFile {
    const file = new JsonLinesFile(path);
    this.server.events.subscribe(sink(file));
    return file;
  }

  /** A namespace-level Manage token (ServiceBusAuthorization or Authorization header); answers 401/403 otherwise. */
  private async authorized(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const token = headerValue(req, 'servicebusauthorization') ?? headerValue(req, 'authorization');
    const result = await this.server.authorizeManage(token, undefined, req.socket);
    if (result.ok) return true;
    // Counted, not logged (as the management API's refusals): whatever scans the port would fill the log.
    this.server.events.emit(result.status === 401 ? 'InvalidSasToken' : 'AuthorizationFailed', { role: 'management', status: result.status, reason: result.reason, remote: this.server.clientAddressOf(req), quiet: true });
    this.server.refuseQuietly(req, () => sendRelayError(res, result.status, result.status === 401 ? 'Unauthorized' : 'Forbidden', result.reason, { 'Cache-Control': 'no-store' }));
    return false;
  }

  private async sendStatus(res: ServerResponse, url: string): Promise<void> {
    const after = Number(new URL(url, 'http://relay').searchParams.get('events') ?? 0);
    const view = await this.status.view(Number.isFinite(after) && after >= 0 ? after : 0);
    const body = JSON.stringify(view);
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) }).end(body);
  }
}

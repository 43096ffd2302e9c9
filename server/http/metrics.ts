/**
 * GET /metrics in Prometheus text format (prom-client). Every number is measured: request
 * counts and latencies as they happen, per-space figures read from the open spaces at scrape
 * time. Per-space labels are bounded by `metricsSpaceLabelsMax` (the largest spaces get their
 * own label, the rest are summed under space="_other"), so a server with 10,000 spaces does not
 * produce 10,000 series per metric.
 */
import type { FastifyInstance } from 'fastify';
import {
  Counter,
  Gauge,
  Histogram,
  Registry as MetricsRegistry,
  collectDefaultMetrics,
} from 'prom-client';
import type { HttpContext } from './context.ts';

export function metricsRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const metrics = new MetricsRegistry();
  collectDefaultMetrics({ register: metrics, prefix: 'engram_' });

  const requests = new Counter({
    name: 'engram_http_requests_total',
    help: 'HTTP requests answered, by route template, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [metrics],
  });
  const latency = new Histogram({
    name: 'engram_http_request_duration_seconds',
    help: 'HTTP request latency, by route template and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics],
  });
  const spaceGauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ['space'] as const, registers: [metrics] });
  const memories = spaceGauge('engram_space_memories', 'Live memories per open space');
  const walLag = spaceGauge(
    'engram_space_wal_lag_ms',
    'Age of the oldest durable log record not yet applied to the warm tier and index',
  );
  const pending = spaceGauge(
    'engram_space_pending_apply_records',
    'Durable log records not yet applied to the warm tier and index',
  );
  const walBytes = spaceGauge('engram_space_wal_bytes', 'Bytes in the space log segments');
  const pressure = spaceGauge(
    'engram_space_pressure',
    'Occupancy of the fullest tier (hot, warm or cold: memories / capacity) per open space',
  );
  const spaces = new Gauge({
    name: 'engram_spaces',
    help: 'Spaces by state',
    labelNames: ['state'] as const,
    registers: [metrics],
  });
  const subscribers = new Gauge({
    name: 'engram_stream_subscribers',
    help: 'Open event-stream subscriptions',
    registers: [metrics],
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route !== '/metrics') {
      requests.inc({ route, method: request.method, status: String(reply.statusCode) });
      latency.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    }
    done();
  });

  app.get('/metrics', async (_request, reply) => {
    const summaries = await ctx.engine.listSpaces({ counts: false });
    spaces.reset();
    for (const state of ['open', 'closed', 'quarantined'] as const) {
      spaces.set({ state }, summaries.filter((s) => s.state === state).length);
    }
    const open = [];
    for (const summary of summaries.filter((s) => s.state === 'open')) {
      try {
        open.push(await (await ctx.engine.space(summary.id)).stats());
      } catch {
        // closed or deleted since the listing: it is simply not open any more
      }
    }
    open.sort((a, b) => b.memories - a.memories);
    const labelled = open.slice(0, ctx.settings.metricsSpaceLabelsMax);
    const rest = open.slice(ctx.settings.metricsSpaceLabelsMax);
    for (const gauge of [memories, walLag, pending, walBytes, pressure]) gauge.reset();
    const record = (
      space: string,
      values: { memories: number; applyLagMs: number; pendingApply: number; walBytes: number },
    ) => {
      memories.inc({ space }, values.memories);
      walLag.set({ space }, Math.max(values.applyLagMs, 0));
      pending.inc({ space }, values.pendingApply);
      walBytes.inc({ space }, values.walBytes);
    };
    for (const stats of labelled) {
      record(stats.id, stats);
      if (stats.pressure !== null) pressure.set({ space: stats.id }, stats.pressure);
    }
    if (rest.length > 0) {
      record('_other', {
        memories: rest.reduce((n, s) => n + s.memories, 0),
        applyLagMs: Math.max(...rest.map((s) => s.applyLagMs)),
        pendingApply: rest.reduce((n, s) => n + s.pendingApply, 0),
        walBytes: rest.reduce((n, s) => n + s.walBytes, 0),
      });
    }
    subscribers.set(ctx.engine.subscriberCount());
    return reply.type(metrics.contentType).send(await metrics.metrics());
  });
}

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAGA_EVENT_TYPES } from '../../src/sagas/transfer-saga.ts';
import { startTestService, type TestService, waitForTransfer } from '../support/service.ts';

const SAGA = new Set<string>(SAGA_EVENT_TYPES);

/**
 * OpenTelemetry over the event log: the service traces into memory, and each transfer is one trace
 * from its POST through every saga step to each projection that applied its events, carried from
 * one step to the next in the events' metadata.
 */
describe('traces (in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  let api: TestService;
  let token: string;
  const transferIds: string[] = [];

  beforeAll(async () => {
    api = await startTestService({}, { spanExporter: exporter });
    token = await api.token('ops', 'operator');
    const alice = await api.token('alice');
    const open = async (owner: string) =>
      (await api.call('POST', '/accounts', { token: owner, body: { currency: 'EUR' } })).body
        .accountId as string;
    const [from, to] = [await open(alice), await open(await api.token('bob'))];
    await api.call('POST', `/accounts/${from}/deposits`, { token, body: { amount: 1_000 } });
    for (const amount of [100, 5_000]) {
      const { body } = await api.call('POST', '/transfers', {
        token: alice,
        body: { fromAccountId: from, toAccountId: to, amount },
      });
      transferIds.push(body.transferId);
    }
    for (const id of transferIds) await waitForTransfer(api, token, id);
    // Every read model has applied every event (a query waits for the newest one).
    await api.call('GET', `/accounts/${to}/history`, { token });
    await api.call('GET', `/accounts/${to}`, { token });
    await new Promise((resolve) => setTimeout(resolve, 300));
  });
  afterAll(async () => {
    await api?.close();
  });

  const traceOf = (transferId: string) => {
    const spans = exporter.getFinishedSpans();
    const traceIds = new Set(
      spans
        .filter((s) => s.attributes['esbank.transfer_id'] === transferId)
        .map((s) => s.spanContext().traceId),
    );
    expect(traceIds.size).toBe(1);
    const [traceId] = traceIds;
    return spans.filter((s) => s.spanContext().traceId === traceId);
  };

  const parentOf = (span: ReadableSpan, spans: readonly ReadableSpan[]) =>
    spans.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);

  it('one trace per transfer: the POST, a span per saga step, and each projection that applied it', async () => {
    const traces = transferIds.map(traceOf);
    expect(new Set(traces.map((t) => t[0]!.spanContext().traceId)).size).toBe(transferIds.length);

    for (const [index, spans] of traces.entries()) {
      const transferId = transferIds[index]!;
      const roots = spans.filter((s) => !s.parentSpanContext);
      expect(roots.map((s) => s.name)).toEqual(['POST /transfers']);
      expect(roots[0]!.attributes['http.response.status_code']).toBe(202);

      // The saga reacted to each of the transfer's saga events once, each in its own span.
      const [events] = (await api.db.sql`
        SELECT array_agg(type ORDER BY global_position) AS types FROM events
        WHERE data->>'transferId' = ${transferId}`) as unknown as [{ types: string[] }];
      const sagaEvents = events.types.filter((type) => SAGA.has(type));
      const sagaSpans = spans.filter((s) => s.name.startsWith('saga '));
      expect(sagaSpans.map((s) => s.name).sort()).toEqual(sagaEvents.map((type) => `saga ${type}`).sort());

      const projections = new Set(spans.filter((s) => s.name.startsWith('projection ')).map((s) => s.name));
      expect([...projections].sort()).toEqual([
        'projection balances',
        'projection history',
        'projection transfers',
      ]);
    }
  });

  it('each span hangs from the step that wrote the event it handles', () => {
    for (const spans of transferIds.map(traceOf)) {
      const post = spans.find((s) => s.name === 'POST /transfers')!;
      for (const span of spans) {
        if (span === post) continue;
        // Parents are in the trace: no span hangs from a step that was not exported.
        expect(parentOf(span, spans), span.name).toBeDefined();
      }
      expect(parentOf(spans.find((s) => s.name === 'saga TransferRequested')!, spans)).toBe(post);
      // Saga steps chain: the hold was written by the step that handled TransferRequested.
      expect(parentOf(spans.find((s) => s.name === 'saga TransferCreditHeld')!, spans)!.name).toBe(
        'saga TransferRequested',
      );
      for (const span of spans.filter((s) => s.name.startsWith('projection ')))
        expect(parentOf(span, spans)!.name).toMatch(/^(POST \/transfers|saga \w+)$/);
    }
  });

  it('events carry the W3C trace context of the step that wrote them', async () => {
    const rows = await api.db.sql<{ traceparent: string | null }[]>`
      SELECT metadata->>'traceparent' AS traceparent FROM events WHERE data->>'transferId' = ${transferIds[0]!}`;
    for (const { traceparent } of rows) expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});

describe('traces exported by OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('posts the spans to the collector’s /v1/traces', async () => {
    const posts: Array<{ path: string | undefined; type: string | undefined; bytes: number }> = [];
    const collector = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      req.on('end', () => {
        posts.push({ path: req.url, type: req.headers['content-type'], bytes });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    const api = await startTestService({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    try {
      expect((await api.call('GET', '/health/live')).status).toBe(200);
    } finally {
      await api.close(); // flushes the batch
      collector.close();
    }
    expect(posts).toEqual([{ path: '/v1/traces', type: 'application/json', bytes: expect.any(Number) }]);
    expect(posts[0]!.bytes).toBeGreaterThan(0);
  });
});

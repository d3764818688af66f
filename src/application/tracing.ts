import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { EventMetadata } from './ports/event-store.ts';

/**
 * Traces through the event log (OpenTelemetry's API only; the SDK is set up by the composition
 * root when OTEL_EXPORTER_OTLP_ENDPOINT is set). The trace context of the code that appends an
 * event is written into the event's metadata (W3C `traceparent`, `tracestate`), and whoever
 * handles the event continues that trace: one transfer's POST, saga steps and projections form
 * one trace, though they run at different times, in different processes. Without the SDK the
 * API is a no-op: no field is written, no span is made.
 */

export type TraceMetadata = Pick<EventMetadata, 'traceparent' | 'tracestate'>;

const tracer = () => trace.getTracer('esbank');

/** The active trace context, as event metadata fields; {} when nothing is traced. */
export function traceMetadata(): TraceMetadata {
  const carrier: TraceMetadata = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/**
 * Runs `work` in a span that continues the trace the event was written in, as the active span
 * (so the events `work` appends carry it on). An event written outside any trace runs untraced.
 */
export async function inEventSpan<T>(
  metadata: TraceMetadata,
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  if (!metadata.traceparent) return work();
  const parent = propagation.extract(ROOT_CONTEXT, metadata);
  return tracer().startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes }, parent, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** A span for work already done (`started` until now) on events of each of these traces. */
export function recordEventSpans(
  traces: Iterable<TraceMetadata>,
  name: string,
  started: Date,
  attributes: Attributes,
) {
  for (const metadata of traces) {
    if (!metadata.traceparent) continue;
    tracer()
      .startSpan(
        name,
        { kind: SpanKind.CONSUMER, attributes, startTime: started },
        propagation.extract(ROOT_CONTEXT, metadata),
      )
      .end();
  }
}

import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';

export type Tracing = {
  /** Flushes the spans in hand and unregisters the SDK. */
  shutdown(): Promise<void>;
};

/**
 * Sets up OpenTelemetry tracing for this process: W3C trace context, the async context of each
 * request and saga step, and spans exported by OTLP/HTTP to `endpoint` (its /v1/traces), in
 * batches, or handed one by one to `exporter` (tests: an InMemorySpanExporter). The SDK is
 * loaded only here: without a call, the OpenTelemetry API the code uses is a no-op.
 */
export async function startTracing(options: {
  endpoint?: string;
  exporter?: SpanExporter;
}): Promise<Tracing> {
  const spanProcessors = [];
  if (options.exporter) spanProcessors.push(new SimpleSpanProcessor(options.exporter));
  if (options.endpoint) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const url = `${options.endpoint.replace(/\/$/, '')}/v1/traces`;
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'esbank' }),
    spanProcessors,
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

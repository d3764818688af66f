/** A tiny Prometheus text exposition: request durations, plus gauges gathered at scrape time. */
export type Metrics = ReturnType<typeof createMetrics>;

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const labels = (values: Record<string, string | number>) =>
  Object.entries(values)
    .map(([name, value]) => `${name}="${String(value).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
    .join(',');

export function createMetrics() {
  const histograms = new Map<
    string,
    { labels: Record<string, string | number>; counts: number[]; sum: number; count: number }
  >();
  return {
    observeRequest(method: string, route: string, status: number, seconds: number) {
      const key = `${method} ${route} ${status}`;
      const entry = histograms.get(key) ?? {
        labels: { method, route, status },
        counts: BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
      };
      BUCKETS.forEach((bound, i) => {
        if (seconds <= bound) entry.counts[i]!++;
      });
      entry.sum += seconds;
      entry.count++;
      histograms.set(key, entry);
    },
    render(
      gauges: Array<{
        name: string;
        help: string;
        /** Prometheus metric type; `gauge` unless said. */
        type?: 'gauge' | 'counter';
        values: Array<{ labels: Record<string, string | number>; value: number }>;
      }>,
    ) {
      const lines = [
        '# HELP esbank_http_request_duration_seconds HTTP request durations',
        '# TYPE esbank_http_request_duration_seconds histogram',
      ];
      for (const h of histograms.values()) {
        BUCKETS.forEach((bound, i) => {
          lines.push(
            `esbank_http_request_duration_seconds_bucket{${labels({ ...h.labels, le: bound })}} ${h.counts[i]}`,
          );
        });
        lines.push(
          `esbank_http_request_duration_seconds_bucket{${labels({ ...h.labels, le: '+Inf' })}} ${h.count}`,
        );
        lines.push(`esbank_http_request_duration_seconds_sum{${labels(h.labels)}} ${h.sum}`);
        lines.push(`esbank_http_request_duration_seconds_count{${labels(h.labels)}} ${h.count}`);
      }
      for (const gauge of gauges) {
        lines.push(`# HELP ${gauge.name} ${gauge.help}`, `# TYPE ${gauge.name} ${gauge.type ?? 'gauge'}`);
        for (const { labels: l, value } of gauge.values) lines.push(`${gauge.name}{${labels(l)}} ${value}`);
      }
      return `${lines.join('\n')}\n`;
    },
  };
}

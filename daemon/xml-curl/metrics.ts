import { hotCounter, hotHistogram, type MetricsRegistry } from '../metrics.js';

export type Section = 'directory' | 'dialplan' | 'configuration' | 'other' | 'unknown';
export type RequestOutcome = 'hit' | 'miss' | 'not_found' | 'error' | 'unauthorized' | 'bad_request';

export interface XmlCurlMetrics {
  /** Binds one series of fs_tenantd_xmlcurl_requests_total. */
  requests: (labels: { section: Section; outcome: RequestOutcome }) => { inc(): void };
  /** Binds one series of fs_tenantd_xmlcurl_request_duration_seconds. */
  duration: (labels: { section: Section }) => { observe(seconds: number): void };
}

export function xmlCurlMetrics(registry: MetricsRegistry): XmlCurlMetrics {
  return {
    requests: hotCounter(registry, {
      name: 'fs_tenantd_xmlcurl_requests_total',
      help: 'mod_xml_curl fetches answered, by section and outcome',
      labelNames: ['section', 'outcome'],
    }),
    duration: hotHistogram(registry, {
      name: 'fs_tenantd_xmlcurl_request_duration_seconds',
      help: 'Time from request received to answer handed to the HTTP layer',
      labelNames: ['section'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
  };
}

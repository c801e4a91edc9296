// The tracer provider of one server: its own (never the global one, so two servers in a process, or an app's own
// OpenTelemetry setup, do not mix), with the sampler and resource from the settings and a batch processor that
// exports off the request path.
import { hostname } from 'node:os'
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type IdGenerator,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { ATTR_SERVICE_NAME } from './attributes.js'
import type { OtelSettings } from './config.js'

export function samplerOf(settings: Pick<OtelSettings, 'sampler' | 'ratio'>): Sampler {
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler()
    case 'always_off':
      return new AlwaysOffSampler()
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(settings.ratio)
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.ratio) })
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
  }
}

export function createTracerProvider(settings: OtelSettings, exporter: SpanExporter, version: string, idGenerator?: IdGenerator): BasicTracerProvider {
  const resource = resourceFromAttributes({
    'service.instance.id': `${hostname()}:${process.pid}`,
    'service.version': version,
    ...settings.resource,
    [ATTR_SERVICE_NAME]: settings.serviceName,
  })
  return new BasicTracerProvider({
    resource,
    sampler: samplerOf(settings),
    idGenerator,
    spanProcessors: [new BatchSpanProcessor(exporter, settings.batch)],
  })
}

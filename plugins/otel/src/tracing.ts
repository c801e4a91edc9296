// The sampler and the resource of one server, from its settings: the plugin keeps its own (it never registers a
// global tracer provider, so two servers in a process, or an app's own OpenTelemetry setup, do not mix).
import { hostname } from 'node:os'
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from '@opentelemetry/sdk-trace-base'
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources'
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

/** The resource every span of this process carries: service name and instance, the kernel version, OTEL_RESOURCE_ATTRIBUTES. */
export function resourceOf(settings: OtelSettings, version: string): Resource {
  return resourceFromAttributes({
    'service.instance.id': `${hostname()}:${process.pid}`,
    'service.version': version,
    ...settings.resource,
    [ATTR_SERVICE_NAME]: settings.serviceName,
  })
}

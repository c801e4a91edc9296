// The resource of one server's spans, from its settings: the plugin keeps its own (it never registers a global
// tracer provider, so two servers in a process, or an app's own OpenTelemetry setup, do not mix).
import { hostname } from 'node:os'
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources'
import { ATTR_SERVICE_NAME } from './attributes.js'
import type { OtelSettings } from './config.js'

/** The resource every span of this process carries: service name and instance, the kernel version, OTEL_RESOURCE_ATTRIBUTES. */
export function resourceOf(settings: OtelSettings, version: string): Resource {
  return resourceFromAttributes({
    'service.instance.id': `${hostname()}:${process.pid}`,
    'service.version': version,
    ...settings.resource,
    [ATTR_SERVICE_NAME]: settings.serviceName,
  })
}

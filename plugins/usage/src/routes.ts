// `GET {urlPrefix}/usage` (admin scope: everyone's usage) and `GET {urlPrefix}/usage/me` (the caller's own), as
// a surface's server routes: the kernel reserves the name `usage` (no agent may take it) and identifies the caller.
import { ERR_INVALID_REQUEST, type Identity, type KernelApi } from '@robutler/kernel'
import type { FastifyRequest } from 'fastify'
import { ERR_FORBIDDEN, ERR_UNAUTHENTICATED } from './errors.js'
import { GROUPINGS, parseSince, type Grouping, type ReportQuery } from './report.js'
import type { UsageStore } from './store.js'

function invalid(message: string, param: string): Error {
  const error = ERR_INVALID_REQUEST(message)
  error.param = param
  return error
}

/** `?by=` and `?since=`, checked. */
export function queryOf(request: FastifyRequest, fallback: Grouping): ReportQuery {
  const q = request.query as Record<string, unknown>
  const by = q.by ?? fallback
  if (typeof by !== 'string' || !(GROUPINGS as readonly string[]).includes(by)) {
    throw invalid(`Invalid parameter 'by': one of ${GROUPINGS.join(', ')}`, 'by')
  }
  const since = parseSince(typeof q.since === 'string' ? q.since : undefined)
  if (since === 'invalid') throw invalid("Invalid parameter 'since': an ISO date or time, or a span back from now such as 24h or 7d", 'since')
  return { by: by as Grouping, since }
}

function caller(identity: Identity | null): Identity {
  if (identity === null) throw ERR_UNAUTHENTICATED('Usage reports need an API key')
  return identity
}

export function addRoutes(kernel: KernelApi, store: UsageStore): void {
  kernel.surfaces.add({
    name: 'usage',
    server: [
      {
        method: 'GET',
        path: '/usage',
        handler: async function usageReport(call, request) {
          if (caller(call.identity).scope !== 'admin') throw ERR_FORBIDDEN("GET /usage needs scope 'admin'; your own usage is at /usage/me")
          const query = queryOf(request, 'user')
          await store.flush()
          return { object: 'usage.report', store: store.kind, ...(await store.report(query)) }
        },
      },
      {
        method: 'GET',
        path: '/usage/me',
        handler: async function myUsage(call, request) {
          const identity = caller(call.identity)
          const query = { ...queryOf(request, 'model'), userId: identity.userId }
          await store.flush()
          return { object: 'usage.report', store: store.kind, user: identity.userId, ...(await store.report(query)) }
        },
      },
    ],
  })
}

// An OTLP/HTTP trace receiver for tests: POST /v1/traces, JSON or protobuf, decoded into plain spans. It decodes
// the wire format itself (protobuf by its field numbers from opentelemetry-proto), so a test sees what a collector
// would, not what the exporter meant to send.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedSpan {
  traceId: string
  spanId: string
  /** '' for a root span. */
  parentSpanId: string
  name: string
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  kind: number
  startNs: bigint
  endNs: bigint
  attributes: Record<string, unknown>
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string }
  resource: Record<string, unknown>
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:PORT`: an OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string
  spans: ReceivedSpan[]
  /** Content types of the exports received, in order. */
  contentTypes: string[]
  /** Answer every export with this status from now on (null: 200). */
  failWith: number | null
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, ms?: number): Promise<ReceivedSpan[]>
  close(): Promise<void>
}

// ---------------------------------------------------------------- JSON

function jsonValue(value: any): unknown {
  if (value === undefined || value === null) return null
  if ('stringValue' in value) return value.stringValue
  if ('boolValue' in value) return value.boolValue
  if ('intValue' in value) return Number(value.intValue)
  if ('doubleValue' in value) return Number(value.doubleValue)
  if ('arrayValue' in value) return (value.arrayValue.values ?? []).map(jsonValue)
  return null
}

function jsonAttributes(list: any[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]))
}

function fromJson(body: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = []
  for (const rs of body.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes)
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: jsonAttributes(s.attributes),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          resource,
        })
      }
    }
  }
  return out
}

// ---------------------------------------------------------------- protobuf

type Field = { no: number; wire: number; value: bigint | Buffer }

function fields(buf: Buffer): Field[] {
  const out: Field[] = []
  let at = 0
  const varint = (): bigint => {
    let result = 0n
    let shift = 0n
    for (;;) {
      const byte = buf[at++]!
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return result
      shift += 7n
    }
  }
  while (at < buf.length) {
    const key = Number(varint())
    const no = key >> 3
    const wire = key & 7
    if (wire === 0) out.push({ no, wire, value: varint() })
    else if (wire === 1) {
      out.push({ no, wire, value: buf.subarray(at, at + 8) })
      at += 8
    } else if (wire === 2) {
      const length = Number(varint())
      out.push({ no, wire, value: buf.subarray(at, at + length) })
      at += length
    } else if (wire === 5) {
      out.push({ no, wire, value: buf.subarray(at, at + 4) })
      at += 4
    } else throw new Error(`protobuf wire type ${wire} not expected`)
  }
  return out
}

const sub = (f: Field[], no: number): Buffer[] => f.filter((x) => x.no === no).map((x) => x.value as Buffer)
const one = (f: Field[], no: number): Field | undefined => f.find((x) => x.no === no)

function protoValue(buf: Buffer): unknown {
  const f = fields(buf)[0]
  if (f === undefined) return null
  if (f.no === 1) return (f.value as Buffer).toString('utf8')
  if (f.no === 2) return f.value === 1n
  if (f.no === 3) return Number(BigInt.asIntN(64, f.value as bigint))
  if (f.no === 4) return (f.value as Buffer).readDoubleLE(0)
  if (f.no === 5) return sub(fields(f.value as Buffer), 1).map(protoValue)
  return null
}

function protoAttributes(list: Buffer[]): Record<string, unknown> {
  return Object.fromEntries(list.map((kv) => {
    const f = fields(kv)
    return [sub(f, 1)[0]!.toString('utf8'), protoValue(sub(f, 2)[0] ?? Buffer.alloc(0))]
  }))
}

function fromProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = []
  for (const rs of sub(fields(body), 1)) {
    const rsf = fields(rs)
    const res = sub(rsf, 1)[0]
    const resource = res ? protoAttributes(sub(fields(res), 1)) : {}
    for (const ss of sub(rsf, 2)) {
      for (const span of sub(fields(ss), 2)) {
        const f = fields(span)
        const status = sub(f, 15)[0]
        const sf = status ? fields(status) : []
        out.push({
          traceId: sub(f, 1)[0]!.toString('hex'),
          spanId: sub(f, 2)[0]!.toString('hex'),
          parentSpanId: (sub(f, 4)[0] ?? Buffer.alloc(0)).toString('hex'),
          name: sub(f, 5)[0]!.toString('utf8'),
          kind: Number((one(f, 6)?.value as bigint | undefined) ?? 0n),
          startNs: (sub(f, 7)[0] as Buffer).readBigUInt64LE(0),
          endNs: (sub(f, 8)[0] as Buffer).readBigUInt64LE(0),
          attributes: protoAttributes(sub(f, 9)),
          status: { code: Number((one(sf, 3)?.value as bigint | undefined) ?? 0n), message: (sub(sf, 2)[0] ?? Buffer.alloc(0)).toString('utf8') },
          resource,
        })
      }
    }
  }
  return out
}

/** Starts a receiver on 127.0.0.1 at a free port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: Omit<OtlpReceiver, 'url' | 'close' | 'waitFor'> = { spans: [], contentTypes: [], failWith: null }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      if (receiver.failWith !== null) {
        res.writeHead(receiver.failWith).end()
        return
      }
      const type = String(req.headers['content-type'] ?? '')
      receiver.contentTypes.push(type)
      const body = Buffer.concat(chunks)
      try {
        receiver.spans.push(...(type.includes('json') ? fromJson(JSON.parse(body.toString('utf8'))) : fromProtobuf(body)))
      } catch (error) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }))
        return
      }
      if (type.includes('json')) res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}`,
    async waitFor(predicate: (spans: ReceivedSpan[]) => boolean, ms = 5000) {
      const until = Date.now() + ms
      while (!predicate(receiver.spans)) {
        if (Date.now() > until) throw new Error(`otlp receiver: still waiting after ${ms} ms; received ${receiver.spans.map((s) => s.name).join(', ')}`)
        await new Promise((r) => setTimeout(r, 20))
      }
      return receiver.spans
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  })
}

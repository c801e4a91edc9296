// How plugins name a database or cache in messages: where it is, never its password.
import { describeConnection, describeConnectionError } from '@robutler/kernel'
import { describe, expect, it } from 'vitest'

describe('describeConnection', () => {
  it('reads a URL: host, port (or the default) and path, never the user or password', () => {
    expect(describeConnection('postgres://app:s3cret@db.internal:6543/keys', { defaultPort: 5432 })).toBe('db.internal:6543/keys')
    expect(describeConnection('postgresql://db/keys', { defaultPort: 5432 })).toBe('db:5432/keys')
    expect(describeConnection('redis://:pw@cache.internal:6380/0')).toBe('cache.internal:6380/0')
    expect(describeConnection('redis://cache')).toBe('cache')
    expect(describeConnection('postgresql:///keys?host=/var/run/postgresql', { defaultPort: 5432 })).toBe('/var/run/postgresql:5432/keys')
  })

  it("reads libpq's key=value form", () => {
    expect(describeConnection("host=db.internal port=5433 dbname=keys password='s3cret'", { defaultPort: 5432 })).toBe('db.internal:5433/keys')
    expect(describeConnection('host=db user=app password=s3cret', { defaultPort: 5432 })).toBe('db:5432')
  })

  it('answers null when the string names no host', () => {
    expect(describeConnection('password=s3cret')).toBeNull()
    expect(describeConnection('')).toBeNull()
  })
})

describe('describeConnectionError', () => {
  const url = 'postgres://app:s3cr%40t@db.internal:5432/keys'

  it('removes the connection string and its (decoded) password from the text', () => {
    expect(describeConnectionError(new Error(`connect to ${url} failed`), url)).toBe('connect to [connection] failed')
    expect(describeConnectionError(new Error('auth failed for password s3cr@t'), url)).toBe('auth failed for password [redacted]')
    expect(describeConnectionError(new Error('password authentication failed'), "host=db password='hunter22'")).toBe('password authentication failed')
    expect(describeConnectionError(new Error('bad hunter22'), "host=db password='hunter22'")).toBe('bad [redacted]')
  })

  it('reads an AggregateError (several addresses), a code, or anything else', () => {
    const refused = (address: string) => new Error(`connect ECONNREFUSED ${address}:5432`)
    expect(describeConnectionError(new AggregateError([refused('::1'), refused('127.0.0.1')]), url)).toBe('connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432')
    expect(describeConnectionError({ code: 'ECONNRESET' }, url)).toBe('ECONNRESET')
    expect(describeConnectionError('just text', url)).toBe('just text')
    expect(describeConnectionError(null, url)).toBe('unknown error')
  })
})

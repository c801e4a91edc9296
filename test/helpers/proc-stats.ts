// What another process holds, read from /proc (Linux): resident memory and open file descriptors.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** VmRSS of the process, in KiB. */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(match[1])
}

/** The number of open file descriptors of the process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/** Open descriptors by kind: socket, pipe, anon_inode:[eventfd], file, … (one that closes while read is skipped). */
export function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {}
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch {
      continue // closed between the listing and the readlink
    }
    const kind = /^(socket|pipe):/.test(target) ? target.split(':')[0]! : target.startsWith('anon_inode:') ? target : 'file'
    kinds[kind] = (kinds[kind] ?? 0) + 1
  }
  return kinds
}

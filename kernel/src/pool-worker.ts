// The module piscina runs in each worker thread. It runs one export of a skill's worker module and answers its
// result as JSON text, refused past a size limit (so a huge result never crosses to the main thread, where
// cloning and serialising it would block every request); and it watches the thread's memory outside the V8 heap
// (Buffers, ArrayBuffers: no resource limit bounds them) and ends the thread when it holds more than allowed —
// piscina then starts a fresh one. It imports nothing from the rest of the kernel.
import { pathToFileURL } from 'node:url'

export interface PoolTask {
  /** The skill's worker module, as a path. */
  filename: string
  /** The export to call. */
  name: string
  args: unknown
  /** The largest result, in bytes of its JSON text. */
  maxResultBytes: number
  /** Memory outside the heap the thread may hold, in bytes, before it is ended. */
  maxExternalBytes: number
}

/** Exit codes the pool reads: over the external memory limit during a task (it fails), or between tasks. */
export const EXIT_EXTERNAL_BUSY = 86
export const EXIT_EXTERNAL_IDLE = 87
const WATCH_EVERY_MS = 250

const modules = new Map<string, Promise<Record<string, unknown>>>()
let busy = false
let maxExternal = 0
let watch: NodeJS.Timeout | null = null

function checkExternal(): void {
  if (maxExternal > 0 && process.memoryUsage().external > maxExternal) process.exit(busy ? EXIT_EXTERNAL_BUSY : EXIT_EXTERNAL_IDLE)
}

function load(filename: string): Promise<Record<string, unknown>> {
  let module = modules.get(filename)
  if (!module) {
    module = import(pathToFileURL(filename).href)
    modules.set(filename, module)
  }
  return module
}

/** What a tool threw, as an Error: `throw null` and friends are failures too, never a result. */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown
  const what = thrown === null ? 'null' : thrown === undefined ? 'undefined' : `a ${typeof thrown}`
  return new Error(`the tool threw ${what}, not an Error`)
}

/** How many bytes of UTF-8 a text is, counted only when its length alone does not settle `limit`. */
export function overLimit(text: string, limit: number): number | null {
  if (text.length * 3 <= limit) return null
  const bytes = Buffer.byteLength(text)
  return bytes > limit ? bytes : null
}

/** The result as the model will read it: a string as it is, anything else as JSON, nothing as ''. */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === undefined) return ''
  return JSON.stringify(value) ?? ''
}

/** The failure of a tool whose result is past the limit. */
export function resultTooLarge(bytes: number, limit: number): string {
  return `its result is ${bytes} bytes, over the limit of ${limit} (server.maxToolResultSize)`
}

export default async function runPoolTask(task: PoolTask): Promise<string> {
  maxExternal = task.maxExternalBytes
  watch ??= setInterval(checkExternal, WATCH_EVERY_MS).unref()
  // Over the limit from an earlier task: end the thread before this task starts (the pool runs it again elsewhere).
  checkExternal()
  busy = true
  try {
    const module = await load(task.filename)
    const fn = module[task.name]
    if (typeof fn !== 'function') throw new Error(`the worker module has no export '${task.name}'`)
    let value: unknown
    try {
      value = await fn(task.args)
    } catch (thrown) {
      throw asError(thrown)
    }
    const text = textOf(value)
    const bytes = overLimit(text, task.maxResultBytes)
    if (bytes !== null) throw new Error(resultTooLarge(bytes, task.maxResultBytes))
    return text
  } finally {
    // Not checked here: the result must reach the pool first. The watch (or the next task) ends the thread.
    busy = false
  }
}

#!/usr/bin/env node
// Robutler benchmarks. A report, not a test: a missed budget is printed as MISS and the exit code stays 0 (it is 1
// only when a benchmark could not run at all). Every row shows the figure, its baseline from the same run, the
// ratio, the budget and PASS/MISS (or 'info' for figures without a budget). One file a benchmark, in bench/benchmarks/:
//   kernel-json, kernel-stream   the kernel against bare Fastify serving the same bytes (autocannon)
//   worker-offload               /health latency and event-loop delay while 20 chats run 50 ms CPU tools:
//                                worker pool (1 thread) against the same tools on the main thread
//   provider-ttfb                time to first byte of streamed completions through plugin-openai against the
//                                same fake upstream hit directly (streams held open, and saturated), and bare Fastify + the same SDK
//   relay                        issue 24: N held streams of C chunks through a node:http pipe (the floor), Fastify +
//                                openai SDK and the kernel + plugin-openai (each its own process; CPU µs per relayed
//                                chunk, KiB per held stream, chunk delay p99), and whole relayed requests against a
//                                raw Fastify relay; BENCH_RELAY_STREAMS/CHUNKS/INTERVAL_MS (1000/50/100)
//   auth-overhead                kernel-json with plugin-auth-keys: Bearer key against no credential, same server
//   prometheus-overhead          kernel-json with plugin-prometheus against the same kernel without it
//   production-stack             kernel-json with plugin-auth-keys (Bearer key), plugin-rate-limit on Redis and
//                                plugin-prometheus together against the bare kernel (anonymous)
//   otel-overhead                kernel-json with plugin-otel (always_on, OTLP export) against the same kernel without it
//   otel-sampled                 the same with a 1% traceidratio sampler
//   usage-overhead               kernel-json with plugin-usage metering against the same kernel without it; a Redis budget's added p50
//   dynamic-agents               kernel-json on a cached dynamic agent against a static one, same server
//   messages-surface             POST /v1/messages (plugin-messages) against POST /chat/completions on the same kernel
//                                and echo agent: req/s of whole answers, and added TTFB p50 of streamed ones
//   responses-surface            POST /responses (plugin-responses, stored in memory) against POST /chat/completions on the
//                                same kernel and echo agent: req/s, added TTFB p50 of streamed answers, and the p50 cost of
//                                storing in PostgreSQL over memory
//   startup                      createServer → listening with 20 plugins and 100 agents (fresh processes, median
//                                of 5) against bare Fastify; info
//   discovery                    discoverPackages over 1,000 installed packages against a readdir walk; info
//   rss                          VmRSS idle and with 200 slow streams open, kernel against bare Fastify SSE; info
//   mcp-tool-call                a stdio MCP tool call through skill-mcp against the SDK's own client, same server
//   console-overhead             kernel-json with plugin-console enabled (not open) against the same kernel without it
//   isolated-tool-call           a trivial tool call of an isolated skill (own process pool) against the same tool in
//                                the thread pool, same server, through chat
// A missed budget gets one line under the table: which, and why (each benchmark's `why`, from a profile).
//   node bench/run.mjs [filter]      filter: a case-insensitive part of a benchmark's id or name
//   BENCH_DURATION=10                seconds each measurement lasts (warm-up: 2 s more per server)
// The kernel of this tree against another checkout's, side by side: node bench/compare.mjs <dir> (see its header).
// Where the kernel spends its time: node bench/profile.mjs [json|stream] [kernel|baseline|kernel-dynamic] or ttfb
// (--cpu-prof summary; see its header for the auth and prometheus variants).
//
// A benchmark is { id, name, its parameters and budgets, why?, methodKey?, run(context), method(context) }:
// run resolves with { rows, tables, notes } (summary rows; detail tables by key, merged across benchmarks; notes),
// method answers its method text for RESULTS.md (one per methodKey, else per id).
import { authOverhead } from './benchmarks/auth-overhead.mjs'
import { consoleOverhead } from './benchmarks/console-overhead.mjs'
import { discovery } from './benchmarks/discovery.mjs'
import { dynamicAgents } from './benchmarks/dynamic-agents.mjs'
import { isolatedToolCall } from './benchmarks/isolated-tool-call.mjs'
import { kernelJson, kernelStream } from './benchmarks/kernel-overhead.mjs'
import { messagesSurface } from './benchmarks/messages-surface.mjs'
import { responsesSurface } from './benchmarks/responses-surface.mjs'
import { mcpToolCall } from './benchmarks/mcp-tool-call.mjs'
import { prometheusOverhead } from './benchmarks/prometheus-overhead.mjs'
import { productionStack } from './benchmarks/production-stack.mjs'
import { otelOverhead, otelSampled } from './benchmarks/otel-overhead.mjs'
import { usageOverhead } from './benchmarks/usage-overhead.mjs'
import { providerTtfb } from './benchmarks/provider-ttfb.mjs'
import { relay } from './benchmarks/relay.mjs'
import { rss } from './benchmarks/rss.mjs'
import { startup } from './benchmarks/startup.mjs'
import { workerOffload } from './benchmarks/worker-offload.mjs'
import { writeReport } from './report.mjs'
import { prepare, runEach } from './suite.mjs'

const BENCHMARKS = [kernelJson, kernelStream, workerOffload, providerTtfb, relay, authOverhead, prometheusOverhead, productionStack, otelOverhead, otelSampled, usageOverhead, consoleOverhead, dynamicAgents, messagesSurface, responsesSurface, mcpToolCall, isolatedToolCall, startup, discovery, rss]

async function main([filter]) {
  const prepared = prepare(BENCHMARKS, filter)
  if (!prepared) return 2
  const { selected, context } = prepared
  const { results, broken } = await runEach(selected, (bench) => bench.run(context), context)
  writeReport({ selected, results, context, filter })
  return broken ? 1 : 0
}

process.exitCode = await main(process.argv.slice(2))

// Boot order of enabled packages: a dependency graph over package names, its cycles, and a deterministic
// topological order (ties broken by name, so two runs over the same install boot the same way).

/** name → the names it depends on (must boot before it). Self-edges are ignored. */
export type DependencyGraph = ReadonlyMap<string, ReadonlySet<string>>

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Strongly connected components with more than one member (Tarjan), each sorted by name. */
function cyclicComponents(graph: DependencyGraph): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  let counter = 0
  const visit = (node: string): void => {
    index.set(node, counter)
    low.set(node, counter++)
    stack.push(node)
    onStack.add(node)
    for (const next of [...(graph.get(node) ?? [])].sort(byName)) {
      if (next === node || !graph.has(next)) continue
      if (!index.has(next)) {
        visit(next)
        low.set(node, Math.min(low.get(node)!, low.get(next)!))
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!))
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = []
      let member: string
      do {
        member = stack.pop()!
        onStack.delete(member)
        component.push(member)
      } while (member !== node)
      if (component.length > 1) components.push(component.sort(byName))
    }
  }
  for (const node of [...graph.keys()].sort(byName)) if (!index.has(node)) visit(node)
  return components.sort((a, b) => byName(a[0]!, b[0]!))
}

/** The shortest cycle through the first (by name) member of a component, closed: [a, b, a]. */
function cycleThrough(graph: DependencyGraph, component: readonly string[]): string[] {
  const members = new Set(component)
  const start = component[0]!
  const parent = new Map<string, string>()
  const queue = [start]
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!
    for (const next of [...(graph.get(node) ?? [])].sort(byName)) {
      if (next === node || !members.has(next)) continue
      if (next === start) {
        const path = [node]
        while (path[0] !== start) path.unshift(parent.get(path[0]!)!)
        return [...path, start]
      }
      if (!parent.has(next) && next !== start) {
        parent.set(next, node)
        queue.push(next)
      }
    }
  }
  return [...component, start]
}

export interface Ordering {
  /** Every node not in a cycle, dependencies first. */
  order: string[]
  /** Each cycle as a closed path `[a, b, a]`, where each member depends on the next. */
  cycles: string[][]
}

/** Orders the graph topologically; members of cycles are left out of `order` and reported in `cycles`. */
export function orderGraph(graph: DependencyGraph): Ordering {
  const components = cyclicComponents(graph)
  const cyclic = new Set(components.flat())
  const remaining = new Map<string, number>()
  const dependents = new Map<string, string[]>()
  for (const [node, dependencies] of graph) {
    if (cyclic.has(node)) continue
    let count = 0
    for (const dependency of dependencies) {
      if (dependency === node || cyclic.has(dependency) || !graph.has(dependency)) continue
      count++
      dependents.set(dependency, [...(dependents.get(dependency) ?? []), node])
    }
    remaining.set(node, count)
  }
  const ready = [...remaining].filter(([, count]) => count === 0).map(([node]) => node)
  const order: string[] = []
  while (ready.length > 0) {
    ready.sort(byName)
    const node = ready.shift()!
    order.push(node)
    for (const dependent of dependents.get(node) ?? []) {
      const count = remaining.get(dependent)! - 1
      remaining.set(dependent, count)
      if (count === 0) ready.push(dependent)
    }
  }
  return { order, cycles: components.map((component) => cycleThrough(graph, component)) }
}

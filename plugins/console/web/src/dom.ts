// A few DOM helpers: elements are made with textContent only (no innerHTML), so nothing a server or model
// answers can become markup.
type Child = Node | string | number | null | undefined | false
type Props = Record<string, string | number | boolean | EventListener | undefined>

/** `h('button', { type: 'button', onclick: fn }, 'Send')`. Attributes for strings and numbers, `on*` listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue
    if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value)
    else element.setAttribute(key, value === true ? '' : String(value))
  }
  append(element, children)
  return element
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)))
  }
}

const SVG = 'http://www.w3.org/2000/svg'

export function svg(tag: string, attributes: Record<string, string | number>): SVGElement {
  const element = document.createElementNS(SVG, tag)
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value))
  return element
}

export function clear(element: Element): void {
  while (element.firstChild) element.removeChild(element.firstChild)
}

/** `12 ms`, `1.2 s`. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–'
  if (value >= 1000) return `${(value / 1000).toFixed(1)} s`
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`
}

export function time(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString()
}

// Secrets of a server's config (its env and header values) are blanked out of every text the skill logs or hands
// on: a child's stderr, an error message, a tool's error text.

/** Replaces every secret in a text with `[redacted]`. */
export type Redact = (text: string) => string

const keep: Redact = (text) => text

export function redactor(secrets: readonly string[]): Redact {
  if (secrets.length === 0) return keep
  // Longest first: a secret that contains another is blanked whole.
  const ordered = [...secrets].sort((a, b) => b.length - a.length)
  return function redact(text) {
    let out = text
    for (const secret of ordered) if (out.includes(secret)) out = out.replaceAll(secret, '[redacted]')
    return out
  }
}

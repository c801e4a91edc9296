// on-exit-leak-free (pino's own exit hook, no types of its own): calls `fn(obj, event)` at 'exit' and 'beforeExit'
// for every registered object still alive, holding each only weakly.
declare module 'on-exit-leak-free' {
  const onExit: {
    register<T extends object>(obj: T, fn: (obj: T, event: 'exit' | 'beforeExit') => void): void
    registerBeforeExit<T extends object>(obj: T, fn: (obj: T, event: 'beforeExit') => void): void
    unregister(obj: object): void
  }
  export default onExit
}

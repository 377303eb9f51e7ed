/**
 * Bridges `Deno.addSignalListener` to signal events. One runtime listener per signal, installed
 * when the first event needs it and removed when the last one goes.
 *
 * @module
 */

/** What a signal event exposes to the registry. @ignore */
export interface SignalTarget {
  /** Called once per delivery. */
  _signalled(): void;
}

/** @ignore */
export class SignalRegistry {
  #slots = new Map<Deno.Signal, { handler: () => void; targets: Set<SignalTarget> }>();
  #onDelivery: () => void;

  /** `onDelivery` runs after each delivery (the base wakes its loop there). */
  constructor(onDelivery: () => void) {
    this.#onDelivery = onDelivery;
  }

  add(sig: Deno.Signal, t: SignalTarget): void {
    let slot = this.#slots.get(sig);
    if (slot === undefined) {
      const targets = new Set<SignalTarget>();
      const wake = this.#onDelivery;
      const handler = () => {
        for (const x of targets) x._signalled();
        wake();
      };
      Deno.addSignalListener(sig, handler);
      slot = { handler, targets };
      this.#slots.set(sig, slot);
    }
    slot.targets.add(t);
  }

  remove(sig: Deno.Signal, t: SignalTarget): void {
    const slot = this.#slots.get(sig);
    if (slot === undefined) return;
    slot.targets.delete(t);
    if (slot.targets.size === 0) {
      this.#slots.delete(sig);
      Deno.removeSignalListener(sig, slot.handler);
    }
  }

  *targets(): Generator<SignalTarget> {
    for (const s of this.#slots.values()) yield* s.targets;
  }

  clear(): void {
    for (const [sig, slot] of this.#slots) Deno.removeSignalListener(sig, slot.handler);
    this.#slots.clear();
  }
}

/**
 * evdeno's error base class. Every module throws `EvError` or a subclass, with the underlying
 * Deno error (if any) as `cause`.
 *
 * @module
 */

/**
 * Base class of the errors evdeno throws. The runtime error that caused it, if any, is `cause`.
 *
 * @example
 * ```ts
 * import { EvError } from "@evdeno/evdeno/reactor";
 * try {
 *   throw new EvError("bind failed", { cause: new Deno.errors.AddrInUse() });
 * } catch (e) {
 *   if (e instanceof EvError) console.log(e.message, e.cause);
 * }
 * ```
 */
export class EvError extends Error {
  /** Creates an error; `options.cause` keeps the underlying error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

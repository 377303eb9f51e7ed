// The evdeno side of the load benchmarks: an Evhttp server on 127.0.0.1 that prints
// `listening on …` (the driver waits for it) and exits its loop on SIGTERM. The library is
// imported only when this mode runs, so the rival modes of the same file do not load it.
import type { Evhttp } from "../mod.ts";

/** The library's exports, for the route setup. */
export type Lib = typeof import("../mod.ts");

/** Serves `routes` on `port` until SIGTERM. */
export async function serveEvhttp(
  port: number,
  routes: (http: Evhttp, lib: Lib) => void,
): Promise<void> {
  const lib = await import("../mod.ts");
  const base = new lib.EventBase();
  const http = new lib.Evhttp(base);
  routes(http, lib);
  http.bindSocket("127.0.0.1", port);
  const sig = lib.evsignalNew(base, "SIGTERM", () => {
    sig.del();
    http.free();
    base.loopbreak();
  });
  sig.add();
  console.log(`listening on 127.0.0.1:${port}`);
  await base.dispatch();
}

// wrk driving and reporting shared by the HTTP and HTTPS load benchmarks.

/** One wrk run: requests/s, latency percentiles (ms) and any socket/status errors. */
export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: string;
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

/** Runs `wrk -t1 -cN -dS --latency [-s script] url` pinned to CPU 1. */
export async function runWrk(
  url: string,
  conns: number,
  secs: number,
  script?: string,
): Promise<WrkResult> {
  const args = ["-c", "1", "wrk", "-t1", `-c${conns}`, `-d${secs}s`, "--latency"];
  if (script !== undefined) args.push("-s", script);
  args.push(url);
  const o = await new Deno.Command("taskset", { args }).output();
  const out = new TextDecoder().decode(o.stdout);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? "0");
  const p = (q: string) => {
    const m = new RegExp(`\\s${q}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m === null ? NaN : toMs(m[1]!, m[2]!);
  };
  const err = /Socket errors:.*|Non-2xx.*/g;
  return { rps, p50: p("50"), p99: p("99"), errors: (out.match(err) ?? []).join("; ") };
}

/** Whether `name` is a command on PATH. */
export async function hasCmd(name: string): Promise<boolean> {
  try {
    const o = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`] }).output();
    return o.success;
  } catch {
    return false;
  }
}

/**
 * Prints server × scenario results as a markdown table with ratios against Deno.serve, and
 * against libevent's C server when it ran (the second yardstick).
 */
export function printWrkTable(results: Map<string, Map<string, WrkResult>>): void {
  const ref = results.get("deno-serve");
  const lib = results.get("libevent-c");
  const ratio = (rps: number, base: number | undefined) =>
    base !== undefined && base > 0 ? (rps / base).toFixed(2) : "-";
  const lines = [
    `| server | scenario | req/s | p50 ms | p99 ms | × Deno.serve |${lib ? " × libevent |" : ""}`,
    `|---|---|---:|---:|---:|---:|${lib ? "---:|" : ""}`,
  ];
  for (const [name, m] of results) {
    for (const [sc, res] of m) {
      const libCol = lib ? ` ${ratio(res.rps, lib.get(sc)?.rps)} |` : "";
      lines.push(
        `| ${name} | ${sc} | ${Math.round(res.rps)} | ${res.p50.toFixed(2)} | ${
          res.p99.toFixed(2)
        } | ${ratio(res.rps, ref?.get(sc)?.rps)} |${libCol}`,
      );
    }
  }
  console.log(lines.join("\n"));
}

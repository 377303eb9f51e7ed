// wrk driving and reporting shared by the HTTP and HTTPS load benchmarks.

/**
 * One wrk run: requests/s, latency percentiles (ms), any socket/status errors, and where the
 * CPU went: the server's core (CPU 0) in µs per request, and how busy wrk's core (CPU 1) was.
 * A load generator near 100 % is the ceiling of what the run can show, whatever the server.
 */
export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: string;
  /** CPU 0 busy time per request, µs (NaN without /proc/stat). */
  serverUsPerReq: number;
  /** CPU 1 busy share during the run, 0..1 (NaN without /proc/stat). */
  loadCpu: number;
}

/** Busy and total jiffies of CPUs 0 and 1, from /proc/stat (null elsewhere). */
function cpuTimes(): [number, number, number, number] | null {
  try {
    const text = Deno.readTextFileSync("/proc/stat");
    const out: number[] = [];
    for (const cpu of ["cpu0 ", "cpu1 "]) {
      const line = text.split("\n").find((l) => l.startsWith(cpu));
      if (line === undefined) return null;
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      const total = f.reduce((a, b) => a + b, 0);
      // idle and iowait are not busy; guest time is already counted in user.
      out.push(total - f[3]! - f[4]!, total);
    }
    return out as [number, number, number, number];
  } catch {
    return null;
  }
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
  const before = cpuTimes();
  const o = await new Deno.Command("taskset", { args }).output();
  const after = cpuTimes();
  const out = new TextDecoder().decode(o.stdout);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? "0");
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? "0");
  let serverUsPerReq = NaN;
  let loadCpu = NaN;
  if (before !== null && after !== null && requests > 0) {
    const hz = 100; // USER_HZ: /proc/stat counts in 1/100 s on Linux
    serverUsPerReq = ((after[0] - before[0]) / hz) * 1e6 / requests;
    loadCpu = (after[2] - before[2]) / Math.max(1, after[3] - before[3]);
  }
  const p = (q: string) => {
    const m = new RegExp(`\\s${q}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m === null ? NaN : toMs(m[1]!, m[2]!);
  };
  const err = /Socket errors:.*|Non-2xx.*/g;
  return {
    rps,
    p50: p("50"),
    p99: p("99"),
    errors: (out.match(err) ?? []).join("; "),
    serverUsPerReq,
    loadCpu,
  };
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
 * against libevent's C server when it ran (the second yardstick), with the server core's
 * CPU per request and wrk's core load.
 */
export function printWrkTable(results: Map<string, Map<string, WrkResult>>): void {
  const ref = results.get("deno-serve");
  const lib = results.get("libevent-c");
  const ratio = (rps: number, base: number | undefined) =>
    base !== undefined && base > 0 ? (rps / base).toFixed(2) : "-";
  // wrk prints no usable percentiles for a pipelining script (its latency is per batch): "—".
  const ms = (v: number) => v > 0 ? v.toFixed(2) : "—";
  const lines = [
    `| server | scenario | req/s | p50 ms | p99 ms | CPU 0 µs/req | wrk CPU | × Deno.serve |${
      lib ? " × libevent |" : ""
    }`,
    `|---|---|---:|---:|---:|---:|---:|---:|${lib ? "---:|" : ""}`,
  ];
  for (const [name, m] of results) {
    for (const [sc, res] of m) {
      const libCol = lib ? ` ${ratio(res.rps, lib.get(sc)?.rps)} |` : "";
      lines.push(
        `| ${name} | ${sc} | ${Math.round(res.rps)} | ${ms(res.p50)} | ${ms(res.p99)} | ${
          res.serverUsPerReq.toFixed(2)
        } | ${(res.loadCpu * 100).toFixed(0)} % | ${ratio(res.rps, ref?.get(sc)?.rps)} |${libCol}`,
      );
    }
  }
  console.log(lines.join("\n"));
}

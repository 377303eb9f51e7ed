// Process helpers shared by the echo benchmarks: spawn a server, wait for its ready line, sample
// its memory and CPU time from /proc, stop it by PID.

/** The repository root. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** A port that was free a moment ago (for servers that cannot report the port they bound). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A server process whose stdout and stderr lines are collected in the background. */
export class Server {
  readonly proc: Deno.ChildProcess;
  readonly lines: string[] = [];
  #wanted: { re: RegExp; resolve: (m: RegExpMatchArray) => void } | null = null;
  #readers: Promise<void>;

  constructor(cmd: string[]) {
    this.proc = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#readers = Promise.all([this.#read(this.proc.stdout), this.#read(this.proc.stderr)])
      .then(() => {});
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** The first line (past or future) matching `re`; rejects after `ms` or when the server exits. */
  waitFor(re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
    for (const l of this.lines) {
      const m = l.match(re);
      if (m !== null) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wanted = null;
        reject(new Error(`no line matching ${re}; output:\n${this.lines.join("\n")}`));
      }, ms);
      this.#wanted = {
        re,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.proc.status.then(() => {
        if (this.#wanted === null) return;
        clearTimeout(timer);
        reject(new Error(`server exited; output:\n${this.lines.join("\n")}`));
      });
    });
  }

  /** Sends `signal` and waits for the exit status and the end of the output. */
  async stop(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    try {
      this.proc.kill(signal);
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.proc.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }, 10_000);
    const st = await this.proc.status;
    clearTimeout(timer);
    await this.#readers;
    return st;
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let pending = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        // Per-connection chatter ("accept a client") is not worth keeping in memory.
        if (this.lines.length < 1000) this.lines.push(line);
        const w = this.#wanted;
        const m = w === null ? null : line.match(w.re);
        if (m !== null && w !== null) {
          this.#wanted = null;
          w.resolve(m);
        }
      }
    }
  }
}

/** `VmRSS` and `VmHWM` (peak) of a process, in KiB. */
export function memKiB(pid: number): { rss: number; hwm: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? NaN);
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(text)?.[1] ?? NaN);
  return { rss, hwm };
}

const CLK_TCK = 100;

/** User and system CPU seconds a process used so far (all its threads). */
export function cpuSeconds(pid: number): { user: number; sys: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { user: Number(rest[11]) / CLK_TCK, sys: Number(rest[12]) / CLK_TCK };
}

/** Parses `RESULT key=value …` into a record of numbers (non-numbers kept as NaN). */
export function parseResult(out: string): Record<string, number> | null {
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (line === undefined) return null;
  const r: Record<string, number> = {};
  for (const kv of line.slice(7).trim().split(/\s+/)) {
    const eq = kv.indexOf("=");
    if (eq > 0) r[kv.slice(0, eq)] = Number(kv.slice(eq + 1));
  }
  return r;
}

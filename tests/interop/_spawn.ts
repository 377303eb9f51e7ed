// Child processes for interop and example tests: spawn, wait for a line on stdout, stop by PID.

/** The repository root (examples are run from here so deno.json applies). */
export const ROOT: string = new URL("../../", import.meta.url).pathname;

/** Whether `name` is an executable on PATH. */
export function haveBinary(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const st = Deno.statSync(`${dir}/${name}`);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return true;
    } catch { /* not in this directory */ }
  }
  return false;
}

/** A port that was free a moment ago (for peers that cannot report the port they bound). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface Waiter {
  re: RegExp;
  resolve: (m: RegExpMatchArray) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A child whose stdout is read line by line in the background; stderr is kept for diagnostics.
 * Every child must end with `stop()` or `finished()` so its pipes are closed.
 */
export class Child {
  readonly proc: Deno.ChildProcess;
  readonly lines: string[] = [];
  stderr = "";
  #waiters: Waiter[] = [];
  #readers: Promise<void>;
  #name: string;

  constructor(cmd: string, args: string[], stdin: "piped" | "null" = "null") {
    this.#name = `${cmd} ${args.join(" ")}`;
    this.proc = new Deno.Command(cmd, {
      args,
      cwd: ROOT,
      stdin,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#readers = Promise.all([this.#readLines(), this.#readErr()]).then(() => {});
  }

  /** Runs a deno script of the repo (`--allow-all`, no prompt). */
  static deno(script: string, args: string[] = [], stdin: "piped" | "null" = "null"): Child {
    return new Child(Deno.execPath(), ["run", "--allow-all", script, ...args], stdin);
  }

  /** Resolves with the first stdout line (past or future) matching `re`. */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    for (const l of this.lines) {
      const m = l.match(re);
      if (m !== null) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        re,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          reject(new Error(`${this.#name}: no line matching ${re} (stderr: ${this.stderr})`));
        }, timeoutMs),
      };
      this.#waiters.push(w);
    });
  }

  /** Waits for `listening on HOST:PORT` and returns the port. */
  async listeningPort(): Promise<number> {
    const m = await this.waitFor(/^listening on (\S+):(\d+)$/);
    return Number(m[2]);
  }

  /** Sends `signal` (default SIGINT) and waits for the exit status and the end of its output. */
  async stop(signal: Deno.Signal = "SIGINT"): Promise<Deno.CommandStatus> {
    try {
      this.proc.kill(signal);
    } catch { /* already exited */ }
    return await this.finished();
  }

  /** Waits for the exit status and the end of its output. */
  async finished(timeoutMs = 30_000): Promise<Deno.CommandStatus> {
    // A watchdog, not a delay: a child that hangs is killed so the test fails instead of hanging.
    const timer = setTimeout(() => {
      try {
        this.proc.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }, timeoutMs);
    try {
      const st = await this.proc.status;
      await this.#readers;
      return st;
    } finally {
      clearTimeout(timer);
    }
  }

  async #readLines(): Promise<void> {
    let pending = "";
    for await (const text of this.proc.stdout.pipeThrough(new TextDecoderStream())) {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        this.#line(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    }
    if (pending !== "") this.#line(pending);
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`${this.#name} exited without a line matching ${w.re}: ${this.stderr}`));
    }
  }

  #line(l: string): void {
    this.lines.push(l);
    for (let i = 0; i < this.#waiters.length; i++) {
      const w = this.#waiters[i]!;
      const m = l.match(w.re);
      if (m === null) continue;
      clearTimeout(w.timer);
      this.#waiters.splice(i--, 1);
      w.resolve(m);
    }
  }

  async #readErr(): Promise<void> {
    for await (const text of this.proc.stderr.pipeThrough(new TextDecoderStream())) {
      if (this.stderr.length < 16384) this.stderr += text;
    }
  }
}

// Shared command-line handling for the examples: `--port N` and `--host H` anywhere.

/** Returns the value after `--name` (or `--name=value`), or `fallback`. */
export function flag(name: string, fallback: string): string {
  const args = Deno.args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}` && i + 1 < args.length) return args[i + 1]!;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return fallback;
}

/** `--port N`, defaulting to `fallback`. */
export function portFlag(fallback: number): number {
  const p = Number(flag("port", String(fallback)));
  if (!Number.isInteger(p) || p < 0 || p > 65535) {
    console.error(`bad --port ${p}`);
    Deno.exit(2);
  }
  return p;
}

/** Arguments that are not `--flag value` pairs. */
export function positional(valued: string[] = ["port", "host"]): string[] {
  const out: string[] = [];
  const args = Deno.args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("--")) {
      if (!a.includes("=") && valued.includes(a.slice(2))) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

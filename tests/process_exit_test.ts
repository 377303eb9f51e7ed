// Processes that must end by themselves once their loop has returned, with I/O still pending:
// each fixture runs as a child process and a watchdog kills it if it hangs.
import assert from "node:assert/strict";

async function assertExitsAlone(
  fixture: string,
  expect: RegExp,
  args: string[] = [],
): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", `tests/fixtures/${fixture}`, ...args],
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A watchdog, not a delay: a child that hangs is killed and the test fails.
  let killed = false;
  const watchdog = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, 15_000);
  const out = await child.output();
  clearTimeout(watchdog);
  assert.equal(killed, false, "the process did not exit by itself");
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(new TextDecoder().decode(out.stdout), expect);
}

Deno.test("the process exits once the loop has returned, with I/O still pending", async () => {
  await assertExitsAlone("exit_after_loop.ts", /loop returned/);
});

Deno.test("the same with bufferevents on Deno.Conn's read and write methods", async () => {
  await assertExitsAlone("exit_after_loop.ts", /loop returned/, ["--conn-io"]);
});

Deno.test("a DNS server port left open after the loop returns does not keep the process alive", async () => {
  await assertExitsAlone("dns_server_exit_after_loop.ts", /loop returned after 50 queries/);
});

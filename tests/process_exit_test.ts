import assert from "node:assert/strict";

Deno.test("the process exits once the loop has returned, with I/O still pending", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "tests/fixtures/exit_after_loop.ts"],
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
  assert.match(new TextDecoder().decode(out.stdout), /loop returned/);
});

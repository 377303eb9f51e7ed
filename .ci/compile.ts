// `deno task compile`: builds examples/echo.ts into dist/echo. `deno compile` downloads its
// runtime (denort) unless DENORT_BIN points at one; machines without internet cannot do that, so
// without DENORT_BIN this explains why and exits 0.
const denort = Deno.env.get("DENORT_BIN");
if (!denort) {
  console.log(
    "compile: skipped. `deno compile` needs the denort runtime, which it downloads from the " +
      "internet; set DENORT_BIN=/path/to/denort to build offline.",
  );
  Deno.exit(0);
}
const cmd = new Deno.Command(Deno.execPath(), {
  args: ["compile", "--allow-net", "--unstable-net", "-o", "dist/echo", "examples/echo.ts"],
  env: { DENORT_BIN: denort },
  stdout: "inherit",
  stderr: "inherit",
});
const { code } = await cmd.output();
Deno.exit(code);

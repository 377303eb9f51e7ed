// Interop with curl over HTTPS: examples/https_server.ts (certificate and key files written to a
// temp dir from the run-time test PKI) driven by `curl --cacert` for GET and POST; curl without
// the CA must fail verification. Skipped (with a message) when curl or openssl is missing.
import assert from "node:assert/strict";
import { testPki } from "../_tls.ts";
import { Child, haveBinary } from "./_spawn.ts";

const CURL = haveBinary("curl");
if (!CURL) console.log("curl not found: skipping curl HTTPS interop tests (apt-get install curl)");
const pki = CURL ? await testPki() : null;
if (CURL && pki === null) {
  console.log("openssl not found: skipping curl HTTPS interop tests (apt-get install openssl)");
}
const ignore = pki === null;

async function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "20", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

Deno.test({ name: "curl --cacert against examples/https_server.ts", ignore }, async () => {
  const dir = await Deno.makeTempDir({ prefix: "evdeno-https-" });
  let server: Child | null = null;
  try {
    await Deno.writeTextFile(`${dir}/cert.pem`, pki!.cert);
    await Deno.writeTextFile(`${dir}/key.pem`, pki!.key);
    await Deno.writeTextFile(`${dir}/ca.pem`, pki!.caCert);
    server = Child.deno("examples/https_server.ts", [
      "--cert",
      `${dir}/cert.pem`,
      "--key",
      `${dir}/key.pem`,
      "--port",
      "0",
    ]);
    const port = await server.listeningPort();
    const url = `https://localhost:${port}`;

    const get = await curl(["-i", "--cacert", `${dir}/ca.pem`, `${url}/hello/get`]);
    assert.equal(get.code, 0, get.err);
    assert.match(get.out, /^HTTP\/1\.1 200 Client is OK\r\n/);
    assert.match(get.out, /\r\n\r\nTest_Get is OK!$/);

    const post = await curl([
      "--cacert",
      `${dir}/ca.pem`,
      "--data-binary",
      "x".repeat(70_000),
      `${url}/hello/post`,
    ]);
    assert.equal(post.code, 0, post.err);
    assert.equal(post.out, "Test_post is OK! (70000 bytes)");

    // Two requests on one connection (keep-alive over TLS).
    const two = await curl([
      "-v",
      "--cacert",
      `${dir}/ca.pem`,
      `${url}/hello/get`,
      `${url}/hello/get`,
    ]);
    assert.equal(two.code, 0, two.err);
    assert.equal(two.out, "Test_Get is OK!Test_Get is OK!");
    assert.match(two.err, /Re-using existing connection|Reusing existing/i);

    // Without the CA, curl refuses the certificate (exit 60: peer certificate cannot be verified).
    const untrusted = await curl([`${url}/hello/get`]);
    assert.equal(untrusted.code, 60, untrusted.err);
    assert.equal(untrusted.out, "");

    // The server survived all of that.
    const again = await curl(["--cacert", `${dir}/ca.pem`, `${url}/hello/get`]);
    assert.equal(again.out, "Test_Get is OK!");

    const st = await server.stop("SIGINT");
    server = null;
    assert.equal(st.code, 0, "SIGINT shuts the example down cleanly");
  } finally {
    if (server !== null) await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

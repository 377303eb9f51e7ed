// Throwaway TLS material for tests: a CA and a localhost leaf, made with openssl at run time.

export interface TestPki {
  caCert: string;
  cert: string;
  key: string;
  /** A self-signed certificate nobody trusts. */
  rogueCert: string;
  rogueKey: string;
}

let cached: Promise<TestPki | null> | null = null;

async function run(args: string[], cwd: string): Promise<boolean> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  return out.code === 0;
}

async function make(): Promise<TestPki | null> {
  try {
    await new Deno.Command("openssl", { args: ["version"], stdout: "null" }).output();
  } catch {
    return null;
  }
  const dir = await Deno.makeTempDir({ prefix: "evdeno-pki-" });
  try {
    const ok = await run([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-subj",
      "/CN=evdeno test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
    ], dir) &&
      await run([
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
      ], dir) &&
      (await Deno.writeTextFile(
        `${dir}/ext.cnf`,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
          "extendedKeyUsage=serverAuth\n",
      ),
        true) &&
      await run([
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
      ], dir) &&
      await run([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        "rogue.key",
        "-out",
        "rogue.crt",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ], dir);
    if (!ok) return null;
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    return {
      caCert: await read("ca.crt"),
      cert: await read("leaf.crt"),
      key: await read("leaf.key"),
      rogueCert: await read("rogue.crt"),
      rogueKey: await read("rogue.key"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The test PKI, or null when openssl is missing (tests then skip, naming the package). */
export function testPki(): Promise<TestPki | null> {
  cached ??= make();
  return cached;
}

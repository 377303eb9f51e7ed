/**
 * Pure parsers for resolv.conf, /etc/hosts and nameserver address strings. Nothing here touches
 * the file system or throws on bad input: callers read the text and decide what a failure means.
 *
 * @module
 */

import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "./_addr.ts";

/** What a resolv.conf file says, in file order. @ignore */
export interface ResolvConf {
  /** `nameserver` addresses as written. */
  nameservers: string[];
  /** The search list: the last `domain` or `search` line wins, as in the resolver(5) rules. */
  search: string[] | null;
  /** `options` entries split into name (without the colon) and value (`null` without one). */
  options: [string, string | null][];
}

/**
 * A line without its comment (from `#`, or `;` too for resolv.conf). Not a regular expression:
 * `.*$` cannot cross the `\r` of a CRLF file, so comments there were kept (and a line of many
 * `#` backtracked quadratically).
 */
function stripComment(line: string, semicolon: boolean): string {
  let cut = line.indexOf("#");
  if (semicolon) {
    const sc = line.indexOf(";");
    if (sc >= 0 && (cut < 0 || sc < cut)) cut = sc;
  }
  return cut < 0 ? line : line.slice(0, cut);
}

/**
 * Parses resolv.conf text. Unknown directives (`sortlist`, `lookup`, …) are ignored; `#` and `;`
 * start comments.
 *
 * @ignore
 */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: null, options: [] };
  for (const raw of text.split("\n")) {
    const line = stripComment(raw, true).trim();
    if (line === "") continue;
    const words = line.split(/\s+/);
    const key = words[0];
    const rest = words.slice(1);
    if (key === "nameserver") {
      if (rest.length > 0) out.nameservers.push(rest[0]);
    } else if (key === "domain") {
      if (rest.length > 0) out.search = [rest[0]];
    } else if (key === "search") {
      out.search = rest;
    } else if (key === "options") {
      for (const opt of rest) {
        const colon = opt.indexOf(":");
        if (colon < 0) out.options.push([opt, null]);
        else out.options.push([opt.slice(0, colon), opt.slice(colon + 1)]);
      }
    }
  }
  return out;
}

/** One hosts-file name: its IPv4 and IPv6 addresses in file order. @ignore */
export interface HostsEntry {
  /** IPv4 addresses (text). */
  v4: string[];
  /** IPv6 addresses (canonical text). */
  v6: string[];
}

/**
 * Adds /etc/hosts-style lines (address, then names) to `into`, keyed by the lowercased name.
 * Lines whose address does not parse (or carries a port or zone) are skipped.
 *
 * @ignore
 */
export function parseHosts(text: string, into: Map<string, HostsEntry>): void {
  // Each name's addresses seen in this text: a Set per list instead of a scan per line.
  const seen = new Map<string[], Set<string>>();
  for (const raw of text.split("\n")) {
    const line = stripComment(raw, false).trim();
    if (line === "") continue;
    const words = line.split(/\s+/);
    if (words.length < 2) continue;
    const v4 = parseIpv4(words[0]);
    const v6 = v4 === null ? parseIpv6(words[0]) : null;
    if (v4 === null && v6 === null) continue;
    const addr = v4 !== null ? formatIpv4(v4) : formatIpv6(v6!);
    for (let i = 1; i < words.length; i++) {
      let name = words[i].toLowerCase();
      if (name.endsWith(".")) name = name.slice(0, -1);
      if (name === "") continue;
      let e = into.get(name);
      if (e === undefined) {
        e = { v4: [], v6: [] };
        into.set(name, e);
      }
      const list = v4 !== null ? e.v4 : e.v6;
      let set = seen.get(list);
      if (set === undefined) seen.set(list, set = new Set(list));
      if (!set.has(addr)) {
        set.add(addr);
        list.push(addr);
      }
    }
  }
}

/** A nameserver address: canonical host text (as Deno reports peers) and port. @ignore */
export interface ServerAddr {
  /** Canonical IP text. */
  hostname: string;
  /** UDP/TCP port. */
  port: number;
  /** 4 or 6. */
  family: 4 | 6;
}

/**
 * Parses `[v6]:port`, `[v6]`, `v6`, `v4:port` or `v4` (default port 53); null when unparsable.
 *
 * @ignore
 */
export function parseServerAddr(s: string): ServerAddr | null {
  s = s.trim();
  let host = s;
  let portText: string | null = null;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) return null;
    host = s.slice(1, close);
    const tail = s.slice(close + 1);
    if (tail !== "") {
      if (!tail.startsWith(":")) return null;
      portText = tail.slice(1);
    }
  } else {
    const colon = s.indexOf(":");
    // Exactly one colon means v4:port; more is bare IPv6.
    if (colon >= 0 && s.indexOf(":", colon + 1) < 0) {
      host = s.slice(0, colon);
      portText = s.slice(colon + 1);
    }
  }
  let port = 53;
  if (portText !== null) {
    if (!/^[0-9]{1,5}$/.test(portText)) return null;
    port = Number(portText);
    if (port < 1 || port > 65535) return null;
  }
  const v4 = parseIpv4(host);
  if (v4 !== null) return { hostname: formatIpv4(v4), port, family: 4 };
  const v6 = parseIpv6(host);
  if (v6 !== null) return { hostname: formatIpv6(v6), port, family: 6 };
  return null;
}

/** True for 127.0.0.0/8 and ::1 (libevent does not apply `bind-to` to them). @ignore */
export function isLoopback(a: ServerAddr): boolean {
  return a.family === 4 ? a.hostname.startsWith("127.") : a.hostname === "::1";
}

/**
 * Host header validation (DNS-rebinding protection) with the SDK's own
 * middleware. It compares hostnames only, so a Host header is accepted with
 * or without a port; entries in `server.allowedHosts` may carry a port too
 * (it is ignored) and IPv6 literals may be written with or without brackets.
 */
import { hostHeaderValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import type { RequestHandler } from 'express';

/** `example.com:8765` → `example.com`; `::1` → `[::1]`; lower-cased like URL parsing does. */
export function normalizeAllowedHost(entry: string): string {
  const e = entry.trim();
  if (e.includes(':') && !e.startsWith('[') && e.indexOf(':') !== e.lastIndexOf(':')) {
    return `[${e.toLowerCase()}]`; // bare IPv6
  }
  try {
    return new URL(`http://${e}`).hostname;
  } catch {
    return e.toLowerCase();
  }
}

export function hostCheck(allowedHosts: readonly string[]): RequestHandler {
  const names = [...new Set(allowedHosts.map(normalizeAllowedHost))];
  return hostHeaderValidation(names) as RequestHandler;
}

const LOOPBACK = new Set(['localhost', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

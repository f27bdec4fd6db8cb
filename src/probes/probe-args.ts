import { isIP } from 'node:net';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { AddressFamily } from '../triage/evidence-types.ts';

/**
 * Validators for every value a probe command template accepts. Probe commands carry only these
 * values (addresses, ports, counts, pids, fixed paths), never free text, so a bad value is
 * refused here before anything is built.
 */

function unsafe(message: string, details: Record<string, unknown>): WhyBlockedError {
  return new WhyBlockedError(ErrorCode.UnsafeArgument, message, { details });
}

function show(value: unknown): string {
  return JSON.stringify(typeof value === 'string' ? value.slice(0, 80) : String(value));
}

/** An IPv4 or IPv6 literal without zone or prefix; returns it unchanged. */
export function requireIp(value: unknown, what = 'address'): string {
  // node's isIP accepts a zone (fe80::1%eth0); a zone is interface text, never sent to a host.
  if (typeof value !== 'string' || value.includes('%') || isIP(value) === 0) {
    throw unsafe(`The ${what} ${show(value)} is not an IP address; give an IPv4 or IPv6 literal such as 192.0.2.10.`, { what });
  }
  return value;
}

export function familyOf(address: string): AddressFamily {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

export function requirePort(value: unknown, what = 'port'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw unsafe(`The ${what} ${show(value)} is not a TCP port; use an integer from 1 to 65535.`, { what });
  }
  return value;
}

export function requireInt(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw unsafe(`The ${what} ${show(value)} must be an integer from ${min} to ${max}.`, { what, min, max });
  }
  return value;
}

export function requirePid(value: unknown): number {
  return requireInt(value, 1, 4_194_304, 'process id');
}

/** Interface names as the kernel allows them (IFNAMSIZ 16, no slash or blank). */
export function requireIfaceName(value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.:@-]{1,15}$/.test(value) || value === '.' || value === '..') {
    throw unsafe(`The interface name ${show(value)} is not valid.`, { what: 'interface' });
  }
  return value;
}

/** Absolute paths read back from a host (e.g. /proc/PID/exe); conservative character set. */
export function requireAbsolutePath(value: unknown): string {
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9._+@/-]{0,4094}$/.test(value) || value.split('/').includes('..')) {
    throw unsafe(`The path ${show(value)} is not an absolute path made of safe characters.`, { what: 'path' });
  }
  return value;
}

/** Seconds for tools that take whole seconds (ping -W, nc -w); rounds up, at least 1. */
export function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

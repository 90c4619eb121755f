import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/** `TRUST_PROXY`: no proxy (false), any (true), a hop count, or the proxies' addresses / subnets / names. */
export type TrustProxySetting = boolean | number | string[];

/**
 * Parses `TRUST_PROXY`. Returns the setting, or a reason it is invalid. Address lists use proxy-addr's syntax (as
 * Express does): IPs, CIDR subnets and the names `loopback`, `linklocal`, `uniquelocal`, comma-separated.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxySetting | { problem: string } {
  const value = raw?.trim().toLowerCase();
  if (!value || ['false', '0', 'no', 'off'].includes(value)) {
    return false;
  }
  if (['true', 'yes', 'on'].includes(value)) {
    return true;
  }
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return hops <= 10 ? hops : { problem: `must be at most 10 hops (got ${hops})` };
  }
  const list = value.split(',').map((entry) => entry.trim());
  try {
    proxyaddr.compile(list);
    return list;
  } catch {
    return { problem: 'must be true, false, a hop count, or comma-separated proxy IPs, subnets or names' };
  }
}

/** The trust function for `setting` (the same one Express builds from its `trust proxy` setting). */
export function compileTrust(setting: TrustProxySetting): (address: string, hop: number) => boolean {
  if (setting === true) {
    return () => true;
  }
  if (setting === false) {
    return () => false;
  }
  if (typeof setting === 'number') {
    return (_address, hop) => hop < setting;
  }
  return proxyaddr.compile(setting);
}

/** The client's address as Express's `req.ip` computes it for the same setting, for handlers outside Express. */
export function clientAddress(req: IncomingMessage, trust: (address: string, hop: number) => boolean): string {
  return proxyaddr(req, trust);
}

import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where outgoing webhooks may go (SSRF care): http or https only, no credentials in the URL, and, unless the
 * configuration allows private hosts (development and tests do by default), never to loopback, private, link-local
 * (cloud metadata at 169.254.169.254) or unspecified addresses. Checked when an endpoint is registered and again on
 * every delivery against what the name resolves to then, so a name re-pointed at an internal address is refused too.
 */

const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 127],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

export const MAX_ENDPOINT_URL_LENGTH = 2048;

function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) {
    return PRIVATE.check(mapped[1], 'ipv4');
  }
  return PRIVATE.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** Why `text` cannot be an endpoint's URL, or null when it can (before name resolution). */
export function endpointUrlProblem(text: string, allowPrivateHosts: boolean): string | null {
  if (text.length > MAX_ENDPOINT_URL_LENGTH) {
    return `is longer than ${MAX_ENDPOINT_URL_LENGTH} characters`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return 'must use http or https';
  }
  if (url.username || url.password) {
    return 'must not carry credentials';
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (
    !allowPrivateHosts &&
    (host === 'localhost' || host.endsWith('.localhost') || (isIP(host) && isPrivateAddress(host)))
  ) {
    return 'points at a private or loopback address';
  }
  return null;
}

/** Refuses a delivery whose host resolves to a private address (unless allowed); throws with the reason. */
export async function assertPublicDestination(text: string, allowPrivateHosts: boolean): Promise<void> {
  const problem = endpointUrlProblem(text, allowPrivateHosts);
  if (problem) {
    throw new Error(`endpoint URL ${problem}`);
  }
  if (allowPrivateHosts) {
    return;
  }
  const host = new URL(text).hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [{ address: host }] : await lookup(host, { all: true });
  if (addresses.some((a) => isPrivateAddress(a.address))) {
    throw new Error('endpoint host resolves to a private or loopback address');
  }
}

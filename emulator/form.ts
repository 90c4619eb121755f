/**
 * Stripe's form encoding: `a=1&b[c]=2&d[0]=x&d[]=y&metadata[k]=v`.
 * Keys with brackets nest; objects whose keys are all indexes (or `[]`) become arrays.
 */
export type FormValue = string | FormObject | FormValue[];
export interface FormObject {
  [key: string]: FormValue;
}

function decode(text: string): string {
  if (!text.includes('%') && !text.includes('+')) {
    // Most keys and values (ids, amounts, `limit`): nothing to decode.
    return text;
  }
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

function splitKey(key: string): string[] | null {
  const open = key.indexOf('[');
  if (open === -1) {
    return [key];
  }
  const parts = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/gy;
  re.lastIndex = open;
  let m: RegExpExecArray | null;
  while ((m = re.exec(key))) {
    parts.push(m[1]);
    if (re.lastIndex === key.length) {
      return parts;
    }
  }
  return null;
}

/** Keys that would reach Object.prototype; such pairs are ignored. */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 12;

/** Counter used to give `[]` entries increasing pseudo-indexes. */
const PUSH = '\u0000push';

export function parseForm(body: string): FormObject {
  const root: FormObject = {};
  if (!body) {
    return root;
  }
  let pushes = 0;
  for (const pair of body.split('&')) {
    if (!pair) {
      continue;
    }
    const eq = pair.indexOf('=');
    const rawKey = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = decode(eq === -1 ? '' : pair.slice(eq + 1));
    const path = splitKey(rawKey) ?? [rawKey];
    if (path.length > MAX_DEPTH || path.some((seg) => UNSAFE_KEYS.has(seg))) {
      continue;
    }
    let node: FormObject = root;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i] === '' && i > 0 ? `${PUSH}${String(pushes++).padStart(8, '0')}` : path[i];
      if (i === path.length - 1) {
        node[seg] = value;
      } else {
        const next = Object.prototype.hasOwnProperty.call(node, seg) ? node[seg] : undefined;
        if (typeof next !== 'object' || Array.isArray(next)) {
          node[seg] = {};
        }
        node = node[seg] as FormObject;
      }
    }
  }
  return normalize(root, '') as FormObject;
}

function normalize(value: FormValue, parentKey: string): FormValue {
  if (typeof value === 'string' || Array.isArray(value)) {
    return value;
  }
  const keys = Object.keys(value);
  for (const k of keys) {
    value[k] = normalize(value[k], k);
  }
  const isArray =
    parentKey !== 'metadata' && keys.length > 0 && keys.every((k) => k.startsWith(PUSH) || /^\d+$/.test(k));
  if (!isArray) {
    return value;
  }
  return keys
    .map((k) => ({ k, order: k.startsWith(PUSH) ? 1e9 + Number(k.slice(PUSH.length)) : Number(k) }))
    .sort((a, b) => a.order - b.order)
    .map(({ k }) => value[k]);
}

/** Canonical form of parsed parameters, to compare two requests made with one idempotency key. */
export function canonical(value: FormValue): string {
  if (typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(',')}]`;
  }
  return `{${Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
    .join(',')}}`;
}

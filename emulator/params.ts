import type { FormObject, FormValue } from './form';
import { paramInvalid, paramMissing, paramUnknown } from './errors';

/** Reject parameters an endpoint does not accept, as Stripe does (`parameter_unknown`). */
export function allowOnly(p: FormObject, allowed: readonly string[]): void {
  for (const key of Object.keys(p)) {
    if (!allowed.includes(key)) {
      throw paramUnknown(key);
    }
  }
}

export function str(p: FormObject, name: string): string | undefined {
  const v = p[name];
  if (v === undefined) {
    return undefined;
  }
  if (typeof v !== 'string') {
    throw paramInvalid(name, `Invalid string: ${name} must be a string`, 'parameter_invalid_string');
  }
  return v;
}

export function requireStr(p: FormObject, name: string): string {
  const v = str(p, name);
  if (v === undefined || v === '') {
    throw paramMissing(name);
  }
  return v;
}

export function int(p: FormObject, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined || v === '') {
    return undefined;
  }
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw paramInvalid(name, `Invalid integer: ${v}`, 'parameter_invalid_integer');
  }
  return Number(v);
}

export function bool(p: FormObject, name: string): boolean | undefined {
  const v = str(p, name);
  if (v === undefined || v === '') {
    return undefined;
  }
  if (v !== 'true' && v !== 'false') {
    throw paramInvalid(name, `Invalid boolean: ${v}`);
  }
  return v === 'true';
}

export function oneOf<T extends string>(p: FormObject, name: string, values: readonly T[]): T | undefined {
  const v = str(p, name);
  if (v === undefined) {
    return undefined;
  }
  if (!(values as readonly string[]).includes(v)) {
    throw paramInvalid(name, `Invalid ${name}: must be one of ${values.join(', ')}`);
  }
  return v as T;
}

/** `expand[]` values (`expand[0]=customer`). */
export function expandList(p: FormObject): string[] {
  const v = p.expand;
  if (v === undefined) {
    return [];
  }
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is string => typeof x === 'string');
}

export function strList(p: FormObject, name: string): string[] | undefined {
  const v: FormValue | undefined = p[name];
  if (v === undefined) {
    return undefined;
  }
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => typeof x === 'string')) {
    throw paramInvalid(name, `Invalid array: ${name}`);
  }
  return list as string[];
}

/**
 * Metadata update as Stripe applies it: `metadata=''` clears all keys, `metadata[k]=''` removes k.
 * Limits: 50 keys, key ≤ 40 chars, value ≤ 500 chars.
 */
export function applyMetadata(current: Record<string, string>, p: FormObject): Record<string, string> {
  const v = p.metadata;
  if (v === undefined) {
    return current;
  }
  if (v === '') {
    return {};
  }
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw paramInvalid('metadata', 'Invalid metadata: must be a hash');
  }
  const next = { ...current };
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') {
      throw paramInvalid(`metadata[${k}]`, 'Metadata values must be strings');
    }
    if (k.length > 40) {
      throw paramInvalid(`metadata[${k}]`, 'Metadata keys can have up to 40 characters');
    }
    if (val.length > 500) {
      throw paramInvalid(`metadata[${k}]`, 'Metadata values can have up to 500 characters');
    }
    if (val === '') {
      delete next[k];
    } else {
      next[k] = val;
    }
  }
  if (Object.keys(next).length > 50) {
    throw paramInvalid('metadata', 'Metadata can have up to 50 keys');
  }
  return next;
}

/** `created[gte]=…` style range filter (or an exact integer). */
export function rangeFilter(p: FormObject, name: string): ((value: number) => boolean) | undefined {
  const v = p[name];
  if (v === undefined) {
    return undefined;
  }
  if (typeof v === 'string') {
    const exact = int(p, name);
    return (x) => x === exact;
  }
  if (Array.isArray(v)) {
    throw paramInvalid(name, `Invalid ${name}`);
  }
  const bounds: Array<[string, number]> = [];
  for (const op of Object.keys(v)) {
    if (!['gt', 'gte', 'lt', 'lte'].includes(op)) {
      throw paramUnknown(`${name}[${op}]`);
    }
    const n = int(v, op);
    if (n !== undefined) {
      bounds.push([op, n]);
    }
  }
  return (x) => bounds.every(([op, n]) => (op === 'gt' ? x > n : op === 'gte' ? x >= n : op === 'lt' ? x < n : x <= n));
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../config/clock';
import type { MetricAggregation } from '../../entities/enums';
import { activeMetrics } from './usage-repository';

/** An active metric of the catalogue, by code. */
export interface CatalogueMetric {
  id: string;
  aggregation: MetricAggregation;
}

/**
 * What the catalogue says of a metric code: the active metric, `unknown` (no active metric has it), or `later`
 * (the catalogue could not be read: the JetStream intake accepts the event and its writer checks the metric).
 */
export type MetricLookup = (code: string) => CatalogueMetric | 'unknown' | 'later';

/** Looks codes up in the active metrics as read from the database. */
export function catalogueLookup(rows: ReadonlyArray<{ id: string; code: string; aggregation: MetricAggregation }>) {
  const metrics = new Map(rows.map((m) => [m.code, { id: m.id, aggregation: m.aggregation }]));
  return (code: string): CatalogueMetric | 'unknown' => metrics.get(code) ?? 'unknown';
}

/** The longest an intake request waits for the catalogue before it accepts unknown codes for the writer to check. */
const CATALOGUE_READ_BOUND_MS = 1_000;
/** A catalogue older than this is read again (a metric deactivated meanwhile is caught by the writer). */
const CATALOGUE_MAX_AGE_MS = 60_000;

/**
 * The catalogue as the JetStream intake last read it, so validation needs no database while the codes are known: a
 * code it does not hold (a new metric, a typo) or an old catalogue makes it read again, bounded in time; when the
 * database does not answer, codes it does not know are `later` (checked by the writer) instead of refused.
 */
export class MetricCatalogueCache {
  private known = new Map<string, CatalogueMetric>();
  private readAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: Clock) {}

  async lookup(em: EntityManager, codes: readonly unknown[]): Promise<MetricLookup> {
    const stale = this.clock.now() - this.readAt > CATALOGUE_MAX_AGE_MS;
    const missing = codes.some((code) => typeof code === 'string' && !this.known.has(code));
    let fresh = !stale && !missing;
    if (!fresh) {
      fresh = await this.read(em);
    }
    const known = this.known;
    return (code) => known.get(code) ?? (fresh ? 'unknown' : 'later');
  }

  private async read(em: EntityManager): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), CATALOGUE_READ_BOUND_MS);
    });
    try {
      const rows = await Promise.race([activeMetrics(em.fork()).catch(() => undefined), bound]);
      if (!rows) {
        return false;
      }
      const lookup = catalogueLookup(rows);
      this.known = new Map(rows.map((row) => [row.code, lookup(row.code) as CatalogueMetric]));
      this.readAt = this.clock.now();
      return true;
    } finally {
      clearTimeout(timer);
    }
  }
}

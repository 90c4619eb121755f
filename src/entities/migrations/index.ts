import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126065146 } from './Migration20261126065146';

/** Every migration in order. `npm run migration:create` writes a new file; add it here. */
export const MIGRATIONS: MigrationObject[] = [{ name: 'Migration20261126065146', class: Migration20261126065146 }];

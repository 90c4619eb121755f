/**
 * Status constants in SQL text. Repositories write statuses from the enums of `src/entities/enums.ts`, never as
 * literals (a unit test, `tests/sql-status-literals.test.ts`, keeps it so). A constant is interpolated rather than
 * bound where the statement's text must stay as it was: inside `case`, `in (…)` lists and shared fragments a bound
 * parameter would be typed `text` and need a cast to the column's enum type.
 */

const CONSTANT = /^[A-Za-z_]+$/;

/** `'pending'`: an enum value as a SQL string literal. Only letters and underscores: anything else is bound. */
export function sqlText(value: string): string {
  if (!CONSTANT.test(value)) {
    throw new Error(`not a status constant: ${JSON.stringify(value)}`);
  }
  return `'${value}'`;
}

/** `'VOID', 'DRAFT'`: enum values for an `in (…)` list. */
export function sqlList(...values: string[]): string {
  if (values.length === 0) {
    throw new Error('an empty in-list');
  }
  return values.map(sqlText).join(', ');
}

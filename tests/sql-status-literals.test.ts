import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import {
  BillingRunItemStatus,
  BillingRunStatus,
  InvoiceStatus,
  PaymentAttemptStatus,
  WebhookEventStatus,
} from '../src/entities/enums';
import { sqlList, sqlText } from '../src/services/shared/sql-values';

/**
 * SQL names statuses through the enums of `src/entities/enums.ts` (repositories interpolate them with `sqlText` or
 * bind them), never as literals: a renamed or added status is then one edit, and the compiler finds every use.
 * This scans every string and template literal under `src/` (migrations excepted: they are history) that reads like
 * SQL for a quoted status value.
 */
const ROOT = join(__dirname, '..');
const STATUSES = [
  ...new Set<string>([
    ...Object.values(InvoiceStatus),
    ...Object.values(PaymentAttemptStatus),
    ...Object.values(WebhookEventStatus),
    ...Object.values(BillingRunStatus),
    ...Object.values(BillingRunItemStatus),
  ]),
];
const SQL = /\b(select|insert\s+into|update\s+\w+|delete\s+from|where|set)\b|\bstatus\s*(=|<>|!=|in\b|not\s+in\b)/i;
const QUOTED_STATUS = new RegExp(`'(${STATUSES.join('|')})'`, 'g');

/** The text of a string or template literal (substitutions as `${}`), or undefined for any other node. */
function literalText(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
    return node.text;
  }
  if (ts.isTemplateExpression(node)) {
    return [node.head.text, ...node.templateSpans.map((span) => '${}' + span.literal.text)].join('');
  }
  return undefined;
}

/** `file:line: 'STATUS', …` for every literal that reads like SQL and quotes a status. */
export function statusLiteralsInSql(fileName: string, source: string): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    const text = literalText(node);
    if (text !== undefined && SQL.test(text)) {
      const statuses = text.match(QUOTED_STATUS);
      if (statuses) {
        const line = file.getLineAndCharacterOfPosition(node.getStart()).line + 1;
        found.push(`${fileName}:${line}: ${statuses.join(', ')}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      return entry.name === 'migrations' ? [] : sourceFiles(path);
    }
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('statuses in SQL', () => {
  it('are never spelled as literals under src/', () => {
    const found = sourceFiles(join(ROOT, 'src')).flatMap((path) =>
      statusLiteralsInSql(relative(ROOT, path), readFileSync(path, 'utf8')),
    );
    expect(found).toEqual([]);
  });

  it('the scan finds a literal in a string, a template and a fragment, and accepts the enums', () => {
    const source = [
      "const a = `select id from invoices where status <> 'VOID'`;",
      "const b = 'update webhook_events set status = \\'pending\\' where id = ?';",
      "const c = `count(*) filter (where status in ('done', ${x}))`;",
      'const d = `case when status = ${sqlText(S.PENDING)} then 1 end`;',
      "const e = { kind: 'paid', note: 'pending' };",
    ].join('\n');
    expect(statusLiteralsInSql('sample.ts', source)).toEqual([
      "sample.ts:1: 'VOID'",
      "sample.ts:2: 'pending'",
      "sample.ts:3: 'done'",
    ]);
  });
});

describe('sqlText', () => {
  it('quotes an enum value, and lists several', () => {
    expect(sqlText(InvoiceStatus.VOID)).toBe("'VOID'");
    expect(sqlList(InvoiceStatus.VOID, InvoiceStatus.DRAFT)).toBe("'VOID', 'DRAFT'");
  });

  it('refuses anything that is not a bare constant (that would be a value to bind)', () => {
    expect(() => sqlText("x' or '1'='1")).toThrow();
    expect(() => sqlText('')).toThrow();
    expect(() => sqlList()).toThrow();
  });
});

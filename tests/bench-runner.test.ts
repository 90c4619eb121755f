import path from 'node:path';
import * as prettier from 'prettier';
import {
  TABLE_END,
  TABLE_START,
  combine,
  formatPage,
  keptRows,
  meets,
  parseRow,
  renderTable,
  withTable,
} from '../scripts/bench';

const row = (over: Record<string, unknown> = {}): string =>
  `BENCH_ROW ${JSON.stringify({
    bench: 'ingest',
    path: 'usage over HTTP',
    figure: 5000,
    unit: 'events/s',
    baseline: 'COPY',
    baselineFigure: 10000,
    ratio: 0.5,
    target: '≥ 0.50×',
    rssMb: 150,
    ...over,
  })}`;

describe('npm run bench (scripts/bench.ts)', () => {
  it('reads the BENCH_ROW lines of the contract and refuses the ones the table cannot use', () => {
    expect(parseRow(row())).toMatchObject({ bench: 'ingest', figure: 5000, ratio: 0.5, target: '≥ 0.50×' });
    expect(parseRow(row({ baseline: null, baselineFigure: null, ratio: null, target: null }))).toMatchObject({
      baseline: null,
      ratio: null,
      target: null,
    });
    expect(parseRow('BENCH_ROW {"bench":"x"')).toBeNull();
    expect(parseRow(row({ figure: '5000' }))).toBeNull();
  });

  it('judges a target on the ratio when it ends in ×, on the figure otherwise', () => {
    expect(meets({ figure: 1, ratio: 0.9, target: '≥ 0.85×' })).toBe(true);
    expect(meets({ figure: 1, ratio: 0.8, target: '≥ 0.85×' })).toBe(false);
    expect(meets({ figure: 5200, ratio: null, target: '≥ 5000/s' })).toBe(true);
    expect(meets({ figure: 1.2, ratio: null, target: '< 1 %' })).toBe(false);
    expect(meets({ figure: 40, ratio: null, target: '≤ 50 ms' })).toBe(true);
    expect(meets({ figure: 40, ratio: null, target: null })).toBeNull();
    expect(meets({ figure: 40, ratio: null, target: '≥ 0.85×' })).toBeNull();
  });

  it('takes the median of each row over the rounds', () => {
    const rows = [0.4, 0.6, 0.5].map((ratio, i) => parseRow(row({ ratio, figure: 4000 + 500 * i }))!);
    const [combined] = combine([...rows, parseRow(row({ path: 'other' }))!]);
    expect(combined).toMatchObject({ path: 'usage over HTTP', ratio: 0.5, figure: 4500, rounds: 3 });
    expect(renderTable([combined], true)).toContain('| 0.50× | ≥ 0.50× | yes | 150 MB |');
  });

  it('writes the table between its markers and keeps the text around it', () => {
    const page = `# Benchmarks\n\nintro\n\n${TABLE_START}\nold table\n${TABLE_END}\n\n## Usage\n\nhand-written\n`;
    const written = withTable(page, 'new table');
    expect(written).toContain('intro');
    expect(written).toContain('## Usage\n\nhand-written');
    expect(written).toContain('new table');
    expect(written).not.toContain('old table');
    expect(withTable(written, 'newer')).toBe(written.replace('new table', 'newer'));
  });

  it('writes a page that format:check accepts (the table padded as prettier pads it)', async () => {
    const rows = [
      parseRow(row({ ratio: 0.5 }))!,
      parseRow(row({ path: 'a much longer path than the other', ratio: 1.25 }))!,
    ];
    const table = renderTable(combine(rows), true);
    const filepath = path.join(__dirname, '..', 'docs', 'benchmarks.md');
    const page = await formatPage(withTable(`# Benchmarks\n\n${TABLE_START}\n${TABLE_END}\n`, table), filepath);
    expect(await prettier.check(page, { ...(await prettier.resolveConfig(filepath)), filepath })).toBe(true);
    expect(page).toContain('a much longer path than the other');
  });

  it('keeps the rows of the benchmarks a run of some (--only) did not run, with when they were measured', async () => {
    const filepath = path.join(__dirname, '..', 'docs', 'benchmarks.md');
    const first = [
      'Measured 2026-12-01 10:00 UTC by `npm run bench`, medians of 3 round(s).',
      '',
      'Machine: a machine.',
      '',
      renderTable(combine([parseRow(row())!, parseRow(row({ bench: 'month', path: 'old month', figure: 9 }))!]), true),
    ].join('\n');
    const page = await formatPage(withTable(`# Benchmarks\n\n${TABLE_START}\n${TABLE_END}\n`, first), filepath);

    // Only `month` ran: its new row replaces its old one, `ingest`'s row stays with the first run's date.
    const kept = keptRows(page, new Set(['month']));
    expect(kept.rows).toHaveLength(1);
    expect(kept.rows[0]).toContain('usage over HTTP');
    expect(kept.notes).toEqual([
      '- `ingest`: Measured 2026-12-01 10:00 UTC by `npm run bench`, medians of 3 round(s). Machine: a machine.',
    ]);
    const second = [
      'Measured 2026-12-02 10:00 UTC by `npm run bench -- --only month`.',
      '',
      renderTable(combine([parseRow(row({ bench: 'month', path: 'new month', figure: 7 }))!]), true, kept.rows),
      '',
      ...kept.notes,
    ].join('\n');
    const rewritten = await formatPage(withTable(page, second), filepath);
    expect(rewritten).toContain('new month');
    expect(rewritten).not.toContain('old month');
    expect(rewritten).toMatch(/\| ingest +\| usage over HTTP/);
    // A later run of `month` again carries `ingest`'s note as it was, not the second run's date.
    expect(keptRows(rewritten, new Set(['month'])).notes).toEqual(kept.notes);
    // Benchmarks measured by the same run share one note: a row without a note of its own is the table's run's.
    const third = keptRows(rewritten.replace(/\| ingest( +)\|/, '| billing$1|\n| ingest$1|'), new Set());
    expect(third.notes).toEqual([
      '- `billing`, `month`: Measured 2026-12-02 10:00 UTC by `npm run bench -- --only month`.',
      '- `ingest`: Measured 2026-12-01 10:00 UTC by `npm run bench`, medians of 3 round(s). Machine: a machine.',
    ]);
  });
});

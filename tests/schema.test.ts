import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { getNamedType, isInputObjectType, isUnionType, printSchema } from 'graphql';
import { buildAppSchema } from '../src/resolvers';

const root = path.resolve(__dirname, '..');

describe('generated artefacts are committed and current', () => {
  it('src/schema/schema.graphql matches the schema built from code (run `npm run codegen`)', async () => {
    const committed = readFileSync(path.join(root, 'src/schema/schema.graphql'), 'utf8');
    expect(committed).toBe(`${printSchema(await buildAppSchema())}\n`);
  });

  it('tests/generated/graphql.ts and the dashboard’s types match codegen output (run `npm run codegen`)', async () => {
    // graphql-codegen loads ES modules that jest's CommonJS runtime cannot; run it in plain Node, writing nothing.
    const script = `
      const { generate, loadCodegenConfig } = require('@graphql-codegen/cli');
      loadCodegenConfig({ configFilePath: 'codegen.yml' })
        .then(({ config }) => generate({ ...config, cwd: process.cwd(), silent: true }, false))
        .then((outputs) => process.stdout.write(JSON.stringify(outputs)));`;
    const run = spawnSync(process.execPath, ['-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(run.stderr).toBe('');
    const outputs = JSON.parse(run.stdout) as Array<{ filename: string; content: string }>;
    // codegen writes its outputs concurrently: the order they come back in is not theirs to keep.
    const files = ['dashboard/src/generated/graphql.ts', 'tests/generated/graphql.ts'];
    const generated = [...outputs].sort((a, b) => a.filename.localeCompare(b.filename));
    expect(generated.map((o) => o.filename)).toEqual(files);
    generated.forEach((output, i) => expect(output.content).toBe(readFileSync(path.join(root, files[i]), 'utf8')));
  });
});

describe('public names are the domain’s', () => {
  /** Every named type a client can see, without GraphQL's own (`__Type`…). */
  const publicTypes = async () =>
    Object.values((await buildAppSchema()).getTypeMap()).filter((type) => !type.name.startsWith('__'));

  it('no type is named after a class (no `Type`, `Entity` or `Dto` suffix)', async () => {
    const classy = (await publicTypes()).map((t) => t.name).filter((name) => /(Type|Entity|Dto)$/.test(name));
    expect(classy).toEqual([]);
  });

  it('inputs, and only inputs, end in `Input`', async () => {
    for (const type of await publicTypes()) {
      expect({ name: type.name, input: isInputObjectType(type) }).toEqual({
        name: type.name,
        input: type.name.endsWith('Input'),
      });
    }
  });

  it('every mutation answers an outcome: an invoice-like object, a union of outcomes, or a named result', async () => {
    const mutations = (await buildAppSchema()).getMutationType()?.getFields() ?? {};
    for (const field of Object.values(mutations)) {
      const type = getNamedType(field.type);
      expect({ field: field.name, named: type.name }).toEqual({
        field: field.name,
        named: expect.not.stringMatching(/Type$/),
      });
      if (isUnionType(type)) {
        expect({ field: field.name, union: type.name }).toEqual({
          field: field.name,
          union: expect.stringMatching(/Result$/),
        });
      }
    }
  });
});

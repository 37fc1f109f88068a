/**
 * Compiles test/types/wire-sync.ts with the TypeScript compiler (in process): it fails when the
 * client's wire types and @matchcast/protocol's diverge (jest's transform does not type-check).
 */
import { join, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '..', '..', '..', '..');

it('the client’s wire types are @matchcast/protocol’s', () => {
  const file = join(__dirname, '..', 'types', 'wire-sync.ts');
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')],
    baseUrl: ROOT,
    paths: { '@matchcast/protocol': ['packages/protocol/src'] },
  });
  // Each as `<the failing line>: <message>`, so the report names the type that diverged.
  const errors = ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.text.split('\n')[line]!.trim()}: ${text}`;
  });
  expect(errors).toEqual([]);
});

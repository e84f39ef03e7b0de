import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The house's import rules as the editor shows them while an import is typed. The authority is
 * test/unit/architecture.test.ts (it reads resolved files); these patterns read the import text.
 */
const ENGINE_PACKAGES = 'onnxruntime-node|onnx-buf|@bufbuild/protobuf|@huggingface/tokenizers|pngjs|jpeg-js';
const FRONT_ENDS = '(^|/)(cli|host|worker|shared|experiments)/|(^|/)extension$';
const forbid = (files, regex, message, allowTypeImports = false, ignores = []) => ({
  files,
  ignores,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ regex, message, allowTypeImports }] }] },
});

const houseRules = [
  forbid(['src/engine/base/**/*.ts'], `(^|/)(measure|model|run)/|${FRONT_ENDS}|^(vscode|${ENGINE_PACKAGES})$`,
    'engine/base imports nothing above it (base → measure → model → run).'),
  forbid(['src/engine/measure/**/*.ts'], `(^|/)(model|run)/|${FRONT_ENDS}|^(vscode|${ENGINE_PACKAGES})$`,
    'engine/measure imports only engine/base (base → measure → model → run).'),
  forbid(['src/engine/model/**/*.ts'], `(^\\.\\./|/)run/|^\\.\\./\\.\\./run/|${FRONT_ENDS}|^(vscode|onnxruntime-node)$`,
    'engine/model reads models without running them: no engine/run, no ONNX Runtime, no front end.'),
  forbid(['src/engine/run/**/*.ts'], `${FRONT_ENDS}|^vscode$`, 'The engine imports no front end and no experiment.'),
  forbid(['src/experiments/*/run.ts'], `(^|/)(cli|host|worker|shared)/|/view$|^vscode$`,
    'A worker half imports the engine and other worker halves, never a front end.'),
  forbid(['src/experiments/**/*.ts'], `(^|/)engine/run/|(^|/)run$|/runners$|(^|/)(cli|host|worker)/|^(vscode|${ENGINE_PACKAGES})$`,
    'A front half holds no engine values (types are fine): the extension host loads it.', true, ['src/experiments/*/run.ts', 'src/experiments/runners.ts']),
  forbid(['src/host/**/*.ts', 'src/extension.ts'], `(^|/)engine/run/|/experiments/[^/]+/run$|/runners$|(^|/)cli/|^(${ENGINE_PACKAGES})$`,
    'The extension host runs no model: the engine process does (types are fine).', true),
  forbid(['src/cli/**/*.ts'], `(^|/)engine/run/|/experiments/[^/]+/run$|/runners$|(^|/)host/|^(vscode|${ENGINE_PACKAGES})$`,
    'The command line asks the engine process to run models (types are fine).', true),
  forbid(['webview/**/*.ts'], `src/(?!shared/|engine/measure/)|^(vscode|${ENGINE_PACKAGES})$`,
    'The webview takes values only from src/shared and src/engine/measure (types are fine).', true),
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'demo/**', 'scratch/**', 'bench-results/**', '.test-work/**', '.vscode-run/**', 'test/vscode/host/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { __dirname: 'readonly', __filename: 'readonly', process: 'readonly', performance: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'max-len': ['error', { code: 160, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true }],
    },
  },
  ...houseRules,
);

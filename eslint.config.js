// Lint holds the boundaries of docs/architecture (../shared/design/architecture.md): a pure core,
// features that depend one way, no `any` in the core. Formatting is Prettier's (.prettierrc.json).
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/**
 * Feature folders under src/modules, in dependency order: a feature may import only features
 * listed before it, so no two features import each other and there is no cycle among them.
 */
const FEATURES = [
  'auth',
  'tenants',
  'inventory',
  'webhooks',
  'orders',
  'ledger',
  'leases',
  'market',
  'dispatch',
  'agent-gateway',
  'providers',
  'bids',
  'quotes',
  'services',
  'market-api',
  'reports',
  'retention',
  'health',
  'dashboard',
  'demo',
];

const CORE_FORBIDDEN = [
  {
    group: ['@nestjs/*', 'typeorm', 'bullmq', 'ioredis', 'pg', 'express', '@kubernetes/*', 'undici'],
    message: 'src/core is pure: no framework or I/O (architecture.md).',
  },
  {
    group: [
      'node:fs',
      'node:fs/*',
      'node:http',
      'node:https',
      'node:net',
      'node:child_process',
      'node:worker_threads',
      'node:dgram',
      'node:dns',
      'fs',
      'http',
      'child_process',
    ],
    message: 'src/core is pure: no I/O; take what you need as arguments.',
  },
  {
    group: ['**/modules/**', '**/platform/**', '**/cli/**', '**/agent/**', '**/simulation/load-*'],
    message: 'src/core depends on nothing outside it.',
  },
];

const featureRules = FEATURES.slice(0, -1).map((feature, index) => ({
  files: [`src/modules/${feature}/**/*.ts`],
  ignores: ['**/*.test.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            // The specifier as written: '../market/x.js' from a sibling, '../../modules/market/x.js' from elsewhere.
            regex: `^(\\.\\./)+(modules/)?(${FEATURES.slice(index + 1).join('|')})/`,
            message: `${feature} comes before these features in eslint.config.js: features depend one way.`,
          },
        ],
      },
    ],
  },
}));

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'artifacts/**',
      'coverage/**',
      '.data/**',
      'src/modules/dashboard/public/**',
    ],
  },
  // Prettier formats; its config only turns off rules that fight it, so it comes first and max-len stays.
  prettier,
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { ecmaVersion: 2023, sourceType: 'module' } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      'no-debugger': 'error',
      'no-var': 'error',
      'prefer-const': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', ignoreRestSiblings: true, caughtErrors: 'none' }],
      'max-len': [
        'error',
        {
          code: 120,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
          ignoreUrls: true,
          ignoreComments: false,
        },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    ignores: ['**/*.test.ts', '**/*.test-helpers.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: CORE_FORBIDDEN }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // The clearing is handed its solver (clearRound's `backend`); the backends depend on it, not it on them.
    files: ['src/core/clearing/**/*.ts'],
    ignores: ['**/*.test.ts', '**/*.test-helpers.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...CORE_FORBIDDEN,
            {
              group: ['**/solvers/**'],
              message:
                'src/core/clearing takes a SolverBackend; the backends in src/core/solvers import it, not the reverse.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/platform/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/modules/**', '**/cli/**'],
              message: 'platform serves the features; it does not import them.',
            },
          ],
        },
      ],
    },
  },
  {
    // Services orchestrate; every statement they run lives in a repository (architecture.md), so a
    // service reads as decisions and the SQL can be read, and changed, in one place per table set.
    files: ['src/modules/**/*.service.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='query']",
          message: 'SQL belongs in a repository (*.repository.ts)',
        },
        {
          selector: "CallExpression[callee.name='updateReturning']",
          message: 'SQL belongs in a repository (*.repository.ts)',
        },
      ],
    },
  },
  ...featureRules,
);

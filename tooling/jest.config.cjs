// Shared Jest setup for every package: TypeScript is transformed by SWC without
// type-checking (that is the `typecheck` task), and @micro/* imports resolve to
// the workspace sources so tests never wait for a build.
const path = require('node:path');

const packagesDir = path.resolve(__dirname, '../packages');

/** @param {string} packageDir the directory of the package's jest.config.cjs */
module.exports = function jestConfig(packageDir) {
  const common = {
    rootDir: packageDir,
    testEnvironment: 'node',
    transform: {
      '^.+\\.(t|j)s$': [
        '@swc/jest',
        {
          jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
          module: { type: 'commonjs' },
          sourceMaps: 'inline',
        },
      ],
    },
    moduleNameMapper: {
      '^@micro/([a-z0-9-]+)$': `${packagesDir}/$1/src/index.ts`,
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    modulePathIgnorePatterns: ['<rootDir>/dist/'],
  };
  return {
    projects: [
      {
        ...common,
        displayName: 'unit',
        testRegex: '(?<!\\.integration)\\.test\\.ts$',
      },
      {
        ...common,
        displayName: 'integration',
        testRegex: '\\.integration\\.test\\.ts$',
      },
    ],
  };
};

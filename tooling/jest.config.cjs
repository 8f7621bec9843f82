// Shared Jest setup for every package: TypeScript is transformed by SWC without
// type-checking (that is the `typecheck` task), and @micro/* imports resolve to
// the workspace sources so tests never wait for a build.
const path = require('node:path');

const fs = require('node:fs');

const packagesDir = path.resolve(__dirname, '../packages');
// Only workspace packages map to sources; any other @micro/* name resolves (and
// fails) normally, as it would for a user.
const workspacePackages = fs
  .readdirSync(packagesDir)
  .filter((name) => fs.existsSync(path.join(packagesDir, name, 'src/index.ts')));

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
      [`^@micro/(${workspacePackages.join('|')})$`]: `${packagesDir}/$1/src/index.ts`,
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

/**
 * The dependency rules of the ports design, checked by `npm run check` (npm run deps).
 * The core depends on ports, never on an SDK, an HTTP client or an adapter; nothing in
 * shared/ reaches into the entry points or the tests; shared/ has no import cycles.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-no-adapter',
      comment: 'shared/core depends on ports, adapters implement them (shared/README.md); the bundle format, OCI knowledge and the configuration model serve the core, so the same holds for them.',
      severity: 'error',
      from: { path: '^shared/(core|bundle|oci|config)/' },
      to: { path: '^shared/adapters/' },
    },
    {
      name: 'core-imports-no-sdk',
      comment: 'The core runs the same on the embedded default and on AWS: no SDK, HTTP client, database or CDK in it.',
      severity: 'error',
      from: { path: '^shared/(core|bundle|oci|config)/' },
      to: { path: '(^|/)node_modules/(@aws-sdk|@aws-lambda-powertools|aws-cdk-lib|constructs|undici|busboy)/|^node:sqlite$|^sqlite$' },
    },
    {
      name: 'shared-imports-no-entry-point',
      comment: 'The CLI, the Lambdas, CDK and the tests use shared/, never the other way round.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(cli|functions|infra|test|bench|scripts)/' },
    },
    {
      name: 'no-cycles-in-shared',
      severity: 'error',
      from: { path: '^shared/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};

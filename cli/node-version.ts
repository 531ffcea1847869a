/**
 * The built CLI needs Node.js 24 (`import.meta.main`, the V8 flags on its shebang). Under an
 * older Node, `import.meta.main` is undefined and an ES module entry would quietly do nothing
 * and exit 0: the machines' own Node is 20, and `./dist/ferry.js` run from a shell finds it on
 * PATH. `npx ferry` and `npm run ferry` use the project's pinned Node instead.
 */
export const REQUIRED_NODE_MAJOR = 24;

/** Why this Node cannot run the CLI, or undefined when it can. */
export function unsupportedNode(version: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (Number.isInteger(major) && major >= REQUIRED_NODE_MAJOR) return undefined;
  return `ferry needs Node.js ${REQUIRED_NODE_MAJOR} or later, and this is Node.js ${version}; run it as \`npx ferry\` (the project's pinned Node) or with Node.js ${REQUIRED_NODE_MAJOR} on PATH`;
}

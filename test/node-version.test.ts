/** The built CLI refuses an old Node by name (exit 2) instead of exiting 0 having done nothing. */
import { describe, expect, it } from 'vitest';
import { REQUIRED_NODE_MAJOR, unsupportedNode } from '../cli/node-version.ts';

describe('unsupportedNode', () => {
  it.each(['v20.20.2', 'v22.11.0', '18.0.0'])('%s is refused, naming the version and the way out', (version) => {
    const message = unsupportedNode(version);
    expect(message).toContain(`Node.js ${version}`);
    expect(message).toContain(`Node.js ${REQUIRED_NODE_MAJOR} or later`);
    expect(message).toContain('npx ferry');
  });

  it.each(['v24.21.0', 'v25.1.0', process.version])('%s runs the CLI', (version) => {
    expect(unsupportedNode(version)).toBeUndefined();
  });

  it('refuses a version it cannot read', () => {
    expect(unsupportedNode('not a version')).toContain('Node.js not a version');
  });
});

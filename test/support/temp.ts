import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let root: string | undefined;

/** A new directory for this test file; `removeTempDirs` (run after every file, see setup.ts) deletes them all. */
export function tempDir(prefix: string): string {
  root ??= mkdtempSync(path.join(os.tmpdir(), 'portico-test-'));
  return mkdtempSync(path.join(root, prefix));
}

export function removeTempDirs(): void {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
}

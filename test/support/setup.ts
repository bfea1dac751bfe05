import { afterAll } from 'vitest';
import { removeTempDirs } from './temp.ts';

// Runs before each test file (vitest setupFiles): the file's data directories go when it ends.
afterAll(removeTempDirs);

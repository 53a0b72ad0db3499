#!/usr/bin/env node
// Entry point for `kindling` (package.json bin): loads TypeScript through tsx, then runs the CLI.
import { register } from 'tsx/esm/api';

register();
await import('./kindling.ts');

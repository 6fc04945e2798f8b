#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx's loader, so the checkout needs no build step.
import { register } from 'tsx/esm/api';
import { applyV8Flags } from './v8-flags.mjs';

applyV8Flags();
register();
await import('../src/main.ts');

#!/usr/bin/env node
// The `oose` command: runs app/cli.ts through tsx's loader in this process
// (no child process, so a signal sent to this pid reaches the command itself).
import { register } from "tsx/esm/api";

register();
await import(new URL("../app/cli.ts", import.meta.url).href);

import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { HubServer } from './hubServer';

/**
 * The test Hub as a process of its own, for tests that run the CLI synchronously (a Hub in the
 * test's own process could not answer while it waits). Argument: JSON [{ id, dir, commit }]; each
 * folder is served as that repository. Prints the endpoint, then serves until killed.
 */
const repos = JSON.parse(process.argv[2]) as { id: string; dir: string; commit: string }[];
const hub = new HubServer();
const walk = (dir: string, base = ''): [string, Buffer][] => readdirSync(dir).flatMap((n) => {
  const full = path.join(dir, n);
  const rel = base ? `${base}/${n}` : n;
  return statSync(full).isDirectory() ? walk(full, rel) : [[rel, readFileSync(full)] as [string, Buffer]];
});
for (const r of repos) hub.repos.set(r.id, { commit: r.commit, files: new Map(walk(r.dir)) });
void hub.start().then(() => process.stdout.write(`${hub.endpoint}\n`));

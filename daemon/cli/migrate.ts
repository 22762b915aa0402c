// `npm run migrate`: applies pending migrations as the schema owner.
// Uses DATABASE_MIGRATE_URL, else DATABASE_URL (which must then be the owner).
// With neither set it migrates the embedded database (starting it if needed).
import { loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { openDatabase } from '../db/open-database.js';
import { createLogger } from '../log.js';

const url = process.env.DATABASE_MIGRATE_URL || process.env.DATABASE_URL;
try {
  if (url) {
    const applied = await migrate(url, (m) => console.log(m));
    console.log(applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
  } else {
    // Embedded mode migrates (and, on first start, seeds) as part of opening the database.
    const db = await openDatabase(loadConfig(), createLogger('info'));
    await db.stop();
  }
} catch (err) {
  console.error(`migrate: ${(err as Error).message}`);
  process.exit(1);
}

export {
  migrate,
  openDatabase,
  sqliteVersions,
  storePath,
  transaction,
  STORE_FILE,
} from './database.js';
export type { Migration, OpenOptions } from './database.js';

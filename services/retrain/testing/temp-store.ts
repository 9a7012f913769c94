import path from "node:path";
import { afterEach, beforeEach } from "vitest";
import { openSqliteStore, type StoreDatabase } from "../store/sqlite-store.js";
import { tempDir } from "./retrain-fixtures.js";

/**
 * A fresh store database (every migration applied) in its own temp folder for each test of
 * the calling describe block, closed and removed after it, so store tests share no rows and
 * leave no files. Call it at describe level; the function it returns gives the running
 * test's database. Apart from retrain-fixtures.ts because it registers vitest hooks, and
 * the bench imports those fixtures outside vitest.
 */
export function useTempStore(): () => StoreDatabase {
  let current: { db: StoreDatabase; remove: () => void } | undefined;
  beforeEach(() => {
    const tmp = tempDir();
    try {
      current = { db: openSqliteStore(path.join(tmp.dir, "retrain.sqlite")), remove: tmp.remove };
    } catch (error) {
      tmp.remove();
      throw error;
    }
  });
  afterEach(() => {
    current?.db.close();
    current?.remove();
    current = undefined;
  });
  return () => {
    if (current === undefined) throw new Error("the temp store database exists only while a test runs");
    return current.db;
  };
}
